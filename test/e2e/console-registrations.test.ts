// The console's Registrations in Debian's Chromium against real processes: a real Mosquitto, a hub with login
// on in registration.mode approve, and two real node processes it does not know. An admin sees "2 nodes
// waiting for approval" on the overview, the page lists both with their facts; Approve (confirmed) admits
// bravo, which comes online at the hub; Reject (confirmed) leaves charlie listed as rejected and out of the
// fleet; an operator sees no Registrations. Screenshots go to artifacts/screenshots/.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, logInConsole } from '../kit/browser.js';
import { startConsoleNode, stopConsoleStack, writeConsoleHub } from '../kit/console-fleet.js';
import { type FieldmeshProcess, runFieldmesh } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { waitFor } from '../kit/wait.js';

const SHOTS = new URL('../../artifacts/screenshots/', import.meta.url).pathname;
const USERS = {
  admin: { name: 'ada', password: 'admin-password-1' },
  operator: { name: 'olga', password: 'operator-password-1' },
} as const;

let dir: string;
let mosquitto: MosquittoInstance | undefined;
let hub: FieldmeshProcess | undefined;
let hubUrl: string;
const procs: FieldmeshProcess[] = [];
let browser: Browser | undefined;

const stopAll = () => stopConsoleStack({ browser, nodes: procs, hub, mosquitto, dir });

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'fm-console-registrations-'));
  try {
    mosquitto = await startMosquitto();
    const hubYaml = await writeConsoleHub(dir, mosquitto.url, ['registration: {mode: approve}'], USERS);
    hub = runFieldmesh(['hub', '--config', hubYaml]);
    [, hubUrl = ''] = await hub.waitForOutput(/console (http:\/\/\S+?)\/?\s/);
    for (const id of ['bravo', 'charlie']) {
      procs.push(await startConsoleNode(dir, mosquitto.url, { id, site: 'ranch', zone: 'west' }));
    }
    browser = await launchBrowser();
  } catch (err) {
    await stopAll();
    throw err;
  }
});

after(stopAll);

async function logIn(user: { name: string; password: string }): Promise<Page> {
  return (await logInConsole(browser as Browser, hubUrl, user)).page;
}

test('console registrations: an admin approves one waiting node and rejects the other', async () => {
  const page = await logIn(USERS.admin);
  const waiting = page.locator('[data-testid="registrations-waiting"]');
  await waiting.waitFor({ timeout: 15_000 });
  await waitFor(async () => (await waiting.textContent()) === '2 nodes waiting for approval', { what: 'two waiting' });
  await page.screenshot({ path: join(SHOTS, 'registrations-overview.png') });

  await page.locator('[data-testid="registrations-link"]').click();
  await page.waitForURL(/#\/registrations$/);
  const row = (node: string) => page.locator(`[data-testid="registrations-table"] tr[data-registration="ranch/${node}"]`);
  await row('bravo').waitFor();
  assert.equal(await row('bravo').getAttribute('data-status'), 'pending');
  assert.match((await row('bravo').textContent()) ?? '', /west/);
  await page.screenshot({ path: join(SHOTS, 'registrations-page.png') });

  await row('bravo').locator('[data-testid="registration-approve"]').click();
  const dialog = page.locator('[data-testid="confirm-dialog"]');
  assert.match((await dialog.textContent()) ?? '', /Approve ranch\/bravo\?/);
  await page.screenshot({ path: join(SHOTS, 'registrations-confirm.png') });
  await dialog.locator('[data-testid="dialog-confirm"]').click();
  await page.locator('[data-testid="registration-result"]').waitFor();
  assert.match((await page.locator('[data-testid="registration-result"]').textContent()) ?? '', /ranch\/bravo approved: rebirth requested/);
  await row('bravo').waitFor({ state: 'detached' });
  const nodes = async () =>
    ((await (await page.request.get(`${hubUrl}/api/v1/nodes`)).json()) as { nodes: { node: string; state: string }[] }).nodes;
  await waitFor(async () => (await nodes()).some((n) => n.node === 'bravo' && n.state === 'online'), { what: 'bravo online' });

  await row('charlie').locator('[data-testid="registration-reject"]').click();
  await dialog.locator('[data-testid="dialog-confirm"]').click();
  await waitFor(async () => (await row('charlie').getAttribute('data-status')) === 'rejected', { what: 'charlie rejected' });
  assert.match((await row('charlie').textContent()) ?? '', /rejected by ada/);
  assert.ok(!(await nodes()).some((n) => n.node === 'charlie'));
  await page.screenshot({ path: join(SHOTS, 'registrations-decided.png') });

  // Nobody waits: the overview's panel is gone.
  await page.goto(`${hubUrl}/#/`);
  await page.locator('[data-testid="conn"].live').waitFor();
  assert.equal(await page.locator('[data-testid="registrations-panel"]').count(), 0);
});

test('console registrations: an operator sees no Registrations', async () => {
  const page = await logIn(USERS.operator);
  assert.equal(await page.locator('a[href="#/registrations"]').count(), 0);
  await page.goto(`${hubUrl}/#/registrations`);
  await page.getByText('Node registrations are for admins; you are operator.').waitFor();
});
