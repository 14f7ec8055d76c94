// Fleet state: births, data, deaths and silence move nodes between unknown/online/stale/offline;
// gaps and unknown sessions ask for a rebirth, at most once per interval.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../kit/index.js';
import { decodeWireFrame, encodeDeath, encodeEvent, type SeriesDef, SessionEncoder, type WireFrame } from '../../protocol/index.js';
import { FleetState } from './fleet-state.js';

const SERIES: SeriesDef[] = [
  {
    alias: 1,
    name: 'battery_soc',
    labels: { device: 'bms' },
    type: 'gauge',
    unit: 'percent',
    decimals: 1,
    deadband: { kind: 'none' },
    maxSilenceMs: 30_000,
    value: 55.2,
  },
  {
    alias: 2,
    name: 'dc_voltage',
    labels: {},
    type: 'gauge',
    unit: 'volts',
    decimals: 2,
    deadband: { kind: 'none' },
    maxSilenceMs: 30_000,
    value: 52.31,
  },
];

function wire(bytes: Uint8Array): WireFrame {
  const r = decodeWireFrame(bytes);
  if (!r.ok) throw r.error;
  return r.frame;
}

function setup() {
  const clock = new ManualClock();
  const fleet = new FleetState({ clock, staleAfterHeartbeats: 2, rebirthMinIntervalMs: 5_000 });
  const src = (channel: 'birth' | 'data' | 'death' | 'event') => ({ site: 's1', node: 'n1', channel });
  const birth = (enc: SessionEncoder) =>
    fleet.applyFrame(
      src('birth'),
      wire(enc.birth({ time: clock.now(), zone: 'z1', agentVersion: '0.1.0', tickMs: 1_000, heartbeatMs: 10_000, series: SERIES })),
    );
  const data = (enc: SessionEncoder, entries: { alias: number; value: number | null }[]) =>
    fleet.applyFrame(src('data'), wire(enc.data(clock.now(), entries)));
  const death = (epoch: number, reason: 'lost' | 'shutdown' = 'lost') =>
    fleet.applyFrame(src('death'), wire(encodeDeath({ epoch, reason })));
  return { clock, fleet, birth, data, death, src };
}

test('fleet state: a birth makes a node online with its values and yields the birth values as samples', () => {
  const { fleet, birth, clock } = setup();
  const out = birth(new SessionEncoder(3));
  assert.equal(out.applied, true);
  assert.deepEqual(
    out.events.map((e) => e.type),
    ['nodeWentOnline', 'valuesChanged'],
  );
  assert.deepEqual(
    out.samples.map((s) => [s.def.name, s.value, s.time]),
    [
      ['battery_soc', 55.2, clock.now()],
      ['dc_voltage', 52.31, clock.now()],
    ],
  );
  const n = fleet.get('s1', 'n1');
  assert.equal(n?.state, 'online');
  assert.equal(n?.epoch, 3);
  assert.equal(n?.zone, 'z1');
  assert.equal(n?.heartbeatMs, 10_000);
  assert.equal(n?.values.size, 2);
});

test('fleet state: data of the current session updates values, last heard and sample age', () => {
  const { fleet, birth, data, clock } = setup();
  const enc = new SessionEncoder(1);
  birth(enc);
  const frameTime = clock.now() + 1_000;
  clock.advance(1_250);
  const out = fleet.applyFrame({ site: 's1', node: 'n1', channel: 'data' }, wire(enc.data(frameTime, [{ alias: 1, value: 56 }])));
  assert.equal(out.applied, true);
  assert.deepEqual(
    out.samples.map((s) => [s.def.name, s.value, s.time]),
    [['battery_soc', 56, frameTime]],
  );
  assert.deepEqual(out.sampleAgesMs, [250]);
  assert.equal(fleet.get('s1', 'n1')?.values.get(1)?.value, 56);
  assert.equal(fleet.get('s1', 'n1')?.lastHeard, clock.now());
  assert.equal(fleet.lastHeardAgeMs(fleet.get('s1', 'n1')!), 0);
  clock.advance(3_000);
  assert.equal(fleet.lastHeardAgeMs(fleet.get('s1', 'n1')!), 3_000);
  const empty = data(enc, []);
  assert.equal(empty.applied, true);
  assert.deepEqual(empty.events, []);
});

