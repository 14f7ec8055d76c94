// The Configuration page's harder states in Debian's Chromium against real processes: a real Mosquitto, a hub with
// login on reconciling a configuration repository (a folder this test writes) with `rollout: manual`, and three
// real node processes (north/n1, north/n2, south/s1). Applied from the page each time:
// - a site change that needs a restart shows the north nodes `pending-restart` with the key that waits (store);
// - a hand edit of s1's node.yaml shows s1 drifted, with the reason (hand edit of node.yaml) and its keys, on the
//   Configuration page and on the node page; reverting it clears the drift;
// - a consensus zone with a pump on n2, whose pump state cannot be written there (its `pumps` path is a file), rolled
//   out in waves of one: wave 1 (n1) applies, wave 2 (n2) fails at stage apply with the node's error, and the run
//   stops there: wave 3 (s1) is `skipped`, and n2's row is `failed` with its stage and error.
// Screenshots go to artifacts/screenshots/.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, logInConsole } from '../kit/browser.js';
import { stopConsoleStack, USERS, writeConsoleHub } from '../kit/console-fleet.js';
import { type FieldmeshProcess, runFieldmesh } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';

const SHOTS = new URL('../../artifacts/screenshots/', import.meta.url).pathname;
const VIEWPORT = { width: 1400, height: 900 };
const NODES = [
  { id: 'n1', site: 'north', zone: 'z1' },
  { id: 'n2', site: 'north', zone: 'z1' },
  { id: 's1', site: 'south', zone: 'z2' },
] as const;
const NAMES = NODES.map((n) => `${n.site}/${n.id}`);
const PUBLISH = 'publish: {tick: 500ms, heartbeat: 1s}';
const FLEET = [PUBLISH, 'collectors:', '  - {name: host, type: host}', ''].join('\n');
/** A consensus zone of the two north nodes, its pump on n2 (a simulated driver). */
const ZONE_Z1 = [
  'consensus:',
  '  voters: [n1, n2]',
  '  cameras:',
  '    - {id: cam-n1, node: n1}',
  '    - {id: cam-n2, node: n2}',
  '  pumps:',
  '    - {id: pump-1, node: n2, driver: {type: sim}}',
  '  policy: {minCameras: 2, minNodes: 2, threshold: 1}',
  '',
].join('\n');

let dir: string;
let repo: string;
let mosquitto: MosquittoInstance | undefined;
let hub: FieldmeshProcess | undefined;
let hubUrl: string;
let browser: Browser | undefined;
const nodes = new Map<string, { yaml: string; text: string; dataDir: string; proc: FieldmeshProcess }>();

function write(path: string, text: string): void {
  mkdirSync(join(repo, path, '..'), { recursive: true });
  writeFileSync(join(repo, path), text);
}

const stopAll = () => stopConsoleStack({ browser, nodes: [...nodes.values()].map((n) => n.proc), hub, mosquitto, dir });

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'fm-console-config-states-'));
  repo = join(dir, 'repo');
  try {
    write('fleet.yaml', FLEET);
    write('sites/north.yaml', 'name: North\n');
    write('sites/south.yaml', 'name: South\n');
    for (const n of NODES) write(`nodes/${n.id}.yaml`, `node: {id: ${n.id}, site: ${n.site}, zone: ${n.zone}}\n`);
    mosquitto = await startMosquitto();
    const hubYaml = await writeConsoleHub(
      dir,
      mosquitto.url,
      [
        // Read at start, then when Sync now asks; a valid revision waits for Apply.
        `configRepo: {dir: ${JSON.stringify(repo)}, interval: 1h, rollout: manual, applyTimeout: 20s}`,
        'sites: [{id: north, name: North}, {id: south, name: South}]',
      ],
      { operator: USERS.operator },
    );
    hub = runFieldmesh(['hub', '--config', hubYaml]);
    [, hubUrl = ''] = await hub.waitForOutput(/console (http:\/\/\S+?)\/?\s/);
    await Promise.all(
      NODES.map(async (n) => {
        const yaml = join(dir, `${n.id}.yaml`);
        const dataDir = join(dir, n.id);
        const text = [
          `node: {id: ${n.id}, site: ${n.site}, zone: ${n.zone}}`,
          `mqtt: {url: "${mosquitto?.url}"}`,
          `dataDir: ${dataDir}`,
          'http: {host: 127.0.0.1, port: 0}',
          PUBLISH,
          '',
        ].join('\n');
        writeFileSync(yaml, text);
        const proc = runFieldmesh(['node', '--config', yaml]);
        nodes.set(n.id, { yaml, text, dataDir, proc });
        await proc.waitForOutput(/fieldmesh node \S+ \(boot \d+\)/);
      }),
    );
    browser = await launchBrowser();
  } catch (err) {
    await stopAll();
    throw err;
  }
});

