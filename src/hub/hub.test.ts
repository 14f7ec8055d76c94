// The hub end to end over the in-memory broker: births and data reach the API and history, a gap
// gets a rebirth request, a will makes the node offline, a malformed payload is counted and harmless.
// calendar: the hub runs on the kit's manual clock; the backfill ranges are request input.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../../test/kit/wait.js';
import { silentLogger } from '../kit/index.js';
import { type BackfillFrame, encodeEvent, encodeHistory, hubTopic, nodeTopic, SessionEncoder } from '../protocol/index.js';
import { createMemoryTransport, MemoryBroker, type Transport } from '../transport/index.js';
import { hubConfigSchema } from './config.js';
import { createHub, type Hub } from './hub.js';
import { batterySoc, birthOf, wire as decode, hubTestKit } from './hub-test-kit.js';

const SERIES = [batterySoc({ device: 'bms' })];

const { defer, tempDir, startHub, connectClient } = hubTestKit();

async function setup() {
  const { hub, broker, clock, dataDir } = await startHub({ prefix: 'fieldmesh-hub-' });
  await waitFor(async () => (await hub.app.inject('/readyz')).statusCode === 200, { what: 'hub ready' });

  const epoch = 7;
  const { transport: node, received } = await connectClient(broker, 'node-s1-n1', {
    will: { site: 's1', node: 'n1', epoch },
    subscribe: ['fieldmesh/s1/n1/cmd/#', 'fieldmesh/_hub/#'],
  });
  const enc = new SessionEncoder(epoch);
  return { hub, broker, clock, node, enc, received, dataDir };
}

function publish(node: Transport, channel: 'birth' | 'data', bytes: Uint8Array): Promise<void> {
  return node.publish(nodeTopic('fieldmesh', 's1', 'n1', channel), bytes, { qos: 1 });
}

async function nodeState(hub: Hub): Promise<{ state: string; values?: Array<{ value: unknown }> } | undefined> {
  const res = await hub.app.inject('/api/v1/nodes/s1/n1');
  return res.statusCode === 200 ? res.json() : undefined;
}

/** Sends the node's birth and waits until the API shows it online. */
async function bornOnline(hub: Hub, node: Transport, enc: SessionEncoder, time: number): Promise<void> {
  await publish(node, 'birth', birthOf(enc, time, SERIES));
  await waitFor(async () => (await nodeState(hub))?.state === 'online', { what: 'online' });
}

test('hub: a birth and data become visible in /api/v1/nodes and query_range; a retained hubState announces the hub', async () => {
  const { hub, clock, node, enc, received, dataDir } = await setup();
  const retained = await waitFor(() => received.find((m) => m.topic === hubTopic('fieldmesh', 'state')), { what: 'hubState' });
  const state = decode(retained.payload);
  assert.equal(state.type === 'hubState' && state.online, true);
  assert.equal(state.type === 'hubState' && state.epoch, JSON.parse(readFileSync(join(dataDir, 'hub-state.json'), 'utf8')).boot);

  const t0 = clock.now();
  await publish(node, 'birth', birthOf(enc, t0, SERIES));
  await publish(node, 'data', enc.data(t0 + 1_000, [{ alias: 1, value: 56.5 }]));
  const seen = await waitFor(
    async () => {
      const n = await nodeState(hub);
      return n?.values?.[0]?.value === 56.5 ? n : undefined;
    },
    { what: 'value 56.5 at the API' },
  );
  assert.equal(seen.state, 'online');
  await waitFor(() => hub.stats().samplesStored === 2, { what: 'two samples stored' });

  const s = t0 / 1000;
  const q = await hub.app.inject(`/api/v1/query_range?query=battery_soc{site="s1"}&start=${s}&end=${s + 2}&step=1`);
  assert.deepEqual(q.json().data.result[0].values, [
    [s, '55.5'],
    [s + 1, '56.5'],
    [s + 2, '56.5'],
  ]);
  assert.deepEqual(q.json().data.result[0].metric, { __name__: 'battery_soc', device: 'bms', node: 'n1', site: 's1', zone: 'z1' });

  clock.advance(2_000);
  const digest = await waitFor(() => received.find((m) => m.topic === hubTopic('fieldmesh', 'digest')), { what: 'a digest' });
  const frame = decode(digest.payload);
  assert.deepEqual(frame.type === 'digest' && frame.entries, [{ node: 's1/n1', state: 'online', lastHeardAgeMs: 2_000 }]);
});

