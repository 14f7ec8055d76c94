// The console's zone page in Debian's Chromium against real processes: a real Mosquitto, a hub with login
// on and the zone in its hub.yaml, and three voting node processes of one zone, each with an http_push
// collector; the third drives a simulated pump. Detections pushed to two nodes (two cameras, two nodes)
// are a fire: the page shows the detections, the majority and the pump running (and the overview says
// so); the operator's emergency stop from the page stops the pump and the page says who stopped it; a
// forced election moves the zone's epoch; a viewer sees the zone and no button, and the hub refuses the
// viewer's command with 403. Screenshots go to artifacts/screenshots/.

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
const SITE = 'ridge';
const ZONE = 'north';
const PUMP = 'pump-1';
const PUSH_TOKEN = 'console-zones-push-token';
const USERS = {
  operator: { name: 'olga', password: 'operator-password-1' },
  viewer: { name: 'vic', password: 'viewer-password-1' },
} as const;
/** Voters: edge-a and edge-b see the fire, edge-c drives the pump. */
const NODES = ['edge-a', 'edge-b', 'edge-c'] as const;

/** The zone, as every node and the hub carry it (the hub adds `site`). */
const ZONE_CONFIG = {
  id: ZONE,
  voters: [...NODES],
  cameras: [
    { id: 'cam-a1', node: 'edge-a' },
    { id: 'cam-b1', node: 'edge-b' },
  ],
  pumps: [{ id: PUMP, node: 'edge-c', driver: { type: 'sim' }, envelope: { minOff: '0s', maxRuntime: '20m' } }],
  policy: { window: '60s', minCameras: 2, minNodes: 2, threshold: 1, voteTtl: '3s' },
};

let dir: string;
let mosquitto: MosquittoInstance | undefined;
let hub: FieldmeshProcess | undefined;
let hubUrl: string;
const nodes = new Map<string, { process: FieldmeshProcess; url: string }>();
let browser: Browser | undefined;

const stopAll = () => stopConsoleStack({ browser, nodes: [...nodes.values()].map((n) => n.process), hub, mosquitto });

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'fm-console-zones-'));
  try {
    mosquitto = await startMosquitto();
    // JSON is YAML: the zone block is written as the nodes carry it, plus its site.
    const hubYaml = await writeConsoleHub(
      dir,
      mosquitto.url,
      [
        'alerts: {evaluationInterval: 1s}',
        `sites: [{id: ${SITE}, name: "Ridge"}]`,
        `zones: ${JSON.stringify([{ ...ZONE_CONFIG, site: SITE }])}`,
      ],
      USERS,
    );
    hub = runFieldmesh(['hub', '--config', hubYaml]);
    [, hubUrl = ''] = await hub.waitForOutput(/console (http:\/\/\S+?)\/?\s/);

    await Promise.all(
      NODES.map(async (id) => {
        const yaml = join(dir, `${id}.yaml`);
        writeFileSync(
          yaml,
          JSON.stringify({
            node: { id, site: SITE },
            mqtt: { url: mosquitto?.url },
            dataDir: join(dir, id),
            http: { host: '127.0.0.1', port: 0 },
            publish: { tick: '250ms', heartbeat: '1s' },
            zones: [ZONE_CONFIG],
            collectors: [{ type: 'http_push', token: PUSH_TOKEN }],
          }),
        );
        const process = runFieldmesh(['node', '--config', yaml]);
        nodes.set(id, { process, url: '' });
        await process.waitForOutput(/fieldmesh node \S+ \(boot \d+\)/);
        const [, url = ''] = await process.waitForOutput(/HTTP (http:\/\/\S+)/);
        nodes.set(id, { process, url });
      }),
    );
    browser = await launchBrowser();
  } catch (err) {
    await stopAll();
    throw err;
  }
});

after(stopAll);

function logIn(user: { name: string; password: string }): Promise<{ context: BrowserContext; page: Page }> {
  return logInConsole(browser as Browser, hubUrl, user, { viewport: VIEWPORT });
}

