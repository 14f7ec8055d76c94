// The zone page's derivations, pure (unit-tested in Node): pump runtimes that tick from the answer's
// time and their tone against the limit, the evaluation, policy and decisions in words, which pump
// buttons apply and what each confirmation says, and the pump history chart's step lanes.

import { formatDuration, formatNumber, plural } from '../../format.js';
import type {
  HubZoneView,
  PumpActionName,
  PumpStateName,
  ZoneDecisionInfo,
  ZoneEvaluationInfo,
  ZoneHistoryInfo,
  ZonePolicyInfo,
  ZonePumpInfo,
} from '../../types.js';
import type { Mark } from '../../zone-derive.js';

/**
 * A pump's runtime now, ms: the hub's figure as of its answer, plus the time since while it runs (the
 * answer's `runtimeSeconds` may carry runtime over a restart, so `since` alone would be wrong).
 */
export function pumpRuntimeMs(p: Pick<ZonePumpInfo, 'state' | 'runtimeSeconds'>, answeredAtMs: number, nowMs: number): number {
  const base = Math.max(0, p.runtimeSeconds) * 1000;
  return p.state === 'running' ? base + Math.max(0, nowMs - answeredAtMs) : base;
}

/** The runtime against the limit: a share 0..1+ and its tone (amber from 75 %, red at the limit). */
export function runtimeTone(runtimeMs: number, maxRuntimeSeconds: number): { share: number; tone: 'ok' | 'warn' | 'error' } {
  if (!(maxRuntimeSeconds > 0)) return { share: 0, tone: 'ok' };
  const share = runtimeMs / (maxRuntimeSeconds * 1000);
  return { share, tone: share >= 1 ? 'error' : share >= 0.75 ? 'warn' : 'ok' };
}

/** "12 min of 20 min" */
export function runtimeText(runtimeMs: number, maxRuntimeSeconds: number): string {
  return `${formatDuration(runtimeMs)} of ${formatDuration(maxRuntimeSeconds * 1000)}`;
}

/** "score 1.62 of 1.2 needed · 2 cameras of 2 · 2 nodes of 2" */
export function evaluationText(e: ZoneEvaluationInfo, p: ZonePolicyInfo): string {
  const ev = e.evidence;
  return [
    `score ${formatNumber(ev.score)} of ${formatNumber(p.threshold)} needed`,
    `${plural(ev.distinctCameras, 'camera')} of ${p.minCameras}`,
    `${plural(ev.distinctNodes, 'node')} of ${p.minNodes}`,
  ].join(' · ');
}

/** The policy in one line: "fire, smoke at 0.7 or more within 60 s; 2 cameras on 2 nodes; score 1.2; cooldown 5 min". */
export function policyText(p: ZonePolicyInfo): string {
  return (
    `${p.classes.join(', ')} at ${formatNumber(p.minConfidence)} or more within ${formatDuration(p.windowSeconds * 1000)}; ` +
    `${plural(p.minCameras, 'camera')} on ${plural(p.minNodes, 'node')}; score ${formatNumber(p.threshold)}; ` +
    `cooldown ${formatDuration(p.cooldownSeconds * 1000)}`
  );
}

const DECISION_WORDS: Record<string, Mark> = {
  majority: { cls: 'active', icon: '✓', word: 'majority' },
  'majority-lapsed': { cls: 'unknown', icon: '○', word: 'majority lapsed' },
  'isolated-fallback': { cls: 'warn', icon: '▲', word: 'isolated fallback' },
  epoch: { cls: 'unknown', icon: '↻', word: 'new epoch' },
  vote: { cls: 'ok', icon: '●', word: 'vote' },
  'vote-lapsed': { cls: 'unknown', icon: '○', word: 'vote lapsed' },
  'vote-refused': { cls: 'warn', icon: '✕', word: 'vote refused' },
  command: { cls: 'unknown', icon: '→', word: 'command' },
};

export function decisionMark(kind: string): Mark {
  return DECISION_WORDS[kind] ?? { cls: 'unknown', icon: '·', word: kind };
}

