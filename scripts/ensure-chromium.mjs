// Stops at once, with the command that fixes it, when the e2e tests have no browser to run in.
import { INSTALL_HINT, findChromium } from './lib/chromium.mjs';

if (!(await findChromium())) {
  console.error(INSTALL_HINT);
  process.exit(1);
}
