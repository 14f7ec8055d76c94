// A Map-based SampleStore for tests and tools: the port's contracts (anchored regex matchers, ascending
// points, one point per timestamp with the later write winning) without durability. Not for production.

import { FieldmeshError } from '../../kit/index.js';
import { type LabelMatcher, matchesSelector, type Sample, seriesKey } from '../../protocol/index.js';
import { coarsenRollup, computeRollup, rollupPoints } from '../store/rollup-buckets.js';
import type { SampleStore, StorePoints, StoreRollup, StoreSeries, StoreStats } from '../store/store.js';

export interface MemorySampleStoreOptions {
  /** Samples older than now minus this are deleted by applyRetention; default 30 days. */
  readonly retentionMs?: number;
  /** Rollups it answers `queryRollup` for, computed from the raw samples on every call; default none. */
  readonly rollups?: readonly StoreRollup[];
}

interface Entry {
  series: StoreSeries;
  /** ms -> value; sorted on read. */
  readonly points: Map<number, number>;
}

const DEFAULT_RETENTION_MS = 30 * 86_400_000;

/** Creates an empty in-memory store. `append` resolves at once: nothing here survives the process. */
export function createMemorySampleStore(options: MemorySampleStoreOptions = {}): SampleStore {
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const rollups = [...(options.rollups ?? [])].sort((a, b) => a.resolutionMs - b.resolutionMs);
  const byKey = new Map<string, Entry>();
  let nextId = 1;
  let closed = false;

  function open(): void {
    if (closed) throw new FieldmeshError('FM_STORE_CLOSED', 'the memory store was used after it was closed');
  }

  function matching(matchers: readonly LabelMatcher[]): Entry[] {
    const selector = { matchers, text: '' };
    return [...byKey.values()].filter((e) => matchesSelector(selector, e.series.name, e.series.labels));
  }

  function hasPointIn(entry: Entry, startMs: number, endMs: number): boolean {
    for (const t of entry.points.keys()) if (t >= startMs && t <= endMs) return true;
    return false;
  }

  return {
    async append(samples: readonly Sample[]) {
      open();
      for (const s of samples) {
        if (!Number.isSafeInteger(s.time) || typeof s.value !== 'number' || s.name === '' || '__name__' in s.labels) {
          throw new FieldmeshError(
            'FM_STORE_SAMPLE_INVALID',
            `sample ${s.name} at ${s.time} has a timestamp, value or label the store cannot hold`,
          );
        }
      }
      for (const s of samples) {
        const key = seriesKey(s);
        let entry = byKey.get(key);
        if (entry === undefined) {
          entry = {
            series: { id: nextId++, name: s.name, labels: { ...s.labels }, type: s.type ?? 'gauge', unit: s.unit ?? '' },
            points: new Map(),
          };
          byKey.set(key, entry);
        }
        entry.points.set(s.time, s.value);
      }
    },

    async query(matchers, startMs, endMs) {
      open();
      const out: StorePoints[] = [];
      for (const entry of matching(matchers)) {
        const points = [...entry.points.entries()].filter(([t]) => t >= startMs && t <= endMs).sort(([a], [b]) => a - b);
        if (points.length > 0) out.push({ series: entry.series, points });
      }
      return out;
    },

    async queryRollup(matchers, startMs, endMs, resolutionMs, fn, stepMs = resolutionMs) {
      open();
      if (!rollups.some((r) => r.resolutionMs === resolutionMs) || stepMs % resolutionMs !== 0) {
        throw new FieldmeshError('FM_QUERY_INVALID', `no rollup of ${resolutionMs} ms with a step of ${stepMs} ms in the memory store`);
      }
      const from = startMs - (((startMs % stepMs) + stepMs) % stepMs);
      const to = endMs - (((endMs % stepMs) + stepMs) % stepMs) + stepMs - 1;
      const out: StorePoints[] = [];
      for (const entry of matching(matchers)) {
        const sorted = [...entry.points.entries()].filter(([t]) => t >= from && t <= to).sort(([a], [b]) => a - b);
        const buckets = computeRollup(
          sorted.map(([t]) => t),
          sorted.map(([, v]) => v),
          resolutionMs,
        );
        const points = rollupPoints(coarsenRollup(buckets, stepMs), fn, from, endMs);
        if (points.length > 0) out.push({ series: entry.series, points });
      }
      return out;
    },

    async coverage() {
      open();
      let rawOldestMs: number | undefined;
      for (const { points } of byKey.values())
        for (const t of points.keys()) if (rawOldestMs === undefined || t < rawOldestMs) rawOldestMs = t;
      return { rawOldestMs, rollups: rollups.map((r) => ({ ...r, oldestMs: rawOldestMs })) };
    },

    async series(matchers, startMs, endMs) {
      open();
      const found = matching(matchers);
      if (startMs === undefined && endMs === undefined) return found.map((e) => e.series);
      return found
        .filter((e) => hasPointIn(e, startMs ?? Number.NEGATIVE_INFINITY, endMs ?? Number.POSITIVE_INFINITY))
        .map((e) => e.series);
    },

    async labelNames() {
      open();
      const names = new Set<string>();
      for (const { series } of byKey.values()) {
        names.add('__name__');
        for (const k of Object.keys(series.labels)) names.add(k);
      }
      return [...names].sort();
    },

    async labelValues(name) {
      open();
      const values = new Set<string>();
      for (const { series } of byKey.values()) {
        const v = name === '__name__' ? series.name : series.labels[name];
        if (v !== undefined && v !== '') values.add(v);
      }
      return [...values].sort();
    },

    async applyRetention(nowMs) {
      open();
      let deletedSamples = 0;
      for (const [key, entry] of byKey) {
        for (const t of entry.points.keys()) {
          if (t < nowMs - retentionMs) {
            entry.points.delete(t);
            deletedSamples++;
          }
        }
        if (entry.points.size === 0) byKey.delete(key);
      }
      return { deletedSamples };
    },

    async stats(): Promise<StoreStats> {
      open();
      let samples = 0;
      let oldestMs: number | undefined;
      let newestMs: number | undefined;
      for (const { points } of byKey.values()) {
        samples += points.size;
        for (const t of points.keys()) {
          if (oldestMs === undefined || t < oldestMs) oldestMs = t;
          if (newestMs === undefined || t > newestMs) newestMs = t;
        }
      }
      return { series: byKey.size, samples, diskBytes: 0, oldestMs, newestMs };
    },

    async close() {
      closed = true;
    },
  };
}
