import { spawn } from 'node:child_process';

/** How a link can be opened on this machine, or why it cannot. */
export type BrowserPlan = { command: string; args: string[] } | { reason: string };

/**
 * The command that opens `url` in the default browser: `$BROWSER` when set (a command, with `%s`
 * standing for the link, or the link appended; several may be separated by `:`, the first is used),
 * else `open` on macOS, `start` on Windows and `xdg-open` on Linux and the BSDs — there only when a
 * display is there to show it (DISPLAY or WAYLAND_DISPLAY).
 */
export function browserPlan(
  url: string,
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
): BrowserPlan {
  const browser = env.BROWSER?.split(platform === 'win32' ? ';' : ':')[0]?.trim();
  if (browser) {
    const words = browser.split(/\s+/);
    const args = words.slice(1);
    return {
      command: words[0]!,
      args: args.some((word) => word.includes('%s')) ? args.map((word) => word.replaceAll('%s', url)) : [...args, url],
    };
  }
  if (platform === 'darwin') return { command: 'open', args: [url] };
  if (platform === 'win32') return { command: 'cmd', args: ['/c', 'start', '""', url.replaceAll('&', '^&')] };
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY)
    return { reason: 'there is no display here (no DISPLAY or WAYLAND_DISPLAY)' };
  return { command: 'xdg-open', args: [url] };
}

/**
 * Opens `url` in the default browser, without waiting for it and without tying the browser to this
 * process. Resolves to the reason when it could not be opened.
 */
export function openBrowser(url: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const plan = browserPlan(url, env);
  if ('reason' in plan) return Promise.resolve(plan.reason);
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(plan.command, plan.args, { detached: true, stdio: 'ignore', env });
    } catch (error) {
      resolve(`${plan.command} could not be started (${error instanceof Error ? error.message : String(error)})`);
      return;
    }
    child.once('error', (error: NodeJS.ErrnoException) =>
      resolve(
        error.code === 'ENOENT' ? `${plan.command} is not installed` : `${plan.command} failed (${error.message})`,
      ),
    );
    child.once('spawn', () => {
      child.unref();
      resolve(undefined);
    });
  });
}