test('fleet state: each value is held and stored at the time it was sampled, not the time the frame went out', () => {
  const { fleet, birth, clock } = setup();
  const enc = new SessionEncoder(1);
  birth(enc);
  const sentAt = clock.now() + 1_000;
  clock.advance(1_500);
  const entries = [
    { alias: 1, value: 57, time: sentAt - 700 },
    { alias: 2, value: 3.5, time: sentAt - 40 },
  ];
  const out = fleet.applyFrame({ site: 's1', node: 'n1', channel: 'data' }, wire(enc.data(sentAt, entries)));
  assert.deepEqual(
    out.samples.map((s) => [s.value, s.time]).sort((a, b) => Number(a[1]) - Number(b[1])),
    [
      [57, sentAt - 700],
      [3.5, sentAt - 40],
    ],
  );
  // Received 1,500 ms after the birth: 500 ms after the frame went out, 540 and 1,200 ms after sampling.
  assert.deepEqual(
    [...(out.sampleAgesMs ?? [])].sort((a, b) => a - b),
    [540, 1_200],
  );
  assert.equal(fleet.get('s1', 'n1')?.values.get(1)?.time, sentAt - 700, 'the latest value carries its sample time');
});

test('fleet state: a gap asks for a rebirth once per interval and the next birth heals the session', () => {
  const { fleet, birth, data, clock } = setup();
  const enc = new SessionEncoder(1);
  birth(enc);
  enc.data(clock.now(), [{ alias: 1, value: 60 }]); // lost on the way
  const first = data(enc, [{ alias: 1, value: 61 }]);
  assert.equal(first.rejected, 'gap');
  assert.deepEqual(first.rebirth, { cause: 'gap', reason: 'gap' });
  clock.advance(1_000);
  const second = data(enc, [{ alias: 1, value: 62 }]);
  assert.equal(second.rejected, 'gap');
  assert.equal(second.rebirth, undefined, 'rate limited within rebirthMinInterval');
  clock.advance(4_000);
  assert.deepEqual(data(enc, [{ alias: 1, value: 63 }]).rebirth, { cause: 'gap', reason: 'gap' });
  const n = fleet.get('s1', 'n1')!;
  assert.equal(n.counters.gaps, 1);
  assert.equal(n.counters.rejected.gap, 3);
  assert.equal(n.counters.rebirthsRequested, 2);
  assert.equal(n.values.get(1)?.value, 55.2, 'no value is guessed across a gap');
  assert.equal(n.state, 'online', 'a node with a broken session is still alive');
  birth(enc);
  const healed = data(enc, [{ alias: 1, value: 64 }]);
  assert.equal(healed.applied, true);
  assert.equal(fleet.get('s1', 'n1')?.values.get(1)?.value, 64);
});

test('fleet state: a broken session asks once while its request waits for the broker, and backs off until the birth comes', () => {
  // Issue 13's rebirth storm: a hub behind on its broker link publishes requests 30 to 40 s late (they wait behind
  // its acks); asked again every 5 s meanwhile, each node was asked three to four times and answered each with a birth.
  const { fleet, birth, data, clock } = setup();
  const enc = new SessionEncoder(1);
  birth(enc);
  enc.data(clock.now(), [{ alias: 1, value: 60 }]); // lost on the way
  const asked: number[] = [];
  const t0 = clock.monotonic();
  const tick = (settle: boolean) => {
    const out = data(enc, [{ alias: 1, value: 61 }]);
    assert.equal(out.rejected, 'gap');
    if (out.rebirth === undefined) return;
    asked.push(clock.monotonic() - t0);
    fleet.rebirthQueued('s1', 'n1');
    if (settle) fleet.rebirthSettled('s1', 'n1', true);
  };
  // The request waits 30 s for the broker: no second one meanwhile, a frame every 2 s.
  for (let t = 0; t < 30_000; t += 2_000, clock.advance(2_000)) tick(false);
  assert.deepEqual(asked, [0]);
  fleet.rebirthSettled('s1', 'n1', true);
  // Timed from when the broker took it (30 s), and doubling while unanswered: 35 s, then 45 s, 65 s, 105 s, then a minute.
  for (let t = 30_000; t <= 170_000; t += 1_000, clock.advance(1_000)) tick(true);
  assert.deepEqual(asked, [0, 35_000, 45_000, 65_000, 105_000, 165_000]);
  // The birth answers: the next gap is asked at once (the last request was long ago), and the wait starts over.
  birth(enc);
  enc.data(clock.now(), [{ alias: 1, value: 62 }]); // lost
  asked.length = 0;
  const t1 = clock.monotonic();
  for (let t = 0; t <= 20_000; t += 1_000, clock.advance(1_000)) {
    const out = data(enc, [{ alias: 1, value: 63 }]);
    if (out.rebirth === undefined) continue;
    asked.push(clock.monotonic() - t1);
    fleet.rebirthQueued('s1', 'n1');
    fleet.rebirthSettled('s1', 'n1', true);
  }
  assert.deepEqual(asked, [0, 5_000, 15_000]);
});

