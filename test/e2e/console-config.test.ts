// The console's configuration screens in Debian's Chromium against real processes: a real Mosquitto, a hub
// with login on reconciling a configuration repository (a folder this test writes: fleet.yaml, two site
// files, three node files), and three real node processes, each supervising a service (a tiny `node -e`
// program) the repository gives it. The configuration page shows every node in sync; a fleet.yaml change
// synced from the page shows the new revision and hashes and every node back in sync; an invalid change
// shows the refused revision with its problem while the nodes stay in sync on the last good one; the
// provenance view shows a leaf set by the site file with its file:line; the node page's services panel shows
// the service running and an operator's Restart bumps its restarts; Apply to one site in two waves runs to
// done; a viewer sees no Sync, Apply, Start, Stop or Restart. Screenshots go to artifacts/screenshots/.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, logInConsole } from '../kit/browser.js';
import { stopConsoleStack, writeConsoleHub } from '../kit/console-fleet.js';
import { type FieldmeshProcess, runFieldmesh } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';

const SHOTS = new URL('../../artifacts/screenshots/', import.meta.url).pathname;
const VIEWPORT = { width: 1400, height: 900 };
const USERS = {
  operator: { name: 'olga', password: 'operator-password-1' },
  viewer: { name: 'vic', password: 'viewer-password-1' },
} as const;
const NODES = [
  { id: 'n1', site: 'north' },
  { id: 'n2', site: 'north' },
  { id: 's1', site: 'south' },
] as const;
const PUBLISH = 'publish: {tick: 500ms, heartbeat: 1s}';
/** The service every node runs: prints a line a second until stopped. */
const TICKER = `[${JSON.stringify(process.execPath)}, -e, "setInterval(() => console.log('tick ' + Date.now()), 1000)"]`;

const fleetYaml = (extra: string) =>
  [
    PUBLISH,
    'collectors:',
    '  - name: host',
    '    type: host',
    extra,
    'services:',
    '  - name: ticker',
    `    command: ${TICKER}`,
    '    restart: always',
    '',
  ].join('\n');

let dir: string;
let repo: string;
let mosquitto: MosquittoInstance | undefined;
let hub: FieldmeshProcess | undefined;
let hubUrl: string;
const procs: FieldmeshProcess[] = [];
let browser: Browser | undefined;

function write(path: string, text: string): void {
  mkdirSync(join(repo, path, '..'), { recursive: true });
  writeFileSync(join(repo, path), text);
}

const stopAll = () => stopConsoleStack({ browser, nodes: procs, hub, mosquitto, dir });

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'fm-console-config-'));
  repo = join(dir, 'repo');
  try {
    write('fleet.yaml', fleetYaml(''));
    // The site file sets the critical selector: its deadband's provenance is sites/north.yaml:3.
    write('sites/north.yaml', ['name: North', 'critical:', '  - {match: battery_soc, deadband: 2%}', ''].join('\n'));
    write('sites/south.yaml', 'name: South\n');
    for (const n of NODES) write(`nodes/${n.id}.yaml`, `node: {id: ${n.id}, site: ${n.site}, zone: z1}\n`);
    mosquitto = await startMosquitto();
    const hubYaml = await writeConsoleHub(
      dir,
      mosquitto.url,
      [
        // Read at start, then only when Sync now asks: the test decides when a change is seen.
        `configRepo: {dir: ${JSON.stringify(repo)}, interval: 1h, applyTimeout: 20s}`,
        'sites: [{id: north, name: North}, {id: south, name: South}]',
      ],
      USERS,
    );
    hub = runFieldmesh(['hub', '--config', hubYaml]);
    [, hubUrl = ''] = await hub.waitForOutput(/console (http:\/\/\S+?)\/?\s/);
    await Promise.all(
      NODES.map(async (n) => {
        const yaml = join(dir, `${n.id}.yaml`);
        writeFileSync(
          yaml,
          [
            `node: {id: ${n.id}, site: ${n.site}, zone: z1}`,
            `mqtt: {url: "${mosquitto?.url}"}`,
            `dataDir: ${join(dir, n.id)}`,
            'http: {host: 127.0.0.1, port: 0}',
            PUBLISH,
            '',
          ].join('\n'),
        );
        const p = runFieldmesh(['node', '--config', yaml]);
        procs.push(p);
        await p.waitForOutput(/fieldmesh node \S+ \(boot \d+\)/);
      }),
    );
    browser = await launchBrowser();
  } catch (err) {
    await stopAll();
    throw err;
  }
});

