// The hub's zone monitor on a manual clock: frames and stored events in, the zone's summary and view out
// (detections, evaluation, decisions, pump state, metrics); bad frames counted, never thrown; the same
// state rebuilt from storage after a restart; ConsensusTimeout, PumpRuntime and QuorumLost pending ->
// firing -> resolved through the alert engine.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { ManualClock } from '../../kit/index.js';
import type { Detection, ZoneFrame, ZoneTopicMessage } from '../../protocol/index.js';
import type { AlertEngine } from '../alerts/alert-engine.js';
import { createAlertEngine } from '../alerts/create-alert-engine.js';
import { createSqliteAlertStore } from '../alerts/sqlite/sqlite-alert-store.js';
import { hubConfigSchema } from '../config.js';
import { createZoneMetrics } from '../hub-metrics.js';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.js';
import type { EventInput, HubStorage } from '../storage/storage.js';
import { type HubZone, hubZonesSchema } from './hub-zone-config.js';
import { type ZoneFleetNode, ZoneMonitor } from './zone-monitor.js';

/** A zone frame as the hub's frame router hands it to the monitor. */
const zoneFrame = (frame: ZoneFrame): ZoneTopicMessage => ({ kind: 'frame', frame });

const SITE = 'ranch';
const ZONES = hubZonesSchema.parse([
  {
    id: 'north',
    site: SITE,
    voters: ['a', 'b', 'c'],
    cameras: [
      { id: 'cam-a1', node: 'a' },
      { id: 'cam-a2', node: 'a' },
      { id: 'cam-b1', node: 'b' },
    ],
    pumps: [{ id: 'pump-1', node: 'c', driver: { type: 'sim' }, envelope: { maxRuntime: '2m', atMaxRuntime: 'alert' } }],
    overlaps: ['east'],
    policy: { activates: ['east'] },
  },
  {
    id: 'east',
    voters: ['c'],
    cameras: [{ id: 'cam-c1', node: 'c' }],
    policy: { minCameras: 1, minNodes: 1 },
    pumps: [{ id: 'pump-2', node: 'c', driver: { type: 'sim' } }],
  },
]) as HubZone[];

function setup(clock = new ManualClock()) {
  const fleet: ZoneFleetNode[] = ['a', 'b', 'c'].map((node) => ({
    site: SITE,
    node,
    state: 'online',
    lastHeard: clock.now(),
    lastChanged: clock.now(),
  }));
  const registry = new Registry();
  const changed: string[] = [];
  let monitor: ZoneMonitor | undefined;
  const metrics = createZoneMetrics(
    registry,
    () => monitor?.alertZones() ?? [],
    () => clock.now(),
  );
  monitor = new ZoneMonitor({
    zones: ZONES,
    clock,
    fleet: { nodes: () => fleet },
    metrics,
    onSummaryChanged: (s) => changed.push(`${s.zone}:${s.pumpsRunning}:${s.fire}`),
  });
  const setState = (node: string, state: ZoneFleetNode['state']) => {
    const i = fleet.findIndex((n) => n.node === node);
    fleet[i] = { ...(fleet[i] as ZoneFleetNode), state, lastChanged: clock.now() };
  };
  return { clock, fleet, registry, changed, monitor, setState };
}

let seq = 0;
function event(node: string, kind: string, payload: unknown, time: number): EventInput {
  return {
    site: SITE,
    node,
    id: `e${seq++}`,
    seq,
    epoch: 1,
    time,
    priority: 'critical',
    kind,
    payload: new TextEncoder().encode(JSON.stringify(payload)),
    receivedAt: time,
  };
}

const detection = (node: string, camera: string, time: number, confidence = 0.9): Detection => ({
  id: `${camera}-${time}`,
  camera,
  node,
  class: 'fire',
  confidence,
  time,
});

