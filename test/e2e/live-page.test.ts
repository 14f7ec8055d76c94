// The hub's live page in a real headless Chromium: the demo fleet appears online with last-heard
// ages, and a crashed node turns offline without a reload. Screenshots go to artifacts/screenshots/.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { test } from 'node:test';
import { startDemo } from '../../src/sim/index.js';
import { launchBrowser } from '../kit/browser.js';

const SHOTS = new URL('../../artifacts/screenshots/', import.meta.url).pathname;

test('live page: the demo fleet shows online with ages, and a crashed node turns offline live', async () => {
  mkdirSync(SHOTS, { recursive: true });
  const demo = await startDemo({ nodes: 4, sites: 2, brokerPort: 0, wsPort: 0, hubPort: 0 });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 600 } });
    await page.goto(demo.consoleUrl);
    await page.getByText('live', { exact: true }).waitFor();
    const rows = page.locator('tbody tr');
    await page.locator('tbody tr .state.online').nth(3).waitFor({ timeout: 15_000 });
    assert.equal(await rows.count(), 4);
    for (const text of await rows.allInnerTexts()) assert.match(text, /(just now|\d+ s ago)/, `a last-heard age in "${text}"`);
    await page.screenshot({ path: `${SHOTS}live-page-online.png` });

    const victim = demo.agents[0];
    assert.ok(victim);
    await victim.stop({ graceful: false });
    const key = `${victim.identity.site}/${victim.identity.node}`;
    const row = page.locator(`tbody tr[data-node="${key}"]`);
    await row.locator('.state.offline').waitFor({ timeout: 15_000 });
    assert.match(await row.innerText(), /offline/);
    assert.equal(await page.locator('tbody tr .state.online').count(), 3);
    await page.screenshot({ path: `${SHOTS}live-page-offline.png` });
  } finally {
    await browser.close();
    await demo.stop();
  }
});
