import { expect, type Locator, type Page } from '@playwright/test';

/** Settings › Connections and the connection dialog, as a user sees them. */
export class ConnectionsPage {
  readonly page: Page;
  readonly section: Locator;
  readonly dialog: Locator;

  constructor(page: Page) {
    this.page = page;
    this.section = page.getByRole('region', { name: 'Connections' });
    this.dialog = page.getByRole('dialog');
  }

  connection(name: string): Locator {
    return this.section.getByRole('listitem').filter({ has: this.page.getByText(name, { exact: true }) });
  }

  status(name: string): Locator {
    return this.section.getByRole('status', { name: `${name} status` });
  }

  async startAdding(): Promise<void> {
    await this.section.getByRole('button', { name: 'Add connection' }).click();
    await expect(this.dialog).toBeVisible();
  }

  async fillWebAddress(name: string, url: string): Promise<void> {
    await this.dialog.getByRole('radio', { name: 'Web address' }).check();
    await this.dialog.getByRole('textbox', { name: 'Name', exact: true }).fill(name);
    await this.dialog.getByRole('textbox', { name: 'Address', exact: true }).fill(url);
  }
}