/** The evidence of one decision in words: who voted, which detections, which pumps, why. */
export function decisionEvidence(d: ZoneDecisionInfo): string {
  const parts: string[] = [];
  if (d.votes !== undefined && d.votes.length > 0) parts.push(`votes of ${d.votes.map((v) => `${v.voter} #${v.seq}`).join(', ')}`);
  if (d.detections !== undefined && d.detections.length > 0) parts.push(plural(d.detections.length, 'detection'));
  if (d.pumps !== undefined && d.pumps.length > 0) parts.push(`pumps ${d.pumps.join(', ')}`);
  if (d.cause !== undefined) parts.push(`cause ${d.cause}`);
  if (d.reason !== undefined) parts.push(d.reason);
  return parts.join(' · ');
}

/** Cause and who, as the pump card says them: "majority (zone)", "manual by olga". */
export function causeText(cause: string, by: string): string {
  return by === '' ? cause : `${cause} by ${by}`;
}

/** What each pump button does, and what its confirmation says. */
export interface ActionCopy {
  readonly label: string;
  readonly title: string;
  readonly body: string;
  readonly confirm: string;
  readonly danger: boolean;
}

export function actionCopy(action: PumpActionName, pump: string, zone: string, maxRuntimeSeconds: number): ActionCopy {
  const limit = formatDuration(maxRuntimeSeconds * 1000);
  switch (action) {
    case 'start':
      return {
        label: 'Start',
        title: `Start ${pump}?`,
        body:
          `Starts ${pump} of zone ${zone} now. This bypasses the zone's majority: no vote is needed, and the start is ` +
          `audited under your name. The pump's own node still enforces its envelope (maximum runtime ${limit}, minimum off time, emergency stop).`,
        confirm: `Start ${pump}`,
        danger: false,
      };
    case 'stop':
      return {
        label: 'Stop',
        title: `Stop ${pump}?`,
        body: `Stops ${pump} now (audited). While a majority of the zone still asks for it, it starts again after its minimum off time; use Emergency stop to hold it off.`,
        confirm: `Stop ${pump}`,
        danger: false,
      };
    case 'estop':
      return {
        label: 'Emergency stop',
        title: `Emergency stop ${pump}?`,
        body: `Stops ${pump} at once and latches: nothing starts it again, not even a majority, until an operator clears it. Taken from any epoch; audited.`,
        confirm: 'Emergency stop',
        danger: true,
      };
    case 'clear':
      return {
        label: 'Clear',
        title: `Clear ${pump}?`,
        body: `Releases the emergency stop or fault of ${pump} (audited). It stays stopped; a majority still asking for it may start it again.`,
        confirm: `Clear ${pump}`,
        danger: false,
      };
    case 'test':
      return {
        label: 'Test',
        title: `Test ${pump}?`,
        body: `Runs ${pump} for a short test (about 10 s) through its driver and stops it again, to check the relay and the read-back (audited). Refused while it runs or is emergency-stopped.`,
        confirm: `Test ${pump}`,
        danger: false,
      };
  }
}

/** Why a pump button is disabled now, or null when it may be pressed. The hub decides anyway. */
export function actionBlocked(action: PumpActionName, state: PumpStateName): string | null {
  if (action === 'start' && state === 'running') return 'already running';
  if ((action === 'start' || action === 'test') && state === 'estop') return 'emergency stop latched: clear it first';
  if (action === 'test' && state === 'running') return 'running: a test needs a stopped pump';
  if (action === 'clear' && state !== 'estop' && state !== 'fault') return 'nothing to clear';
  return null;
}

export const PUMP_ACTIONS: readonly PumpActionName[] = ['start', 'stop', 'test', 'estop', 'clear'];

/** The election's confirmation. */
export function electCopy(z: Pick<HubZoneView, 'zone' | 'epoch'>): Omit<ActionCopy, 'label' | 'danger'> {
  return {
    title: `Force an election in ${z.zone}?`,
    body:
      `Asks a node of the zone for a new epoch (now ${z.epoch}). Votes of the current epoch stop counting and the voters vote ` +
      'again in the new one; pumps refuse commands of older epochs. Audited.',
    confirm: 'Force election',
  };
}

// ---- the pump history chart ----

/** The chart's data: x in seconds, one lane per pump (running high, stopped low), detections as points. */
export interface HistoryChartData {
  readonly x: number[];
  /** One array per pump, in `pumps` order: lane base + 0.8 while running, the base while stopped. */
  readonly lanes: number[][];
  /** The detections lane: its value where a detection is, null elsewhere. */
  readonly detections: Array<number | null>;
  readonly pumps: readonly string[];
  /** Where each lane's label sits on the y axis. */
  readonly ticks: ReadonlyArray<{ readonly y: number; readonly label: string }>;
  readonly start: number;
  readonly end: number;
}

export const LANE_GAP = 1.5;
export const LANE_HIGH = 0.8;

/** The lane base of pump `i` (the detections lane is 0). */
export function laneBase(i: number): number {
  return (i + 1) * LANE_GAP;
}

function ms(iso: string): number {
  return Date.parse(iso);
}

/** Step data for uPlot from the hub's runs and detections, clipped to [start, end]. */
export function historyChartData(h: ZoneHistoryInfo): HistoryChartData {
  const start = ms(h.start);
  const end = ms(h.end);
  const clip = (t: number) => Math.min(end, Math.max(start, t));
  const xs = new Set<number>([start, end]);
  const runs = h.pumps.map((p) =>
    p.runs
      .map((r) => ({ from: clip(ms(r.start)), to: r.end === null ? end : clip(ms(r.end)) }))
      .filter((r) => Number.isFinite(r.from) && Number.isFinite(r.to) && r.to >= r.from),
  );
  for (const rs of runs)
    for (const r of rs) {
      xs.add(r.from);
      xs.add(r.to);
    }
  const dets = h.detections.map((d) => ms(d.time)).filter((t) => Number.isFinite(t) && t >= start && t <= end);
  for (const t of dets) xs.add(t);
  const sorted = [...xs].sort((a, b) => a - b);
  const detSet = new Set(dets);
  // A run [from, to) holds at x when from <= x < to; one still going (to = end) also holds at the end.
  const lanes = runs.map((rs, i) =>
    sorted.map((x) => {
      const on = rs.some((r) => r.from <= x && (x < r.to || (x === end && r.to === end)));
      return laneBase(i) + (on ? LANE_HIGH : 0);
    }),
  );
  const ticks = [{ y: 0, label: 'detections' }, ...h.pumps.map((p, i) => ({ y: laneBase(i) + LANE_HIGH / 2, label: p.pump }))];
  return {
    x: sorted.map((t) => t / 1000),
    lanes,
    detections: sorted.map((t) => (detSet.has(t) ? 0 : null)),
    pumps: h.pumps.map((p) => p.pump),
    ticks,
    start: start / 1000,
    end: end / 1000,
  };
}

/**
 * What the history chart shows changes only with a pump's starts and stops or a new detection: the chart
 * is re-read when this key of the zone's detail changes (not on every live message).
 */
export function historyKey(v: Pick<HubZoneView, 'pumps' | 'detections'>): string {
  const pumps = v.pumps.map((p) => `${p.pump}:${p.state}:${p.lastStart?.at ?? ''}:${p.lastStop?.at ?? ''}`).join(',');
  return `${pumps}|${v.detections[0]?.id ?? ''}`;
}

/** Total running time of each pump within the chart's range, ms (the chart's caption). */
export function runTotals(h: ZoneHistoryInfo): Array<{ pump: string; runs: number; ms: number }> {
  const start = ms(h.start);
  const end = ms(h.end);
  return h.pumps.map((p) => {
    let total = 0;
    for (const r of p.runs) {
      const from = Math.max(start, ms(r.start));
      const to = Math.min(end, r.end === null ? end : ms(r.end));
      if (to > from) total += to - from;
    }
    return { pump: p.pump, runs: p.runs.length, ms: total };
  });
}

/** The history chart's ranges (the hub takes 15m to 30d). */
export const ZONE_RANGES = ['15m', '1h', '6h', '24h', '7d', '30d'] as const;
export type ZoneRangeId = (typeof ZONE_RANGES)[number];
