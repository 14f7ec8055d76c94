// The oracle's data set, built relative to now: battery gauges per site/node/zone, a counter with resets, classic
// histogram buckets, series that go stale (a staleness marker, then silence or a restart) and a gauge off the 15 s grid.
// Fed identically to a real Prometheus (its remote write receiver, in time order: a TSDB refuses what is older than its
// head's window) and to the hub's storage (appendSamples, the path the hub's history takes).

import type { HubStorage, SampleInput, SeriesIdentity } from '../../src/hub/storage/storage.js';
import { encodeWriteRequest, REMOTE_WRITE_HEADERS, type RemoteSeries } from '../../src/protocol/remote-write/index.js';

export const STEP_MS = 15_000;
export const BUCKETS = ['0.05', '0.1', '0.5', '1', '5', '+Inf'] as const;

export interface OracleSeries {
  readonly identity: SeriesIdentity;
  /** [ms, value]; null is a staleness marker. Ascending. */
  readonly points: Array<[number, number | null]>;
}

export interface OracleData {
  readonly startMs: number;
  readonly endMs: number;
  readonly series: readonly OracleSeries[];
}

/** A deterministic generator (mulberry32), so each run has the same shapes. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface OracleDataOptions {
  readonly sites: number;
  readonly nodesPerSite: number;
  readonly spanMs: number;
  /** The last sample's time (on the 15 s grid). */
  readonly endMs: number;
}

export function buildOracleData(o: OracleDataOptions): OracleData {
  const rnd = random(14);
  const endMs = Math.floor(o.endMs / STEP_MS) * STEP_MS;
  const startMs = endMs - o.spanMs;
  const steps = Math.floor(o.spanMs / STEP_MS);
  const series: OracleSeries[] = [];
  const gauge = (name: string, labels: Record<string, string>, unit = 'percent'): OracleSeries => {
    const s = { identity: { name, labels, unit, type: 'gauge' as const }, points: [] as Array<[number, number | null]> };
    series.push(s);
    return s;
  };
  const counter = (name: string, labels: Record<string, string>): OracleSeries => {
    const s = { identity: { name, labels, unit: '', type: 'counter' as const }, points: [] as Array<[number, number | null]> };
    series.push(s);
    return s;
  };
  for (let si = 1; si <= o.sites; si++) {
    const site = `s${si}`;
    for (let ni = 0; ni < o.nodesPerSite; ni++) {
      const node = `n${ni}`;
      const zone = `z${(ni % 2) + 1}`;
      const labels = { site, node, zone };
      const soc = gauge('battery_soc', labels);
      const volts = gauge('battery_voltage', labels, 'volts');
      const energy = counter('energy_total', labels);
      const flaky = gauge('flaky_gauge', labels);
      const jitter = gauge('jitter_gauge', labels);
      let level = 20 + rnd() * 60;
      let total = rnd() * 1_000;
      const resetEvery = 200 + ni * 37 + si * 11;
      // flaky: stale (marker) at a third of the span, back at half; the odd nodes never come back.
      const staleAt = Math.floor(steps / 3) + ni * 3;
      const backAt = Math.floor(steps / 2);
      for (let i = 0; i <= steps; i++) {
        const t = startMs + i * STEP_MS;
        level = Math.min(100, Math.max(0, level + (rnd() - 0.5) * 2));
        // Some values exactly 50 (for ==), most with fractions.
        soc.points.push([t, i % 97 === 0 ? 50 : Math.round(level * 1000) / 1000]);
        volts.points.push([t, 48 + (level / 100) * 6 + rnd() * 0.1]);
        total += rnd() * 10;
        if (i > 0 && i % resetEvery === 0) total = rnd() * 5;
        energy.points.push([t, total]);
        if (i < staleAt || (i >= backAt && ni % 2 === 0)) flaky.points.push([t, Math.floor(rnd() * 4)]);
        else if (i === staleAt) flaky.points.push([t, null]);
        // Off the grid by a few seconds, sometimes missing two samples.
        if (i % 9 !== 4 && i % 9 !== 5 && i < steps) jitter.points.push([t + 1_000 + ((i * 7_919) % 13_000), rnd() * 10]);
      }
    }
    // Classic histogram buckets, cumulative, and their _sum and _count.
    const buckets = BUCKETS.map((le) => counter('request_duration_seconds_bucket', { site, le }));
    const sum = counter('request_duration_seconds_sum', { site });
    const count = counter('request_duration_seconds_count', { site });
    const cum = BUCKETS.map(() => 0);
    let total = 0;
    let n = 0;
    for (let i = 0; i <= steps; i++) {
      const t = startMs + i * STEP_MS;
      const requests = Math.floor(rnd() * 20);
      for (let r = 0; r < requests; r++) {
        const d = rnd() ** 2 * 3 * si;
        total += d;
        n++;
        BUCKETS.forEach((le, b) => {
          if (d <= Number(le)) cum[b] = (cum[b] ?? 0) + 1;
        });
      }
      buckets.forEach((s, b) => {
        s.points.push([t, cum[b] ?? 0]);
      });
      sum.points.push([t, total]);
      count.points.push([t, n]);
    }
  }
  return { startMs, endMs, series };
}

/** Every sample, as the hub's storage takes them. */
export async function feedStorage(storage: Pick<HubStorage, 'appendSamples'>, data: OracleData): Promise<number> {
  let n = 0;
  for (const s of data.series) {
    const batch: SampleInput[] = s.points.map(([ts, value]) => ({ series: s.identity, ts, value }));
    for (let i = 0; i < batch.length; i += 5_000) n += await storage.appendSamples(batch.slice(i, i + 5_000));
  }
  return n;
}

/** Every sample to a remote write receiver, in slices of time across all series (the TSDB's head takes them in order). */
export async function feedRemoteWrite(writeUrl: string, data: OracleData, sliceMs = 10 * 60_000): Promise<number> {
  let n = 0;
  const cursor = data.series.map(() => 0);
  for (let from = data.startMs; from <= data.endMs + STEP_MS; from += sliceMs) {
    const to = from + sliceMs;
    const timeseries: RemoteSeries[] = [];
    data.series.forEach((s, k) => {
      const samples = [];
      let i = cursor[k] ?? 0;
      while (i < s.points.length && (s.points[i] as [number, number | null])[0] < to) {
        const [ts, value] = s.points[i] as [number, number | null];
        samples.push({ timestampMs: ts, value });
        i++;
      }
      cursor[k] = i;
      if (samples.length > 0) timeseries.push({ labels: { __name__: s.identity.name, ...s.identity.labels }, samples });
    });
    if (timeseries.length === 0) continue;
    const res = await fetch(writeUrl, { method: 'POST', headers: REMOTE_WRITE_HEADERS, body: encodeWriteRequest({ timeseries }) });
    if (res.status !== 204 && res.status !== 200) throw new Error(`remote write ${res.status}: ${await res.text()}`);
    n += timeseries.reduce((a, t) => a + t.samples.length, 0);
  }
  return n;
}