after(stopAll);

function logIn(
  user: { name: string; password: string },
  colorScheme: 'light' | 'dark' = 'light',
): Promise<{ context: BrowserContext; page: Page }> {
  return logInConsole(browser as Browser, hubUrl, user, { viewport: VIEWPORT, colorScheme });
}

/** The little of the DOM the page functions below use (this file is type-checked without the DOM library). */
interface PageDoc {
  querySelector(
    s: string,
  ): { getAttribute(n: string): string | null; querySelector(s: string): { getAttribute(n: string): string | null } | null } | null;
  querySelectorAll(s: string): { length: number };
}

const row = (page: Page, node: string) => page.locator(`[data-testid="config-nodes"] tr[data-node="${node}"]`);
const NAMES = NODES.map((n) => `${n.site}/${n.id}`);

/** Every node's row in-sync with its reported hash equal to the desired one; answers the desired hashes. */
async function allInSync(page: Page, timeout = 20_000): Promise<Map<string, string>> {
  await page.waitForFunction(
    (names) =>
      names.every((name) => {
        const tr = (globalThis as unknown as { document: PageDoc }).document.querySelector(
          `[data-testid="config-nodes"] tr[data-node="${name}"]`,
        );
        const desired = tr?.querySelector('[data-testid="desired-hash"]')?.getAttribute('data-hash');
        const reported = tr?.querySelector('[data-testid="reported-hash"]')?.getAttribute('data-hash');
        return tr?.getAttribute('data-state') === 'in-sync' && desired !== '' && desired === reported;
      }),
    NAMES,
    { timeout },
  );
  const out = new Map<string, string>();
  for (const name of NAMES) out.set(name, (await row(page, name).locator('[data-testid="desired-hash"]').getAttribute('data-hash')) ?? '');
  return out;
}

test('console config: every node in sync; a fleet.yaml change shows the new revision and nodes back in sync; an invalid one is refused with its problem while nodes stay in sync', async () => {
  const { context, page } = await logIn(USERS.operator);
  try {
    await page.goto(`${hubUrl}/#/config`);
    await page.locator('nav a[href="#/config"][aria-current="page"]').waitFor();
    const first = await allInSync(page);
    await page.locator('[data-testid="config-headline"]', { hasText: 'All 3 nodes in sync' }).waitFor();
    const rev1 = await page.locator('[data-testid="current-revision"]').getAttribute('data-revision');
    assert.ok(rev1 !== null && rev1 !== '');
    await page.screenshot({ path: `${SHOTS}console-config.png`, fullPage: true });

    // A fleet change (a second collector, applied live), read when the operator presses Sync now.
    write('fleet.yaml', fleetYaml('  - name: battery\n    type: sim_battery'));
    await page.locator('[data-testid="config-sync"]').click();
    await page.waitForFunction((old) => {
      const r = (globalThis as unknown as { document: PageDoc }).document
        .querySelector('[data-testid="current-revision"]')
        ?.getAttribute('data-revision');
      return r !== undefined && r !== null && r !== old;
    }, rev1);
    const rev2 = await page.locator('[data-testid="current-revision"]').getAttribute('data-revision');
    assert.equal(await page.locator('[data-testid="last-good-revision"]').getAttribute('data-revision'), rev2);
    const second = await allInSync(page);
    for (const name of NAMES) assert.notEqual(second.get(name), first.get(name), `${name} has a new desired hash`);

    // An invalid change: refused as a whole, its problem on the page; every node stays in sync on rev2.
    write('fleet.yaml', `${fleetYaml('  - name: battery\n    type: sim_battery')}store:\n  retention: forever\n`);
    await page.locator('[data-testid="config-sync"]').click();
    const refused = page.locator('[data-testid="refused"][data-current="true"]');
    await refused.waitFor({ timeout: 10_000 });
    const problem = refused.locator('[data-testid="problems"] li[data-file="fleet.yaml"][data-path="store.retention"]');
    await problem.waitFor();
    assert.match((await problem.textContent()) ?? '', /^fleet\.yaml:\d+:\d+: store\.retention: /);
    await page.locator('[data-testid="current-refused"]').waitFor();
    assert.equal(await page.locator('[data-testid="last-good-revision"]').getAttribute('data-revision'), rev2);
    const third = await allInSync(page);
    assert.deepEqual([...third], [...second], 'the nodes keep the last good revision');
    await page.screenshot({ path: `${SHOTS}console-config-refused.png`, fullPage: true });

    // The state filter: only failed nodes -> none; back to all.
    await page.locator('[data-testid="config-state-filter"] button[data-state="in-sync"]').click();
    assert.equal(await page.locator('[data-testid="config-nodes"] tbody tr').count(), 3);
    await page.locator('[data-testid="config-site-filter"]').selectOption('south');
    assert.equal(await page.locator('[data-testid="config-nodes"] tbody tr').count(), 1);
    await page.locator('[data-testid="config-site-filter"]').selectOption('');

    // Fixed again, so the Apply below rolls out a valid newest revision.
    write('fleet.yaml', fleetYaml('  - name: battery\n    type: sim_battery'));
    await page.locator('[data-testid="config-sync"]').click();
    await page.locator('[data-testid="refused"][data-current="false"]').waitFor({ timeout: 10_000 });
  } finally {
    await context.close();
  }
});