test('hub: a gap publishes one rebirth request on the node command topic', async () => {
  const { hub, clock, node, enc, received } = await setup();
  await publish(node, 'birth', birthOf(enc, clock.now(), SERIES));
  enc.data(clock.now(), [{ alias: 1, value: 60 }]); // never sent
  await publish(node, 'data', enc.data(clock.now(), [{ alias: 1, value: 61 }]));
  await publish(node, 'data', enc.data(clock.now(), [{ alias: 1, value: 62 }]));
  const request = await waitFor(() => received.find((m) => m.topic === 'fieldmesh/s1/n1/cmd/rebirth'), { what: 'rebirth request' });
  const frame = decode(request.payload);
  assert.deepEqual(frame, { type: 'rebirth', reason: 'gap' });
  await waitFor(() => hub.stats().framesReceived === 3, { what: 'three frames at the hub' });
  assert.equal(received.filter((m) => m.topic.endsWith('/cmd/rebirth')).length, 1, 'rate limited');
  const metrics = (await hub.app.inject('/metrics')).body;
  assert.match(metrics, /fieldmesh_hub_rebirths_requested_total\{reason="gap"\} 1/);
  assert.match(metrics, /fieldmesh_frames_rejected_total\{reason="gap"\} 2/);
});

test('hub: the node will makes it offline', async () => {
  const { hub, broker, clock, node, enc } = await setup();
  await bornOnline(hub, node, enc, clock.now());
  broker.drop('node-s1-n1');
  await waitFor(async () => (await nodeState(hub))?.state === 'offline', { what: 'offline after the will' });
});

test('hub: a malformed payload on a node topic is counted and the next good frame is still processed', async () => {
  const { hub, clock, node, enc } = await setup();
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'data'), new Uint8Array([0x13, 0xff]), { qos: 1 });
  // A site that is no id, on a channel the hub reads (a channel it does not read it never receives).
  await node.publish('fieldmesh/Site One/n1/data', new Uint8Array([1]), { qos: 1 });
  await node.publish('fieldmesh/s1/n1/bogus', new Uint8Array([1]), { qos: 1 });
  await publish(node, 'birth', birthOf(enc, clock.now(), SERIES));
  await waitFor(async () => (await nodeState(hub))?.state === 'online', { what: 'online after a bad frame' });
  const metrics = (await hub.app.inject('/metrics')).body;
  assert.match(metrics, /fieldmesh_frames_rejected_total\{reason="truncated"\} 1/);
  assert.match(metrics, /fieldmesh_hub_frames_received_total\{type="birth"\} 1/);
  assert.match(metrics, /fieldmesh_frames_rejected_total\{reason="unknown-topic"\} 1/);
  assert.equal(hub.stats().framesRejected, 2);
});

