// The console's Approve with an assignment, in Debian's Chromium against real processes: a real Mosquitto, a hub
// with login on in registration.mode approve, and two real node processes it does not know: alpha (site farm,
// zone east) and echo (site ranch, zone west). The admin approves alpha as it announced itself; then opens
// echo's Approve dialog, prefilled with ranch and west and offering the fleet's farm and east, picks farm and
// east, and confirms: echo restarts under farm/echo in zone east and is online at the hub so, never as
// ranch/echo. Screenshots go to artifacts/screenshots/.

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
const ADMIN = { name: 'ada', password: 'admin-password-1' };

let dir: string;
let mosquitto: MosquittoInstance | undefined;
let hub: FieldmeshProcess | undefined;
let hubUrl: string;
const procs: FieldmeshProcess[] = [];
let browser: Browser | undefined;

const stopAll = () => stopConsoleStack({ browser, nodes: procs, hub, mosquitto, dir });

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'fm-console-registrations-assign-'));
  try {
    mosquitto = await startMosquitto();
    const hubYaml = await writeConsoleHub(dir, mosquitto.url, ['registration: {mode: approve}'], { admin: ADMIN });
    hub = runFieldmesh(['hub', '--config', hubYaml]);
    [, hubUrl = ''] = await hub.waitForOutput(/console (http:\/\/\S+?)\/?\s/);
    for (const [id, site, zone] of [
      ['alpha', 'farm', 'east'],
      ['echo', 'ranch', 'west'],
    ] as const) {
      procs.push(await startConsoleNode(dir, mosquitto.url, { id, site, zone }));
    }
    browser = await launchBrowser();
  } catch (err) {
    await stopAll();
    throw err;
  }
});

after(stopAll);

async function logIn(): Promise<Page> {
  return (await logInConsole(browser as Browser, hubUrl, ADMIN)).page;
}

test('console registrations: an admin approves a node with another site and zone, picked from the fleet', async () => {
  const page = await logIn();
  await page.goto(`${hubUrl}/#/registrations`);
  const row = (name: string) => page.locator(`[data-testid="registrations-table"] tr[data-registration="${name}"]`);
  const dialog = page.locator('[data-testid="confirm-dialog"]');
  const nodes = async () =>
    (
      (await (await page.request.get(`${hubUrl}/api/v1/nodes`)).json()) as {
        nodes: { site: string; node: string; zone: string; state: string }[];
      }
    ).nodes;

  // alpha as it announced itself: its fields say so, and approving them sends no assignment.
  await row('farm/alpha').waitFor({ timeout: 15_000 });
  await row('farm/alpha').locator('[data-testid="registration-approve"]').click();
  assert.equal(await dialog.locator('[data-testid="registration-assign-site"]').inputValue(), 'farm');
  assert.equal(await dialog.locator('[data-testid="registration-assign-zone"]').inputValue(), 'east');
  await dialog.locator('[data-testid="dialog-confirm"]').click();
  await waitFor(
    async () =>
      /farm\/alpha approved: rebirth requested/.test((await page.locator('[data-testid="registration-result"]').textContent()) ?? ''),
    {
      what: 'alpha approved',
    },
  );
  await waitFor(async () => (await nodes()).some((n) => n.node === 'alpha' && n.state === 'online'), { what: 'alpha online' });

  // echo: prefilled with what it announced, the fleet's farm and east offered.
  await row('ranch/echo').locator('[data-testid="registration-approve"]').click();
  const site = dialog.locator('[data-testid="registration-assign-site"]');
  const zone = dialog.locator('[data-testid="registration-assign-zone"]');
  assert.match((await dialog.textContent()) ?? '', /Approve ranch\/echo\?.*It announced site ranch, zone west/);
  assert.equal(await site.inputValue(), 'ranch');
  assert.equal(await zone.inputValue(), 'west');
  await waitFor(async () => (await page.locator('#registration-known-sites option[value="farm"]').count()) === 1, { what: 'farm offered' });
  assert.equal(await page.locator('#registration-known-zones option[value="east"]').count(), 1);
  await site.fill('farm');
  await zone.fill('east');
  await page.screenshot({ path: join(SHOTS, 'registrations-assign.png') });
  await dialog.locator('[data-testid="dialog-confirm"]').click();
  const result = page.locator('[data-testid="registration-result"]');
  await waitFor(async () => /ranch\/echo approved as farm\/echo/.test((await result.textContent()) ?? ''), { what: 'echo approved' });
  assert.equal(
    await result.textContent(),
    'ranch/echo approved as farm/echo in zone east: the assignment was sent; the node restarts under it and its outbox drains to the hub.',
  );
  await row('ranch/echo').waitFor({ state: 'detached' });

  // The node restarted under it: farm/echo in east, never ranch/echo.
  await waitFor(async () => (await nodes()).some((n) => n.site === 'farm' && n.node === 'echo' && n.state === 'online'), {
    what: 'farm/echo online',
    timeoutMs: 15_000,
  });
  assert.deepEqual((await nodes()).map((n) => `${n.site}/${n.node} ${n.zone}`).sort(), ['farm/alpha east', 'farm/echo east']);
  // The audit names the assignment.
  await page.goto(`${hubUrl}/#/audit`);
  await page.getByText('approve ranch/echo site farm zone east').first().waitFor();
});