test('console config: the provenance view shows a leaf set by the site file with its file:line, searchable', async () => {
  const { context, page } = await logIn(USERS.operator);
  try {
    await page.goto(`${hubUrl}/#/nodes/north/n1`);
    const panel = page.locator('[data-testid="node-config"]');
    await panel.locator('[data-testid="config-state"][data-state="in-sync"]').waitFor({ timeout: 15_000 });
    assert.equal(await panel.locator('[data-testid="last-rejection"]').textContent(), 'none');
    await panel.locator('[data-testid="provenance-link"]').click();
    await page.waitForURL(/#\/config\/nodes\/north\/n1$/);
    const leaf = page.locator('[data-testid="provenance-table"] tr[data-path="critical[0].deadband"]');
    await leaf.waitFor();
    assert.equal(await leaf.getAttribute('data-file'), 'sites/north.yaml');
    assert.equal(await leaf.getAttribute('data-line'), '3');
    assert.equal(await leaf.getAttribute('data-layer'), 'site');
    assert.match((await leaf.locator('[data-testid="leaf-origin"]').textContent()) ?? '', /^sites\/north\.yaml:3:\d+$/);
    const fleetLeaf = page.locator('[data-testid="provenance-table"] tr[data-path="services[0].name"]');
    assert.equal(await fleetLeaf.getAttribute('data-file'), 'fleet.yaml');
    await page.locator('[data-testid="provenance-search"]').fill('sites/north');
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { document: PageDoc }).document.querySelectorAll('[data-testid="provenance-table"] tbody tr').length ===
        2,
    );
    assert.deepEqual(
      await page.locator('[data-testid="provenance-table"] tbody tr').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-path'))),
      ['critical[0].match', 'critical[0].deadband'],
    );
    await page.locator('[data-testid="provenance-search"]').fill('');
    await page.screenshot({ path: `${SHOTS}console-config-provenance.png`, fullPage: true });
  } finally {
    await context.close();
  }
});

test('console config: the services panel shows the service running; an operator’s Restart bumps its restarts', async () => {
  const { context, page } = await logIn(USERS.operator);
  try {
    await page.goto(`${hubUrl}/#/nodes/north/n2`);
    const ticker = page.locator('[data-testid="services-table"] tr[data-service="ticker"]');
    await ticker.and(page.locator('[data-state="running"][data-up="true"]')).waitFor({ timeout: 20_000 });
    const before = Number(await ticker.getAttribute('data-restarts'));
    await ticker.locator('[data-testid="service-restart"]').click();
    await page.locator('[data-testid="confirm-dialog"]').waitFor();
    await page.screenshot({ path: `${SHOTS}console-service-restart-confirm.png` });
    await page.locator('[data-testid="dialog-confirm"]').click();
    await page.locator('[data-testid="service-result"][data-service="ticker"]').waitFor({ timeout: 15_000 });
    assert.match((await page.locator('[data-testid="service-result"]').textContent()) ?? '', new RegExp(`restarts ${before + 1}`));
    // The node's service_started event reaches the hub through its outbox; the panel follows the live feed.
    await page
      .locator(`[data-testid="services-table"] tr[data-service="ticker"][data-restarts="${before + 1}"][data-state="running"]`)
      .waitFor({ timeout: 15_000 });
    await ticker.locator('[data-testid="service-logs-toggle"]').click();
    const logs = page.locator('[data-testid="service-logs"][data-service="ticker"]');
    await logs.locator('li[data-kind="service_started"]', { hasText: 'operator by hub:olga' }).waitFor();
    await page.locator('[data-testid="node-services"]').screenshot({ path: `${SHOTS}console-node-services.png` });
  } finally {
    await context.close();
  }
});

