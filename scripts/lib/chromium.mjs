// Finds a Chromium for the end-to-end tests without downloading anything.
import { existsSync } from 'node:fs';

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];

export const INSTALL_HINT =
  'No Chromium was found for the end-to-end tests. Install one, then run the tests again:\n' +
  '  Debian/Ubuntu:  sudo apt-get install -y chromium\n' +
  '  anywhere else:  npx playwright install chromium\n' +
  'or point CHROMIUM_PATH at a Chromium or Chrome binary.';

/**
 * A Chromium executable: CHROMIUM_PATH, else the system's (Debian's /usr/bin/chromium), else
 * undefined — meaning Playwright should use its own downloaded browser if it has one.
 * @returns {Promise<{ executablePath?: string, source: 'env' | 'system' | 'playwright' } | undefined>}
 */
export async function findChromium() {
  if (process.env.CHROMIUM_PATH) {
    return existsSync(process.env.CHROMIUM_PATH)
      ? { executablePath: process.env.CHROMIUM_PATH, source: 'env' }
      : undefined;
  }
  const system = CANDIDATES.find((path) => existsSync(path));
  if (system) return { executablePath: system, source: 'system' };
  try {
    const { chromium } = await import('playwright-core');
    const bundled = chromium.executablePath();
    if (bundled && existsSync(bundled)) return { source: 'playwright' };
  } catch {
    // playwright-core without a browser of its own
  }
  return undefined;
}

/** Flags that keep Chromium quiet on a closed network and working as root in containers. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