test('hub: silence makes a node stale, the registry survives a restart as unknown, stop publishes hubState offline', async () => {
  const { hub, broker, clock, node, enc, dataDir } = await setup();
  await bornOnline(hub, node, enc, clock.now());
  clock.advance(11_000);
  assert.equal((await nodeState(hub))?.state, 'stale');
  const facts = (await hub.app.inject('/api/v1/nodes/s1/n1')).json();
  assert.notEqual(facts.bootTime, null);
  await hub.stop();
  const [retained] = broker.retainedFor(hubTopic('fieldmesh', 'state'));
  const frame = decode(retained?.payload ?? new Uint8Array());
  assert.equal(frame.type === 'hubState' && frame.online, false);

  const { hub: again } = await startHub({ dataDir, broker, clock });
  const restored = await nodeState(again);
  assert.equal(restored?.state, 'unknown');
  assert.equal((await again.app.inject('/api/v1/nodes')).json().nodes[0].lastHeardAgeMs, 11_000);
  // The node's facts from its last birth survive too: the node page shows them before it is born again.
  const factsAgain = (await again.app.inject('/api/v1/nodes/s1/n1')).json();
  assert.equal(factsAgain.bootTime, facts.bootTime);
  assert.equal(factsAgain.configVersion, facts.configVersion);
  assert.equal(again.stats().epoch, hub.stats().epoch + 1);
});