/** A detection as a detector would push it to its node (`kind: detection`, docs/collectors.md). */
async function detect(node: string, camera: string, confidence: number): Promise<void> {
  const res = await fetch(`${nodes.get(node)?.url}/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${PUSH_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'detection', camera, class: 'fire', confidence }),
  });
  assert.equal(res.status, 200, await res.text());
}

const pumpCard = (page: Page) => page.locator(`[data-testid="pump-card"][data-pump="${PUMP}"]`);

test('console zones: a fire shows its detections, the majority and the pump running; the operator’s emergency stop stops it and the page says by whom', async () => {
  const { context, page } = await logIn(USERS.operator);
  try {
    await page.goto(`${hubUrl}/#/zones/${ZONE}`);
    // Every voter heard by the hub: a majority is visible before any fire; the pump is stopped.
    await page
      .locator(`.zone-page[data-zone="${ZONE}"] .title-row [data-testid="majority"][data-state="visible"]`)
      .waitFor({ timeout: 20_000 });
    await pumpCard(page).and(page.locator('[data-state="stopped"]')).waitFor({ timeout: 20_000 });
    for (const n of NODES) await page.locator(`[data-testid="voters-table"] tr[data-voter="${n}"][data-state="online"]`).waitFor();
    assert.equal(await page.locator('[data-testid="detections-table"]').count(), 0, 'no detection yet');

    // Two cameras on two nodes: the fire the policy asks for.
    await detect('edge-a', 'cam-a1', 0.92);
    await detect('edge-b', 'cam-b1', 0.88);
    await pumpCard(page).and(page.locator('[data-state="running"]')).waitFor({ timeout: 20_000 });
    for (const camera of ['cam-a1', 'cam-b1']) {
      await page.locator(`[data-testid="detections-table"] tr[data-camera="${camera}"]`).first().waitFor({ timeout: 15_000 });
    }
    const detections = await page.locator('[data-testid="detections-table"] tbody').innerText();
    assert.match(detections, /cam-a1\s+edge-a\s+fire\s+0\.92/);
    assert.match(detections, /cam-b1\s+edge-b\s+fire\s+0\.88/);
    await page.locator('.title-row [data-testid="fire"][data-state="fire"]').waitFor({ timeout: 15_000 });
    assert.match(await page.locator('[data-testid="evaluation-text"]').innerText(), /2 cameras of 2 · 2 nodes of 2/);
    await page.locator('[data-testid="decisions-table"] tr[data-decision="majority"]').first().waitFor({ timeout: 15_000 });
    assert.match(await pumpCard(page).locator('[data-testid="pump-cause"]').innerText(), /majority/);
    assert.match(await pumpCard(page).locator('[data-testid="last-start"]').innerText(), /majority/);
    // The runtime ticks in the browser between answers.
    const runtime = pumpCard(page).locator('[data-testid="pump-runtime"]');
    const first = await runtime.innerText();
    const exactly = new RegExp(`^${first.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    await pumpCard(page).locator('[data-testid="pump-runtime"]', { hasNotText: exactly }).waitFor({ timeout: 5_000 });
    // The history chart re-reads the stored events once the pump started: one run (still going), the detections marked.
    await page.locator('[data-testid="range-picker"] button', { hasText: '15m' }).click();
    await page.locator('[data-testid="pump-history"][data-status="ok"][data-runs="1"] canvas').waitFor({ timeout: 15_000 });
    await page.evaluate('scrollTo(0, 0)'); // the header sticks where the page was scrolled to
    await page.screenshot({ path: `${SHOTS}console-zone-fire.png`, fullPage: true });

    // The overview's one-line answer names the zone with its pump running; the site page lists the zone.
    await page.goto(`${hubUrl}/#/`);
    const running = page.locator('[data-testid="zone-lines"] li[data-line="pumps-running"]');
    await running.waitFor({ timeout: 15_000 });
    assert.match(await running.innerText(), /pump running in ridge\/north/);
    await page.screenshot({ path: `${SHOTS}console-zone-overview.png` });
    await page.goto(`${hubUrl}/#/sites/${SITE}`);
    const row = page.locator(`[data-testid="zones-table"] tr[data-zone="${ZONE}"]`);
    await row.and(page.locator('[data-majority="visible"][data-pumps-running="1"]')).waitFor({ timeout: 15_000 });

    // Emergency stop: one click on the pump, one confirmation.
    await page.goto(`${hubUrl}/#/zones/${ZONE}`);
    await pumpCard(page).and(page.locator('[data-state="running"]')).waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="range-picker"] button', { hasText: '15m' }).click();
    await pumpCard(page).locator('[data-testid="pump-estop"]').click();
    const dialog = page.locator('[data-testid="confirm-dialog"]');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /latches/);
    await page.screenshot({ path: `${SHOTS}console-zone-estop-confirm.png` });
    await dialog.locator('[data-testid="dialog-confirm"]').click();
    await pumpCard(page).locator('[data-testid="pump-result"]').waitFor({ timeout: 15_000 });
    await pumpCard(page).and(page.locator('[data-state="estop"]')).waitFor({ timeout: 20_000 });
    const lastStop = pumpCard(page).locator('[data-testid="last-stop"]');
    await lastStop.filter({ hasText: /olga/ }).waitFor({ timeout: 15_000 });
    assert.match(await lastStop.innerText(), /estop by hub:olga/);
    assert.match(await pumpCard(page).locator('[data-testid="pump-state"]').innerText(), /emergency stop/);
    // A latched pump: Start is refused in the page (the node would refuse it too), Clear is offered.
    assert.equal(await pumpCard(page).locator('[data-testid="pump-start"]').isDisabled(), true);
    assert.equal(await pumpCard(page).locator('[data-testid="pump-clear"]').isDisabled(), false);
    await page.locator('[data-testid="pump-history"][data-status="ok"][data-runs="1"] canvas').waitFor({ timeout: 15_000 });
    await page.evaluate('scrollTo(0, 0)');
    await page.screenshot({ path: `${SHOTS}console-zone-estop.png`, fullPage: true });

    // Force election: confirmed, handed to a member, and the page shows the new epoch.
    const epochBefore = Number(await page.locator('.zone-page').getAttribute('data-epoch'));
    await page.locator('[data-testid="elect"]').click();
    assert.match(await dialog.innerText(), new RegExp(`now ${epochBefore}`));
    await dialog.locator('[data-testid="dialog-confirm"]').click();
    const elected = await page.locator('[data-testid="elect-result"]').innerText({ timeout: 15_000 });
    const [, via, epoch] = /(\S+) elected epoch (\d+)/.exec(elected) ?? [];
    assert.ok(via?.startsWith(`${SITE}/edge-`), elected);
    assert.ok(Number(epoch) > epochBefore, elected);
    await page.locator(`.zone-page[data-epoch="${epoch}"]`).waitFor({ timeout: 15_000 });
  } finally {
    await context.close();
  }
});

test('console zones: a viewer sees the zone and its pump but no button, and the hub refuses the viewer’s command with 403', async () => {
  const { context, page } = await logIn(USERS.viewer);
  try {
    await page.goto(`${hubUrl}/#/zones/${ZONE}`);
    await pumpCard(page).waitFor({ timeout: 20_000 });
    await page.locator('[data-testid="voters-table"] tr[data-voter]').nth(2).waitFor();
    assert.equal(await page.locator('[data-testid="pump-actions"]').count(), 0, 'no pump buttons for a viewer');
    assert.equal(await page.locator('[data-testid="elect"]').count(), 0, 'no election button for a viewer');
    await page.getByText('Pump buttons need the operator role').waitFor();

    const status = await page.evaluate(async (path) => {
      const me = (await (await fetch('/api/v1/auth/me')).json()) as { csrfToken?: string };
      const res = await fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken ?? '' },
        body: '{}',
      });
      return res.status;
    }, `/api/v1/zones/${ZONE}/pumps/${PUMP}/start`);
    assert.equal(status, 403);
    await page.screenshot({ path: `${SHOTS}console-zone-viewer.png`, fullPage: true });
  } finally {
    await context.close();
  }
});
