// The simulator's report: the results of one run side by side per design, judged against the issue's
// goals, written as report.json, report.md and three SVG plots.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MCS0_1MHZ_CHANNEL } from './medium.js';
import { type ChartSeries, formatTick, renderLineChart } from './svg.js';

/** Samples over simulated time; a null value is "nothing to measure then" (a gap in the plot). */
export interface TimeSeries {
  /** Simulated seconds since the start of the run. */
  readonly tS: readonly number[];
  readonly values: readonly (number | null)[];
}

/** What one design achieved in one run; null when the design or the scenario does not measure it. */
export interface DesignMeasures {
  /** Bits per second on air for the whole fleet, every transmission, including IP/UDP/MAC headers. */
  readonly onAirBps: number | null;
  /** Share of one 1 MHz 802.11ah MCS0 channel (0..1; above 1 the channel cannot carry it). */
  readonly airtimeShare: number | null;
  /** Frames put on air per node per second (telemetry and liveness together). */
  readonly framesPerNodePerS: number | null;
  /** Application payload bytes per node per tick (all five metrics of a node-tick). */
  readonly payloadBytesPerNodeTick: number | null;
  /** Share of (node, origin) pairs holding a value no older than the freshness bound, sampled every tick (0..1). */
  readonly completeness: number | null;
  /** Age of the latest value held at the farthest node, p50 and p99 over samples, ms. */
  readonly ageP50Ms: number | null;
  readonly ageP99Ms: number | null;
  /** Redundant copies received (same origin and sequence delivered again). */
  readonly duplicates: number | null;
  /** Time from a node's death until every survivor convicts it, over deaths x survivors, ms. */
  readonly detectionP50Ms: number | null;
  readonly detectionP99Ms: number | null;
  readonly detectionMaxMs: number | null;
  /** Verdicts of failure against nodes that were alive (a stalled node counts as alive). */
  readonly falseVerdicts: number | null;
  /** After a cold start, time until every node holds a fresh value of every other node, ms. */
  readonly coldStartFullViewMs: number | null;
}

export interface DesignSeries {
  /** Bytes per second on air over time, including headers. */
  readonly onAirBytesPerS?: TimeSeries;
  /** Completeness (0..1) at each tick. */
  readonly completeness?: TimeSeries;
  /** p99 age at the farthest node at each tick, ms. */
  readonly ageP99Ms?: TimeSeries;
}

export interface DesignResult {
  /** The column's title: "fieldmesh udp", "fieldmesh mqtt-digest", "json-star baseline (Mosquitto)". */
  readonly name: string;
  readonly measures: DesignMeasures;
  readonly series: DesignSeries;
  readonly notes?: readonly string[];
}

export interface SimResults {
  readonly scenario: {
    readonly name: string;
    readonly description?: string;
    readonly nodes: number;
    readonly durationS: number;
    readonly warmupS: number;
    readonly tickMs: number;
    readonly seed: number;
    readonly loss: number;
    /** One line: "radio 300 kbps, 1,266 us + 66 B per frame, everyone in range". */
    readonly link: string;
    readonly faults?: readonly string[];
  };
  readonly clock: 'simulated' | 'real';
  /** ISO time the run started (wall clock). */
  readonly startedAt: string;
  /** Real seconds the run took. */
  readonly wallSeconds?: number;
  readonly designs: readonly DesignResult[];
}

export type GoalVerdict = 'met' | 'not met' | 'n/a';

export interface Goal {
  readonly measure: keyof DesignMeasures;
  readonly op: '<=' | '>=' | '==';
  readonly target: number;
  /** The goal as the table shows it. */
  readonly text: string;
}

/** The issue's goals for the awareness plane at 50 nodes on one 1 MHz MCS0 channel. */
export const ISSUE_GOALS: readonly Goal[] = [
  { measure: 'onAirBps', op: '<=', target: 20_000, text: '≤ 20 kbps' },
  { measure: 'airtimeShare', op: '<=', target: 0.1, text: '≤ 10 %' },
  { measure: 'framesPerNodePerS', op: '<=', target: 0.5, text: '≤ 0.5' },
  { measure: 'payloadBytesPerNodeTick', op: '<=', target: 16, text: '≤ 16 B' },
  { measure: 'completeness', op: '>=', target: 0.999, text: '≥ 99.9 %' },
  { measure: 'detectionP99Ms', op: '<=', target: 8_000, text: '≤ 8 s' },
  { measure: 'falseVerdicts', op: '==', target: 0, text: '0' },
  { measure: 'coldStartFullViewMs', op: '<=', target: 10_000, text: '≤ 10 s' },
];

