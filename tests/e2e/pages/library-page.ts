import { expect, type Locator, type Page } from '@playwright/test';

/** The workflow library as a user meets it: the Generate page's browser, the intent bar, the Workflows page. */
export class LibraryPage {
  readonly page: Page;
  readonly browser: Locator;
  readonly cards: Locator;
  readonly search: Locator;
  readonly intentInput: Locator;

  constructor(page: Page) {
    this.page = page;
    this.browser = page.getByRole('region', { name: 'Workflows' });
    this.cards = this.browser.getByRole('list', { name: 'Workflow cards' }).getByRole('listitem');
    this.search = this.browser.getByLabel('Search workflows');
    this.intentInput = page.getByLabel('What do you want to make?');
  }

  card(name: string): Locator {
    return this.browser.getByRole('listitem', { name, exact: true });
  }

  async showFilters(): Promise<void> {
    const toggle = this.browser.getByRole('button', { name: 'Filters' });
    if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
  }

  filter(group: 'Category' | 'Takes' | 'Makes' | 'Status', value: string): Locator {
    return this.browser.getByRole('group', { name: group }).getByRole('button', { name: new RegExp(`^${value}\\b`) });
  }

  chip(label: string): Locator {
    return this.page.getByRole('group', { name: 'Quick intents' }).getByRole('button', { name: label });
  }

  async expectCards(names: string[]): Promise<void> {
    await expect(this.cards).toHaveCount(names.length);
    for (const name of names) await expect(this.card(name)).toBeVisible();
  }
}
