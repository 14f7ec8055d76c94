// The node side of reconciliation with an in-process agent on an in-memory broker: live apply of collectors,
// critical selectors, zones; restart-only keys reported pending; rollback on a failed step; and the
// reconciler's pipeline (decode, identity, local keys, schema, hash, unchanged, last good on disk).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { waitFor } from '../../../test/kit/wait.js';
import { ManualClock, silentLogger } from '../../kit/index.js';
import {
  CONFIG_FRAME_VERSION,
  type ConfigRejectedPayload,
  configHashOf,
  type DesiredConfig,
  desiredConfigOf,
  encodeConfigFrame,
  hubConfigTopic,
} from '../../protocol/index.js';
import { createMemoryTransport, MemoryBroker } from '../../transport/index.js';
import { type Agent, createAgent } from '../agent.js';
import type { Collector } from '../collectors/collector.js';
import { type AgentConfig, agentConfigSchema } from '../config.js';
import { CriticalSet } from '../critical-set.js';
import { applyConfigLive, type LiveParts } from './apply-config.js';
import { ConfigReconciler } from './config-reconciler.js';
import { ConfigStore } from './config-store.js';
import { resolveStartupConfig } from './startup-config.js';

const NODE = { id: 'c', site: 'ranch' };
const ZONE = (id: string) => ({
  id,
  voters: ['a', 'b', 'c'],
  cameras: [
    { id: `cam-a-${id}`, node: 'a' },
    { id: `cam-b-${id}`, node: 'b' },
  ],
  pumps: [{ id: `pump-${id}`, node: 'c', driver: { type: 'sim' }, envelope: { minOff: '0s' } }],
  policy: { window: '60s', minCameras: 2, minNodes: 2, threshold: 1, voteTtl: '3s' },
});

function raw(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    node: NODE,
    http: { enabled: false },
    publish: { tick: '1s', heartbeat: '5s' },
    collectors: [{ type: 'sim_battery', name: 'b1', interval: '1s' }],
    ...extra,
  };
}

async function startAgent(extra: Record<string, unknown> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'fm-reconcile-'));
  const clock = new ManualClock();
  const broker = new MemoryBroker();
  const config = agentConfigSchema.parse({ dataDir, ...raw(extra) });
  const agent = createAgent(config, {
    clock,
    epoch: 3,
    createTransport: (will) => createMemoryTransport(broker, { clientId: 'agent', will, clock }),
  });
  await agent.start();
  return { agent, clock, broker, config, dataDir };
}

async function collectedBy(agent: Agent): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await agent.metrics.samplesCollected.get()).values) out[String(v.labels.collector)] = v.value;
  return out;
}

/** Advances the clock a tick at a time until `check` holds. */
async function tickUntil<T>(clock: ManualClock, check: () => Promise<T | undefined | false>, what: string): Promise<T> {
  return waitFor(
    async () => {
      clock.advance(1_000);
      return await check();
    },
    { what },
  );
}