export function evaluateGoal(goal: Goal, measures: DesignMeasures): GoalVerdict {
  const value = measures[goal.measure];
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  const ok = goal.op === '<=' ? value <= goal.target : goal.op === '>=' ? value >= goal.target : value === goal.target;
  return ok ? 'met' : 'not met';
}

/** Verdicts of every goal for one design, keyed by measure. */
export function evaluateGoals(measures: DesignMeasures, goals: readonly Goal[] = ISSUE_GOALS): Record<string, GoalVerdict> {
  return Object.fromEntries(goals.map((g) => [g.measure, evaluateGoal(g, measures)]));
}

// ---------------------------------------------------------------------------------------------
// Formatting. Values next to a goal are rounded towards failing it, so the shown number never
// contradicts its mark (20.04 kbps shows as 20.1, not 20.0, beside "≤ 20 kbps").

type Rounding = 'up' | 'down' | 'nearest';

function round(value: number, decimals: number, mode: Rounding): number {
  const f = 10 ** decimals;
  const scaled = value * f;
  // The epsilon keeps 0.1 * 100 = 10.000000000000002 from rounding up to 10.1.
  const r = mode === 'up' ? Math.ceil(scaled - 1e-9) : mode === 'down' ? Math.floor(scaled + 1e-9) : Math.round(scaled);
  return r / f;
}

function withDecimals(value: number, decimals: number, mode: Rounding): string {
  return round(value, decimals, mode).toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** Three significant digits at most, in the unit's own scale. */
function sig3(value: number, mode: Rounding): string {
  if (value === 0) return '0';
  const decimals = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(value))));
  return withDecimals(value, Math.min(decimals, 3), mode);
}

export function formatBitRate(bps: number, mode: Rounding = 'nearest'): string {
  if (bps >= 1e6) return `${sig3(bps / 1e6, mode)} Mbps`;
  if (bps >= 1e3) return `${sig3(bps / 1e3, mode)} kbps`;
  return `${sig3(bps, mode)} bps`;
}

function formatSeconds(ms: number, mode: Rounding): string {
  return `${sig3(ms / 1_000, mode)} s`;
}

function formatShare(share: number, mode: Rounding): string {
  const percent = share * 100;
  return `${percent >= 100 ? withDecimals(percent, 0, mode) : withDecimals(percent, 1, mode)} %`;
}

interface Row {
  readonly label: string;
  readonly measure: keyof DesignMeasures;
  readonly format: (value: number, mode: Rounding) => string;
}

const ROWS: readonly Row[] = [
  { label: 'On air, whole fleet (incl. IP/UDP/MAC headers)', measure: 'onAirBps', format: formatBitRate },
  { label: 'Airtime of one 1 MHz MCS0 channel', measure: 'airtimeShare', format: formatShare },
  { label: 'Frames on air per node per second', measure: 'framesPerNodePerS', format: (v, m) => sig3(v, m) },
  { label: 'Payload per node-tick', measure: 'payloadBytesPerNodeTick', format: (v, m) => `${sig3(v, m)} B` },
  { label: 'Completeness (fresh values held)', measure: 'completeness', format: (v, m) => `${withDecimals(v * 100, 2, m)} %` },
  { label: 'Age of latest value at farthest node, p50', measure: 'ageP50Ms', format: formatSeconds },
  { label: 'Age of latest value at farthest node, p99', measure: 'ageP99Ms', format: formatSeconds },
  { label: 'Duplicate copies received', measure: 'duplicates', format: (v) => withDecimals(v, 0, 'nearest') },
  { label: 'Failure detection by all survivors, p50', measure: 'detectionP50Ms', format: formatSeconds },
  { label: 'Failure detection by all survivors, p99', measure: 'detectionP99Ms', format: formatSeconds },
  { label: 'Failure detection by all survivors, max', measure: 'detectionMaxMs', format: formatSeconds },
  { label: 'False failure verdicts', measure: 'falseVerdicts', format: (v) => withDecimals(v, 0, 'nearest') },
  { label: 'Cold start to full view', measure: 'coldStartFullViewMs', format: formatSeconds },
];

