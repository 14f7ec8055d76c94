// The hub's console in a real headless Chromium: the demo fleet appears online with last-heard ages,
// and a crashed node turns offline without a reload. Screenshots go to artifacts/screenshots/.
// Needs the built console (npm run build writes dist/console; npm test builds first).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { test } from 'node:test';
import { startDemo } from '../../src/sim/index.js';
import { launchBrowser } from '../kit/browser.js';

const SHOTS = new URL('../../artifacts/screenshots/', import.meta.url).pathname;
const AGE = /(just now|\d+ s ago)/;

test('console: the demo fleet shows online with ages, and a crashed node turns offline live', async () => {
  mkdirSync(SHOTS, { recursive: true });
  const demo = await startDemo({ nodes: 4, sites: 2, brokerPort: 0, wsPort: 0, hubPort: 0 });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(demo.consoleUrl);
    await page.locator('[data-testid="conn"].live').waitFor();
    const online = page.getByTestId('health-nodes-online');
    // A string, evaluated in the page: this file is type-checked without the DOM's types.
    await page.waitForFunction(`document.querySelector('[data-testid="health-nodes-online"]')?.textContent === '4'`, null, {
      timeout: 15_000,
    });
    assert.equal(await online.innerText(), '4');
    assert.equal(await page.getByTestId('health-nodes-offline').innerText(), '0');
    assert.equal(await page.locator('[data-testid="map-pin"][data-site]').count(), 2, 'a pin per site');
    await page.screenshot({ path: `${SHOTS}console-overview-online.png` });

    // Every node of every site, with its state and a last-heard age.
    const victim = demo.agents[0];
    assert.ok(victim);
    const sites = [...new Set(demo.agents.map((a) => a.identity.site))];
    let rowsSeen = 0;
    for (const site of sites) {
      await page.goto(`${demo.consoleUrl}#/sites/${site}`);
      const rows = page.locator('[data-testid="nodes-table"] tbody tr[data-node]');
      await rows.first().waitFor();
      for (const text of await rows.allInnerTexts()) assert.match(text, AGE, `a last-heard age in "${text}"`);
      assert.equal(await rows.locator('.state.online').count(), await rows.count());
      rowsSeen += await rows.count();
    }
    assert.equal(rowsSeen, 4);

    await page.goto(`${demo.consoleUrl}#/sites/${victim.identity.site}`);
    const key = `${victim.identity.site}/${victim.identity.node}`;
    const row = page.locator(`[data-testid="nodes-table"] tr[data-node="${key}"]`);
    await row.locator('.state.online').waitFor();
    const siteOnlineBefore = await page.locator('[data-testid="nodes-table"] tbody tr .state.online').count();
    await victim.stop({ graceful: false });
    await row.locator('.state.offline').waitFor({ timeout: 15_000 });
    assert.match(await row.innerText(), /offline/);
    assert.equal(await page.locator('[data-testid="nodes-table"] tbody tr .state.online').count(), siteOnlineBefore - 1);
    await page.screenshot({ path: `${SHOTS}console-site-offline.png` });

    // Back on the overview (no reload): the counts and the site's pin say so too.
    await page.goto(`${demo.consoleUrl}#/`);
    assert.equal(await page.getByTestId('health-nodes-offline').innerText(), '1');
    assert.equal(await online.innerText(), '3');
    await page.locator(`[data-testid="map-pin"][data-site="${victim.identity.site}"][data-health="error"]`).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: `${SHOTS}console-overview-offline.png` });
  } finally {
    await browser.close();
    await demo.stop();
  }
});
