import { expect, type Locator, type Page } from '@playwright/test';

/** The Generate page's right half and bottom as a user meets them: the form, Generate, progress, queue, recent, viewer. */
export class GeneratePage {
  readonly page: Page;
  readonly panel: Locator;
  readonly prompt: Locator;
  readonly generateButton: Locator;
  readonly outputs: Locator;
  readonly progress: Locator;
  readonly viewer: Locator;

  constructor(page: Page) {
    this.page = page;
    this.panel = page.getByRole('region', { name: 'Generate' });
    this.prompt = page.getByLabel('Prompt', { exact: true });
    this.generateButton = page.getByRole('button', { name: 'Generate', exact: true });
    this.outputs = page.getByRole('region', { name: 'Output & queue' });
    this.progress = this.outputs.getByRole('progressbar', { name: 'Generation progress' });
    this.viewer = page.getByRole('dialog');
  }

  /** Picks a workflow by its card's Generate button and waits for its form. */
  async choose(workflow: string): Promise<void> {
    await this.page
      .getByRole('region', { name: 'Workflows' })
      .getByRole('listitem', { name: workflow, exact: true })
      .getByRole('button', { name: 'Generate' })
      .click();
    await expect(this.panel.getByRole('heading', { name: workflow })).toBeVisible();
    await expect(this.field('Steps')).toBeVisible();
  }

  field(label: string): Locator {
    return this.panel.getByLabel(label, { exact: true });
  }

  tab(name: 'Current' | 'Queue' | 'Recent'): Locator {
    return this.outputs.getByRole('tab', { name });
  }

  result(workflow: string): Locator {
    return this.outputs.getByRole('region', { name: `Result of ${workflow}` });
  }

  /** The progress bar's value now (0–100). */
  async percent(): Promise<number> {
    return Number(await this.progress.getAttribute('aria-valuenow'));
  }

  async favicon(): Promise<string> {
    return (await this.page.locator('link[rel="icon"]').getAttribute('href')) ?? '';
  }
}