after(stopAll);

function logIn(): Promise<{ context: BrowserContext; page: Page }> {
  return logInConsole(browser as Browser, hubUrl, USERS.operator, { viewport: VIEWPORT });
}

const row = (page: Page, name: string) => page.locator(`[data-testid="config-nodes"] tr[data-node="${name}"]`);

/** Sync now, then waits for the page to show a newest revision other than `old`; answers it. */
async function syncNew(page: Page, old: string | null): Promise<string> {
  await page.locator('[data-testid="config-sync"]').click();
  const current = page.locator('[data-testid="current-revision"]');
  await page.waitForFunction(
    (prev) => {
      const el = (
        globalThis as unknown as { document: { querySelector(s: string): { getAttribute(n: string): string | null } | null } }
      ).document.querySelector('[data-testid="current-revision"]');
      const r = el?.getAttribute('data-revision');
      return r !== undefined && r !== null && r !== '' && r !== prev;
    },
    old,
    { timeout: 10_000 },
  );
  return (await current.getAttribute('data-revision')) ?? '';
}

/** Opens Apply, sets the waves, confirms; answers the dialog once its run ended (done or stopped). */
async function apply(page: Page, waves: string, ends: 'done' | 'stopped') {
  await page.locator('[data-testid="config-apply"]').click();
  const dialog = page.locator('[data-testid="apply-dialog"]');
  await dialog.locator('[data-testid="apply-waves"]').fill(waves);
  await dialog.locator('[data-testid="apply-confirm"]').click();
  await dialog.locator(`[data-testid="apply-run"][data-state="${ends}"]`).waitFor({ timeout: 45_000 });
  return dialog;
}

async function closeDialog(page: Page): Promise<void> {
  const dialog = page.locator('[data-testid="apply-dialog"]');
  await dialog.locator('[data-testid="apply-close"]').click();
  await dialog.waitFor({ state: 'detached' });
}

