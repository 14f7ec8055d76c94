// The agent end to end on an in-memory broker: births, deadband-driven data frames, heartbeats,
// rebirth requests, hub restarts, events, and deaths on crash and on clean shutdown.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { collect, waitFor } from '../../test/kit/wait.js';
import { ManualClock } from '../kit/index.js';
import {
  type BirthFrame,
  commandTopic,
  decodeWireFrame,
  encodeHubState,
  encodeRebirth,
  hubTopic,
  type RawDataFrame,
  SessionDecoder,
  type WireFrame,
} from '../protocol/index.js';
import { createMemoryTransport, MemoryBroker, type TransportMessage } from '../transport/index.js';
import { createAgent } from './agent.js';
import type { Collector, CollectorContext, Sample } from './collectors/collector.js';
import { agentConfigSchema } from './config.js';

/** A collector the test drives by hand. */
function manualCollector(): Collector & { push(samples: Array<Omit<Sample, 'time'>>): Promise<void>; ctx?: CollectorContext } {
  const c = {
    kind: 'manual',
    name: 'manual',
    ctx: undefined as CollectorContext | undefined,
    async start(ctx: CollectorContext) {
      c.ctx = ctx;
    },
    async stop() {},
    async push(samples: Array<Omit<Sample, 'time'>>) {
      const time = c.ctx?.clock.now() ?? 0;
      await c.ctx?.record(samples.map((s) => ({ ...s, time })));
    },
  };
  return c;
}

const battery = (soc: number, voltage: number): Array<Omit<Sample, 'time'>> => [
  { name: 'battery_soc', labels: { device: 'battery' }, value: soc },
  { name: 'dc_voltage', labels: { device: 'battery' }, value: voltage },
  { name: 'host_uptime_seconds', labels: {}, value: 12 },
];

/** Topics on which the agent sent something that does not decode, in the running test. */
let undecodable: string[] = [];
afterEach(() => {
  assert.deepEqual(undecodable, [], 'the agent sent undecodable frames');
  undecodable = [];
});

async function setup(dataDir = mkdtempSync(join(tmpdir(), 'fm-agent-'))) {
  const clock = new ManualClock();
  const broker = new MemoryBroker();
  const config = agentConfigSchema.parse({
    dataDir,
    node: { id: 'bess-01', site: 'farm' },
    http: { enabled: false },
    publish: { tick: '1s', heartbeat: '5s' },
    critical: [
      { match: 'battery_soc', maxSilence: '60s' },
      { match: 'dc_voltage', deadband: 0.05, maxSilence: '60s' },
    ],
  });
  const collector = manualCollector();
  const agent = createAgent(config, {
    clock,
    epoch: 7,
    collectors: [collector],
    createTransport: (will) => createMemoryTransport(broker, { clientId: 'agent', will, clock }),
  });
  const observer = createMemoryTransport(broker, { clientId: 'observer', clock });
  const frames: Array<{ topic: string; frame: WireFrame }> = [];
  // Everything under the prefix: a frame router would drop what it cannot decode, and the test wants to see it.
  const everything = observer.subscribe('fieldmesh/#', (m: TransportMessage) => {
    if (m.topic.includes('/cmd/') || m.topic.includes('/_hub/')) return; // what the test itself sends
    const d = decodeWireFrame(m.payload);
    // A handler's throw is the transport's to isolate: checked after each test instead.
    if (d.ok) frames.push({ topic: m.topic, frame: d.frame });
    else undecodable.push(m.topic);
  });
  observer.start();
  await everything.ready;
  const ofType = (type: string) => frames.filter((f) => f.frame.type === type);
  return { clock, broker, agent, collector, observer, frames, ofType };
}

test('agent: connects with a birth that carries the critical series and their values', async () => {
  const { agent, collector, ofType } = await setup();
  const started = agent.start();
  await collector.push(battery(55.2, 52.31));
  await started;
  const first = await waitFor(() => ofType('birth')[0], { what: 'a birth' });
  const birth = first.frame as BirthFrame;
  assert.equal(first.topic, 'fieldmesh/farm/bess-01/birth');
  assert.equal(birth.epoch, 7);
  assert.deepEqual(
    birth.series.map((s) => [s.name, s.value]),
    [
      ['battery_soc', 55.2],
      ['dc_voltage', 52.31],
    ],
  );
  await agent.stop();
});

test('agent: ticks send only what moved beyond its deadband, and a heartbeat when nothing did', async () => {
  const { agent, collector, clock, frames } = await setup();
  await agent.start();
  await collector.push(battery(55.2, 52.31));
  clock.advance(1_000); // the new critical series need a birth
  await waitFor(() => frames.some((f) => f.frame.type === 'birth' && f.frame.series.length === 2), { what: 'a birth with both series' });
  /** What a receiver makes of everything sent so far, in order: the data frames it applied. */
  const applied = () => {
    const decoder = new SessionDecoder();
    const out: Array<Array<[string | undefined, number | null]>> = [];
    for (const { frame } of frames) {
      if (frame.type === 'birth') decoder.applyBirth(frame);
      if (frame.type !== 'data') continue;
      const r = decoder.applyData(frame as RawDataFrame);
      assert.equal(r.kind, 'applied', 'every data frame continues the session');
      if (r.kind === 'applied') out.push(r.frame.entries.map((e) => [decoder.series(e.alias)?.name, e.value]));
    }
    return out;
  };

  await collector.push(battery(55.3, 52.33)); // voltage inside its 0.05 V deadband
  clock.advance(1_000);
  await waitFor(() => applied().length === 1, { what: 'the first data frame' });
  assert.deepEqual(applied()[0], [['battery_soc', 55.3]]);

  clock.advance(1_000); // nothing moved: no frame yet
  clock.advance(3_000); // 4 s: still no frame
  clock.advance(1_000); // 5 s since the last frame: heartbeat
  await waitFor(() => applied().length === 2, { what: 'a heartbeat' });
  assert.deepEqual(applied(), [[['battery_soc', 55.3]], []], 'exactly one heartbeat, empty, in 4 quiet seconds');
  await agent.stop();
});