const MARK: Record<GoalVerdict, string> = { met: '✓ met', 'not met': '✗ not met', 'n/a': '' };

function cell(row: Row, goal: Goal | undefined, measures: DesignMeasures): string {
  const value = measures[row.measure];
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const mode: Rounding = goal === undefined || goal.op === '==' ? 'nearest' : goal.op === '<=' ? 'up' : 'down';
  const text = row.format(value, mode);
  return goal === undefined ? text : `${text} ${MARK[evaluateGoal(goal, measures)]}`;
}

/** Free text in Markdown: no raw HTML (a name like "<json>" would vanish). */
function escapeText(text: string): string {
  return text.replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeCell(text: string): string {
  return escapeText(text).replace(/\|/g, '\\|');
}

/** The report's plots: file name, title and SVG text. */
export interface ReportPlot {
  readonly file: string;
  readonly title: string;
  readonly svg: string;
}

function chartSeries(results: SimResults, pick: (s: DesignSeries) => TimeSeries | undefined, scale = 1): ChartSeries[] {
  return results.designs.flatMap((d) => {
    const ts = pick(d.series);
    if (ts === undefined) return [];
    return [
      {
        name: d.name,
        points: ts.tS.map(
          (t, i) => [t, ts.values[i] === null || ts.values[i] === undefined ? null : (ts.values[i] as number) * scale] as const,
        ),
      },
    ];
  });
}

export function renderReportPlots(results: SimResults): ReportPlot[] {
  const s = results.scenario;
  const where = `${s.name}, ${s.nodes} nodes`;
  const onAirGoalBytesPerS = (ISSUE_GOALS.find((g) => g.measure === 'onAirBps')?.target ?? 20_000) / 8;
  const completenessGoal = ISSUE_GOALS.find((g) => g.measure === 'completeness')?.target ?? 0.999;
  const bytes = chartSeries(results, (x) => x.onAirBytesPerS);
  const completeness = chartSeries(results, (x) => x.completeness, 100);
  const lowestCompleteness = completeness.reduce((low, c) => c.points.reduce((l, p) => Math.min(l, p[1] ?? 100), low), 100);
  return [
    {
      file: 'bytes-per-second.svg',
      title: 'Bytes per second on air',
      svg: renderLineChart({
        title: `Bytes per second on air, incl. headers (${where})`,
        xLabel: 'simulated time (s)',
        yLabel: 'bytes/s on air',
        series: bytes,
        yScale: 'auto',
        reference: {
          y: onAirGoalBytesPerS,
          label: `goal ${formatTick(onAirGoalBytesPerS)}B/s`,
        },
      }),
    },
    {
      file: 'completeness.svg',
      title: 'Completeness over time',
      svg: renderLineChart({
        title: `Completeness: fresh (node, origin) values held (${where})`,
        xLabel: 'simulated time (s)',
        yLabel: 'completeness (%)',
        series: completeness,
        yScale: 'linear',
        yMin: Math.max(0, Math.floor(Math.min(lowestCompleteness, 99) / 10) * 10),
        yMax: 100,
        formatY: (v) => `${formatTick(v)} %`,
        reference: { y: completenessGoal * 100, label: `goal ${completenessGoal * 100} %` },
      }),
    },
    {
      file: 'age-p99.svg',
      title: 'Age p99 at the farthest node over time',
      svg: renderLineChart({
        title: `Age of the latest value at the farthest node, p99 (${where})`,
        xLabel: 'simulated time (s)',
        yLabel: 'age p99 (s)',
        series: chartSeries(results, (x) => x.ageP99Ms, 1 / 1_000),
        yScale: 'linear',
      }),
    },
  ];
}

/** report.md: the scenario, one column per design plus the goal, the marks, the plots, the model. */
export function renderReportMarkdown(results: SimResults, plots: readonly Pick<ReportPlot, 'file' | 'title'>[] = []): string {
  const s = results.scenario;
  const lines: string[] = [];
  lines.push(`# fieldmesh sim: ${s.name}`, '');
  if (s.description !== undefined) lines.push(escapeText(s.description), '');
  lines.push(
    `${s.nodes} nodes, ${s.durationS} s ${results.clock === 'simulated' ? 'simulated' : 'real'} time` +
      `${s.warmupS > 0 ? ` (measured after ${s.warmupS} s of warm-up)` : ''}, tick ${s.tickMs / 1_000} s, ` +
      `${withDecimals(s.loss * 100, 0, 'nearest')} % frame loss, seed ${s.seed}.`,
    '',
    `Link: ${escapeText(s.link)}.`,
    '',
  );
  if (s.faults !== undefined && s.faults.length > 0) {
    lines.push('Faults:', '', ...s.faults.map((f) => `- ${escapeText(f)}`), '');
  }
  lines.push(
    `Run started ${results.startedAt}${results.wallSeconds === undefined ? '' : `, took ${sig3(results.wallSeconds, 'nearest')} s of real time`}.`,
    '',
  );

  const goalOf = new Map(ISSUE_GOALS.map((g) => [g.measure, g]));
  lines.push(`| measure | ${results.designs.map((d) => escapeCell(d.name)).join(' | ')} | goal |`);
  lines.push(`|---|${results.designs.map(() => '---:|').join('')}---|`);
  for (const row of ROWS) {
    const goal = goalOf.get(row.measure);
    const cells = results.designs.map((d) => escapeCell(cell(row, goal, d.measures)));
    lines.push(`| ${row.label} | ${cells.join(' | ')} | ${goal?.text ?? ''} |`);
  }
  lines.push('', "✓ met: meets the issue's goal; ✗ not met: misses it; —: not measured in this run or by this design.", '');

  lines.push('Goals met:', '');
  for (const d of results.designs) {
    const verdicts = Object.values(evaluateGoals(d.measures));
    const judged = verdicts.filter((v) => v !== 'n/a').length;
    const met = verdicts.filter((v) => v === 'met').length;
    lines.push(
      `- ${escapeText(d.name)}: ${met} of ${judged} judged${judged < verdicts.length ? ` (${verdicts.length - judged} not measured)` : ''}`,
    );
  }
  lines.push('');

  const notes = results.designs.filter((d) => d.notes !== undefined && d.notes.length > 0);
  if (notes.length > 0) {
    lines.push('## Notes per design', '');
    for (const d of notes) lines.push(`**${escapeText(d.name)}**`, '', ...(d.notes ?? []).map((n) => `- ${escapeText(n)}`), '');
  }

  if (plots.length > 0) {
    lines.push('## Plots', '');
    for (const p of plots) lines.push(`![${p.title}](${p.file})`, '');
  }

  const m = MCS0_1MHZ_CHANNEL;
  lines.push(
    '## Airtime model',
    '',
    `One shared 1 MHz 802.11ah channel at MCS0 (${m.bitsPerSecond / 1_000} kbps): every frame costs ${m.perFrameOverheadUs} us ` +
      '(AIFS 316 us + mean backoff 390 us + 1 MHz preamble 560 us) plus its payload and ' +
      `${m.headerBytes} B of headers (IPv4 + UDP 28 B, MAC + LLC/SNAP + FCS 38 B) at ${((8 * 1e6) / m.bitsPerSecond).toFixed(1)} us per byte; ` +
      `a unicast frame adds SIFS + NDP ACK (${m.unicastAckUs} us). Optimistic: no collisions, hidden nodes, retries or beacons ` +
      '(the model of the baselines in research/anchors-performance.md, section 2e).',
    '',
  );
  return `${lines.join('\n')}`;
}

/** report.json: the results plus each design's verdicts. */
export function renderReportJson(results: SimResults): string {
  const verdicts = Object.fromEntries(results.designs.map((d) => [d.name, evaluateGoals(d.measures)]));
  return `${JSON.stringify({ ...results, goals: ISSUE_GOALS, verdicts }, null, 2)}\n`;
}

export interface WrittenReport {
  readonly json: string;
  readonly markdown: string;
  readonly plots: readonly string[];
}

/** Writes report.json, report.md and the SVG plots into `dir` (created if missing). */
export async function writeReport(results: SimResults, dir: string): Promise<WrittenReport> {
  await mkdir(dir, { recursive: true });
  const plots = renderReportPlots(results);
  const json = join(dir, 'report.json');
  const markdown = join(dir, 'report.md');
  await writeFile(json, renderReportJson(results));
  await writeFile(markdown, renderReportMarkdown(results, plots));
  const written: string[] = [];
  for (const p of plots) {
    const file = join(dir, p.file);
    await writeFile(file, p.svg);
    written.push(file);
  }
  return { json, markdown, plots: written };
}