test('fleet state: a rebirth request that failed to leave the hub is asked again after the interval', () => {
  const { fleet, birth, data, clock } = setup();
  const enc = new SessionEncoder(1);
  birth(enc);
  enc.data(clock.now(), [{ alias: 1, value: 60 }]); // lost
  assert.ok(data(enc, [{ alias: 1, value: 61 }]).rebirth);
  fleet.rebirthQueued('s1', 'n1');
  clock.advance(2_000);
  fleet.rebirthSettled('s1', 'n1', false); // the link went down
  clock.advance(2_000);
  assert.equal(data(enc, [{ alias: 1, value: 62 }]).rebirth, undefined, 'not within rebirthMinInterval of the request');
  clock.advance(1_000);
  assert.ok(data(enc, [{ alias: 1, value: 63 }]).rebirth);
});

test('fleet state: data without a birth marks the node unknown and asks it to announce itself', () => {
  const { fleet, data } = setup();
  const enc = new SessionEncoder(7);
  enc.birth({ time: 0, zone: 'z1', agentVersion: 't', tickMs: 1_000, heartbeatMs: 10_000, series: SERIES });
  const out = data(enc, [{ alias: 1, value: 1 }]);
  assert.equal(out.rejected, 'no-session');
  assert.deepEqual(out.rebirth, { cause: 'unknown-node', reason: 'unknown-node' });
  assert.equal(fleet.get('s1', 'n1')?.state, 'unknown');
  assert.notEqual(fleet.get('s1', 'n1')?.lastHeard, undefined);
});

test('fleet state: an unknown alias and a newer epoch without birth are rejected with a rebirth', () => {
  const fresh = setup();
  const e1 = new SessionEncoder(1);
  fresh.birth(e1);
  const bad = new SessionEncoder(1);
  bad.birth({
    time: 0,
    zone: 'z1',
    agentVersion: 't',
    tickMs: 1_000,
    heartbeatMs: 10_000,
    series: [{ ...(SERIES[0] as SeriesDef), alias: 9 }],
  });
  const out = fresh.fleet.applyFrame({ site: 's1', node: 'n1', channel: 'data' }, wire(bad.data(0, [{ alias: 9, value: 1 }])));
  assert.equal(out.rejected, 'unknown-alias');
  assert.deepEqual(out.rebirth, { cause: 'unknown-alias', reason: 'unknown-alias' });

  const newer = setup();
  newer.birth(new SessionEncoder(1));
  const rebooted = new SessionEncoder(2);
  rebooted.birth({ time: 0, zone: 'z1', agentVersion: 't', tickMs: 1_000, heartbeatMs: 10_000, series: SERIES });
  const out2 = newer.data(rebooted, [{ alias: 1, value: 3 }]);
  assert.equal(out2.rejected, 'no-session');
  assert.equal(out2.rebirth?.reason, 'unknown-node');
});

test('fleet state: silence beyond staleAfterHeartbeats x heartbeat makes a node stale; the next frame brings it back', () => {
  const { fleet, birth, data, clock } = setup();
  const enc = new SessionEncoder(1);
  birth(enc);
  clock.advance(20_000);
  assert.deepEqual(fleet.sweep(), [], 'exactly 2 heartbeats of silence is not yet stale');
  clock.advance(1);
  const events = fleet.sweep();
  assert.deepEqual(
    events.map((e) => [e.type, e.site, e.node]),
    [['nodeWentStale', 's1', 'n1']],
  );
  assert.equal(fleet.get('s1', 'n1')?.state, 'stale');
  assert.deepEqual(fleet.sweep(), [], 'stale is reported once');
  const back = data(enc, []);
  assert.deepEqual(
    back.events.map((e) => e.type),
    ['nodeWentOnline'],
  );
  assert.equal(fleet.get('s1', 'n1')?.lastChanged, clock.now());
});