describe('applyConfig on a running agent', () => {
  test('reconcile: a collector added live produces samples, a removed one stops, the unchanged one keeps running', async () => {
    const { agent, clock, config } = await startAgent();
    try {
      await tickUntil(clock, async () => ((await collectedBy(agent)).b1 ?? 0) > 0, 'b1 collects');
      const added = agentConfigSchema.parse({
        ...raw(),
        dataDir: config.dataDir,
        collectors: [
          { type: 'sim_battery', name: 'b1', interval: '1s' },
          { type: 'sim_battery', name: 'b2', interval: '1s', index: 1 },
        ],
      });
      assert.deepEqual(await agent.applyConfig(added), { applied: ['collectors'], pendingRestart: [] });
      await tickUntil(clock, async () => ((await collectedBy(agent)).b2 ?? 0) > 0, 'b2 collects after the live apply');
      const removed = agentConfigSchema.parse({
        ...raw(),
        dataDir: config.dataDir,
        collectors: [{ type: 'sim_battery', name: 'b2', interval: '1s', index: 1 }],
      });
      assert.deepEqual(await agent.applyConfig(removed), { applied: ['collectors'], pendingRestart: [] });
      const b1 = (await collectedBy(agent)).b1 ?? 0;
      const b2 = (await collectedBy(agent)).b2 ?? 0;
      await tickUntil(clock, async () => ((await collectedBy(agent)).b2 ?? 0) >= b2 + 15, 'b2 goes on');
      assert.equal((await collectedBy(agent)).b1, b1, 'b1 stopped: not one sample more');
    } finally {
      await agent.stop();
    }
  });

  test('reconcile: new critical selectors apply live (a newly selected series becomes critical)', async () => {
    const { agent, clock, config } = await startAgent();
    try {
      await tickUntil(clock, async () => ((await collectedBy(agent)).b1 ?? 0) > 0, 'b1 collects');
      assert.equal(agent.stats().criticalSeries, 0);
      const next = agentConfigSchema.parse({
        ...raw(),
        dataDir: config.dataDir,
        critical: [{ match: 'battery_soc', deadband: 1 }, { match: 'dc_voltage' }],
      });
      assert.deepEqual(await agent.applyConfig(next), { applied: ['critical'], pendingRestart: [] });
      await tickUntil(clock, async () => agent.stats().criticalSeries === 2, 'both series critical');
    } finally {
      await agent.stop();
    }
  });

  test('reconcile: zones are replaced live (the runtime restarts with the new zones)', async () => {
    const { agent, config } = await startAgent({ zones: [ZONE('north')] });
    try {
      assert.deepEqual(agent.zones?.zones(), ['north']);
      const before = agent.zones;
      const next = agentConfigSchema.parse({ ...raw({ zones: [ZONE('south')] }), dataDir: config.dataDir });
      assert.deepEqual(await agent.applyConfig(next), { applied: ['zones'], pendingRestart: [] });
      assert.deepEqual(agent.zones?.zones(), ['south']);
      assert.notEqual(agent.zones, before);
      const none = agentConfigSchema.parse({ ...raw(), dataDir: config.dataDir });
      await agent.applyConfig(none);
      assert.equal(agent.zones, undefined, 'no zones: the runtime stays stopped');
    } finally {
      await agent.stop();
    }
  });

  test('reconcile: a restart-only key is reported pending and not applied; the live ones are', async () => {
    const { agent, config } = await startAgent();
    try {
      const next = agentConfigSchema.parse({
        ...raw(),
        dataDir: config.dataDir,
        publish: { tick: '3s', heartbeat: '5s' },
        store: { retention: '7d' },
        critical: [{ match: 'battery_soc' }],
      });
      assert.deepEqual(await agent.applyConfig(next), { applied: ['critical'], pendingRestart: ['publish', 'store'] });
      // The running config keeps the old tick: the same change again is still pending, nothing more applied.
      assert.deepEqual(await agent.applyConfig(next), { applied: [], pendingRestart: ['publish', 'store'] });
    } finally {
      await agent.stop();
    }
  });

  test('reconcile: an http_push collector added waits for a restart (routes cannot be added to a listening server)', async () => {
    const { agent, config } = await startAgent();
    try {
      const next = agentConfigSchema.parse({
        ...raw(),
        dataDir: config.dataDir,
        collectors: [...(raw().collectors as unknown[]), { type: 'http_push', name: 'push' }],
      });
      assert.deepEqual(await agent.applyConfig(next), { applied: [], pendingRestart: ['collectors'] });
    } finally {
      await agent.stop();
    }
  });
});