async function metric(registry: Registry, name: string): Promise<string> {
  return (await registry.metrics())
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

/** A fire seen by cameras of a and b, the majority at c, and pump-1 started, as the nodes send them. */
function fire(m: ZoneMonitor, t0: number): EventInput[] {
  const da = detection('a', 'cam-a1', t0);
  const db = detection('b', 'cam-b1', t0 + 400);
  const events = [
    event('a', 'detection', da, da.time),
    event('b', 'detection', db, db.time),
    event('a', 'zone_vote', { at: t0 + 10, node: 'a', zone: 'north', epoch: 2, kind: 'vote', detections: [da.id, db.id] }, t0 + 10),
    event(
      'c',
      'zone_majority',
      {
        at: t0 + 1_200,
        node: 'c',
        zone: 'north',
        epoch: 2,
        kind: 'majority',
        detections: [da.id, db.id].sort(),
        votes: [
          { voter: 'a', boot: 1, seq: 4, time: t0 + 500, ttlMs: 6_000 },
          { voter: 'b', boot: 1, seq: 9, time: t0 + 600, ttlMs: 6_000 },
        ],
        pumps: ['pump-1'],
      },
      t0 + 1_200,
    ),
    event(
      'c',
      'pump_started',
      {
        at: t0 + 1_300,
        zone: 'north',
        pump: 'pump-1',
        kind: 'started',
        by: 'zone',
        epoch: 2,
        action: 'majority',
        outcome: 'done',
        detail: 'x',
      },
      t0 + 1_300,
    ),
  ];
  for (const e of events) m.receiveEvent(e);
  return events;
}

test('zone monitor: frames and events in, the zone view out: detections, the evaluation, the majority, the pump running', async () => {
  const s = setup();
  const t0 = s.clock.now();
  // The live path first: a detection frame from a, a vote frame of b, garbage, a forged detection.
  const da = detection('a', 'cam-a2', t0 - 2_000, 0.8);
  s.monitor.receive(SITE, 'a', zoneFrame({ type: 'detection', zone: 'north', epoch: 2, detection: da }));
  s.monitor.refuse('truncated', SITE, 'b', 'garbage');
  s.monitor.receive(SITE, 'b', zoneFrame({ type: 'detection', zone: 'north', epoch: 2, detection: detection('a', 'cam-a1', t0) }));
  s.monitor.receive(SITE, 'x', zoneFrame({ type: 'epoch', zone: 'nowhere', epoch: 9, by: 'x', reason: 'elect' }));
  s.monitor.receive(
    SITE,
    'b',
    zoneFrame({
      type: 'vote',
      vote: { zone: 'north', epoch: 2, voter: 'b', configHash: 'h', boot: 1, seq: 9, time: t0, ttlMs: 6_000, evidence: ['d1'] },
    }),
  );
  fire(s.monitor, t0);
  s.clock.advance(2_000);
  s.monitor.refresh();

  const [north, east] = s.monitor.summaries();
  assert.deepEqual(
    { ...north, lastDecisionAt: undefined },
    {
      zone: 'north',
      site: SITE,
      source: 'hub.yaml',
      epoch: 2,
      voters: 3,
      votersOnline: 3,
      majorityNeeded: 2,
      majorityVisible: true,
      fire: true,
      detectionsInWindow: 3,
      pumps: 1,
      pumpsRunning: 1,
      lastDecisionAt: undefined,
      overlaps: ['east'],
      activates: ['east'],
    },
  );
  assert.equal(north?.lastDecisionAt, new Date(t0 + 1_200).toISOString());
  assert.equal(east?.site, SITE, "east names no site: its voters' site");

  const view = s.monitor.view('north');
  assert.ok(view);
  assert.deepEqual(
    view.detections.map((d) => `${d.node}/${d.camera}`),
    ['b/cam-b1', 'a/cam-a1', 'a/cam-a2'],
    'newest first; the forged one (b speaking for a camera of a) is not there',
  );
  assert.equal(view.evaluation?.fire, true);
  assert.equal(view.evaluation?.evidence.distinctNodes, 2);
  assert.deepEqual(
    view.decisions.map((d) => `${d.node}:${d.kind}`),
    ['c:majority', 'a:vote'],
  );
  assert.deepEqual(view.decisions[0]?.votes, [
    { voter: 'a', seq: 4, time: new Date(t0 + 500).toISOString() },
    { voter: 'b', seq: 9, time: new Date(t0 + 600).toISOString() },
  ]);
  const pump = view.pumps[0];
  assert.equal(pump?.state, 'running');
  assert.equal(pump?.cause, 'majority');
  assert.equal(pump?.runtimeSeconds, 0.7);
  assert.equal(pump?.maxRuntimeSeconds, 120);
  assert.deepEqual(pump?.lastStart, { at: new Date(t0 + 1_300).toISOString(), cause: 'majority', by: 'zone' });
  const b = view.voters.find((v) => v.node === 'b');
  assert.equal(b?.state, 'online');
  assert.equal(b?.voting, true);
  assert.equal(b?.lastVote?.seq, 9);
  assert.deepEqual(
    view.cameras.map((c) => [c.camera, c.lastDetection !== null]),
    [
      ['cam-a1', true],
      ['cam-a2', true],
      ['cam-b1', true],
    ],
  );
  assert.equal(view.policy.windowSeconds, 60);
  assert.equal(s.monitor.view('nowhere'), undefined);

  // The pump stops by an emergency stop: state estop, its last stop, and the summary changes.
  s.monitor.receiveEvent(
    event(
      'c',
      'pump_stopped',
      {
        at: t0 + 5_000,
        zone: 'north',
        pump: 'pump-1',
        kind: 'stopped',
        by: 'hub:olga',
        action: 'estop',
        outcome: 'done',
        detail: 'ran 3700 ms',
      },
      t0 + 5_000,
    ),
  );
  s.monitor.refresh();
  const stopped = s.monitor.view('north')?.pumps[0];
  assert.equal(stopped?.state, 'estop');
  assert.equal(stopped?.runtimeSeconds, 3.7);
  assert.deepEqual(stopped?.lastStop, { at: new Date(t0 + 5_000).toISOString(), reason: 'estop', by: 'hub:olga' });
  assert.ok(s.changed.includes('north:1:true') && s.changed.at(-1) === 'north:0:true', s.changed.join(' '));

  const text = await metric(s.registry, 'fieldmesh_zone_');
  assert.match(text, /fieldmesh_zone_frames_received_total 4/);
  assert.match(text, /fieldmesh_zone_frames_rejected_total\{reason="malformed"\} 1/);
  assert.match(text, /fieldmesh_zone_frames_rejected_total\{reason="not-member"\} 1/);
  assert.match(text, /fieldmesh_zone_frames_rejected_total\{reason="unknown-zone"\} 1/);
  assert.match(text, /fieldmesh_zone_decisions_total\{zone="north",kind="majority"\} 1/);
  // a's detection at t0 and b's at t0+400 complete the evidence; the majority is recorded at t0+1200.
  assert.match(text, /fieldmesh_zone_decision_latency_seconds_sum 0\.8/);
  assert.match(text, /fieldmesh_zone_decision_latency_seconds_count 1/);
  assert.match(text, /fieldmesh_zone_majority_visible\{site="ranch",zone="north"\} 1/);
  assert.match(text, /fieldmesh_zone_pump_running\{site="ranch",zone="north",pump="pump-1",node="c"\} 0/);
});

test('zone monitor: a restart rebuilds pump states, decisions and detections from the events stored in the last 24 h', async () => {
  const clock = new ManualClock();
  const storage: HubStorage = createSqliteStorage({ path: ':memory:', retentionMs: 30 * 86_400_000 });
  try {
    const first = setup(clock);
    // An old run, two days ago: outside the rebuild.
    const old = clock.now() - 2 * 86_400_000;
    await storage.appendEvents([
      event(
        'c',
        'pump_started',
        { at: old, zone: 'east', pump: 'pump-2', kind: 'started', by: 'zone', action: 'overlap', outcome: 'done', detail: '' },
        old,
      ),
    ]);
    const t0 = clock.now() - 10 * 60_000;
    await storage.appendEvents(fire(first.monitor, t0));
    clock.advance(1_000);
    first.monitor.refresh();
    const before = first.monitor.view('north');

    const second = setup(clock);
    assert.equal(second.monitor.view('north')?.pumps[0]?.state, 'unknown', 'a new monitor knows nothing');
    const read = await second.monitor.rebuild(storage);
    assert.equal(read, 5);
    const after = second.monitor.view('north');
    // The same view, but for when the fleet (a new one here) last heard the voters.
    const unheard = (v: typeof after) => (v === undefined ? v : { ...v, voters: v.voters.map((x) => ({ ...x, lastHeard: null })) });
    assert.deepEqual(unheard(after), unheard(before));
    assert.equal(after?.pumps[0]?.state, 'running');
    assert.equal(after?.decisions[0]?.kind, 'majority');
    assert.equal(after?.detections.length, 2);
    assert.equal(second.monitor.view('east')?.pumps[0]?.state, 'unknown', 'the run of two days ago is not rebuilt');
    const text = await metric(second.registry, 'fieldmesh_zone_decisions_total');
    assert.doesNotMatch(text, /kind="majority"/, 'rebuilt decisions were counted by the hub before it restarted');
  } finally {
    await storage.close();
  }
});

test('zone monitor: a new set of zones keeps the state of those that stay, rebuilds an added one from storage, forgets a removed one', async () => {
  const clock = new ManualClock();
  const storage: HubStorage = createSqliteStorage({ path: ':memory:', retentionMs: 30 * 86_400_000 });
  try {
    const s = setup(clock);
    s.fleet.push({ site: SITE, node: 'd', state: 'online', lastHeard: clock.now(), lastChanged: clock.now() });
    const t0 = clock.now() - 5 * 60_000;
    await storage.appendEvents(fire(s.monitor, t0));
    const a2 = detection('a', 'cam-a2', t0 + 100);
    s.monitor.receive(SITE, 'a', zoneFrame({ type: 'detection', zone: 'north', epoch: 2, detection: a2 }));
    // Zone west is not watched yet: its node's records are refused (and stored, as every event is).
    const dd = detection('d', 'cam-d1', t0 + 60_000);
    const west = [
      event('d', 'detection', dd, dd.time),
      event(
        'd',
        'zone_majority',
        { at: t0 + 61_000, node: 'd', zone: 'west', epoch: 4, kind: 'majority', detections: [dd.id] },
        t0 + 61_000,
      ),
      event(
        'd',
        'pump_started',
        { at: t0 + 61_100, zone: 'west', pump: 'pump-3', kind: 'started', by: 'zone', action: 'majority', outcome: 'done', detail: '' },
        t0 + 61_100,
      ),
    ];
    for (const e of west) s.monitor.receiveEvent(e);
    await storage.appendEvents(west);
    clock.advance(1_000);
    s.monitor.refresh();
    const rejected = () => metric(s.registry, 'fieldmesh_zone_frames_rejected_total{reason="unknown-zone"}');
    assert.match(await rejected(), / 2$/, "west's majority and pump records, refused while west is not watched");

    // The repository drops east (and north's links to it) and north's camera cam-a2, and adds west.
    const next = (
      hubZonesSchema.parse([
        {
          id: 'north',
          site: SITE,
          voters: ['a', 'b', 'c'],
          cameras: [
            { id: 'cam-a1', node: 'a' },
            { id: 'cam-b1', node: 'b' },
          ],
          pumps: [{ id: 'pump-1', node: 'c', driver: { type: 'sim' }, envelope: { maxRuntime: '2m', atMaxRuntime: 'alert' } }],
        },
        {
          id: 'west',
          voters: ['d'],
          cameras: [{ id: 'cam-d1', node: 'd' }],
          pumps: [{ id: 'pump-3', node: 'd', driver: { type: 'sim' } }],
          policy: { minCameras: 1, minNodes: 1 },
        },
      ]) as HubZone[]
    ).map((z) => (z.id === 'west' ? { ...z, source: 'repository' as const } : z));
    const change = await s.monitor.setZones(next, storage);
    assert.deepEqual(change, { added: ['west'], removed: ['east'], changed: ['north'], replayed: 8 });
    assert.deepEqual(s.monitor.zoneIds(), ['north', 'west']);

    const north = s.monitor.view('north');
    assert.deepEqual(
      north?.decisions.map((d) => `${d.node}:${d.kind}`),
      ['c:majority', 'a:vote'],
      "north's decisions kept, none replayed twice",
    );
    assert.equal(north?.epoch, 2);
    assert.equal(north?.pumps[0]?.state, 'running', 'the running pump stays running');
    assert.deepEqual(
      north?.cameras.map((c) => c.camera),
      ['cam-a1', 'cam-b1'],
    );
    assert.deepEqual(
      north?.detections.map((d) => d.camera),
      ['cam-b1', 'cam-a1'],
      "cam-a2's detection is forgotten with the camera",
    );
    assert.deepEqual(north?.activates, []);

    const w = s.monitor.view('west');
    assert.equal(w?.source, 'repository');
    assert.equal(w?.site, SITE, "its voter's site");
    assert.equal(w?.epoch, 4);
    assert.equal(w?.pumps[0]?.state, 'running', 'rebuilt from the stored pump record');
    assert.deepEqual(
      w?.decisions.map((d) => `${d.node}:${d.kind}`),
      ['d:majority'],
    );
    assert.equal(w?.detections.length, 1);
    assert.equal(s.monitor.view('east'), undefined);
    assert.deepEqual(
      s.monitor.summaries().map((z) => [z.zone, z.source]),
      [
        ['north', 'hub.yaml'],
        ['west', 'repository'],
      ],
    );
    assert.match(await rejected(), / 2$/, 'the replay refuses nothing anew');
    assert.deepEqual(
      s.monitor.alertZones().map((z) => z.zone),
      ['north', 'west'],
    );

    // East's frames are now refused as those of a zone the hub does not watch; west's are taken.
    s.monitor.receive(SITE, 'c', zoneFrame({ type: 'epoch', zone: 'east', epoch: 9, by: 'c', reason: 'elect' }));
    s.monitor.receive(SITE, 'd', zoneFrame({ type: 'epoch', zone: 'west', epoch: 5, by: 'd', reason: 'elect' }));
    assert.match(await rejected(), / 3$/);
    assert.equal(s.monitor.view('west')?.epoch, 5);

    // The same set again changes nothing and replays nothing.
    assert.deepEqual(await s.monitor.setZones(next, storage), { added: [], removed: [], changed: [], replayed: 0 });
    assert.deepEqual(
      s.monitor.view('west')?.decisions.map((d) => d.kind),
      ['majority'],
    );
  } finally {
    await storage.close();
  }
});

interface AlertSetup {
  readonly s: ReturnType<typeof setup>;
  readonly engine: AlertEngine;
  run(ms: number): Promise<void>;
  names(): string[];
}

async function withAlerts(): Promise<AlertSetup> {
  const s = setup();
  const config = hubConfigSchema.parse({
    storage: { path: ':memory:' },
    alerts: {
      builtins: {
        nodeDown: { enabled: false },
        siteOffline: { enabled: false },
        lowSoc: { enabled: false },
        backlogAge: { enabled: false },
      },
    },
  });
  const engine = createAlertEngine(config, {
    fleet: { nodes: () => [], backlog: () => undefined, zones: () => s.monitor.alertZones() },
    storage: { querySeries: async () => [] },
    clock: s.clock,
    logger: undefined as never,
    topicPrefix: 'fieldmesh',
    transport: () => undefined,
    listenUrl: () => '',
    store: createSqliteAlertStore({ path: ':memory:' }),
    notifiers: [],
  });
  await engine.start();
  return {
    s,
    engine,
    async run(ms) {
      for (let t = 0; t < ms; t += 15_000) {
        s.monitor.refresh();
        s.clock.advance(15_000);
        await engine.idle();
      }
    },
    names: () =>
      engine
        .list(['pending', 'firing'])
        .map(
          (a) =>
            `${a.alert.labels.alertname}:${a.alert.state}:${a.alert.labels.zone}${a.alert.labels.pump ? `/${a.alert.labels.pump}` : ''}`,
        )
        .sort(),
  };
}

test('zone alerts: ConsensusTimeout stays quiet while detections wait less than 60 s, fires after, resolves with the majority', async () => {
  const a = await withAlerts();
  try {
    const { s } = a;
    // Two cameras of one node: counted detections, never enough for the policy's two nodes.
    const see = () => {
      const now = s.clock.now();
      s.monitor.receiveEvent(event('a', 'detection', detection('a', 'cam-a1', now), now));
      s.monitor.receiveEvent(event('a', 'detection', detection('a', 'cam-a2', now), now));
    };
    see();
    await a.run(15_000);
    // The seed's `consensus_pending_duration > 60`: no pending alert while a decision may still come.
    assert.deepEqual(a.names(), []);
    see();
    await a.run(45_000);
    see();
    await a.run(15_000);
    assert.deepEqual(a.names(), ['ConsensusTimeout:firing:north']);
    const alert = a.engine.list()[0]?.alert;
    assert.deepEqual(alert?.labels, { alertname: 'ConsensusTimeout', severity: 'critical', site: SITE, zone: 'north' });
    // b's camera joins, the majority holds at c and the pump runs: resolved.
    fire(s.monitor, s.clock.now());
    await a.run(15_000);
    assert.deepEqual(a.names(), []);
    assert.equal(a.engine.list(['resolved'])[0]?.alert.labels.alertname, 'ConsensusTimeout');
  } finally {
    await a.engine.stop();
  }
});

test('zone alerts: PumpRuntime fires once a pump runs past its envelope maxRuntime, and resolves when it stops', async () => {
  const a = await withAlerts();
  try {
    const { s } = a;
    const t0 = s.clock.now();
    fire(s.monitor, t0);
    await a.run(105_000);
    assert.deepEqual(a.names(), [], 'under 2 min: nothing');
    await a.run(30_000);
    assert.deepEqual(a.names(), ['PumpRuntime:firing:north/pump-1']);
    const alert = a.engine.list()[0]?.alert;
    assert.deepEqual(alert?.labels, {
      alertname: 'PumpRuntime',
      severity: 'critical',
      site: SITE,
      zone: 'north',
      pump: 'pump-1',
      node: 'c',
    });
    const now = s.clock.now();
    s.monitor.receiveEvent(
      event(
        'c',
        'pump_stopped',
        {
          at: now,
          zone: 'north',
          pump: 'pump-1',
          kind: 'stopped',
          by: 'hub:olga',
          action: 'manual',
          outcome: 'done',
          detail: 'ran 135000 ms',
        },
        now,
      ),
    );
    await a.run(15_000);
    assert.deepEqual(a.names(), []);
    assert.equal(a.engine.list(['resolved'])[0]?.alert.labels.alertname, 'PumpRuntime');
  } finally {
    await a.engine.stop();
  }
});

test('zone alerts: QuorumLost is pending when two of three voters go, fires after 1 min, resolves when one is back', async () => {
  const a = await withAlerts();
  try {
    const { s } = a;
    await a.run(15_000);
    assert.deepEqual(a.names(), []);
    s.setState('a', 'offline');
    await a.run(15_000);
    assert.deepEqual(a.names(), [], 'two of three online: a majority is visible');
    s.setState('b', 'stale');
    const lostAt = s.clock.now();
    await a.run(15_000);
    // North lost its majority; east (voter c only) still has it.
    assert.deepEqual(a.names(), ['QuorumLost:pending:north']);
    await a.run(45_000);
    assert.deepEqual(a.names(), ['QuorumLost:firing:north']);
    const alert = a.engine.list()[0]?.alert;
    assert.equal(alert?.activeAt, lostAt, 'active since the second voter went');
    assert.deepEqual(s.monitor.alertZones()[0]?.votersOnline, 1);
    s.setState('b', 'online');
    await a.run(15_000);
    assert.deepEqual(a.names(), []);
    assert.equal(a.engine.list(['resolved'])[0]?.alert.labels.alertname, 'QuorumLost');
  } finally {
    await a.engine.stop();
  }
});

test("zone monitor: a frame of another zone than its topic's is refused as other-zone and changes nothing", async () => {
  const s = setup();
  const t0 = s.clock.now();
  const vote = zoneFrame({
    type: 'vote',
    vote: { zone: 'north', epoch: 2, voter: 'c', configHash: 'h', boot: 1, seq: 9, time: t0, ttlMs: 6_000, evidence: [] },
  });
  // c is a voter of east and of north: its vote for north on its topic of east, refused by the hub's frame router.
  s.monitor.refuse('other-zone', SITE, 'c', 'a frame of zone north on the topic of zone east');
  assert.match(await metric(s.registry, 'fieldmesh_zone_frames_rejected_total{reason="other-zone"}'), / 1$/);
  assert.equal(await metric(s.registry, 'fieldmesh_zone_frames_received_total'), 'fieldmesh_zone_frames_received_total 0');
  s.monitor.receive(SITE, 'c', vote);
  assert.equal(await metric(s.registry, 'fieldmesh_zone_frames_received_total'), 'fieldmesh_zone_frames_received_total 1');
});