test('console config: Apply to one site (selected on the bulk actions page) in waves of one shows each wave and node as the hub reports them', async () => {
  const { context, page } = await logIn(USERS.operator);
  try {
    await page.goto(`${hubUrl}/#/config`);
    await allInSync(page);
    // The bulk actions' selection (site north) opens the Apply dialog with it.
    await page.goto(`${hubUrl}/#/actions`);
    await page.locator('[data-testid="sel-site"][data-site="north"]').check();
    await page.locator('[data-testid="action-apply-config"]').click();
    await page.waitForURL(/#\/config\?apply=1&sites=north$/);
    const dialog = page.locator('[data-testid="apply-dialog"]');
    assert.equal(await dialog.locator('[data-testid="apply-site"][data-site="north"]').isChecked(), true);
    assert.equal(await dialog.locator('[data-testid="apply-site"][data-site="south"]').isChecked(), false);
    await dialog.locator('[data-testid="apply-waves"]').fill('each 1');
    await dialog.locator('[data-testid="apply-preview"] li[data-wave="2"]').waitFor();
    assert.deepEqual(
      await dialog.locator('[data-testid="apply-preview-node"]').evaluateAll((xs) => xs.map((x) => x.getAttribute('data-node'))),
      ['north/n1', 'north/n2'],
    );
    await page.screenshot({ path: `${SHOTS}console-config-apply-preview.png` });
    await dialog.locator('[data-testid="apply-confirm"]').click();
    await dialog.locator('[data-testid="apply-run"][data-state="done"]').waitFor({ timeout: 30_000 });
    assert.equal(await dialog.locator('[data-testid="apply-wave"][data-state="ok"]').count(), 2);
    assert.equal(await dialog.locator('[data-testid="apply-node"][data-result="applied"]').count(), 2);
    await page.screenshot({ path: `${SHOTS}console-config-apply.png` });
    await dialog.locator('[data-testid="apply-close"]').click();
    await dialog.waitFor({ state: 'detached' });
    // The page keeps the run it started as its last apply.
    await page.locator('section[aria-label="last apply"] [data-testid="apply-run"][data-state="done"]').waitFor();
  } finally {
    await context.close();
  }
});

test('console config: a viewer sees the configuration and the services but no Sync, Apply, Start, Stop or Restart', async () => {
  // In the dark scheme: the states keep their words and shapes there too.
  const { context, page } = await logIn(USERS.viewer, 'dark');
  try {
    await page.goto(`${hubUrl}/#/config`);
    await allInSync(page);
    assert.equal(await page.locator('[data-testid="config-sync"]').count(), 0);
    assert.equal(await page.locator('[data-testid="config-apply"]').count(), 0);
    await page.goto(`${hubUrl}/#/nodes/south/s1`);
    await page.locator('[data-testid="services-table"] tr[data-service="ticker"]').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="node-config"] [data-testid="config-state"]').waitFor();
    for (const b of ['service-start', 'service-stop', 'service-restart'])
      assert.equal(await page.locator(`[data-testid="${b}"]`).count(), 0, `${b} hidden`);
    assert.equal(await page.locator('[data-testid="service-logs-toggle"]').count(), 1, 'Logs is for everyone');
    // The hub refuses what the page hides.
    const res = await page.evaluate(async () => (await fetch('/api/v1/config/sync', { method: 'POST' })).status);
    assert.equal(res, 403);
    await page.screenshot({ path: `${SHOTS}console-config-viewer.png`, fullPage: true });
  } finally {
    await context.close();
  }
});