describe('applyConfigLive rollback', () => {
  function fakeParts(failZones: boolean) {
    const log: string[] = [];
    const running = new Map<string, Collector>();
    const make = (name: string): Collector => ({ kind: 'sim_battery', name, start: async () => {}, stop: async () => {} });
    running.set('b1', make('b1'));
    const parts: LiveParts = {
      logger: silentLogger,
      collectors: {
        get: (name) => running.get(name),
        create: (c, i) => make(c.name ?? `${c.type}-${i}`),
        start: async (c) => {
          log.push(`start ${c.name}`);
          running.set(c.name, c);
        },
        stop: async (c) => {
          log.push(`stop ${c.name}`);
          running.delete(c.name);
        },
      },
      critical: { replace: (s) => log.push(`critical ${s.map((x) => x.match).join(',')}`) },
      zones: {
        restart: async (z) => {
          log.push(`zones ${(z ?? []).map((x) => x.id).join(',')}`);
          if (failZones && (z ?? []).some((x) => x.id === 'south')) throw new Error('the pump driver is missing');
        },
      },
    };
    return { parts, log, running };
  }

  test('reconcile: a failed step rolls back what was applied, in reverse, and throws FM_CONFIG_APPLY_FAILED', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fm-rollback-'));
    const before = agentConfigSchema.parse({ ...raw({ zones: [ZONE('north')] }), dataDir });
    const after = agentConfigSchema.parse({
      ...raw({ zones: [ZONE('south')] }),
      dataDir,
      critical: [{ match: 'x' }],
      collectors: [{ type: 'sim_battery', name: 'b2', interval: '1s' }],
    });
    const { parts, log, running } = fakeParts(true);
    await assert.rejects(applyConfigLive(before, after, parts), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'FM_CONFIG_APPLY_FAILED');
      assert.match(err.message, /applying zones failed: the pump driver is missing; rolled back collectors, critical/);
      return true;
    });
    assert.deepEqual(log, ['stop b1', 'start b2', 'critical x', 'zones south', 'critical ', 'stop b2', 'start b1']);
    assert.deepEqual([...running.keys()], ['b1'], 'the old collectors run again');
  });
});

describe('CriticalSet.replaceSelectors', () => {
  test('critical set: a changed deadband takes effect at once, a dropped selector leaves the alias table', () => {
    const set = new CriticalSet(
      agentConfigSchema.parse({ node: NODE, critical: [{ match: 'v', deadband: 0.5 }, { match: 'w' }] }).critical,
    );
    const cursor = set.cursor();
    set.observe({ name: 'v', labels: {}, value: 10, time: 0 });
    set.observe({ name: 'w', labels: {}, value: 1, time: 0 });
    cursor.birthSeries(0);
    set.observe({ name: 'v', labels: {}, value: 10.3, time: 1 });
    assert.deepEqual(cursor.due(1_000), [], 'inside the 0.5 deadband');
    set.replaceSelectors(agentConfigSchema.parse({ node: NODE, critical: [{ match: 'v', deadband: 0.1 }] }).critical);
    assert.equal(cursor.birthNeeded, true, 'w left the table: receivers need a birth');
    assert.deepEqual(
      cursor.birthSeries(1_000).map((s) => s.name),
      ['v'],
    );
    set.observe({ name: 'v', labels: {}, value: 10.5, time: 2 });
    assert.deepEqual(
      cursor.due(2_000).map((e) => e.value),
      [10.5],
      'beyond the new 0.1 deadband',
    );
    assert.equal(set.observe({ name: 'w', labels: {}, value: 2, time: 3 }), false, 'w is local now');
  });
});