test('console config states: pending-restart with its keys, a hand-edited node drifted with its reason, and an apply in waves that stops at the failing wave', async () => {
  const { context, page } = await logIn();
  try {
    await page.goto(`${hubUrl}/#/config`);
    // Manual rollout: the first revision waits for Apply; one wave brings every node in sync.
    await page.locator('[data-testid="awaiting-apply"]').waitFor({ timeout: 15_000 });
    let revision = (await page.locator('[data-testid="current-revision"]').getAttribute('data-revision')) ?? '';
    await apply(page, '', 'done');
    await closeDialog(page);
    for (const name of NAMES) await row(page, name).and(page.locator('[data-state="in-sync"]')).waitFor({ timeout: 20_000 });

    // 1. North keeps 60 days: the store takes it when it opens, so the north nodes wait for a restart.
    write('sites/north.yaml', 'name: North\nstore: {retention: 60d}\n');
    revision = await syncNew(page, revision);
    await apply(page, '', 'done');
    await closeDialog(page);
    for (const name of ['north/n1', 'north/n2']) {
      const r = row(page, name);
      await r.and(page.locator('[data-state="pending-restart"]')).waitFor({ timeout: 20_000 });
      assert.equal(await r.locator('[data-testid="config-state"]').getAttribute('data-state'), 'pending-restart');
      assert.equal(await r.locator('[data-testid="pending-keys"]').getAttribute('data-keys'), 'store');
      assert.equal(await r.locator('[data-testid="pending-keys"]').textContent(), 'waits for a restart: store');
    }
    await row(page, 'south/s1').and(page.locator('[data-state="in-sync"]')).waitFor();
    await page.locator('[data-testid="config-headline"]', { hasText: '1 of 3 nodes in sync, 2 pending-restart' }).waitFor();

    // 2. Someone edits s1's node.yaml on the device: the node reports it, the page shows the drift and why.
    const s1 = nodes.get('s1');
    assert.ok(s1);
    writeFileSync(s1.yaml, `${s1.text}store: {retention: 90d}\ncollectors: []\n`);
    const drifted = row(page, 'south/s1').and(page.locator('[data-drift="true"]'));
    await drifted.waitFor({ timeout: 15_000 });
    const reason = drifted.locator('[data-testid="drift-reason"]');
    assert.equal(await reason.getAttribute('data-kind'), 'hand-edit');
    assert.equal(await reason.getAttribute('data-keys'), 'collectors,store');
    assert.equal(await reason.textContent(), 'hand edit of node.yaml: collectors, store (differ from the repository; not applied)');
    assert.equal(await drifted.getAttribute('data-state'), 'in-sync', 'the repository’s config still runs');
    await page.locator('[data-testid="config-page"] .error-line', { hasText: '1 node drifts from the repository' }).waitFor();
    await page.screenshot({ path: `${SHOTS}console-config-states.png`, fullPage: true });
    // The node page says the same.
    await page.goto(`${hubUrl}/#/nodes/south/s1`);
    const panel = page.locator('[data-testid="node-config"]');
    await panel
      .locator('[data-testid="drift-reason"][data-kind="hand-edit"]', { hasText: 'collectors, store' })
      .waitFor({ timeout: 15_000 });
    // Reverted on the device: the drift clears.
    writeFileSync(s1.yaml, s1.text);
    await page.goto(`${hubUrl}/#/config`);
    await row(page, 'south/s1').and(page.locator('[data-drift="false"]')).waitFor({ timeout: 15_000 });
    assert.equal(await row(page, 'south/s1').locator('[data-testid="drift-reason"]').count(), 0);

    // 3. A consensus zone whose pump is on n2, where the pump's state cannot be written (its pumps path is a file).
    writeFileSync(join(nodes.get('n2')?.dataDir ?? '', 'north', 'n2', 'pumps'), 'not a folder\n');
    write('zones/z1.yaml', ZONE_Z1);
    revision = await syncNew(page, revision);
    const dialog = await apply(page, '1, 1', 'stopped');
    const waves = await dialog
      .locator('[data-testid="apply-wave"]')
      .evaluateAll((ws) => ws.map((w) => `${w.getAttribute('data-wave')}:${w.getAttribute('data-state')}`));
    assert.deepEqual(waves, ['1:ok', '2:failed', '3:skipped']);
    const results = await dialog
      .locator('[data-testid="apply-node"]')
      .evaluateAll((ns) => ns.map((n) => `${n.getAttribute('data-node')}=${n.getAttribute('data-result')}`));
    assert.deepEqual(results, ['north/n1=pending-restart', 'north/n2=failed', 'south/s1=skipped']);
    const stopped = (await dialog.locator('[data-testid="apply-stopped"]').textContent()) ?? '';
    assert.match(
      stopped,
      /^✕ Stopped at wave 2: north\/n2 failed \(apply: FM_CONFIG_APPLY_FAILED: applying zones failed: .*pumps.*\); later waves were not sent\.$/,
    );
    await page.screenshot({ path: `${SHOTS}console-config-apply-stopped.png` });
    await closeDialog(page);

    // n2's row: failed, with the stage and the node's own error; the run stays on the page as the last apply.
    const n2 = row(page, 'north/n2').and(page.locator('[data-state="failed"]'));
    await n2.waitFor({ timeout: 15_000 });
    const rejection = n2.locator('[data-testid="rejection"]');
    assert.equal(await rejection.getAttribute('data-stage'), 'apply');
    assert.match((await rejection.textContent()) ?? '', /^apply: FM_CONFIG_APPLY_FAILED: applying zones failed: .*pumps/);
    await row(page, 'north/n1').and(page.locator('[data-state="pending-restart"]')).waitFor();
    const last = page.locator('section[aria-label="last apply"] [data-testid="apply-run"][data-state="stopped"]');
    await last.waitFor();
    assert.equal(await last.locator('[data-testid="apply-wave"][data-state="skipped"]').count(), 1);
    assert.equal(await page.locator('[data-testid="config-headline"]').getAttribute('data-tone'), 'error');
    await page.screenshot({ path: `${SHOTS}console-config-failed.png`, fullPage: true });
  } finally {
    await context.close();
  }
});
