/** Quotes a string for a POSIX shell (single quotes; a quote inside becomes '\''). */
export function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
