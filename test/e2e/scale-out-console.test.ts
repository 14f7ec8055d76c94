// Issue 13's fault "kill one of two hub API instances while a console is open": the real console in headless Chromium,
// logged in through a load balancer (test/kit/failover-proxy.ts) in front of two api processes of a scale-out hub on
// a real Mosquitto, nats-server and PostgreSQL, watching a real node's live values. The api process it is connected to,
// the leader, is killed with -9: the console reconnects through the balancer to the other process, its session still
// valid there (sessions are in PostgreSQL), and the node's live values keep arriving. Needs the built console.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { launchBrowser, logInConsole } from '../kit/browser.js';
import { startFailoverProxy } from '../kit/failover-proxy.js';
import { type FieldmeshProcess, fieldmeshKilledAfter, runFieldmesh } from '../kit/fieldmesh-process.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { startNatsServer } from '../kit/nats.js';
import { nodeMetric } from '../kit/node-api.js';
import { freePort } from '../kit/ports.js';
import { startPostgres } from '../kit/postgres.js';
import { waitFor } from '../kit/wait.js';

const start = fieldmeshKilledAfter();
const USER = { name: 'olga', password: 'operator-password-1' };

test('scale-out console: kill -9 of the api process a console is connected to; it reconnects to the other, still logged in, and live values keep arriving', async () => {
  const browser = await launchBrowser();
  const dir = mkdtempSync(join(tmpdir(), 'fm-scale-out-console-'));
  const mosquitto = await startMosquitto();
  const nats = await startNatsServer();
  const pg = await startPostgres();
  try {
    const url = await pg.createDatabase();
    /** One api process: its own data folder and HTTP port; the shared broker, NATS and database; login on. */
    const apiProcess = async (name: string): Promise<{ proc: FieldmeshProcess; yaml: string; port: number; url: string }> => {
      const data = join(dir, name);
      mkdirSync(data);
      const yaml = join(data, 'hub.yaml');
      const port = await freePort();
      writeFileSync(
        yaml,
        [
          `mqtt: {url: "${mosquitto.url}", clientId: fm-${name}}`,
          `http: {port: ${port}}`,
          `storage: {path: ${join(data, 'hub.db')}, url: "${url}"}`,
          `queue: {url: "${nats.urls.join(',')}"}`,
          'leader: {lease: 3s}',
          'auth: {mode: "on"}',
          `dataDir: ${data}`,
          '',
        ].join('\n'),
      );
      const proc = start(['hub', '--config', yaml, '--roles', 'api']);
      const [, httpUrl = ''] = await proc.waitForOutput(/console (http:\/\/\S+?)\/?\s/, 30_000);
      return { proc, yaml, port, url: httpUrl };
    };
    const apis = [await apiProcess('api-1'), await apiProcess('api-2')];
    // The console's user, added as an operator adds one: into the database the api processes share.
    const add = runFieldmesh(
      ['hub', 'user', 'add', '--config', apis[1]?.yaml as string, '--name', USER.name, '--role', 'operator', '--password-stdin'],
      {},
      `${USER.password}\n`,
    );
    assert.equal(await add.exited(), 0, add.stderr());

    const nodeYaml = join(dir, 'node.yaml');
    writeFileSync(
      nodeYaml,
      [
        'node: {id: rig-1, site: lab, zone: bank-a}',
        `mqtt: {url: "${mosquitto.url}"}`,
        `dataDir: ${join(dir, 'node')}`,
        'http: {port: 0}',
        'publish: {tick: 250ms, heartbeat: 1s}',
        'critical: [{match: battery_soc}, {match: dc_voltage}]',
        'collectors: [{type: sim_battery, index: 0, interval: 250ms}]',
        '',
      ].join('\n'),
    );
    start(['node', '--config', nodeYaml]);

    // The balancer sends every connection to the leader while it answers, else to the other (active/backup).
    const epochs = await Promise.all(apis.map(async (a) => (await nodeMetric(a.url, 'fieldmesh_hub_leader_epoch')) ?? 0));
    const leader = (epochs[0] ?? 0) > 0 ? 0 : 1;
    assert.ok((epochs[leader] ?? 0) > 0, `one api process leads (epochs ${epochs.join(', ')})`);
    const [first, second] = [apis[leader], apis[1 - leader]] as [(typeof apis)[0], (typeof apis)[0]];
    const proxy = await startFailoverProxy([first.port, second.port]);

    const { context, page } = await logInConsole(browser, proxy.url, USER);
    try {
      await page.goto(`${proxy.url}/#/nodes/lab/rig-1`);
      const value = page.locator('[data-testid="values-table"] tr[data-series="dc_voltage"] td.value');
      await value.waitFor({ timeout: 15_000 });
      /** Resolves once the live value shown differs from `than`: a new value came over the live feed. */
      const changes = async (than: string, what: string) =>
        waitFor(
          async () => {
            const now = await value.innerText();
            return now !== than ? now : undefined;
          },
          { timeoutMs: 10_000, intervalMs: 50, what },
        );
      const shown = await changes(await value.innerText(), 'a live value through the leader');
      assert.equal(proxy.connectionsTo()[1], 0, 'everything went to the leader so far');

      first.proc.kill('SIGKILL');
      // The live feed breaks with the process: the console says so, then is live again through the other process.
      await page.locator('[data-testid="conn"]:not(.live)').waitFor({ timeout: 10_000 });
      await page.locator('[data-testid="conn"].live').waitFor({ timeout: 15_000 });
      assert.ok((proxy.connectionsTo()[1] ?? 0) > 0, 'the balancer sent the console to the surviving process');
      assert.doesNotMatch(page.url(), /\/login/, 'still logged in: the survivor knows the session');
      const after = await changes(shown, 'a live value through the surviving process');
      await changes(after, 'another live value through the surviving process');
      // Data the survivor serves to this session over plain HTTP too (not only the live feed).
      const me = await page.evaluate(`fetch('/api/v1/auth/me').then((r) => r.status === 200 ? r.json() : r.status)`);
      assert.deepEqual([(me as { user?: string }).user, (me as { kind?: string }).kind], [USER.name, 'session']);
    } finally {
      await context.close();
      await proxy.close();
    }
  } finally {
    await browser.close();
    await pg.stop();
    await nats.stop();
    await mosquitto.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
