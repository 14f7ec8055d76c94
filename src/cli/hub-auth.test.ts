// `fieldmesh hub user ...` and `fieldmesh hub token ...` through the CLI program with a fake io: the
// first admin, passwords from stdin or the terminal (never the command line), tokens shown once, and a
// hub on the same database that then asks for a login.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createHub, hubConfigSchema } from '../hub/index.js';
import { ManualClock } from '../kit/index.js';
import { createMemoryTransport, MemoryBroker } from '../transport/index.js';
import { main } from './main.js';

const dir = mkdtempSync(join(tmpdir(), 'fm-cli-auth-'));
const file = join(dir, 'hub.yaml');
writeFileSync(file, `storage:\n  path: ${join(dir, 'hub.db')}\ndataDir: ${dir}\n`);
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  readonly code: number;
  readonly out: string[];
  readonly err: string[];
}

async function run(args: string[], input: { stdin?: string; answers?: string[] } = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const answers = [...(input.answers ?? [])];
  const io = {
    out: (t: string) => out.push(t),
    err: (t: string) => err.push(t),
    readStdin: async () => input.stdin ?? '',
    askHidden: async () => answers.shift() ?? '',
  };
  const code = await main(args, io);
  return { code, out, err };
}

test('cli hub user: add the first admin from stdin, list, a duplicate is refused, bad usage exits 2', async () => {
  const added = await run(['hub', 'user', 'add', '--config', file, '--name', 'alice', '--role', 'admin', '--password-stdin'], {
    stdin: 'correct horse\n',
  });
  assert.deepEqual([added.code, added.out, added.err], [0, ['user alice added (admin)'], []]);

  const asked = await run(['hub', 'user', 'add', '--config', file, '--name', 'vic'], { answers: ['viewer password', 'viewer password'] });
  assert.deepEqual([asked.code, asked.out], [0, ['user vic added (viewer)']]);
  const differ = await run(['hub', 'user', 'add', '--config', file, '--name', 'otto'], { answers: ['one password', 'another one'] });
  assert.deepEqual([differ.code, differ.err], [2, ['error: FM_CLI_USAGE: the two passwords differ']]);

  const list = await run(['hub', 'user', 'list', '--config', file]);
  assert.equal(list.code, 0);
  assert.match(list.out.join('\n'), /^NAME\s+ROLE\s+CREATED\s+LAST LOGIN\nalice\s+admin\s+\d{4}-\S+\s+-\nvic\s+viewer/);
  const json = await run(['hub', 'user', 'list', '--config', file, '--json']);
  assert.deepEqual(
    JSON.parse(json.out.join('')).map((u: { name: string; role: string }) => [u.name, u.role]),
    [
      ['alice', 'admin'],
      ['vic', 'viewer'],
    ],
  );

  const again = await run(['hub', 'user', 'add', '--config', file, '--name', 'alice', '--password-stdin'], { stdin: 'correct horse' });
  assert.deepEqual([again.code, again.err], [1, ['error: FM_AUTH_CONFLICT: user "alice" exists already']]);
  const short = await run(['hub', 'user', 'add', '--config', file, '--name', 'bob', '--password-stdin'], { stdin: 'short\n' });
  assert.deepEqual([short.code, short.err], [1, ['error: FM_REQUEST_INVALID: the password must have at least 8 characters']]);
  // The password never goes on the command line: there is no option for it.
  assert.equal((await run(['hub', 'user', 'add', '--config', file, '--name', 'bob', '--password', 'correct horse'])).code, 2);
  assert.equal((await run(['hub', 'user', 'add', '--config', file, '--role', 'admin'])).code, 2, '--name is required');
  const role = await run(['hub', 'user', 'add', '--config', file, '--name', 'bob', '--role', 'root']);
  assert.deepEqual([role.code, role.err], [2, ['error: FM_CLI_USAGE: --role must be one of viewer, operator, admin, got "root"']]);
  const empty = await run(['hub', 'user', 'add', '--config', file, '--name', 'bob', '--password-stdin'], { stdin: '' });
  assert.deepEqual([empty.code, empty.err], [2, ['error: FM_CLI_USAGE: --password-stdin: standard input is empty']]);
});