test('hub: the live stream sends a snapshot, then node events; stop ends open streams; a taken port falls back', async () => {
  const dataDir = tempDir('fieldmesh-hub-');
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const takenPort = (blocker.address() as AddressInfo).port;
  defer(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const broker = new MemoryBroker();
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (_o: object, msg?: string) => warnings.push(msg ?? ''), child: () => logger };
  const hub = createHub(hubConfigSchema.parse({ dataDir, storage: { path: ':memory:' }, http: { port: takenPort } }), {
    transport: createMemoryTransport(broker, { clientId: 'hub' }),
    logger,
  });
  defer(() => hub.stop());
  const { httpUrl } = await hub.start();
  assert.notEqual(new URL(httpUrl).port, String(takenPort));
  assert.ok(
    warnings.some((w) => w.includes(String(takenPort)) && w.includes(new URL(httpUrl).port)),
    'the warning names both ports',
  );

  const res = await fetch(`${httpUrl}/api/v1/live`, { headers: { 'last-event-id': '41' } });
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const text = new TextDecoder();
  let buffer = '';
  const readUntil = async (pattern: RegExp) => {
    while (!pattern.test(buffer)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended before ${pattern}`);
      buffer += text.decode(value, { stream: true });
    }
  };
  await readUntil(/event: snapshot\ndata: \{"nodes":\[\],"sites":\[\],"alerts":\[\]\}\n\n/);
  const node = createMemoryTransport(broker, { clientId: 'n1' });
  node.start();
  await new Promise<void>((resolve) => node.on('connected', () => resolve()));
  defer(() => node.close());
  await publish(node, 'birth', birthOf(new SessionEncoder(1), Date.now(), SERIES, { agentVersion: 't' }));
  await readUntil(/event: node\ndata: \{"site":"s1","zone":"z1","node":"n1","state":"online"/);
  const ended = reader.read().then(async function drain(r): Promise<boolean> {
    return r.done ? true : drain(await reader.read());
  });
  await hub.stop();
  assert.equal(await ended, true, 'stop ends the stream');
});

test('hub: a history frame is stored without touching live state, then acknowledged by range; a resend is absorbed', async () => {
  const { hub, clock, node, enc, received } = await setup();
  const t0 = clock.now();
  await bornOnline(hub, node, enc, t0);
  const before = await nodeState(hub);

  const old = t0 - 3_600_000;
  const history = encodeHistory({
    epoch: 6,
    zone: 'z1',
    firstSeq: 101,
    lastSeq: 103,
    pendingRows: 40,
    oldestPendingMs: old + 6_000,
    pendingBytes: 1_280,
    dropped: [],
    repaired: [],
    series: [
      {
        name: 'battery_soc',
        labels: { device: 'battery' },
        type: 'gauge',
        unit: 'percent',
        samples: [
          [old, 40.1],
          [old + 2_000, 40.2],
          [old + 4_000, 40.3],
        ],
      },
    ],
  });
  const acks = () => received.filter((m) => m.topic === 'fieldmesh/s1/n1/cmd/ack').map((m) => decode(m.payload));
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'history'), history, { qos: 1 });
  await waitFor(() => acks().length === 1, { what: 'ack of the history frame' });
  assert.deepEqual(acks()[0], { type: 'ack', lane: 'samples', firstSeq: 101, lastSeq: 103 });
  assert.equal(hub.stats().historySamplesStored, 3);

  const q = new URLSearchParams({
    query: 'battery_soc{site="s1",node="n1"}',
    start: String((old - 1_000) / 1000),
    end: String((old + 5_000) / 1000),
    step: '2',
  });
  const res = await hub.app.inject(`/api/v1/query_range?${q}`);
  const values = (res.json() as { data: { result: Array<{ values: Array<[number, string]> }> } }).data.result[0]?.values.map((v) => v[1]);
  assert.deepEqual(values, ['40.1', '40.2', '40.3']);
  const { backlogRows, backlogOldest, backlogBytes, ...after } = (await nodeState(hub)) as Record<string, unknown>;
  const { backlogRows: _rows, backlogOldest: _oldest, backlogBytes: _noBytes, ...beforeLive } = before as Record<string, unknown>;
  assert.deepEqual(after, beforeLive, 'history is not live state [FM-DURABLE-4]');
  assert.deepEqual(
    [backlogRows, backlogOldest, backlogBytes],
    [40, new Date(old + 6_000).toISOString(), 1_280],
    'the backlog is the ledger, shown beside it',
  );
  assert.match((await hub.app.inject('/metrics')).body, /fieldmesh_hub_node_backlog_bytes\{site="s1",node="n1"\} 1280\n/);

  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'history'), history, { qos: 1 });
  await waitFor(() => acks().length === 2, { what: 'ack of the resend' });
  const again = await hub.app.inject(`/api/v1/query_range?${q}`);
  assert.deepEqual((again.json() as { data: { result: Array<{ values: unknown[] }> } }).data.result[0]?.values.length, 3, 'deduplicated');
});

test('hub: an event is stored, then acknowledged by its outbox seq; a resend is absorbed; /api/v1/events and the live feed show it', async () => {
  const { hub, clock, node, enc, received } = await setup();
  const t0 = clock.now();
  await bornOnline(hub, node, enc, t0);
  const fire = encodeEvent({
    epoch: 7,
    seq: 42,
    time: t0 + 500,
    id: 'ev-1',
    priority: 'critical',
    kind: 'fire',
    payload: new TextEncoder().encode('{"camera":2,"confidence":0.9}'),
  });
  const acks = () => received.filter((m) => m.topic === 'fieldmesh/s1/n1/cmd/ack').map((m) => decode(m.payload));
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'event'), fire, { qos: 1 });
  await waitFor(() => acks().length === 1, { what: 'ack of the event' });
  assert.deepEqual(acks()[0], { type: 'ack', lane: 'events', firstSeq: 42, lastSeq: 42 });
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'event'), fire, { qos: 1 });
  await waitFor(() => acks().length === 2, { what: 'ack of the resend' });
  assert.equal(hub.stats().eventsStored, 1, 'the resend is not stored twice');

  const res = await hub.app.inject('/api/v1/events?site=s1&node=n1&priority=high');
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), {
    events: [
      {
        site: 's1',
        node: 'n1',
        id: 'ev-1',
        seq: 42,
        epoch: 7,
        time: new Date(t0 + 500).toISOString(),
        priority: 'critical',
        kind: 'fire',
        payload: { camera: 2, confidence: 0.9 },
        payloadEncoding: 'json',
        receivedAt: new Date(t0).toISOString(),
      },
    ],
  });
  assert.deepEqual((await hub.app.inject('/api/v1/events?kind=alert')).json(), { events: [] });
  assert.equal((await hub.app.inject('/api/v1/events?priority=urgent')).statusCode, 400);
  assert.equal((await hub.app.inject('/api/v1/events?limit=0')).statusCode, 400);
  assert.equal((await hub.app.inject('/api/v1/events?start=yesterday')).statusCode, 400);
  const metrics = (await hub.app.inject('/metrics')).body;
  assert.match(metrics, /fieldmesh_hub_events_stored_total\{priority="critical"\} 1\n/);
  assert.match(metrics, /fieldmesh_hub_acks_sent_total\{lane="events"\} 2\n/);
});

test('hub: an event from a node the hub has never seen is still stored and acknowledged; a binary payload is base64', async () => {
  const { hub, clock, node, received } = await setup();
  const bytes = new Uint8Array([0xff, 0x00, 0x01]);
  await node.publish(
    nodeTopic('fieldmesh', 's1', 'n1', 'event'),
    encodeEvent({ epoch: 1, seq: 9, time: clock.now(), id: 'x', priority: 'low', kind: 'blob', payload: bytes }),
    { qos: 1 },
  );
  const ack = await waitFor(() => received.find((m) => m.topic === 'fieldmesh/s1/n1/cmd/ack'), { what: 'ack' });
  assert.deepEqual(decode(ack.payload), { type: 'ack', lane: 'events', firstSeq: 9, lastSeq: 9 });
  const [e] = (await hub.app.inject('/api/v1/events')).json().events;
  assert.deepEqual([e.payload, e.payloadEncoding], [Buffer.from(bytes).toString('base64'), 'base64']);
});

test('hub: the completeness ledger reports backlog, dropped ranges and holes; it survives a restart', async () => {
  const { hub, clock, node, enc, received, dataDir, broker } = await setup();
  const H = 3_600_000;
  const today = Math.floor(clock.now() / (24 * H)) * 24 * H;
  const yesterday = today - 24 * H;
  await bornOnline(hub, node, enc, clock.now());
  // Yesterday at one sample a minute, except 10:00 to 11:00; 12:00 to 12:30 was dropped at the node's disk cap.
  const samples: Array<readonly [number, number]> = [];
  for (let t = yesterday; t < today; t += 60_000) {
    const hour = (t - yesterday) / H;
    if ((hour >= 10 && hour < 11) || (hour >= 12 && hour < 12.5)) continue;
    samples.push([t, 50]);
  }
  samples.push([today, 50]);
  const history = (pendingRows: number, oldestPendingMs: number | null) =>
    encodeHistory({
      epoch: 7,
      zone: 'z1',
      firstSeq: 1,
      lastSeq: samples.length,
      pendingRows,
      oldestPendingMs,
      pendingBytes: 0,
      dropped: [{ fromMs: yesterday + 12 * H, toMs: yesterday + 12.5 * H, rows: 30 }],
      repaired: [],
      series: [{ name: 'battery_soc', labels: { device: 'bms' }, type: 'gauge', unit: 'percent', samples }],
    });
  const acks = () => received.filter((m) => m.topic === 'fieldmesh/s1/n1/cmd/ack');
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'history'), history(60, yesterday + 10 * H), { qos: 1 });
  await waitFor(() => acks().length === 1, { what: 'ack' });

  const res = await hub.app.inject('/api/v1/nodes/s1/n1/completeness');
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.equal(body.start, new Date(yesterday).toISOString());
  assert.equal(body.end, new Date(today).toISOString());
  assert.equal(body.complete, false);
  assert.equal(body.ratio, Math.round((1 - 92 / 1_440) * 1e6) / 1e6, 'the holes run from the last sample before them: 61 + 31 min');
  assert.deepEqual(body.backlog, {
    pendingRows: 60,
    oldestPending: new Date(yesterday + 10 * H).toISOString(),
    pendingBytes: 0,
    reportedAt: new Date(clock.now()).toISOString(),
  });
  const iso = (ms: number) => new Date(ms).toISOString();
  assert.deepEqual(body.missing, [
    { series: 'battery_soc{device="bms"}', from: iso(yesterday + 10 * H - 60_000), to: iso(yesterday + 11 * H) },
    { series: 'battery_soc{device="bms"}', from: iso(yesterday + 12 * H - 60_000), to: iso(yesterday + 12.5 * H) },
  ]);
  assert.deepEqual(body.dropped, [{ from: iso(yesterday + 12 * H), to: iso(yesterday + 12.5 * H), rows: 30 }]);

  const window = `start=${(yesterday + 13 * H) / 1000}&end=${(yesterday + 20 * H) / 1000}`;
  const tail = (await hub.app.inject(`/api/v1/nodes/s1/n1/completeness?${window}`)).json();
  assert.deepEqual([tail.complete, tail.ratio, tail.missing], [false, 1, []], 'covered, but the node still holds older rows');
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'history'), history(0, null), { qos: 1 });
  await waitFor(() => acks().length === 2, { what: 'second ack' });
  assert.equal((await hub.app.inject(`/api/v1/nodes/s1/n1/completeness?${window}`)).json().complete, true);
  assert.equal((await hub.app.inject('/api/v1/nodes/s1/n9/completeness')).statusCode, 404);
  assert.equal((await hub.app.inject(`/api/v1/nodes/s1/n1/completeness?start=10&end=5`)).statusCode, 400);
  const metrics = (await hub.app.inject('/metrics')).body;
  assert.match(metrics, /fieldmesh_hub_node_backlog_rows\{site="s1",node="n1"\} 0\n/);
  assert.match(metrics, new RegExp(`fieldmesh_hub_history_samples_stored_total ${2 * samples.length}\\n`));

  await hub.stop();
  const { hub: again } = await startHub({ dataDir, broker, clock, clientId: 'hub-2', logger: silentLogger });
  const restored = (await again.app.inject(`/api/v1/nodes/s1/n1/completeness?${window}`)).json();
  assert.equal(restored.complete, true, 'the ledger survives a restart');
  assert.equal((await again.app.inject('/api/v1/nodes/s1/n1')).json().backlogRows, 0);
});

test('hub: a reported drop is requested from the node once, one request per node per interval; a repair report clears it; a restart remembers what is outstanding', async () => {
  const { hub, clock, node, enc, received, dataDir, broker } = await setup();
  const H = 3_600_000;
  const today = Math.floor(clock.now() / (24 * H)) * 24 * H;
  const yesterday = today - 24 * H;
  await bornOnline(hub, node, enc, clock.now());
  const A = { fromMs: yesterday + 1 * H, toMs: yesterday + 1.5 * H, rows: 30 };
  const B = { fromMs: yesterday + 2 * H, toMs: yesterday + 2.5 * H, rows: 30 };
  const inside = (t: number, r: { fromMs: number; toMs: number }) => t >= r.fromMs && t <= r.toMs;
  const minutes = (from: number, to: number, keep: (t: number) => boolean) => {
    const out: Array<readonly [number, number]> = [];
    for (let t = from; t <= to; t += 60_000) if (keep(t)) out.push([t, 50]);
    return out;
  };
  let seq = 0;
  const history = (
    samples: Array<readonly [number, number]>,
    extra: { dropped?: (typeof A)[]; repaired?: Array<{ requestId: string; fromMs: number; toMs: number }> },
  ) => {
    seq++;
    return encodeHistory({
      epoch: 7,
      zone: 'z1',
      firstSeq: seq,
      lastSeq: seq,
      pendingRows: 0,
      oldestPendingMs: null,
      pendingBytes: 0,
      dropped: extra.dropped ?? [],
      repaired: extra.repaired ?? [],
      series: samples.length === 0 ? [] : [{ name: 'battery_soc', labels: { device: 'bms' }, type: 'gauge', unit: 'percent', samples }],
    });
  };
  /** The node resends a range from its store, then reports the request for it done. */
  const resend = async (range: typeof A, requestId: string) => {
    await node.publish(
      nodeTopic('fieldmesh', 's1', 'n1', 'history'),
      history(
        minutes(range.fromMs, range.toMs, () => true),
        {},
      ),
      { qos: 1 },
    );
    await node.publish(
      nodeTopic('fieldmesh', 's1', 'n1', 'history'),
      history([], { repaired: [{ requestId, fromMs: range.fromMs, toMs: range.toMs }] }),
      { qos: 1 },
    );
  };
  const requests = () => received.filter((m) => m.topic === 'fieldmesh/s1/n1/cmd/backfill').map((m) => decode(m.payload) as BackfillFrame);
  const acks = () => received.filter((m) => m.topic === 'fieldmesh/s1/n1/cmd/ack');
  const report = async () => (await hub.app.inject('/api/v1/nodes/s1/n1/completeness')).json();

  const day = history(
    minutes(yesterday, today, (t) => !inside(t, A) && !inside(t, B)),
    { dropped: [A, B] },
  );
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'history'), day, { qos: 1 });
  const first = await waitFor(() => requests()[0], { what: 'a backfill request' });
  assert.deepEqual([first.fromMs, first.toMs, first.selectors], [A.fromMs, A.toMs, []], 'the oldest range first');
  await waitFor(() => hub.stats().backfillsSent === 1, { what: 'the request counted' });
  assert.equal(requests().length, 1, 'one request per node per interval');
  // The same report again (a resend after a lost ack) asks nothing more.
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'history'), day, { qos: 1 });
  await waitFor(() => acks().length === 2, { what: 'the resend acknowledged' });
  clock.advance(5_000);
  const second = await waitFor(() => requests()[1], { what: 'the second request after the interval' });
  assert.deepEqual([second.fromMs, second.toMs], [B.fromMs, B.toMs]);
  clock.advance(5_000);
  let body = await report();
  assert.equal(requests().length, 2, 'each dropped range is asked for once');
  assert.equal(body.complete, false);
  assert.deepEqual(
    body.repairs.map((r: { id: string; state: string; origin: string; attempts: number }) => [r.id, r.state, r.origin, r.attempts]),
    [
      [first.requestId, 'outstanding', 'dropped', 1],
      [second.requestId, 'outstanding', 'dropped', 1],
    ],
  );
  assert.equal(body.dropped.length, 2);

  // The node resends A from its store and reports it done.
  await resend(A, first.requestId);
  await waitFor(() => hub.stats().backfillsCompleted === 1, { what: 'A reported done' });
  body = await report();
  const iso = (ms: number) => new Date(ms).toISOString();
  assert.deepEqual(body.dropped, [{ from: iso(B.fromMs), to: iso(B.toMs), rows: 30 }]);
  assert.deepEqual(body.repaired, [{ from: iso(A.fromMs), to: iso(A.toMs), rows: 30, request: first.requestId }]);
  assert.deepEqual(
    body.repairs.map((r: { id: string }) => r.id),
    [second.requestId],
  );
  assert.match((await hub.app.inject('/metrics')).body, /fieldmesh_hub_backfill_requests_completed_total\{origin="dropped"\} 1\n/);
  assert.match((await hub.app.inject('/metrics')).body, /fieldmesh_hub_backfill_requests_outstanding 1\n/);

  // A restarted hub still knows B is outstanding and asks again once the timeout has passed.
  await hub.stop();
  const { hub: again } = await startHub({ dataDir, broker, clock, clientId: 'hub-2', logger: silentLogger });
  await waitFor(async () => (await again.app.inject('/readyz')).statusCode === 200, { what: 'the new hub ready' });
  clock.advance(5 * 60_000);
  const third = await waitFor(() => requests()[2], { what: 'B asked again after the timeout' });
  assert.equal(third.requestId, second.requestId, 'the same request, under the same id');
  await resend(B, second.requestId);
  await waitFor(() => again.stats().backfillsCompleted === 1, { what: 'B reported done' });
  const done = (await again.app.inject('/api/v1/nodes/s1/n1/completeness')).json();
  assert.deepEqual([done.complete, done.ratio, done.missing, done.dropped, done.repairs], [true, 1, [], [], []]);
  assert.equal(done.repaired.length, 2);
});

test('hub: POST /api/v1/nodes/:site/:node/backfill answers 202 with the request and publishes it; 400 names the field; 404 for an unknown node', async () => {
  const { hub, clock, node, enc, received } = await setup();
  const post = (path: string, payload: unknown) =>
    hub.app.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
  const unknown = await post('/api/v1/nodes/s1/n9/backfill', { from: 0, to: 1 });
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json().code, 'FM_NOT_FOUND');
  await bornOnline(hub, node, enc, clock.now());

  const from = '2025-12-31T10:00:00Z';
  const toMs = Date.parse('2025-12-31T11:00:00Z');
  const res = await post('/api/v1/nodes/s1/n1/backfill', { from, to: toMs, series: ['battery_soc{device="bms"}'] });
  assert.equal(res.statusCode, 202);
  const view = res.json();
  assert.deepEqual(
    { ...view, id: typeof view.id },
    {
      id: 'string',
      site: 's1',
      node: 'n1',
      from: '2025-12-31T10:00:00.000Z',
      to: '2025-12-31T11:00:00.000Z',
      series: ['battery_soc{device="bms"}'],
      origin: 'operator',
      state: 'outstanding',
      requestedAt: new Date(clock.now()).toISOString(),
      lastSentAt: null,
      attempts: 0,
      doneAt: null,
    },
  );
  const sent = await waitFor(() => received.find((m) => m.topic === 'fieldmesh/s1/n1/cmd/backfill'), { what: 'the request published' });
  assert.deepEqual(decode(sent.payload), {
    type: 'backfill',
    requestId: view.id,
    fromMs: Date.parse(from),
    toMs,
    selectors: ['battery_soc{device="bms"}'],
  });
  const window = `start=${from}&end=2025-12-31T12:00:00Z`;
  const listed = (await hub.app.inject(`/api/v1/nodes/s1/n1/completeness?${window}`)).json();
  assert.deepEqual(
    listed.repairs.map((r: { id: string; attempts: number }) => [r.id, r.attempts]),
    [[view.id, 1]],
  );
  assert.equal((await post('/api/v1/nodes/s1/n1/backfill', { from: '1767225600000', to: '1767229200000' })).statusCode, 202, 'ms as text');

  const bad: Array<[unknown, RegExp]> = [
    [{ to: toMs }, /field "from" is missing/],
    [{ from: 'yesterday', to: toMs }, /field "from": expected RFC 3339 or whole ms/],
    [{ from, to: -5 }, /field "to": expected RFC 3339 or whole ms/],
    [{ from, to: '2025-12-31T09:00:00Z' }, /field "to" must not be before "from"/],
    [{ from, to: toMs, series: ['battery_soc{'] }, /field "series\[0\]": selector/],
    [{ from, to: toMs, series: 'battery_soc' }, /field "series": expected an array/],
    [[from, toMs], /the body must be a JSON object/],
  ];
  for (const [payload, message] of bad) {
    const r = await post('/api/v1/nodes/s1/n1/backfill', payload);
    assert.equal(r.statusCode, 400, JSON.stringify(payload));
    assert.equal(r.json().code, 'FM_REQUEST_INVALID');
    assert.match(r.json().message, message);
  }
  const empty = await hub.app.inject({ method: 'POST', url: '/api/v1/nodes/s1/n1/backfill' });
  assert.equal(empty.statusCode, 400, 'no body at all');
  assert.match((await hub.app.inject('/metrics')).body, /fieldmesh_hub_backfill_requests_sent_total\{origin="operator"\} [12]\n/);
});
