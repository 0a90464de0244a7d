import AxeBuilder from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';

/** The window sizes the Generate page must work at: small laptop, laptop, desktop, and a phone (serve mode on the go). */
export const SIZES = [
  { name: '1024x700', width: 1024, height: 700 },
  { name: '1280x800', width: 1280, height: 800 },
  { name: '1920x1080', width: 1920, height: 1080 },
  { name: 'phone-390x844', width: 390, height: 844 },
] as const;

/** Saves a screenshot as a test artifact (test-results/screenshots/NAME.png). */
export async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `test-results/screenshots/${name}.png` });
}

/** Runs in the page (plain JavaScript: the tests are not compiled with the DOM's types). */
const OVERFLOW_CHECK = `(() => {
    const found = [];
    const describe = (element) => {
      const name =
        element.getAttribute('aria-label') ?? (element.textContent ?? '').replace(/\\s+/g, ' ').trim().slice(0, 60);
      return \`\${element.tagName.toLowerCase()}\${element.className && typeof element.className === 'string' ? \`.\${element.className.split(' ')[0]}\` : ''} “\${name}”\`;
    };
    const isShown = (element) => {
      const rect = element.getBoundingClientRect();
      if (rect.width <= 1 || rect.height <= 1) return false; // visually hidden (screen readers only)
      return element.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
    };
    if (document.documentElement.scrollWidth > window.innerWidth + 1)
      found.push(
        \`the page scrolls sideways (\${document.documentElement.scrollWidth} px in a \${window.innerWidth} px window)\`,
      );
    const candidates = document.querySelectorAll(
      'button, [role="tab"], label, li, h1, h2, h3, h4, a, [class*="chip"], .outcome, .cached, .badge, .count',
    );
    for (const element of candidates) {
      if (!isShown(element)) continue;
      const style = getComputedStyle(element);
      const clipsItself = style.overflowX !== 'visible';
      if (!clipsItself && element.scrollWidth > element.clientWidth + 1 && style.display !== 'inline')
        found.push(\`\${describe(element)} spills out of its box (\${element.scrollWidth} > \${element.clientWidth} px)\`);
      // The nearest ancestor that cuts off what sticks out of it.
      const rect = element.getBoundingClientRect();
      for (let parent = element.parentElement; parent; parent = parent.parentElement) {
        const parentStyle = getComputedStyle(parent);
        const x = parentStyle.overflowX;
        const y = parentStyle.overflowY;
        if (x === 'visible' && y === 'visible') continue;
        if (x === 'auto' || x === 'scroll' || y === 'auto' || y === 'scroll') break; // it scrolls: reachable
        const box = parent.getBoundingClientRect();
        if (
          rect.left < box.left - 1 ||
          rect.right > box.right + 1 ||
          rect.top < box.top - 1 ||
          rect.bottom > box.bottom + 1
        )
          found.push(\`\${describe(element)} is cut off by \${describe(parent)}\`);
        break;
      }
    }
    return [...new Set(found)];
  })()`;

/**
 * Every visible card, row, chip, label, tab, heading and button must fit its box: its text may not
 * spill out of it, and no ancestor that hides overflow may cut it off. Scrolling containers are
 * fine (that is what they are for), and so is text an element shortens itself with an ellipsis.
 * The page itself must not scroll sideways.
 */
export async function expectNoOverflow(page: Page, where: string): Promise<void> {
  const problems = (await page.evaluate(OVERFLOW_CHECK)) as string[];
  expect(problems, `nothing overflows its box: ${where}`).toEqual([]);
}

/** An axe-core scan of what is on screen: no serious or critical violations (contrast included). */
export async function expectAccessible(page: Page, where: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map(
      (violation) =>
        `${violation.id} (${violation.impact}): ${violation.help} — ${violation.nodes
          .slice(0, 4)
          .map(
            (node) =>
              `${node.target.join(' ')}${node.failureSummary ? ` [${node.failureSummary.split('\n').slice(1, 2).join('').trim()}]` : ''}`,
          )
          .join('; ')}`,
    );
  expect(serious, `no serious or critical accessibility problems: ${where}`).toEqual([]);
}

/** Both checks and a screenshot, for one state of a flow at one size. */
export async function check(page: Page, name: string): Promise<void> {
  await shoot(page, name);
  await expectNoOverflow(page, name);
  await expectAccessible(page, name);
}
