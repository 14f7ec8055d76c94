// Which local series leave the node and when: selectors with deadband, minimum interval and
// maximum silence decide, per tick, the entries of the next data frame. [FM-REPORT-1..4]

import type { DataEntry, Deadband, SeriesDef, SeriesType, WireValue } from '../protocol/index.js';
import { inferDecimals, matchesSelector, parseSelector, type SeriesSelector, seriesKey } from '../protocol/index.js';
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
  /** When `value` was sampled: the sample's own time. */
  time: number;
}

/** What one plane's receivers hold of each series: the value last sent and when. */
interface Sent {
  value: WireValue | undefined;
  at: number;
}

/**
 * The sending state of one plane (the broker's data frames, the awareness plane's pulses): each keeps
 * its own, since their receivers hold different values. [FM-REPORT-2] [FM-REPORT-3]
 */
export class DueCursor {
  private readonly sent = new Map<number, Sent>();
  private seenShape = 0;

  constructor(private readonly set: CriticalSet) {}

  /** True when a critical series appeared since this cursor's last `birthSeries`. */
  get birthNeeded(): boolean {
    return this.set.shape !== this.seenShape;
  }

  /** The alias table with current values, all marked sent: receivers of a birth hold every value. */
  birthSeries(now: number): SeriesDef[] {
    const defs = this.set.seriesDefs();
    this.seenShape = this.set.shape;
    for (const d of defs) this.sent.set(d.alias, { value: d.value, at: now });
    return defs;
  }

  /**
   * The entries due at `now`: a series moved beyond its deadband and its minimum interval has
   * passed, or it has been silent for its maximum silence. Marks them sent.
   */
  due(now: number): DataEntry[] {
    const out: DataEntry[] = [];
    for (const s of this.set.series()) {
      let sent = this.sent.get(s.alias);
      if (sent === undefined) {
        sent = { value: undefined, at: Number.NEGATIVE_INFINITY };
        this.sent.set(s.alias, sent);
      }
      const silentFor = now - sent.at;
      const moved = exceedsDeadband(s.rule.deadband, sent.value, s.value) && silentFor >= s.rule.minIntervalMs;
      if (moved || silentFor >= s.rule.maxSilenceMs) {
        out.push({ alias: s.alias, value: s.value, time: s.time });
        sent.value = s.value;
        sent.at = now;
      }
    }
    return out;
  }
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

export class CriticalSet {
  private rules: readonly Rule[];
  private readonly critical = new Map<string, CriticalSeries>();
  /** Bumped whenever the alias table changes (a series added, or dropped by new selectors): cursors send a birth. */
  private shapeVersion = 0;
  /** Keys of local series that matched no selector (kept so matching runs once per series). */
  private readonly local = new Set<string>();
  private nextAlias = 1;
  /** The broker plane's sending state (the publisher's). */
  private readonly primary = new DueCursor(this);

  constructor(selectors: readonly CriticalSelectorConfig[]) {
    this.rules = CriticalSet.rulesOf(selectors);
  }

  private static rulesOf(selectors: readonly CriticalSelectorConfig[]): Rule[] {
    return selectors.map((s) => ({
      selector: parseSelector(s.match),
      deadband: toDeadband(s.deadband),
      minIntervalMs: s.minInterval,
      maxSilenceMs: s.maxSilence,
      decimals: s.decimals,
    }));
  }

  /** @internal Changes whenever the alias table does; cursors compare it to know a birth is due. */
  get shape(): number {
    return this.shapeVersion;
  }

  /**
   * Replaces the selectors while the node runs (a reconciled config, docs/config-as-code.md): a critical series
   * the new selectors still match keeps its alias and value and takes its new rule (deadband, intervals) at once;
   * one they no longer match leaves the alias table (receivers get a birth); local series are matched again on
   * their next sample, so a newly selected series becomes critical then. Throws on a selector that does not parse,
   * before changing anything.
   */
  replaceSelectors(selectors: readonly CriticalSelectorConfig[]): void {
    const rules = CriticalSet.rulesOf(selectors);
    this.rules = rules;
    this.local.clear();
    for (const [key, s] of [...this.critical]) {
      const rule = rules.find((r) => matchesSelector(r.selector, s.name, s.labels));
      if (rule === undefined) {
        this.critical.delete(key);
        this.shapeVersion++;
      } else {
        this.critical.set(key, { ...s, rule, decimals: rule.decimals ?? s.decimals });
        if ((rule.decimals ?? s.decimals) !== s.decimals) this.shapeVersion++;
      }
    }
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
    return this.primary.birthNeeded;
  }

  /** A sending state of its own, for another plane. */
  cursor(): DueCursor {
    return new DueCursor(this);
  }

  /** @internal The critical series, for cursors. */
  series(): Iterable<CriticalSeries> {
    return this.critical.values();
  }

  /** The alias table with current values; marks nothing sent. */
  seriesDefs(): SeriesDef[] {
    return [...this.critical.values()].map((s) => ({
      alias: s.alias,
      name: s.name,
      labels: s.labels,
      type: s.type,
      unit: s.unit,
      decimals: s.decimals,
      deadband: s.rule.deadband,
      maxSilenceMs: s.rule.maxSilenceMs,
      value: s.value,
      time: s.time,
    }));
  }

  /**
   * Takes a sample's value as its series' latest unless the series holds a newer one (a late or
   * back-filled sample never replaces it); true when the series is critical. The value travels with
   * its own time, so every receiver holds it at the time it was sampled. [FM-FRAME-7]
   */
  observe(sample: Sample): boolean {
    const key = seriesKey(sample);
    const known = this.critical.get(key);
    if (known !== undefined) {
      if (sample.time >= known.time) {
        known.value = sample.value;
        known.time = sample.time;
      }
      return true;
    }
    if (this.local.has(key)) return false;
    const rule = this.rules.find((r) => matchesSelector(r.selector, sample.name, sample.labels));
    if (rule === undefined) {
      this.local.add(key);
      return false;
    }
    this.shapeVersion++;
    this.critical.set(key, {
      alias: this.nextAlias++,
      name: sample.name,
      labels: { ...sample.labels },
      type: sample.type ?? 'gauge',
      unit: sample.unit ?? '',
      decimals: rule.decimals ?? Math.max(inferDecimals(sample.value), 0),
      rule,
      value: sample.value,
      time: sample.time,
    });
    return true;
  }

  /** The alias table for a birth, with current values; receivers now hold every value. [FM-REPORT-4] */
  birthSeries(now: number): SeriesDef[] {
    return this.primary.birthSeries(now);
  }

  /** The broker plane's due entries at `now` (see `DueCursor.due`). [FM-REPORT-2] [FM-REPORT-3] */
  due(now: number): DataEntry[] {
    return this.primary.due(now);
  }
}
