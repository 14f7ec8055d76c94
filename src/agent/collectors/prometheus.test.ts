// Tests of the prometheus collector against a real exposition served by fastify on port 0.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import Fastify from 'fastify';
import { createPrometheusCollector, instanceOf, prometheusCollectorSchema } from './prometheus.js';
import { createTestContext } from './test-context.js';

const VICTRON = `# HELP victron_battery_soc State of charge
# TYPE victron_battery_soc gauge
victron_battery_soc{system_id="c0619ab1a2b3"} 76.4
# TYPE victron_dc_voltage gauge
victron_dc_voltage{system_id="c0619ab1a2b3"} 52.31
victron_dc_current{system_id="c0619ab1a2b3"} -12.5
victron_ac_out_l1_power{system_id="c0619ab1a2b3"} 1234
victron_ac_in_l1_power{system_id="c0619ab1a2b3"} 0
victron_ac_in_l2_power{system_id="c0619ab1a2b3"} 0
victron_battery_temperature_celsius{system_id="c0619ab1a2b3"} 21.5
# TYPE go_goroutines gauge
go_goroutines 12
`;

const app = Fastify();
let hits = 0;
let lastAccept: string | undefined;
let broken = false;
app.get('/metrics', async (req, reply) => {
  hits++;
  lastAccept = req.headers.accept;
  if (broken) return reply.code(500).send('boom');
  return reply.type('text/plain; version=0.0.4').send(VICTRON);
});
const base = await app.listen({ host: '127.0.0.1', port: 0 });
after(() => app.close());

test('prometheus collector: a keep rule on the critical Victron series records exactly the five critical victron series plus up', async () => {
  const config = prometheusCollectorSchema.parse({
    type: 'prometheus',
    name: 'victron',
    url: `${base}/metrics`,
    interval: '1h',
    metric_relabel_configs: [
      { source_labels: ['__name__'], regex: 'victron_(battery_soc|dc_voltage|dc_current|ac_.*_l1_power)', action: 'keep' },
    ],
  });
  const collector = createPrometheusCollector(config, 0);
  const ctx = createTestContext();
  await collector.start(ctx);
  await ctx.waitFor(() => ctx.samples.some((s) => s.name === 'up'), 5_000, 'first scrape');
  await collector.stop();
  assert.equal(collector.name, 'victron');
  assert.match(lastAccept ?? '', /^text\/plain;version=0\.0\.4/);
  const instance = instanceOf(base);
  const victron = ctx.samples.filter((s) => s.name.startsWith('victron_'));
  assert.deepEqual(victron.map((s) => s.name).sort(), [
    'victron_ac_in_l1_power',
    'victron_ac_out_l1_power',
    'victron_battery_soc',
    'victron_dc_current',
    'victron_dc_voltage',
  ]);
  const soc = victron.find((s) => s.name === 'victron_battery_soc');
  assert.deepEqual(soc?.labels, { job: 'victron', instance, system_id: 'c0619ab1a2b3' });
  assert.equal(soc?.value, 76.4);
  assert.equal(soc?.type, 'gauge');
  assert.equal(ctx.samples.find((s) => s.name === 'up')?.value, 1);
  assert.deepEqual(ctx.samples.find((s) => s.name === 'up')?.labels, { job: 'victron', instance });
  const duration = ctx.samples.find((s) => s.name === 'scrape_duration_seconds');
  assert.ok(duration !== undefined && duration.value >= 0 && duration.value < 5);
  assert.equal(ctx.samples.find((s) => s.name === 'scrape_samples_scraped')?.value, 8);
  assert.equal(ctx.samples.find((s) => s.name === 'scrape_samples_post_metric_relabeling')?.value, 5);
  assert.equal(
    ctx.samples.some((s) => s.name === 'go_goroutines'),
    false,
  );
  assert.deepEqual(ctx.rejections, []);
});

test('prometheus collector: a failed scrape records up=0, counts scrape-failed, logs one line and keeps scraping', async () => {
  broken = true;
  const before = hits;
  const config = prometheusCollectorSchema.parse({ type: 'prometheus', url: `${base}/metrics`, interval: '50ms' });
  const collector = createPrometheusCollector(config, 3);
  const ctx = createTestContext();
  await collector.start(ctx);
  await ctx.waitFor(() => ctx.rejections.length >= 2, 5_000, 'two failed scrapes');
  broken = false;
  await ctx.waitFor(() => ctx.samples.some((s) => s.name === 'up' && s.value === 1), 5_000, 'recovery');
  await collector.stop();
  assert.equal(collector.name, 'prometheus-3');
  assert.ok(hits - before >= 3);
  assert.ok(ctx.rejections.every((r) => r === 'scrape-failed'));
  const ups = ctx.samples.filter((s) => s.name === 'up').map((s) => s.value);
  assert.deepEqual(ups.slice(0, 2), [0, 0]);
  assert.equal(ctx.logs.filter((l) => l.level === 'warn').length, ctx.rejections.length);
  assert.match(ctx.logs[0]?.msg ?? '', /scrape of .* failed/);
  assert.deepEqual(ctx.logs[0]?.obj, {
    url: `${base}/metrics`,
    code: 'FM_SCRAPE_FAILED',
    err: 'FM_SCRAPE_FAILED: HTTP 500 Internal Server Error',
  });
  // job/instance come from the collector; no exposition samples on failure
  assert.equal(ctx.samples.find((s) => s.name === 'up')?.labels.job, 'prometheus-3');
});

test('prometheus collector: an unreachable target, a timeout and a bad exposition count as failed scrapes, logged as FM_SCRAPE_FAILED', async () => {
  const slow = Fastify();
  slow.get('/metrics', () => new Promise(() => {}));
  slow.get('/bad', async (_req, reply) => reply.type('text/plain; version=0.0.4').send('victron_dc_voltage{system_id="a" 52\n'));
  const slowUrl = await slow.listen({ host: '127.0.0.1', port: 0 });
  const dead = Fastify();
  const deadUrl = await dead.listen({ host: '127.0.0.1', port: 0 });
  await dead.close();
  for (const [url, why] of [
    [`${deadUrl}/metrics`, /^FM_SCRAPE_FAILED: fetch failed: connect ECONNREFUSED/],
    [`${slowUrl}/metrics`, /^FM_SCRAPE_FAILED: timed out after 100 ms$/],
    [`${slowUrl}/bad`, /^FM_SCRAPE_FAILED: exposition: /],
  ] as const) {
    const collector = createPrometheusCollector(
      prometheusCollectorSchema.parse({ type: 'prometheus', url, interval: '1h', timeout: '100ms' }),
      0,
    );
    const ctx = createTestContext();
    await collector.start(ctx);
    await ctx.waitFor(() => ctx.samples.some((s) => s.name === 'up'), 5_000, `scrape of ${url}`);
    await collector.stop();
    assert.deepEqual(ctx.rejections, ['scrape-failed']);
    assert.equal(ctx.samples.find((s) => s.name === 'up')?.value, 0);
    const warning = ctx.logs.find((l) => l.level === 'warn')?.obj as { code?: string; err?: string } | undefined;
    assert.equal(warning?.code, 'FM_SCRAPE_FAILED', url);
    assert.match(warning?.err ?? '', why);
  }
  await slow.close();
});

test('prometheus collector: instance is host:port with the default port filled in', () => {
  assert.equal(instanceOf('http://10.0.0.5/metrics'), '10.0.0.5:80');
  assert.equal(instanceOf('https://gx.local/metrics'), 'gx.local:443');
  assert.equal(instanceOf('http://[::1]:9100/metrics'), '[::1]:9100');
});
