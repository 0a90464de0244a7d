import { expect, type Locator, type Page } from '@playwright/test';

/** The Generate panel's form as a user works it: fields by label, presets, Open in ComfyUI, Generate. */
export class FormPage {
  readonly page: Page;
  readonly panel: Locator;
  readonly browser: Locator;
  readonly intent: Locator;
  readonly generateButton: Locator;
  readonly presetChoice: Locator;

  constructor(page: Page) {
    this.page = page;
    this.panel = page.getByRole('region', { name: 'Generate' });
    this.browser = page.getByRole('region', { name: 'Workflows' });
    this.intent = page.getByLabel('What do you want to make?');
    this.generateButton = page.getByRole('button', { name: 'Generate', exact: true });
    this.presetChoice = this.panel.getByLabel('Load a preset');
  }

  card(name: string): Locator {
    return this.browser.getByRole('listitem', { name, exact: true });
  }

  /** Picks a workflow by its card's Generate button and waits for its form (its tools appear with it). */
  async choose(workflow: string): Promise<void> {
    await this.card(workflow).getByRole('button', { name: 'Generate' }).click();
    await expect(this.panel.getByRole('heading', { name: workflow })).toBeVisible();
    await expect(this.panel.getByRole('button', { name: 'Open in ComfyUI' })).toBeVisible();
  }

  field(label: string): Locator {
    return this.panel.getByLabel(label, { exact: true });
  }

  group(name: string): Locator {
    return this.panel.getByRole('group', { name, exact: true });
  }

  async savePreset(name: string): Promise<void> {
    await this.panel.getByRole('button', { name: 'Save as preset…' }).click();
    await this.panel.getByLabel('Preset name').fill(name);
    await this.panel.getByLabel('Preset name').press('Enter');
    await expect(this.panel.getByText(`Saved “${name}”.`)).toBeVisible();
  }

  /** Where the page's screenshots go (test-results/screenshots, 1280×800). */
  async screenshot(name: string): Promise<void> {
    await this.page.screenshot({ path: `test-results/screenshots/form-${name}.png` });
  }
}

/**
 * Fails the test on any page error, console error or failed request (the app's own and the
 * server's), as every e2e test must: call `check()` at the end.
 */
export function watchForErrors(page: Page): { check: () => void } {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console.error: ${message.text()}`);
  });
  page.on('requestfailed', (request) =>
    problems.push(`request failed: ${request.url()} (${request.failure()?.errorText ?? ''})`),
  );
  return { check: () => expect(problems).toEqual([]) };
}