test('cli hub token: printed once on stdout, listed without it; a hub on the same database accepts it and the users', async () => {
  const created = await run(['hub', 'token', 'create', '--config', file, '--name', 'ci', '--role', 'operator']);
  assert.equal(created.code, 0);
  assert.equal(created.out.length, 1);
  const token = created.out[0] as string;
  assert.match(token, /^fmt_[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(created.err, ['API token ci (operator) created; it is shown only this once:']);
  const list = await run(['hub', 'token', 'list', '--config', file]);
  assert.match(list.out.join('\n'), /^NAME\s+ROLE\s+CREATED\s+LAST USED\nci\s+operator\s+\S+\s+-$/);
  assert.ok(!list.out.join('\n').includes(token));

  const config = hubConfigSchema.parse({ storage: { path: join(dir, 'hub.db') }, dataDir: dir });
  const hub = createHub(config, { transport: createMemoryTransport(new MemoryBroker(), { clientId: 'hub' }), clock: new ManualClock() });
  await hub.start({ listen: false });
  try {
    assert.equal((await hub.app.inject({ method: 'GET', url: '/api/v1/nodes' })).statusCode, 401, 'users exist: auth is on');
    const me = await hub.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(me.json(), { user: 'ci', role: 'operator', kind: 'token', demo: false });
    const login = await hub.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'alice', password: 'correct horse' },
    });
    assert.equal(login.json().role, 'admin');

    // A change made by the CLI while the hub runs takes effect at once.
    const passwd = await run(['hub', 'user', 'passwd', '--config', file, '--name', 'alice', '--password-stdin'], {
      stdin: 'new password\n',
    });
    assert.deepEqual([passwd.code, passwd.out], [0, ['password of alice changed; their sessions ended']]);
    const cookie = String(login.headers['set-cookie']).split(';')[0] as string;
    assert.equal((await hub.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie } })).statusCode, 401);
    const old = await hub.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'alice', password: 'correct horse' },
    });
    assert.equal(old.statusCode, 401);
    const revoked = await run(['hub', 'token', 'revoke', '--config', file, '--name', 'ci']);
    assert.deepEqual([revoked.code, revoked.out], [0, ['API token ci revoked']]);
    assert.equal(
      (await hub.app.inject({ method: 'GET', url: '/api/v1/nodes', headers: { authorization: `Bearer ${token}` } })).statusCode,
      401,
    );

    const audit = await hub.auth.listAudit({ limit: 50 });
    const cli = audit.filter((e) => e.actorKind === 'cli').map((e) => [e.route, e.target, e.result]);
    assert.deepEqual(cli.slice(0, 3), [
      ['hub token revoke', 'ci', 'ok'],
      ['hub user passwd', 'alice', 'ok'],
      ['hub token create', 'ci', 'ok'],
    ]);
    assert.ok(cli.some(([route, target, result]) => route === 'hub user add' && target === 'alice' && result === 'failed'));
  } finally {
    await hub.stop();
  }
});

test('cli hub user: remove refuses the last admin while others remain; unknown names are errors; :memory: is refused', async () => {
  const last = await run(['hub', 'user', 'remove', '--config', file, '--name', 'alice']);
  assert.equal(last.code, 1);
  assert.match(last.err[0] as string, /^error: FM_AUTH_CONFLICT: removing "alice" would leave the hub without an admin/);
  assert.deepEqual((await run(['hub', 'user', 'remove', '--config', file, '--name', 'vic'])).out, ['user vic removed']);
  assert.deepEqual((await run(['hub', 'user', 'remove', '--config', file, '--name', 'alice'])).out, ['user alice removed']);
  assert.deepEqual((await run(['hub', 'user', 'list', '--config', file])).out, [
    'no users: the hub runs without login on loopback (auth.mode auto)',
  ]);
  const unknown = await run(['hub', 'user', 'passwd', '--config', file, '--name', 'nobody', '--password-stdin'], { stdin: 'x' });
  assert.deepEqual([unknown.code, unknown.err], [1, ['error: FM_NOT_FOUND: no user "nobody"']]);
  const memory = join(dir, 'memory.yaml');
  writeFileSync(memory, 'storage:\n  path: ":memory:"\n');
  const refused = await run(['hub', 'user', 'list', '--config', memory]);
  assert.equal(refused.code, 2);
  // `hub --config` alone still runs the hub: check only.
  assert.deepEqual((await run(['hub', '--config', file, '--check'])).out, [`${file}: valid`]);
});
