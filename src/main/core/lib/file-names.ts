/** Characters no file name may hold on Windows, macOS or Linux, plus control characters. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must go
const UNSAFE_IN_FILE_NAMES = /[/\\:*?"<>|\u0000-\u001f]/g;

/** `name` with every character that is unsafe in a file name on some OS replaced by `_`. */
export function safeFileName(name: string): string {
  return name.replace(UNSAFE_IN_FILE_NAMES, '_');
}
