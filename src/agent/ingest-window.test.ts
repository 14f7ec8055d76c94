// The node acknowledges only what its store keeps: samples older than the retention or more than
// 2 days ahead of the clock are refused on every ingest path (a partial-write 400 naming them on
// the push endpoints; counted and logged, at most once a minute, for a scrape), and never reach the
// store, the critical set or the outbox. A property test over times around both bounds, through the
// real agent, its HTTP endpoints and its SQLite store on a manual clock.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import Fastify from 'fastify';
import { waitFor } from '../../test/kit/wait.js';
import { ManualClock } from '../kit/index.js';
import { createMemoryTransport, MemoryBroker } from '../transport/index.js';
import { createAgent } from './agent.js';
import { createHttpPushCollector, httpPushCollectorSchema } from './collectors/http-push.js';
import { createInfluxCollector, influxCollectorSchema } from './collectors/influx.js';
import { SAMPLE_FUTURE_LIMIT_MS } from './collectors/sample-window.js';
import { createTestContext } from './collectors/test-context.js';
import { agentConfigSchema } from './config.js';
import { createSqliteStore, MAX_CHUNK_TS } from './store/index.js';
import { recordingLogger } from './store/store-test-kit.js';

const DAY_MS = 86_400_000;
const RETENTION_MS = 30 * DAY_MS;
const broker = new MemoryBroker();
const dirs: string[] = [];
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const stop of stops) await stop();
});

function startAgent(clock: ManualClock, collectors: unknown[], lines: string[] = []) {
  const dataDir = mkdtempSync(join(tmpdir(), 'fm-window-'));
  dirs.push(dataDir);
  const config = agentConfigSchema.parse({
    dataDir,
    node: { id: 'n1', site: 's1' },
    http: { port: 0 },
    store: { retention: '30d' },
    critical: [{ match: '{__name__=~".+"}' }],
    collectors,
  });
  const agent = createAgent(config, {
    clock,
    epoch: 1,
    logger: recordingLogger(lines),
    createTransport: (will) => createMemoryTransport(broker, { clientId: `a-${dirs.length}`, will, clock }),
  });
  let stopped = false;
  const stop = async () => {
    if (!stopped) await agent.stop();
    stopped = true;
  };
  stops.push(stop);
  return { agent, stop, storePath: join(dataDir, 's1', 'n1', 'store.db') };
}

/** Every point the store file holds after a retention pass at `clock`'s now, as "series labels@time=value". */
async function storedAfterRetention(path: string, clock: ManualClock): Promise<Set<string>> {
  // Opening runs a retention pass at the clock's now; run one more to be explicit.
  const store = createSqliteStore({ path, retentionMs: RETENTION_MS, clock });
  try {
    await store.applyRetention(clock.now());
    const out = new Set<string>();
    for (const s of await store.query([{ name: '__name__', op: '=~', value: '.+' }], 0, MAX_CHUNK_TS)) {
      for (const [t, v] of s.points) out.add(`${s.series.name}${JSON.stringify(s.series.labels)}@${t}=${v}`);
    }
    return out;
  } finally {
    await store.close();
  }
}

/** Unit numbers from [first, last] ranges. */
const expand = (ranges: Array<[number, number]>) => ranges.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, k) => a + k));

