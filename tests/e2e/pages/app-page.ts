import { expect, type Locator, type Page } from '@playwright/test';

/** The app shell as a user sees it: navigation, the Generate page's regions, settings. */
export class AppPage {
  readonly page: Page;
  readonly navigation: Locator;
  readonly main: Locator;

  constructor(page: Page) {
    this.page = page;
    this.navigation = page.getByRole('navigation', { name: 'Main' });
    this.main = page.getByRole('main');
  }

  async open(url: string): Promise<void> {
    await this.page.goto(url);
    // In a narrow window the sidebar shows the link as a dot; its words stay for assistive tech.
    await expect(this.navigation.getByRole('status', { name: 'Connection status' })).toContainText('App connected');
  }

  navLink(name: 'Generate' | 'Workflows' | 'Models' | 'Downloads' | 'Settings'): Locator {
    return this.navigation.getByRole('link', { name });
  }

  region(name: string): Locator {
    return this.page.getByRole('region', { name });
  }

  async goTo(name: 'Generate' | 'Workflows' | 'Models' | 'Downloads' | 'Settings'): Promise<void> {
    await this.navLink(name).click();
    await expect(this.navLink(name)).toHaveAttribute('aria-current', 'page');
  }

  themeOption(label: 'Dark' | 'Light' | 'Match the system'): Locator {
    return this.page.getByRole('radio', { name: label });
  }

  async theme(): Promise<string | undefined> {
    return (await this.page.locator('html').getAttribute('data-theme')) ?? undefined;
  }
}
