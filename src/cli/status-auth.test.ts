// `fieldmesh status` and `fieldmesh query` against a real hub with `auth.mode: on`: without a token one
// line says what to do (exit 1); a viewer token from FIELDMESH_TOKEN, --token-file or --token is enough.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createHubClient, createPrometheusClient } from '../client/index.js';
import { createHub, type Hub, hubConfigSchema } from '../hub/index.js';
import { FieldmeshError } from '../kit/index.js';
import { createMemoryTransport, MemoryBroker } from '../transport/index.js';
import { main } from './main.js';

interface Run {
  readonly code: number;
  readonly out: string[];
  readonly err: string[];
}

async function run(args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t: string) => out.push(t), err: (t: string) => err.push(t) });
  return { code, out, err };
}

describe('cli against a hub that asks for a login', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-cli-token-'));
  const savedToken = process.env.FIELDMESH_TOKEN;
  let hub: Hub;
  let url = '';
  let viewer = '';
  let revoked = '';

  before(async () => {
    const config = hubConfigSchema.parse({
      http: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, 'hub.db') },
      dataDir: dir,
      auth: { mode: 'on' },
    });
    hub = createHub(config, { transport: createMemoryTransport(new MemoryBroker(), { clientId: 'hub' }) });
    url = (await hub.start()).httpUrl;
    viewer = (await hub.auth.createToken('grafana', 'viewer', null)).token;
    revoked = (await hub.auth.createToken('old', 'viewer', null)).token;
    await hub.auth.revokeToken('old');
  });

  beforeEach(() => {
    delete process.env.FIELDMESH_TOKEN;
  });

  after(async () => {
    if (savedToken === undefined) delete process.env.FIELDMESH_TOKEN;
    else process.env.FIELDMESH_TOKEN = savedToken;
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('status without a token is one line naming FIELDMESH_TOKEN, --token-file and hub token create; exit 1', async () => {
    const r = await run(['status', '--hub', url]);
    assert.equal(r.code, 1);
    assert.deepEqual(r.out, []);
    assert.deepEqual(r.err, [
      `error: FM_AUTH_REQUIRED: the hub at ${url} needs a token: set FIELDMESH_TOKEN or pass --token-file; ` +
        'create one with fieldmesh hub token create --config <hub.yaml> --name <name>',
    ]);
  });

  test('status with a viewer token in FIELDMESH_TOKEN prints the fleet and exits 0', async () => {
    process.env.FIELDMESH_TOKEN = viewer;
    const r = await run(['status', '--hub', url]);
    assert.deepEqual([r.code, r.err], [0, []]);
    assert.match(r.out.join('\n'), /^SITE\s+ZONE\s+NODE\s+STATE/);
    assert.equal(r.out.at(-1), '0/0 nodes online');
    const json = await run(['status', '--hub', url, '--json']);
    assert.deepEqual([json.code, JSON.parse(json.out.join(''))], [0, { nodes: [] }]);
  });

  test('status reads the first line of --token-file, and takes --token; both at once is bad usage', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, `${viewer}\nanything after the first line is ignored\n`);
    const fromFile = await run(['status', '--hub', url, '--token-file', file]);
    assert.deepEqual([fromFile.code, fromFile.err, fromFile.out.at(-1)], [0, [], '0/0 nodes online']);
    const fromFlag = await run(['status', '--hub', url, '--token', viewer]);
    assert.deepEqual([fromFlag.code, fromFlag.err], [0, []]);
    // The flag wins over the variable.
    process.env.FIELDMESH_TOKEN = revoked;
    assert.equal((await run(['status', '--hub', url, '--token-file', file])).code, 0);

    const both = await run(['status', '--hub', url, '--token', viewer, '--token-file', file]);
    assert.deepEqual([both.code, both.err], [2, ['error: FM_CLI_USAGE: give --token or --token-file, not both']]);
    const missing = await run(['status', '--hub', url, '--token-file', join(dir, 'nope')]);
    assert.deepEqual([missing.code, missing.err], [2, [`error: FM_CLI_USAGE: --token-file ${join(dir, 'nope')}: no such file`]]);
    writeFileSync(join(dir, 'empty'), '\nsecond line\n');
    const empty = await run(['status', '--hub', url, '--token-file', join(dir, 'empty')]);
    assert.deepEqual([empty.code, empty.err], [2, [`error: FM_CLI_USAGE: --token-file ${join(dir, 'empty')}: the first line is empty`]]);
  });

  test('status with a revoked token names where the token came from; exit 1', async () => {
    process.env.FIELDMESH_TOKEN = revoked;
    const r = await run(['status', '--hub', url]);
    assert.equal(r.code, 1);
    assert.equal(r.err.length, 1);
    assert.match(r.err[0] as string, /^error: FM_AUTH_REQUIRED: the hub at \S+ refused the token from FIELDMESH_TOKEN \(unknown, revoked/);
    assert.match(r.err[0] as string, /fieldmesh hub token create/);
  });

  test('a hub token is not sent to a node: --token with --node is bad usage', async () => {
    const r = await run(['status', '--node', 'http://127.0.0.1:9', '--token', viewer]);
    assert.deepEqual(
      [r.code, r.err],
      [2, ["error: FM_CLI_USAGE: --token and --token-file are for --hub: a node's HTTP API takes no token"]],
    );
  });

  test('query --hub sends the token too', async () => {
    const refused = await run(['query', '--hub', url, 'battery_soc']);
    assert.equal(refused.code, 1);
    assert.match(refused.err[0] as string, /^error: FM_AUTH_REQUIRED: the hub at \S+ needs a token: set FIELDMESH_TOKEN/);
    process.env.FIELDMESH_TOKEN = viewer;
    const ok = await run(['query', '--hub', url, 'battery_soc']);
    assert.deepEqual([ok.code, ok.out, ok.err], [0, ['no series matched'], []]);
  });

  test('the clients send Authorization: Bearer and turn 401 and 403 into FM_AUTH_REQUIRED and FM_AUTH_FORBIDDEN', async () => {
    assert.deepEqual(await createHubClient(url, { token: viewer }).nodes(), []);
    assert.ok(Array.isArray(await createPrometheusClient(url, { token: viewer }).labels()));
    await assert.rejects(createHubClient(url).nodes(), (err) => {
      assert.ok(err instanceof FieldmeshError);
      assert.deepEqual([err.code, err.details.status], ['FM_AUTH_REQUIRED', 401]);
      return true;
    });
    await assert.rejects(createPrometheusClient(url).labels(), (err) => err instanceof FieldmeshError && err.code === 'FM_AUTH_REQUIRED');
    // A bulk action needs an operator: a viewer's token is known but its role is too low.
    await assert.rejects(createHubClient(url, { token: viewer }).previewAction('ping', { sites: ['x'] }), (err) => {
      assert.ok(err instanceof FieldmeshError);
      assert.deepEqual([err.code, err.details.status], ['FM_AUTH_FORBIDDEN', 403]);
      assert.match(err.message, /needs the operator role; grafana is viewer/);
      return true;
    });
  });
});