describe('ConfigReconciler', () => {
  function setup(overrides: { apply?: (next: AgentConfig) => Promise<{ applied: string[]; pendingRestart: string[] }> } = {}) {
    const dataDir = mkdtempSync(join(tmpdir(), 'fm-reconciler-'));
    const local = agentConfigSchema.parse({
      dataDir,
      node: NODE,
      mqtt: { url: 'mqtt://10.0.0.5:1883', username: 'c', password: 'secret' },
      http: { port: 18_999 },
      commands: { token: 'a-command-token-of-this-node' },
    });
    const clock = new ManualClock(1_000);
    const applied: AgentConfig[] = [];
    const reports: Array<{ kind: string; payload: unknown }> = [];
    const stateDir = join(dataDir, NODE.site, NODE.id);
    const reconciler = new ConfigReconciler({
      local,
      running: { hash: configHashOf(local), commit: null, source: 'file', appliedAt: 0 },
      lastGood: undefined,
      configVersion: 'v1',
      store: new ConfigStore(stateDir, silentLogger),
      clock,
      logger: silentLogger,
      apply:
        overrides.apply ??
        (async (next) => {
          applied.push(next);
          return { applied: ['collectors'], pendingRestart: ['publish'] };
        }),
      report: async (kind, _priority, payload) => void reports.push({ kind, payload }),
    });
    return { reconciler, local, applied, reports, stateDir, clock };
  }

  const desired = (config: Record<string, unknown>, commit: string | null = 'c0ffee'): DesiredConfig =>
    desiredConfigOf(config, { commit, source: 'git:fleet@main', issuedAt: 5 });

  test('reconciler: a valid config is applied with the local keys from node.yaml, reported, kept as last good', async () => {
    const { reconciler, applied, reports, stateDir, local } = setup();
    const d = desired({ ...raw(), mqtt: { url: 'mqtt://hub.example:1883', qos: 0 }, dataDir: '/elsewhere', http: { port: 1 } });
    const outcome = await reconciler.acceptFrame(await encodeConfigFrame(d));
    assert.equal(outcome.kind, 'applied');
    const next = applied[0] as AgentConfig;
    assert.equal(next.mqtt.url, 'mqtt://10.0.0.5:1883', "the broker URL is the node's own");
    assert.equal(next.mqtt.password, 'secret');
    assert.equal(next.mqtt.qos, 0, 'a non-local mqtt key comes from the hub');
    assert.equal(next.dataDir, local.dataDir);
    assert.equal(next.http.port, 18_999);
    assert.equal(next.commands.token, 'a-command-token-of-this-node');
    assert.deepEqual(reports, [
      {
        kind: 'config_applied',
        payload: {
          hash: d.hash,
          commit: 'c0ffee',
          applied: ['collectors'],
          pendingRestart: ['publish'],
          ignoredLocalKeys: ['mqtt.url', 'dataDir', 'http.port'],
        },
      },
    ]);
    const status = reconciler.status();
    assert.deepEqual(status.running, { hash: d.hash, commit: 'c0ffee', source: 'hub', appliedAt: 1_000 });
    assert.deepEqual(status.lastGood, { hash: d.hash, commit: 'c0ffee' });
    assert.deepEqual(status.pendingRestart, ['publish']);
    assert.equal(JSON.parse(readFileSync(join(stateDir, 'config', 'last-good.json'), 'utf8')).desired.hash, d.hash);
    assert.equal(JSON.parse(readFileSync(join(stateDir, 'config', 'received.json'), 'utf8')).hash, d.hash);
    // The same hash again: nothing to do, nothing reported.
    assert.deepEqual(await reconciler.accept(d, 'hub'), { kind: 'unchanged', hash: d.hash });
    assert.equal(applied.length, 1);
    assert.equal(reports.length, 1);
  });

  test('reconciler: the last good config runs at the next start, merged with node.yaml; source file ignores it', async () => {
    const { reconciler, local } = setup();
    const d = desired({ ...raw(), critical: [{ match: 'battery_soc' }], mqtt: { url: 'mqtt://hub.example:1883' } });
    await reconciler.accept(d, 'repo');
    const startup = resolveStartupConfig(local, 'hub', silentLogger, 9);
    assert.deepEqual(startup.running, { hash: d.hash, commit: 'c0ffee', source: 'repo', appliedAt: 9 });
    assert.deepEqual(
      startup.config.critical.map((c) => c.match),
      ['battery_soc'],
    );
    assert.equal(startup.config.mqtt.url, 'mqtt://10.0.0.5:1883');
    assert.equal(resolveStartupConfig(local, 'file', silentLogger, 9).config, local);
    // An empty retained frame clears it: the next start runs node.yaml.
    assert.deepEqual(await reconciler.acceptFrame(new Uint8Array(0)), { kind: 'cleared' });
    assert.equal(resolveStartupConfig(local, 'hub', silentLogger, 9).running.source, 'file');
    assert.equal(reconciler.status().lastGood, null);
  });

  test('reconciler: an unreadable last-good file starts node.yaml', async () => {
    const { reconciler, local, stateDir } = setup();
    await reconciler.accept(desired(raw()), 'hub');
    writeFileSync(join(stateDir, 'config', 'last-good.json'), '{"desired": 5');
    assert.equal(resolveStartupConfig(local, 'hub', silentLogger, 9).running.source, 'file');
  });

  test('reconciler: refusals name their stage and reason, are reported, and leave the running config', async () => {
    const { reconciler, reports, applied } = setup();
    const running = reconciler.status().running;
    const frame = await encodeConfigFrame(desired(raw()));
    const badVersion = Uint8Array.from([CONFIG_FRAME_VERSION + 1, ...frame.subarray(1)]);
    const tampered = await encodeConfigFrame({ ...desired(raw()), config: { ...raw(), publish: { tick: '9s' } } });
    const cases: Array<[() => Promise<unknown>, string, RegExp]> = [
      [() => reconciler.acceptFrame(badVersion), 'decode', /FM_CONFIG_FRAME_INVALID: config frame version 2/],
      [() => reconciler.acceptFrame(tampered), 'decode', /FM_CONFIG_HASH_MISMATCH/],
      [
        () => reconciler.accept(desired({ ...raw(), node: { id: 'd', site: 'ranch' } }), 'hub'),
        'identity',
        /FM_CONFIG_IDENTITY_MISMATCH: config is for "ranch"\/"d"/,
      ],
      [() => reconciler.accept(desired({ ...raw(), publish: { tick: 'soon' } }), 'hub'), 'schema', /publish\.tick/],
    ];
    for (const [run, stage, reason] of cases) {
      const outcome = (await run()) as { kind: string; stage: string; error: string };
      assert.equal(outcome.kind, 'rejected');
      assert.equal(outcome.stage, stage);
      assert.match(outcome.error, reason);
      assert.equal(reconciler.status().lastRejected?.stage, stage);
    }
    assert.equal(applied.length, 0);
    assert.deepEqual(reconciler.status().running, running);
    assert.deepEqual(
      reports.map((r) => [r.kind, (r.payload as ConfigRejectedPayload).stage]),
      [
        ['config_rejected', 'decode'],
        ['config_rejected', 'decode'],
        ['config_rejected', 'identity'],
        ['config_rejected', 'schema'],
      ],
    );
    const schema = reports[3]?.payload as ConfigRejectedPayload;
    assert.equal(schema.problems?.[0]?.path, 'publish.tick');
  });

  test('reconciler: an apply that fails is reported at stage apply and nothing changes', async () => {
    const { reconciler, reports } = setup({
      apply: async () => {
        throw new Error('collector b9 did not start');
      },
    });
    const before = reconciler.status();
    const outcome = await reconciler.accept(desired({ ...raw(), critical: [{ match: 'x' }] }), 'hub');
    assert.equal(outcome.kind, 'rejected');
    assert.deepEqual(reconciler.status().running, before.running);
    assert.equal(reconciler.status().lastGood, null);
    assert.equal((reports[0]?.payload as ConfigRejectedPayload | undefined)?.stage, 'apply');
  });
});

describe('the agent receives its desired config on its topic', () => {
  test('reconcile: a retained config frame on <prefix>/_hub/config/<site>/<node> is applied and served', async () => {
    const { agent, clock, broker } = await startAgent();
    const hub = createMemoryTransport(broker, { clientId: 'hub', clock });
    hub.start();
    try {
      await waitFor(() => hub.connected, { what: 'hub connected' });
      const d = desiredConfigOf(
        { ...raw(), critical: [{ match: 'battery_soc' }] },
        { commit: 'abc', source: 'dir:/srv/fleet', issuedAt: 1 },
      );
      await hub.publish(hubConfigTopic('fieldmesh', NODE.site, NODE.id), await encodeConfigFrame(d), { qos: 1, retain: true });
      await waitFor(() => agent.reconcile.reconciler.status().running.hash === d.hash, { what: 'config applied' });
      assert.deepEqual(agent.reconcile.reconciler.status().pendingRestart, []);
      await tickUntil(clock, async () => agent.stats().criticalSeries === 1, 'battery_soc critical');
      await waitFor(() => agent.stats().eventsCollected >= 1, { what: 'config_applied in the outbox' });
    } finally {
      await hub.close();
      await agent.stop();
    }
  });
});
