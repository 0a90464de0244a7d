import { expect, type Locator, type Page } from '@playwright/test';

/** The prompt box on the Generate page with its Enhance control, as a user sees them. */
export class EnhancePanel {
  readonly page: Page;
  readonly prompt: Locator;
  readonly enhanceButton: Locator;
  readonly stopButton: Locator;
  readonly style: Locator;
  /** The streamed text while it runs, or the suggestion kept aside afterwards. */
  readonly suggestion: Locator;
  readonly result: Locator;
  readonly problem: Locator;

  constructor(page: Page) {
    this.page = page;
    this.prompt = page.getByLabel('Prompt', { exact: true });
    this.enhanceButton = page.getByRole('button', { name: 'Enhance', exact: true });
    this.stopButton = page.getByRole('button', { name: 'Stop', exact: true });
    this.style = page.getByLabel('Enhancement style');
    this.suggestion = page.getByRole('region', { name: 'Enhanced prompt' });
    this.result = page.getByRole('region', { name: 'Enhancement', exact: true });
    this.problem = page.getByRole('region', { name: 'Enhancement problem' });
  }

  async type(text: string): Promise<void> {
    await this.prompt.fill(text);
    await expect(this.prompt).toHaveValue(text);
  }

  async chooseStyle(label: 'Detailed' | 'Cinematic' | 'Artistic' | 'Minimal'): Promise<void> {
    await this.style.selectOption({ label });
  }

  /** Ctrl+E from inside the prompt box, as the keyboard shortcut is used. */
  async enhanceWithShortcut(): Promise<void> {
    await this.prompt.focus();
    await this.page.keyboard.press('Control+e');
  }
}