test('ingest window: a push with samples outside the window is a partial write naming them; the others are recorded', async () => {
  const clock = new ManualClock();
  const now = clock.now();
  const http = Fastify();
  const ctx = createTestContext({ http, clock });
  await createInfluxCollector(influxCollectorSchema.parse({ type: 'influx' }), 0).start(ctx);
  await createHttpPushCollector(httpPushCollectorSchema.parse({ type: 'http_push' }), 0).start(ctx);
  const old = now - RETENTION_MS - 1;
  const ahead = now + SAMPLE_FUTURE_LIMIT_MS + 1;

  const lp = [
    `m,h=a v=1 ${now}`,
    `m,h=a v=2,w=3 ${old}`,
    `m,h=b v=4 ${old - 5}`,
    '# comment',
    `m v=5 ${ahead}`,
    `m v=6 ${now - RETENTION_MS}`,
  ].join('\n');
  const res = await http.inject({ method: 'POST', url: '/api/v2/write?org=o&bucket=b&precision=ms', payload: lp });
  assert.equal(res.statusCode, 400, res.body);
  const body = res.json();
  assert.equal(body.code, 'FM_PUSH_OUT_OF_BOUNDS');
  assert.match(
    body.message,
    /^partial write: points outside the time range this node keeps dropped=4; the samples of 3 of 5 lines were refused: lines 2-3 \(older than the retention: m_v\{h="a"\} at .*\), line 5 \(too far ahead: m_v at .*\); the node keeps .*; everything else was recorded$/,
  );
  assert.equal(body.error, body.message);
  assert.deepEqual(body.kept, { lines: 2, samples: 2 });
  assert.deepEqual(body.refused, {
    lines: 3,
    samples: 4,
    'too-old': { lines: [[2, 3]], samples: 3 },
    'too-new': { lines: [[5, 5]], samples: 1 },
  });
  assert.deepEqual(body.window, {
    oldest: new Date(now - RETENTION_MS).toISOString(),
    newest: new Date(now + SAMPLE_FUTURE_LIMIT_MS).toISOString(),
  });
  assert.deepEqual(
    ctx.samples.map((s) => s.value),
    [1, 6],
    'the line at exactly now - retention is kept',
  );
  assert.deepEqual(
    ctx.refusedSamples.map((r) => [r.sample.value, r.reason]),
    [
      [2, 'too-old'],
      [3, 'too-old'],
      [4, 'too-old'],
      [5, 'too-new'],
    ],
  );

  const json = [{ metrics: { a: 1 } }, { kind: 'late', time: old, metrics: { a: 2 } }, { time: ahead, metrics: { a: 3, b: 4 } }];
  const pushed = await http.inject({ method: 'POST', url: '/events', payload: JSON.stringify(json) });
  assert.equal(pushed.statusCode, 400, pushed.body);
  assert.deepEqual(pushed.json().kept, { elements: 1, samples: 1, events: 1 });
  assert.deepEqual(pushed.json().refused, {
    elements: 2,
    samples: 3,
    'too-old': { elements: [[1, 1]], samples: 1 },
    'too-new': { elements: [[2, 2]], samples: 2 },
  });
  assert.match(pushed.json().message, /element 1 \(older than the retention: a at .*\), element 2 \(too far ahead: a at/);
  assert.equal(ctx.events.length, 1, "an element's event is recorded: events are not held in the store");
  assert.deepEqual(ctx.rejections, ['out-of-bounds', 'out-of-bounds']);
});

test('ingest window: over random times around both bounds, every acknowledged sample is queryable after a retention pass, and every refused one is reported and nowhere', async () => {
  const clock = new ManualClock();
  const now = clock.now();
  const { agent, stop, storePath } = startAgent(clock, [{ type: 'influx' }, { type: 'http_push' }]);
  const { httpUrl } = await agent.start();
  const oldest = now - RETENTION_MS;
  const newest = now + SAMPLE_FUTURE_LIMIT_MS;
  const near = (at: number) => fc.integer({ min: at - 2_000, max: at + 2_000 });
  const time = fc.oneof(
    fc.constantFrom(oldest - 1, oldest, newest, newest + 1),
    near(oldest),
    near(newest),
    fc.integer({ min: now - 2 * RETENTION_MS, max: now + 4 * SAMPLE_FUTURE_LIMIT_MS }),
  );
  const batch = fc.record({
    path: fc.constantFrom('/write?precision=ms', '/api/v2/write?bucket=b&precision=ms', '/events'),
    times: fc.array(time, { minLength: 1, maxLength: 6 }),
  });

  let seq = 0;
  const acknowledged = new Set<string>();
  const refused = new Set<string>();
  const expected = { 'too-old': 0, 'too-new': 0, partial: 0 };
  await fc.assert(
    fc.asyncProperty(batch, async ({ path, times }) => {
      const ids = times.map(() => String(seq++));
      const json = path === '/events';
      const body = json
        ? JSON.stringify(times.map((t, i) => ({ time: t, metrics: { probe: i }, labels: { i: ids[i] } })))
        : times.map((t, i) => `probe,i=${ids[i]} value=${i} ${t}`).join('\n');
      const res = await fetch(`${httpUrl}${path}`, { method: 'POST', body });
      const reasons = times.map((t) => (t < oldest ? 'too-old' : t > newest ? 'too-new' : undefined));
      const unit = (i: number) => (json ? i : i + 1);
      const answer =
        res.status >= 400
          ? ((await res.json()) as {
              code: string;
              refused: Record<string, { lines?: Array<[number, number]>; elements?: Array<[number, number]> }>;
            })
          : undefined;
      if (reasons.every((r) => r === undefined)) {
        assert.equal(res.status, json ? 200 : 204, JSON.stringify(answer));
      } else {
        expected.partial++;
        assert.equal(res.status, 400);
        assert.equal(answer?.code, 'FM_PUSH_OUT_OF_BOUNDS');
        for (const reason of ['too-old', 'too-new'] as const) {
          const got: Array<[number, number]> = answer?.refused[reason]?.[json ? 'elements' : 'lines'] ?? [];
          assert.deepEqual(
            expand(got),
            reasons.flatMap((r, i) => (r === reason ? [unit(i)] : [])),
            reason,
          );
        }
      }
      times.forEach((t, i) => {
        const point = `probe${JSON.stringify({ i: ids[i] })}@${t}=${i}`;
        const reason = reasons[i];
        if (reason === undefined) acknowledged.add(point);
        else {
          refused.add(point);
          expected[reason]++;
        }
      });
    }),
    { numRuns: 60 },
  );
  assert.ok(expected['too-old'] > 0 && expected['too-new'] > 0 && acknowledged.size > 0, 'the runs hit both bounds and the window');
  for (const edge of [oldest, newest]) {
    assert.ok(
      [...acknowledged].some((p) => p.includes(`@${edge}=`)),
      `a sample exactly at ${edge - now} ms from now was acknowledged`,
    );
  }

  // As the node's /metrics says them, summed over collectors.
  const exposition = await (await fetch(`${httpUrl}/metrics`)).text();
  const counter = (name: string, reason: string) =>
    exposition
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) && l.includes(`reason="${reason}"`))
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  assert.equal(counter('fieldmesh_samples_rejected_total', 'too-old'), expected['too-old']);
  assert.equal(counter('fieldmesh_samples_rejected_total', 'too-new'), expected['too-new']);
  assert.equal(counter('fieldmesh_collector_rejected_total', 'out-of-bounds'), expected.partial);
  // One series per sample, all critical: the critical set and the outbox saw exactly the acknowledged ones.
  assert.equal(agent.stats().localSeries, acknowledged.size);
  assert.equal(agent.stats().criticalSeries, acknowledged.size);
  assert.equal(agent.stats().outboxPendingRows, acknowledged.size);
  // The same backlog as Prometheus sees it.
  const pending = (await agent.metrics.registry.metrics()).match(/^fieldmesh_outbox_pending_rows\{[^}]*lane="samples"[^}]*\} (\d+)$/m);
  assert.equal(Number(pending?.[1]), acknowledged.size);
  await stop();

  const stored = await storedAfterRetention(storePath, clock);
  assert.deepEqual(
    [...acknowledged].filter((p) => !stored.has(p)),
    [],
    'every acknowledged sample survives a retention pass at the time of its acknowledgement',
  );
  assert.deepEqual(
    [...refused].filter((p) => stored.has(p)),
    [],
    'no refused sample is stored',
  );
  assert.equal(stored.size, acknowledged.size);
});

