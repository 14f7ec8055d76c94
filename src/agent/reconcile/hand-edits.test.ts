// Hand edits of node.yaml on a node that runs a distributed config: which top-level keys differ (values the file
// sets, parsed, against the running config; local keys and `node` aside), the reconciler's report of them (once per
// change, in GET /api/v1/config, as config_hand_edit and with config_applied; a file that no longer reads is
// reported, not applied), and the debounced watch of the file.

import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { waitFor } from '../../../test/kit/wait.js';
import { type Logger, ManualClock, systemClock } from '../../kit/index.js';
import { configHashOf, desiredConfigOf } from '../../protocol/index.js';
import { type AgentConfig, agentConfigSchema } from '../config.js';
import { ConfigReconciler } from './config-reconciler.js';
import { ConfigStore } from './config-store.js';
import { handEditedKeys, type LocalConfigRead, watchLocalFile } from './hand-edits.js';

const NODE = { id: 'n1', site: 'north', zone: 'z1' };
/** The distributed config as the repository renders it. */
const DISTRIBUTED = {
  node: NODE,
  store: { retention: '7d' },
  publish: { tick: '1s' },
  collectors: [{ name: 'host', type: 'host' }],
};

/** node.yaml's text as a read: what it sets and what it parses to. */
function yaml(text: string): LocalConfigRead {
  const raw = (parse(text) ?? {}) as Record<string, unknown>;
  return { raw, config: agentConfigSchema.parse(raw) };
}

const BASE = ['node: {id: n1, site: north, zone: z1}', 'mqtt: {url: "mqtt://10.0.0.1:1883", username: n1}', 'dataDir: /var/lib/fm'];
const running = agentConfigSchema.parse({ ...DISTRIBUTED, mqtt: { url: 'mqtt://10.0.0.1:1883', username: 'n1' }, dataDir: '/var/lib/fm' });

test('hand edits: only the keys node.yaml sets differently count, compared parsed; local keys and the identity never do', () => {
  // The bootstrap node.yaml sets its identity and local keys only.
  assert.deepEqual(handEditedKeys(yaml(BASE.join('\n')).raw, yaml(BASE.join('\n')).config, running), []);
  // The same values written another way ("7d" and 604800000 ms) are no edit; another retention is.
  const same = yaml([...BASE, 'store: {retention: 604800000}', 'publish: {tick: 1000}'].join('\n'));
  assert.deepEqual(handEditedKeys(same.raw, same.config, running), []);
  const edited = yaml(
    [...BASE, 'store: {retention: 90d}', 'collectors: [{name: host, type: host}, {name: b, type: sim_battery}]'].join('\n'),
  );
  assert.deepEqual(handEditedKeys(edited.raw, edited.config, running), ['collectors', 'store']);
  // A key node.yaml does not set is the distributed config's to set, defaults included.
  const partial = yaml([...BASE, 'publish: {heartbeat: 10s}'].join('\n'));
  assert.deepEqual(handEditedKeys(partial.raw, partial.config, running), []);
  // Local keys (another broker URL, http.port, commands.token) and node.zone (the identity) are node.yaml's.
  const local = yaml(
    [
      'node: {id: n1, site: north, zone: elsewhere}',
      'mqtt: {url: "mqtt://10.9.9.9:1883", keepalive: 30s}',
      'http: {port: 18811}',
      'commands: {token: a-command-token-of-16+}',
    ].join('\n'),
  );
  assert.deepEqual(handEditedKeys(local.raw, local.config, running), []);
  const keepalive = yaml(['node: {id: n1, site: north}', 'mqtt: {keepalive: 5s}'].join('\n'));
  assert.deepEqual(handEditedKeys(keepalive.raw, keepalive.config, running), ['mqtt']);
});

interface Logged {
  level: string;
  msg: string;
}

function recorder(lines: Logged[]): Logger {
  const make = (): Logger => ({
    debug: (_o, msg) => lines.push({ level: 'debug', msg: msg ?? '' }),
    info: (_o, msg) => lines.push({ level: 'info', msg: msg ?? '' }),
    warn: (_o, msg) => lines.push({ level: 'warn', msg: msg ?? '' }),
    error: (_o, msg) => lines.push({ level: 'error', msg: msg ?? '' }),
    child: () => make(),
  });
  return make();
}

function reconcilerRunning(config: AgentConfig | undefined, logged: Logged[]) {
  const reports: { kind: string; payload: Record<string, unknown> }[] = [];
  const local = yaml(BASE.join('\n')).config;
  const dist = desiredConfigOf(DISTRIBUTED, { commit: 'abc1234def5678', source: 'git:fleet@main', issuedAt: 1 });
  const reconciler = new ConfigReconciler({
    local,
    running:
      config === undefined
        ? { hash: configHashOf(local), commit: null, source: 'file', appliedAt: 0 }
        : { hash: dist.hash, commit: dist.commit, source: 'hub', appliedAt: 0 },
    lastGood: config === undefined ? undefined : { hash: dist.hash, commit: dist.commit },
    ...(config === undefined ? {} : { runningConfig: config }),
    configVersion: 'v1',
    store: new ConfigStore(mkdtempSync(join(tmpdir(), 'fm-hand-edits-')), recorder([])),
    clock: new ManualClock(1_000),
    logger: recorder(logged),
    apply: async () => ({ applied: ['collectors'], pendingRestart: ['store'] }),
    report: async (kind, _priority, payload) => void reports.push({ kind, payload: payload as unknown as Record<string, unknown> }),
  });
  return { reconciler, reports, dist };
}

