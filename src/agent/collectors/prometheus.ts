// The `prometheus` collector: scrapes a /metrics URL on an interval like a Prometheus scrape job,
// applies metric_relabel_configs, adds job/instance, and records up and scrape_duration_seconds.

import { z } from 'zod';
import { describeError, durationMs, FieldmeshError, isFieldmeshError } from '../../kit/index.js';
import type { Collector, CollectorContext, Sample } from './collector.js';
import { collectorName, collectorNameSchema } from './collector-name.js';
import { parseExposition } from './exposition.js';
import { type IntervalLoop, startIntervalLoop } from './interval-loop.js';
import { compileRelabelConfigs, METRIC_NAME_LABEL, relabel, relabelConfigSchema } from './relabel.js';

/** The Accept header of Prometheus for the text format. */
export const SCRAPE_ACCEPT = 'text/plain;version=0.0.4;q=1,*/*;q=0.1';

export const prometheusCollectorSchema = z.strictObject({
  type: z.literal('prometheus'),
  name: collectorNameSchema,
  url: z.string().regex(/^https?:\/\/[^/]/, 'expected an http:// or https:// URL'),
  interval: durationMs('10s'),
  /** Defaults to the interval. */
  timeout: durationMs().optional(),
  metric_relabel_configs: z.array(relabelConfigSchema).default([]),
});

export type PrometheusCollectorConfig = z.output<typeof prometheusCollectorSchema>;

/**
 * Why a scrape failed, as FM_SCRAPE_FAILED: an HTTP status, a bad exposition, a timeout, or the
 * connection error under fetch's own "fetch failed".
 */
function scrapeFailure(url: string, err: unknown): FieldmeshError {
  if (isFieldmeshError(err, 'FM_SCRAPE_FAILED')) return err;
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return new FieldmeshError('FM_SCRAPE_FAILED', `${message}${cause}`, { cause: err, details: { url } });
}

/** host:port of a scrape URL, with the scheme's default port filled in as Prometheus does. */
export function instanceOf(url: string): string {
  const u = new URL(url);
  const port = u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : '80';
  return `${u.hostname}:${port}`;
}

export function createPrometheusCollector(config: PrometheusCollectorConfig, index: number): Collector {
  const name = collectorName('prometheus', config.name, index);
  const rules = compileRelabelConfigs(config.metric_relabel_configs);
  const target = { job: name, instance: instanceOf(config.url) };
  const timeoutMs = config.timeout ?? config.interval;
  let loop: IntervalLoop | undefined;
  let inflight: { abort: AbortController; done: Promise<void> } | undefined;
  let stopped = false;

  async function fetchText(c: CollectorContext, abort: AbortController): Promise<string> {
    const t = c.clock.setTimeout(
      () => abort.abort(new FieldmeshError('FM_SCRAPE_FAILED', `timed out after ${timeoutMs} ms`, { details: { url: config.url } })),
      timeoutMs,
    );
    try {
      const res = await fetch(config.url, { headers: { accept: SCRAPE_ACCEPT }, signal: abort.signal });
      const text = await res.text();
      if (!res.ok) {
        throw new FieldmeshError('FM_SCRAPE_FAILED', `HTTP ${res.status} ${res.statusText}`, {
          details: { url: config.url, status: res.status },
        });
      }
      return text;
    } finally {
      c.clock.clearTimeout(t);
    }
  }

  function toSamples(text: string, scrapeTime: number): { samples: Sample[]; scraped: number } {
    const parsed = parseExposition(text);
    if (!parsed.ok) throw new FieldmeshError('FM_SCRAPE_FAILED', `exposition: ${parsed.message}`, { details: { url: config.url } });
    const samples: Sample[] = [];
    for (const s of parsed.samples) {
      // Target labels first, so relabel rules can see job and instance as in Prometheus.
      const labels = relabel({ ...target, ...s.labels, [METRIC_NAME_LABEL]: s.name }, rules);
      if (labels === undefined) continue;
      const { [METRIC_NAME_LABEL]: metric, ...rest } = labels;
      if (metric === undefined) continue;
      samples.push({ name: metric, labels: rest, value: s.value, time: s.timestampMs ?? scrapeTime, ...(s.type ? { type: s.type } : {}) });
    }
    return { samples, scraped: parsed.samples.length };
  }

  async function scrape(c: CollectorContext): Promise<void> {
    const started = c.clock.monotonic();
    const scrapeTime = c.clock.now();
    const abort = new AbortController();
    let up = 1;
    let result: { samples: Sample[]; scraped: number } = { samples: [], scraped: 0 };
    let failure: FieldmeshError | undefined;
    const done = (async () => {
      try {
        result = toSamples(await fetchText(c, abort), scrapeTime);
      } catch (err) {
        up = 0;
        failure = scrapeFailure(config.url, abort.signal.aborted && abort.signal.reason !== undefined ? abort.signal.reason : err);
      }
    })();
    inflight = { abort, done };
    await done;
    inflight = undefined;
    if (stopped) return;
    if (failure !== undefined) {
      c.reject('scrape-failed');
      c.logger.warn({ url: config.url, code: failure.code, err: describeError(failure) }, `scrape of ${config.url} failed`);
    }
    const seconds = (c.clock.monotonic() - started) / 1000;
    const meta = (metric: string, value: number, unit?: string): Sample => ({
      name: metric,
      labels: target,
      value,
      time: scrapeTime,
      type: 'gauge',
      ...(unit ? { unit } : {}),
    });
    await c.record([
      ...result.samples,
      meta('up', up),
      meta('scrape_duration_seconds', seconds, 'seconds'),
      meta('scrape_samples_scraped', result.scraped),
      meta('scrape_samples_post_metric_relabeling', result.samples.length),
    ]);
  }

  return {
    kind: 'prometheus',
    name,
    async start(context) {
      stopped = false;
      // Start to start, as Prometheus scrapes: the next scrape's timer is armed before this one runs.
      loop = startIntervalLoop(context.clock, context.logger, config.interval, () => scrape(context));
    },
    async stop() {
      stopped = true;
      inflight?.abort.abort(new Error('collector stopped'));
      await loop?.stop();
      loop = undefined;
    },
  };
}