test('ingest window: a scrape with samples outside the window stores the rest, counts the refused and logs them at most once a minute', async () => {
  const clock = new ManualClock();
  const target = Fastify();
  target.get('/metrics', async (_req, reply) => {
    const now = clock.now();
    const text = [`fresh 1 ${now}`, `stale 2 ${now - RETENTION_MS - 60_000}`, `ahead 3 ${now + 3 * DAY_MS}`, 'untimed 4', ''].join('\n');
    return reply.type('text/plain; version=0.0.4').send(text);
  });
  const base = await target.listen({ host: '127.0.0.1', port: 0 });
  stops.push(() => target.close());
  const lines: string[] = [];
  const { agent, stop, storePath } = startAgent(
    clock,
    [{ type: 'prometheus', name: 'exporter', url: `${base}/metrics`, interval: '10s' }],
    lines,
  );
  await agent.start();
  const rejected = async (reason: string) =>
    (await agent.metrics.samplesRejected.get()).values.find((v) => v.labels.collector === 'exporter' && v.labels.reason === reason)
      ?.value ?? 0;
  const refusedLines = () => lines.filter((l) => l.startsWith('samples refused since the last report'));
  const scrape = async (n: number) => {
    clock.advance(n === 1 ? 0 : 10_000);
    await waitFor(async () => (await rejected('too-old')) === n && (await rejected('too-new')) === n, { what: `scrape ${n} counted` });
  };

  await scrape(1);
  assert.equal(refusedLines().length, 1);
  assert.match(
    refusedLines()[0] as string,
    /1 older than the retention, 1 too far ahead; .*e\.g\. stale\{instance=".*",job="exporter"\} at /,
  );
  for (let n = 2; n <= 6; n++) await scrape(n);
  assert.equal(refusedLines().length, 1, 'five scrapes within the minute: no new line');
  await scrape(7);
  assert.equal(refusedLines().length, 2, 'a minute on: one line for the six scrapes since');
  assert.match(refusedLines()[1] as string, /^samples refused since the last report: 6 older than the retention, 6 too far ahead/);
  assert.equal(agent.stats().localSeries, 6, 'fresh, untimed and the four scrape series; never stale or ahead');
  await stop();

  const names = new Set([...(await storedAfterRetention(storePath, clock))].map((p) => p.slice(0, p.indexOf('{'))));
  assert.deepEqual([...names].sort(), [
    'fresh',
    'scrape_duration_seconds',
    'scrape_samples_post_metric_relabeling',
    'scrape_samples_scraped',
    'untimed',
    'up',
  ]);
});
