// Debian's Chromium, headless, driven by playwright-core; never a downloaded browser.

import { type Browser, chromium } from 'playwright-core';

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
