// The operator console in Debian's Chromium against real processes: a real Mosquitto, a hub with login
// on, two sites of two nodes. An operator logs in and sees the fleet; killed nodes turn offline with
// their age and SiteOffline fires after its (shortened) window, then resolves when they come back; a
// bulk action's preview lists exactly the selected nodes; a viewer sees everything and can do nothing.
// Screenshots of the main pages go to artifacts/screenshots/.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, logInConsole } from '../kit/browser.js';
import { type ConsoleFleet, PUSH_TOKEN, startConsoleFleet, USERS } from '../kit/console-fleet.js';

const SHOTS = new URL('../../artifacts/screenshots/', import.meta.url).pathname;
const VIEWPORT = { width: 1400, height: 900 };

let fleet: ConsoleFleet;
let browser: Browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  fleet = await startConsoleFleet({ siteOfflineFor: '4s' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await fleet?.stop();
});

function logIn(user: { name: string; password: string }): Promise<{ context: BrowserContext; page: Page }> {
  // Not logged in, the console sends the browser to the login page first.
  return logInConsole(browser, fleet.hubUrl, user, { viewport: VIEWPORT });
}

async function count(page: Page, testid: string): Promise<number> {
  return Number(await page.locator(`[data-testid="${testid}"]`).innerText());
}

test('console: an operator logs in and sees the whole fleet on the overview, with ages', async () => {
  const { context, page } = await logIn(USERS.operator);
  try {
    await page.locator('[data-testid="health-nodes-online"]', { hasText: '4' }).waitFor({ timeout: 20_000 });
    assert.equal(await count(page, 'health-sites-green'), 2);
    assert.equal(await count(page, 'health-nodes-offline'), 0);
    assert.equal(await page.locator('[data-testid="demo-banner"]').count(), 0, 'no demo banner when login is on');
    assert.match(await page.locator('[data-testid="user-menu"]').innerText(), /olga/);
    for (const site of ['north-farm', 'south-farm']) {
      await page.locator(`[data-testid="map-pin"][data-site="${site}"][data-health="green"]`).waitFor();
    }
    await page.screenshot({ path: `${SHOTS}console-overview.png` });

    await page.locator('[data-testid="view-list"]').click();
    const rows = page.locator('[data-testid="sites-table"] tr[data-site]');
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    for (const text of await rows.allInnerTexts()) assert.match(text, /(just now|\d+ s ago)/, `a last-heard age in "${text}"`);
    await page.screenshot({ path: `${SHOTS}console-overview-list.png` });

    await page.goto(`${fleet.hubUrl}/#/nodes/north-farm/bess-01`);
    await page.locator('[data-testid="node-facts"]').waitFor();
    await page.locator('[data-testid="chart"][data-series] canvas').first().waitFor({ timeout: 15_000 });
    assert.match(await page.locator('[data-testid="node-facts"]').innerText(), /0\.1\.0|version/);
    await page.locator('[data-testid="chart"][data-series="battery_soc"][data-source="hub"][data-status="ok"]').waitFor();

    // A critical value pushed with a time 3 min 20 s back: its age counts from that time, not from when the
    // hub heard the node (which is now). The 20 s leave room for the console's estimate of the hub's clock, which
    // an answer delayed on a loaded machine puts a little behind.
    const bess01 = fleet.nodes.find((n) => n.site === 'north-farm' && n.node === 'bess-01');
    const [, nodeUrl] = (await bess01?.process?.waitForOutput(/HTTP (http:\/\/\S+)/)) ?? [];
    const pushed = await fetch(`${nodeUrl}/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PUSH_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ time: Date.now() - 200_000, metrics: { panel_temp: 41.5 } }),
    });
    assert.equal(pushed.status, 200, await pushed.text());
    const row = page.locator('[data-testid="values-table"] tr[data-series="panel_temp"]');
    await row.waitFor({ timeout: 15_000 });
    assert.match(await row.locator('td.age').innerText(), /^3 min ago$/);

    // A series the hub does not keep (not critical): listed and charted from the node's own store,
    // through the hub and the broker.
    await page.locator('[data-testid="load-node-series"]').click();
    const picker = page.locator('[data-testid="node-series"]');
    await picker.waitFor({ timeout: 15_000 });
    const names = await picker.locator('option').allInnerTexts();
    const other = names.find((n) => n.startsWith('dc_current'));
    assert.ok(other, `dc_current among the node's own series: ${names.join(', ')}`);
    await picker.selectOption({ label: other });
    await page
      .locator('[data-testid="chart"][data-series="dc_current"][data-source="node"][data-status="ok"]')
      .waitFor({ timeout: 15_000 });
    await page.screenshot({ path: `${SHOTS}console-node.png`, fullPage: true });
  } finally {
    await context.close();
  }
});

test('console: killed nodes turn offline with their age; SiteOffline fires after its window, mutes the NodeDown of its nodes, and resolves on reconnect', async () => {
  const { context, page } = await logIn(USERS.operator);
  try {
    await page.goto(`${fleet.hubUrl}/#/sites/south-farm`);
    const rows = page.locator('[data-testid="nodes-table"] tr[data-node]');
    await page.locator('[data-testid="nodes-table"] tr[data-state="online"]').nth(1).waitFor({ timeout: 20_000 });

    const south = fleet.nodes.filter((n) => n.site === 'south-farm');
    const killedAt = Date.now();
    await Promise.all(south.map((n) => fleet.kill(n)));
    for (const n of south) {
      await page
        .locator(`[data-testid="nodes-table"] tr[data-node="south-farm/${n.node}"][data-state="offline"]`)
        .waitFor({ timeout: 15_000 });
    }
    // The age shown is the time since the node went offline: no more than the time since the kill.
    for (const text of await rows.allInnerTexts()) {
      const m = /offline\s+for (\d+) s/.exec(text);
      assert.ok(m, `an offline age in "${text}"`);
      const shownS = Number(m[1]);
      assert.ok(shownS <= (Date.now() - killedAt) / 1000 + 1, `offline for ${shownS} s, killed ${(Date.now() - killedAt) / 1000} s ago`);
    }
    await page.screenshot({ path: `${SHOTS}console-site-offline.png` });

    // SiteOffline: all of the site silent for the (test) window of 4 s, then firing.
    await page.goto(`${fleet.hubUrl}/#/`);
    const siteOffline = page.locator('[data-testid="alerts-table"] tr[data-alert="SiteOffline"]');
    await siteOffline.and(page.locator('[data-state="firing"]')).waitFor({ timeout: 20_000 });
    assert.match(await siteOffline.innerText(), /south-farm/);
    // Its nodes' NodeDown alerts are inhibited by it: shown muted, saying by what.
    const nodeDown = page.locator('[data-testid="alerts-table"] tr[data-alert="NodeDown"]');
    await nodeDown.nth(1).locator('[data-testid="inhibited"]').waitFor({ timeout: 10_000 });
    assert.equal(await nodeDown.count(), 2);
    for (const text of await nodeDown.allInnerTexts()) assert.match(text, /inhibited by SiteOffline/);
    await page.locator('[data-testid="map-pin"][data-site="south-farm"][data-health="error"]').waitFor();
    assert.equal(await count(page, 'health-sites-error'), 1);
    await page.screenshot({ path: `${SHOTS}console-site-offline-alert.png` });

    await Promise.all(south.map((n) => fleet.start(n)));
    // Resolved on reconnect: it leaves the active alerts, and the alerts page lists it as resolved.
    await siteOffline.waitFor({ state: 'detached', timeout: 20_000 });
    await page.locator('[data-testid="map-pin"][data-site="south-farm"][data-health="green"]').waitFor({ timeout: 20_000 });
    await page.goto(`${fleet.hubUrl}/#/alerts`);
    await page.locator('[data-testid="alerts-state-all"]').click();
    await page.locator('[data-testid="alerts-table"] tr[data-alert="SiteOffline"][data-state="resolved"]').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: `${SHOTS}console-alerts.png` });
  } finally {
    await context.close();
  }
});

