// Debian's Chromium, headless, driven by playwright-core; never a downloaded browser.

import { type Browser, type BrowserContext, type BrowserContextOptions, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.FIELDMESH_CHROMIUM ?? '/usr/bin/chromium';

/** Flags without which Chromium keeps dialling Google's hosts on a closed network. */
const QUIET_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** `args`: more Chromium flags, e.g. `--ignore-certificate-errors-spki-list=<hash>` to trust a test CA. */
export function launchBrowser(args: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // playwright gives every launch a fresh, empty profile of its own.
    args: [...QUIET_FLAGS, ...args],
  });
}

/** A console user's credentials. */
export interface ConsoleLogin {
  readonly name: string;
  readonly password: string;
}

/** On the console's login page: fills in `user`, submits, and waits until the live feed is up. */
export async function submitLogin(page: Page, user: ConsoleLogin): Promise<void> {
  await page.locator('input[name="username"]').fill(user.name);
  await page.locator('input[name="password"]').fill(user.password);
  await page.locator('button[type="submit"]').click();
  await page.locator('[data-testid="conn"].live').waitFor({ timeout: 15_000 });
}

/**
 * Logs `user` in to the console at `hubUrl` in a new browser context (`options`: viewport, colour scheme): not
 * logged in, the console sends the browser to its login page first.
 */
export async function logInConsole(
  browser: Browser,
  hubUrl: string,
  user: ConsoleLogin,
  options: BrowserContextOptions = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, ...options });
  const page = await context.newPage();
  await page.goto(hubUrl);
  await page.waitForURL(/\/login/);
  await submitLogin(page, user);
  return { context, page };
}