test('hand edits: the reconciler logs each change once, reports it (config_hand_edit) and shows it in its status; a revert clears it', async () => {
  const logged: Logged[] = [];
  const { reconciler, reports, dist } = reconcilerRunning(running, logged);
  // At start: node.yaml agrees; the hub is told so (it may have held an edit from before the restart).
  await reconciler.localFileRead(yaml(BASE.join('\n')));
  assert.deepEqual(reconciler.status().handEdited, []);
  assert.deepEqual([...reports], [{ kind: 'config_hand_edit', payload: { hash: dist.hash, commit: dist.commit, handEdited: [] } }]);
  assert.deepEqual([...logged], []);

  const edited = yaml([...BASE, 'store: {retention: 90d}', 'collectors: []'].join('\n'));
  await reconciler.localFileRead(edited);
  await reconciler.localFileRead(edited);
  assert.deepEqual(reconciler.status().handEdited, ['collectors', 'store']);
  assert.equal(reports.length, 2);
  assert.deepEqual(reports[1]?.payload.handEdited, ['collectors', 'store']);
  assert.deepEqual(
    [...logged],
    [
      {
        level: 'warn',
        msg: 'config: node.yaml sets collectors, store differently from the distributed config (commit abc1234def56); the distributed config is what runs: change the repository instead',
      },
    ],
  );

  // A file that no longer parses: reported, nothing applied, the last readable keys kept.
  await reconciler.localFileRead({ error: new Error('node.yaml:3:1: bad indentation') });
  assert.equal(reconciler.status().nodeYamlError, 'node.yaml:3:1: bad indentation');
  assert.deepEqual(reconciler.status().handEdited, ['collectors', 'store']);
  assert.equal(reports[2]?.payload.nodeYamlError, 'node.yaml:3:1: bad indentation');
  assert.match(logged[1]?.msg ?? '', /^config: node\.yaml no longer reads \(node\.yaml:3:1: bad indentation\); nothing of it is applied/);

  await reconciler.localFileRead(yaml(BASE.join('\n')));
  assert.deepEqual(reconciler.status(), { ...reconciler.status(), handEdited: [], nodeYamlError: null });
  assert.deepEqual(reports[3]?.payload, { hash: dist.hash, commit: dist.commit, handEdited: [] });
  assert.deepEqual(
    logged.slice(2).map((l) => l.msg),
    ['config: node.yaml reads again', 'config: node.yaml agrees with the distributed config (commit abc1234def56) again'],
  );
});

test('hand edits: a node that runs node.yaml itself has none; the first applied config carries them in config_applied', async () => {
  const logged: Logged[] = [];
  const { reconciler, reports } = reconcilerRunning(undefined, logged);
  await reconciler.localFileRead(yaml([...BASE, 'store: {retention: 90d}'].join('\n')));
  assert.deepEqual(reconciler.status().handEdited, []);
  assert.deepEqual([...reports], []);
  const next = desiredConfigOf(DISTRIBUTED, { commit: 'c2', source: 'git:fleet@main', issuedAt: 2 });
  const outcome = await reconciler.accept(next, 'hub');
  assert.equal(outcome.kind, 'applied');
  assert.deepEqual(reconciler.status().handEdited, ['store']);
  assert.equal(reports.length, 1);
  assert.equal(reports[0]?.kind, 'config_applied');
  assert.deepEqual(reports[0]?.payload.handEdited, ['store']);
  assert.equal(logged.filter((l) => l.level === 'warn' && /node\.yaml sets store differently/.test(l.msg)).length, 1);
});

test('hand edits: the watch reads node.yaml once after a burst of writes, and after an editor replaces it by a rename', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-watch-'));
  try {
    const path = join(dir, 'node.yaml');
    writeFileSync(path, 'a: 1\n');
    let calls = 0;
    const stop = watchLocalFile(path, () => calls++, { clock: systemClock, logger: recorder([]), debounceMs: 100 });
    try {
      for (let i = 0; i < 5; i++) writeFileSync(path, `a: ${i}\n`);
      await waitFor(() => calls === 1, { what: 'one read after the burst', timeoutMs: 5_000 });
      writeFileSync(join(dir, 'other.yaml'), 'b: 1\n');
      writeFileSync(join(dir, '.node.yaml.swp'), 'x');
      renameSync(join(dir, '.node.yaml.swp'), path);
      await waitFor(() => calls === 2, { what: 'a read after the rename', timeoutMs: 5_000 });
    } finally {
      stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