test('console: a bulk action previews exactly the selected nodes, then reports each one', async () => {
  const { context, page } = await logIn(USERS.operator);
  try {
    await page.goto(`${fleet.hubUrl}/#/actions`);
    await page.locator('[data-testid="action-ping"]').check();
    await page.locator('[data-testid="sel-site"][data-site="north-farm"]').check();
    await page.locator('[data-testid="action-preview"]').click();
    const preview = page.locator('[data-testid="preview-table"] tr[data-target]');
    await preview.first().waitFor();
    const targets = await preview.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-target')));
    assert.deepEqual(targets.sort(), ['north-farm/bess-01', 'north-farm/bess-02']);
    await page.screenshot({ path: `${SHOTS}console-actions-preview.png` });

    await page.locator('[data-testid="action-confirm"]').click();
    await page.locator('[data-testid="action-progress"][data-state="done"]').waitFor({ timeout: 30_000 });
    const results = page.locator('[data-testid="action-targets"] tr[data-target]');
    const statuses = await results.evaluateAll((rows) =>
      rows.map((r) => `${r.getAttribute('data-target')} ${r.getAttribute('data-status')}`),
    );
    assert.deepEqual(statuses.sort(), ['north-farm/bess-01 ok', 'north-farm/bess-02 ok']);
    await page.screenshot({ path: `${SHOTS}console-actions-done.png` });
  } finally {
    await context.close();
  }
});

test('console: a viewer sees the fleet but gets no action, and the hub refuses one with 403', async () => {
  const { context, page } = await logIn(USERS.viewer);
  try {
    await page.locator('[data-testid="health-nodes-online"]', { hasText: '4' }).waitFor({ timeout: 20_000 });
    await page.goto(`${fleet.hubUrl}/#/actions`);
    await page.getByText('Bulk actions need the operator role').waitFor();
    assert.equal(await page.locator('[data-testid="action-preview"]').count(), 0);
    await page.goto(`${fleet.hubUrl}/#/nodes/north-farm/bess-01`);
    await page.locator('[data-testid="node-facts"]').waitFor();
    assert.equal(await page.locator('[data-testid="ping"]').count(), 0, 'no ping button for a viewer');

    // The server is the one that says no: the viewer's own session, with its CSRF token.
    const status = await page.evaluate(async () => {
      const me = (await (await fetch('/api/v1/auth/me')).json()) as { csrfToken?: string };
      const res = await fetch('/api/v1/actions/preview', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken ?? '' },
        body: JSON.stringify({ action: 'ping', selector: { sites: ['north-farm'] } }),
      });
      return res.status;
    });
    assert.equal(status, 403);
    await page.screenshot({ path: `${SHOTS}console-viewer-actions.png` });
  } finally {
    await context.close();
  }
});
