// The console shows a node's certificate of the fleet CA in Debian's Chromium, against real processes: a fleet CA
// made with the real `fieldmesh pki` CLI (n1 and n2 issued, n2's revoked), a hub with `pki: {dir}` and login on, a
// real Mosquitto and the two nodes. The site's node rows and the node page say "certificate revoked" beside n2's
// state, and nothing beside n1's; the nodes API says the same.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser, logInConsole } from '../kit/browser.js';
import { startConsoleNode, stopConsoleStack, writeConsoleHub } from '../kit/console-fleet.js';
import { type FieldmeshProcess, runFieldmesh } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { waitFor } from '../kit/wait.js';

const USERS = { operator: { name: 'olga', password: 'operator-password-1' } } as const;

let dir: string;
let mosquitto: MosquittoInstance | undefined;
let hub: FieldmeshProcess | undefined;
let hubUrl: string;
const procs: FieldmeshProcess[] = [];
let browser: Browser | undefined;

const stopAll = () => stopConsoleStack({ browser, nodes: procs, hub, mosquitto, dir });

async function pki(...args: string[]): Promise<void> {
  const p = runFieldmesh(['pki', ...args, '--dir', join(dir, 'pki')]);
  procs.push(p);
  assert.equal(await p.exited(), 0, `fieldmesh pki ${args.join(' ')}: ${p.stderr()}`);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-console-certificates-'));
  try {
    await pki('init', '--fleet', 'ranch-fleet');
    await pki('issue', 'n1', '--site', 'ranch');
    await pki('issue', 'n2', '--site', 'ranch');
    await pki('revoke', 'n2', '--reason', 'key-compromise');
    mosquitto = await startMosquitto();
    const hubYaml = await writeConsoleHub(dir, mosquitto.url, [`pki: {dir: ${join(dir, 'pki')}}`], USERS);
    hub = runFieldmesh(['hub', '--config', hubYaml]);
    [, hubUrl = ''] = await hub.waitForOutput(/console (http:\/\/\S+?)\/?\s/);
    for (const id of ['n1', 'n2']) {
      procs.push(await startConsoleNode(dir, mosquitto.url, { id, site: 'ranch', zone: 'west' }));
    }
    browser = await launchBrowser();
  } catch (err) {
    await stopAll();
    throw err;
  }
});

after(stopAll);

test('console: a node whose certificate was revoked says so beside its state; a valid one says nothing', async () => {
  const { context, page } = await logInConsole(browser as Browser, hubUrl, USERS.operator);

  const nodes = await waitFor(
    async () => {
      const res = await context.request.get(`${hubUrl}/api/v1/nodes`);
      const body = (await res.json()) as { nodes: { node: string; state: string; certificate?: string | null }[] };
      const online = body.nodes.filter((n) => n.state === 'online');
      return online.length === 2 ? body.nodes : undefined;
    },
    { timeoutMs: 20_000, what: 'both nodes online at the hub' },
  );
  assert.deepEqual(
    Object.fromEntries(nodes.map((n) => [n.node, n.certificate])),
    { n1: 'valid', n2: 'revoked' },
    'the nodes API reads the CA index',
  );

  await page.goto(`${hubUrl}/#/sites/ranch`);
  const row = (id: string) => page.locator(`[data-testid="nodes-table"] tr[data-node="ranch/${id}"]`);
  await row('n2').locator('[data-certificate="revoked"]').waitFor({ timeout: 15_000 });
  assert.match((await row('n2').innerText()).replace(/\s+/g, ' '), /certificate revoked/);
  await row('n1').waitFor();
  assert.equal(await row('n1').locator('[data-certificate]').count(), 0, 'a valid certificate adds nothing');
  assert.doesNotMatch(await row('n1').innerText(), /certificate/);
  await context.close();
});
