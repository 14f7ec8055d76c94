// Which local series leave the node and when: selectors with deadband, minimum interval and
// maximum silence decide, per tick, the entries of the next data frame. [FM-REPORT-1..4]

import type { DataEntry, Deadband, SeriesDef, SeriesType, WireValue } from '../protocol/index.js';
import { inferDecimals, matchesSelector, parseSelector, type SeriesSelector } from '../protocol/index.js';
import type { Sample } from './collectors/collector.js';
import type { CriticalSelectorConfig } from './config.js';

interface Rule {
  readonly selector: SeriesSelector;
  readonly deadband: Deadband;
  readonly minIntervalMs: number;
  readonly maxSilenceMs: number;
  readonly decimals: number | undefined;
}

interface CriticalSeries {
  readonly alias: number;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly type: SeriesType;
  readonly unit: string;
  readonly decimals: number;
  readonly rule: Rule;
  value: WireValue;
  /** The value receivers hold, and when it was sent; undefined before the first birth. */
  sent: WireValue | undefined;
  sentAt: number;
}

export function toDeadband(config: number | string): Deadband {
  if (typeof config === 'number') return config === 0 ? { kind: 'none' } : { kind: 'absolute', value: config };
  return { kind: 'relative', value: Number(config.slice(0, -1)) / 100 };
}

/**
 * True when `next` differs from the value receivers hold by more than the deadband. A change
 * between a number and null/NaN always counts; with no deadband any change counts.
 */
export function exceedsDeadband(deadband: Deadband, last: WireValue | undefined, next: WireValue): boolean {
  if (last === undefined) return true;
  if (last === null || next === null) return last !== next;
  if (Number.isNaN(last) || Number.isNaN(next)) return Number.isNaN(last) !== Number.isNaN(next);
  if (last === next) return false;
  switch (deadband.kind) {
    case 'none':
      return true;
    case 'absolute':
      return Math.abs(next - last) > deadband.value;
    case 'relative':
      return Math.abs(next - last) > deadband.value * Math.abs(last);
  }
}

export function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `${name}{${parts.join(',')}}`;
}

export class CriticalSet {
  private readonly rules: readonly Rule[];
  private readonly critical = new Map<string, CriticalSeries>();
  /** Keys of local series that matched no selector (kept so matching runs once per series). */
  private readonly local = new Set<string>();
  private nextAlias = 1;
  private aliasesChanged = false;

  constructor(selectors: readonly CriticalSelectorConfig[]) {
    this.rules = selectors.map((s) => ({
      selector: parseSelector(s.match),
      deadband: toDeadband(s.deadband),
      minIntervalMs: s.minInterval,
      maxSilenceMs: s.maxSilence,
      decimals: s.decimals,
    }));
  }

  /** Series seen on this node, critical or not. */
  get localSeriesCount(): number {
    return this.local.size + this.critical.size;
  }

  get criticalSeriesCount(): number {
    return this.critical.size;
  }

  /** True when a critical series appeared since the last birth: receivers need a new alias table. */
  get birthNeeded(): boolean {
    return this.aliasesChanged;
  }

  /** Takes the latest value of a sample's series; true when the series is critical. */
  observe(sample: Sample): boolean {
    const key = seriesKey(sample.name, sample.labels);
    const known = this.critical.get(key);
    if (known !== undefined) {
      known.value = sample.value;
      return true;
    }
    if (this.local.has(key)) return false;
    const rule = this.rules.find((r) => matchesSelector(r.selector, sample.name, sample.labels));
    if (rule === undefined) {
      this.local.add(key);
      return false;
    }
    this.critical.set(key, {
      alias: this.nextAlias++,
      name: sample.name,
      labels: { ...sample.labels },
      type: sample.type ?? 'gauge',
      unit: sample.unit ?? '',
      decimals: rule.decimals ?? Math.max(inferDecimals(sample.value), 0),
      rule,
      value: sample.value,
      sent: undefined,
      sentAt: Number.NEGATIVE_INFINITY,
    });
    this.aliasesChanged = true;
    return true;
  }

  /** The alias table for a birth, with current values; receivers now hold every value. [FM-REPORT-4] */
  birthSeries(now: number): SeriesDef[] {
    this.aliasesChanged = false;
    return [...this.critical.values()].map((s) => {
      s.sent = s.value;
      s.sentAt = now;
      return {
        alias: s.alias,
        name: s.name,
        labels: s.labels,
        type: s.type,
        unit: s.unit,
        decimals: s.decimals,
        deadband: s.rule.deadband,
        maxSilenceMs: s.rule.maxSilenceMs,
        value: s.value,
      };
    });
  }

  /**
   * The entries due at `now`: a series moved beyond its deadband and its minimum interval has
   * passed, or it has been silent for its maximum silence. Marks them sent. [FM-REPORT-2] [FM-REPORT-3]
   */
  due(now: number): DataEntry[] {
    const out: DataEntry[] = [];
    for (const s of this.critical.values()) {
      const silentFor = now - s.sentAt;
      const moved = exceedsDeadband(s.rule.deadband, s.sent, s.value) && silentFor >= s.rule.minIntervalMs;
      if (moved || silentFor >= s.rule.maxSilenceMs) {
        out.push({ alias: s.alias, value: s.value });
        s.sent = s.value;
        s.sentAt = now;
      }
    }
    return out;
  }
}