test('fleet state: a death goes offline, a late will of an older epoch is ignored after a restart', () => {
  const { fleet, birth, death } = setup();
  birth(new SessionEncoder(4));
  const gone = death(4, 'shutdown');
  assert.deepEqual(
    gone.events.map((e) => e.type),
    ['nodeWentOffline'],
  );
  assert.equal(gone.events[0]?.type === 'nodeWentOffline' && gone.events[0].reason, 'shutdown');
  assert.equal(fleet.get('s1', 'n1')?.state, 'offline');
  // Restart with a new epoch, then the will of the old connection arrives late.
  birth(new SessionEncoder(5));
  assert.equal(fleet.get('s1', 'n1')?.state, 'online');
  const late = death(4);
  assert.equal(late.ignored, 'old-epoch');
  assert.deepEqual(late.events, []);
  assert.equal(fleet.get('s1', 'n1')?.state, 'online');
  // A birth of an older boot (delivered late) is ignored too.
  const old = birth(new SessionEncoder(4));
  assert.equal(old.ignored, 'old-epoch');
  assert.equal(fleet.get('s1', 'n1')?.epoch, 5);
});

test('fleet state: a restart with a new epoch replaces the session and values', () => {
  const { fleet, birth, data } = setup();
  const first = new SessionEncoder(1);
  birth(first);
  data(first, [{ alias: 1, value: 70 }]);
  const second = new SessionEncoder(2);
  const out = birth(second);
  assert.equal(out.applied, true);
  assert.equal(fleet.get('s1', 'n1')?.values.get(1)?.value, 55.2);
  assert.equal(data(first, [{ alias: 1, value: 71 }]).ignored, 'old-epoch');
  assert.equal(data(second, [{ alias: 1, value: 72 }]).applied, true);
  assert.equal(fleet.get('s1', 'n1')?.values.get(1)?.value, 72);
});

test('fleet state: duplicates are ignored, events count as liveness, wrong-channel frames are malformed', () => {
  const { fleet, birth, src } = setup();
  const enc = new SessionEncoder(1);
  birth(enc);
  const bytes = enc.data(0, [{ alias: 1, value: 2 }]);
  assert.equal(fleet.applyFrame(src('data'), wire(bytes)).applied, true);
  assert.equal(fleet.applyFrame(src('data'), wire(bytes)).ignored, 'duplicate');
  const ev = fleet.applyFrame(
    src('event'),
    wire(encodeEvent({ epoch: 1, seq: 0, time: 0, id: 'e1', priority: 'high', kind: 'fire', payload: new Uint8Array() })),
  );
  assert.equal(ev.event?.id, 'e1');
  const wrong = fleet.applyFrame(src('birth'), wire(bytes));
  assert.equal(wrong.rejected, 'malformed');
  assert.equal(fleet.get('s1', 'n1')?.counters.rejected.malformed, 1);
});

test('fleet state: nodes restored from storage are unknown (or offline) until they speak', () => {
  const { fleet, clock } = setup();
  fleet.restore({
    site: 's1',
    node: 'a',
    zone: 'z',
    state: 'online',
    epoch: 3,
    heartbeatMs: 1_000,
    lastHeard: clock.now() - 5_000,
    lastChanged: 0,
  });
  fleet.restore({ site: 's1', node: 'b', zone: 'z', state: 'offline', lastChanged: 0 });
  assert.equal(fleet.get('s1', 'a')?.state, 'unknown');
  assert.equal(fleet.get('s1', 'b')?.state, 'offline');
  assert.equal(fleet.lastHeardAgeMs(fleet.get('s1', 'a')!), 5_000);
  assert.deepEqual(fleet.sweep(), [], 'unknown nodes do not go stale');
  assert.deepEqual(fleet.countByState(), { unknown: 1, online: 0, stale: 0, offline: 1 });
  assert.deepEqual(
    fleet.digestEntries().map((e) => [e.node, e.state]),
    [
      ['s1/a', 'unknown'],
      ['s1/b', 'offline'],
    ],
  );
});
