/**
 * Node 22 still flags `node:sqlite` as experimental and prints a warning on first use. ComfyDesk
 * depends on it deliberately (see README), so that one warning is kept out of users' terminals;
 * every other warning still shows.
 */
export function silenceSqliteExperimentalWarning(): void {
  const original = process.emitWarning.bind(process);
  process.emitWarning = (warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (
      (type === 'ExperimentalWarning' || (warning instanceof Error && warning.name === 'ExperimentalWarning')) &&
      /SQLite/i.test(text)
    )
      return;
    (original as (...args: unknown[]) => void)(warning, ...rest);
  };
}