test('agent: a rebirth request and a hub coming online each bring a new birth; a retained hub state does not', async () => {
  const { agent, collector, observer, ofType } = await setup();
  // A hub that was up before the node connected: its state is retained and it will get our birth.
  await observer.publish(hubTopic('fieldmesh', 'state'), encodeHubState({ epoch: 1, online: true, time: 0 }), { qos: 1, retain: true });
  await agent.start();
  await waitFor(() => ofType('birth').length === 1);
  await observer.publish(commandTopic('fieldmesh', 'farm', 'bess-01', 'rebirth'), encodeRebirth({ reason: 'gap' }), { qos: 1 });
  await waitFor(() => ofType('birth').length === 2, { what: 'birth after the rebirth request' });
  await observer.publish(hubTopic('fieldmesh', 'state'), encodeHubState({ epoch: 2, online: true, time: 0 }), { qos: 1, retain: true });
  await waitFor(() => ofType('birth').length === 3, { what: 'birth after a new hub epoch' });
  await observer.publish(commandTopic('fieldmesh', 'farm', 'bess-01', 'rebirth'), new Uint8Array([0xff]), { qos: 1 });
  await waitFor(async () => (await agent.metrics.framesRejected.get()).values.some((v) => v.value === 1), {
    what: 'bad command frame counted',
  });
  // Frames from one client arrive in order: once this event is seen, every earlier birth has been too.
  await collector.ctx?.emit({ kind: 'barrier', priority: 'low', time: 0, payload: null });
  await waitFor(() => ofType('event').length === 1);
  assert.equal(ofType('birth').length, 3, 'the retained state and the malformed command brought no birth');
  await agent.stop();
});

test('agent: events go out as event frames with priority and payload', async () => {
  const { agent, collector, ofType } = await setup();
  await agent.start();
  await collector.ctx?.emit({ kind: 'fire_detected', priority: 'critical', time: 123, payload: { camera: 'cam2', confidence: 0.91 } });
  const ev = await waitFor(() => ofType('event')[0]);
  assert.equal(ev.frame.type, 'event');
  if (ev.frame.type !== 'event') return;
  assert.equal(ev.frame.priority, 'critical');
  assert.equal(ev.frame.kind, 'fire_detected');
  assert.deepEqual(JSON.parse(new TextDecoder().decode(ev.frame.payload)), { camera: 'cam2', confidence: 0.91 });
  await agent.stop();
});

test('agent: a crash makes the broker publish the death will; a clean stop sends a shutdown death', async () => {
  const crash = await setup();
  await crash.agent.start();
  await waitFor(() => crash.ofType('birth').length === 1);
  const deaths = collect(crash.observer, 'message');
  await crash.agent.stop({ graceful: false });
  await waitFor(() => crash.ofType('death').length === 1, { what: 'will published' });
  assert.deepEqual(crash.ofType('death')[0]?.frame, { type: 'death', epoch: 7, reason: 'lost' });
  deaths.stop();

  const clean = await setup();
  await clean.agent.start();
  await waitFor(() => clean.ofType('birth').length === 1);
  await clean.agent.stop();
  await waitFor(() => clean.ofType('death').length === 1, { what: 'shutdown death' });
  assert.deepEqual(clean.ofType('death')[0]?.frame, { type: 'death', epoch: 7, reason: 'shutdown' });
  assert.equal(clean.broker.clients().includes('agent'), false);
});

test('agent: a damaged outbox file is moved aside, counted, and the agent keeps collecting', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fm-agent-'));
  mkdirSync(join(dataDir, 'farm', 'bess-01'), { recursive: true });
  writeFileSync(join(dataDir, 'farm', 'bess-01', 'outbox.db'), Buffer.alloc(8192, 0xa5));
  const { agent, collector, ofType } = await setup(dataDir);
  await agent.start();
  assert.equal((await agent.metrics.quarantined.get()).values.find((v) => v.labels.file === 'outbox')?.value, 1);
  assert.ok(
    readdirSync(join(dataDir, 'farm', 'bess-01')).some((f) => /^outbox\.db\.corrupt-\d+$/.test(f)),
    'the damaged file is kept aside',
  );
  await collector.ctx?.emit({ kind: 'after_quarantine', priority: 'high', time: 1, payload: {} });
  await waitFor(() => ofType('event').length === 1, { what: 'an event through the fresh outbox' });
  await agent.stop();
});
