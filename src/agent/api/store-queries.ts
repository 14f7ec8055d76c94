// The node's Prometheus query semantics over its local store, as functions of the request parameters:
// the HTTP routes (store-routes.ts) and the hub's remote queries over MQTT (query-responder.ts) share them.

import { FieldmeshError, formatDurationMs } from '../../kit/index.js';
import {
  instantQueryData,
  type LabelMatcher,
  limitResults,
  type Params,
  type ParsedQuery,
  parseQuery,
  parseSelector,
  parseStepMs,
  rangeParams,
  rangeQueryResult,
  repeated,
  type SeriesSource,
  single,
  timeParam,
} from '../../protocol/index.js';
import { checkRange, type Expr } from '../../protocol/promql/index.js';
import { ROLLUP_FNS } from '../store/rollup-buckets.js';
import type { RollupFn, SampleStore, StoreCoverage, StorePoints, StoreSeries } from '../store/store.js';

export interface StoreQueriesOptions {
  /** The clock for instant queries without `time` and label queries without `end`; default Date.now. */
  readonly now?: () => number;
}

/** Each call answers in Prometheus' success envelope, or throws a FieldmeshError (FM_QUERY_INVALID...). */
export interface StoreQueries {
  queryRange(params: Params): Promise<object>;
  instant(params: Params): Promise<object>;
  series(params: Params): Promise<object>;
  labels(params: Params): Promise<object>;
  labelValues(name: string, params: Params): Promise<object>;
}

const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function toSeriesPoints(stored: readonly StorePoints[]) {
  return stored.map(({ series, points }) => ({ metric: { __name__: series.name, ...series.labels }, points }));
}

/** True when the query is one plain selector (no offset or @): a rollup may answer it by step alone. */
function isPlainSelector(query: ParsedQuery): boolean {
  return query.expr.type === 'vector' && query.expr.offsetMs === 0 && query.expr.at === undefined;
}

/**
 * True when every selector of the expression is an instant selector without offset or @ and nothing
 * reads sample times (timestamp()): rollup buckets can stand in for the samples, one per step.
 */
function readsInstantsOnly(expr: Expr): boolean {
  switch (expr.type) {
    case 'vector':
      return expr.offsetMs === 0 && expr.at === undefined;
    case 'matrix':
    case 'subquery':
      return false;
    case 'call':
      return expr.func !== 'timestamp' && expr.args.every(readsInstantsOnly);
    case 'aggregate':
      return (expr.param === undefined || readsInstantsOnly(expr.param)) && readsInstantsOnly(expr.expr);
    case 'binary':
      return readsInstantsOnly(expr.lhs) && readsInstantsOnly(expr.rhs);
    case 'unary':
    case 'paren':
      return readsInstantsOnly(expr.expr);
    default:
      return true;
  }
}

/** A rollup chosen to answer a range query, and why (for the `infos` line of the answer). */
export interface RollupChoice {
  readonly resolutionMs: number;
  readonly fn: RollupFn;
  readonly reason: 'asked' | 'step' | 'raw expired';
}

function invalidParam(name: string, message: string): FieldmeshError {
  return new FieldmeshError('FM_QUERY_INVALID', `invalid parameter "${name}": ${message}`);
}

/** The coarsest of `rollups` with a resolution of at most `stepMs`, else the finest; undefined when empty. */
function fittest<T extends { resolutionMs: number }>(rollups: readonly T[], stepMs: number): T | undefined {
  const fitting = rollups.filter((r) => r.resolutionMs <= stepMs);
  return fitting.length > 0 ? fitting[fitting.length - 1] : rollups[0];
}

/**
 * Which rollup answers a range query, if any (docs/query.md, "Rollups"): the one `rollup=` names
 * (`rollup=raw`: none); else, for a plain selector, the coarsest rollup with a resolution of at most
 * `step`; else, when the range starts before the oldest raw sample and rollups hold older buckets,
 * the coarsest of those at most `step`, or the finest of them. Rollups are listed finest first. Only
 * expressions of instant selectors (no range, subquery, offset or @) are answered from a rollup.
 */
export function chooseRollup(
  params: Params,
  query: ParsedQuery,
  startMs: number,
  stepMs: number,
  coverage: StoreCoverage,
): RollupChoice | undefined {
  const rollupParam = single(params, 'rollup') ?? '';
  const fnParam = single(params, 'fn') ?? '';
  if (fnParam !== '' && !(ROLLUP_FNS as readonly string[]).includes(fnParam)) {
    throw invalidParam('fn', `${JSON.stringify(fnParam)} is not one of ${ROLLUP_FNS.join(', ')}`);
  }
  if (fnParam !== '' && (rollupParam === '' || rollupParam === 'raw')) {
    throw invalidParam('fn', 'applies to a rollup; name one with rollup= (e.g. rollup=5m&fn=max)');
  }
  if (rollupParam === 'raw') return undefined;
  const kept = coverage.rollups.map((r) => formatDurationMs(r.resolutionMs)).join(', ');
  if (rollupParam !== '') {
    const resolutionMs = parseStepMs(rollupParam, 'rollup');
    if (!coverage.rollups.some((r) => r.resolutionMs === resolutionMs)) {
      throw invalidParam(
        'rollup',
        `this node keeps no ${formatDurationMs(resolutionMs)} rollup (${kept === '' ? 'it keeps none: see store.rollups in node.yaml' : `it keeps: ${kept}`}); rollup=raw reads raw samples`,
      );
    }
    if (!readsInstantsOnly(query.expr)) {
      throw invalidParam(
        'rollup',
        'a rollup answers expressions of instant selectors (selectors, aggregations, arithmetic, functions of them); this query reads a range, a subquery, offset, @ or timestamps: use rollup=raw',
      );
    }
    return { resolutionMs, fn: (fnParam || 'avg') as RollupFn, reason: 'asked' };
  }
  if (!readsInstantsOnly(query.expr)) return undefined;
  if (isPlainSelector(query)) {
    const finer = coverage.rollups.filter((r) => r.resolutionMs <= stepMs);
    const coarsest = finer[finer.length - 1];
    if (coarsest !== undefined) return { resolutionMs: coarsest.resolutionMs, fn: 'avg', reason: 'step' };
  }
  const raw = coverage.rawOldestMs;
  if (raw === undefined || startMs < raw) {
    const older = coverage.rollups.filter((r) => r.oldestMs !== undefined && (raw === undefined || r.oldestMs < raw));
    const pick = fittest(older, stepMs);
    if (pick !== undefined) return { resolutionMs: pick.resolutionMs, fn: 'avg', reason: 'raw expired' };
  }
  return undefined;
}

const REASONS: Record<RollupChoice['reason'], string> = {
  asked: 'as asked',
  step: 'the step is at least its resolution',
  'raw expired': 'the range starts before the oldest raw sample',
};

export function createStoreQueries(store: SampleStore, options: StoreQueriesOptions = {}): StoreQueries {
  const now = options.now ?? Date.now;

  /** Series matching any match[] selector (all series without one, unless required), optionally in a range. */
  async function selectSeries(params: Params, required: boolean): Promise<StoreSeries[] | undefined> {
    const selectors = repeated(params, 'match[]').map((m) => parseSelector(m).matchers);
    if (selectors.length === 0 && required) throw new FieldmeshError('FM_QUERY_INVALID', 'no match[] parameter provided');
    const hasRange = single(params, 'start') !== undefined || single(params, 'end') !== undefined;
    if (selectors.length === 0 && !hasRange) return undefined;
    const startMs = hasRange ? timeParam(params, 'start', 0) : undefined;
    const endMs = hasRange ? timeParam(params, 'end', now()) : undefined;
    const lists: (readonly LabelMatcher[])[] = selectors.length > 0 ? selectors : [[]];
    const byId = new Map<number, StoreSeries>();
    for (const matchers of lists) for (const s of await store.series(matchers, startMs, endMs)) byId.set(s.id, s);
    return [...byId.values()];
  }

  const source: SeriesSource = async (matchers, startMs, endMs) => toSeriesPoints(await store.query(matchers, startMs, endMs));

  const queryRange = async (params: Params) => {
    const query = parseQuery(single(params, 'query'));
    const { startMs, endMs, stepMs } = rangeParams(params);
    const choice = chooseRollup(params, query, startMs, stepMs, await store.coverage());
    if (choice !== undefined) return rollupRange(query, choice, startMs, endMs, stepMs);
    const result = await rangeQueryResult(query, source, startMs, endMs, stepMs);
    return { status: 'success', data: { resultType: 'matrix', result } };
  };

  /**
   * A range answered from a rollup: steps widened to a whole number of buckets and aligned to them;
   * each point is `fn` over the buckets of its step, at the step's start, and the expression is
   * evaluated at each aligned step over those points (a lookback of 1 ms: each step reads its own bucket only).
   */
  async function rollupRange(query: ParsedQuery, choice: RollupChoice, startMs: number, endMs: number, stepMs: number) {
    const { resolutionMs, fn } = choice;
    const rollupStepMs = Math.ceil(stepMs / resolutionMs) * resolutionMs;
    const alignedStartMs = startMs - (((startMs % rollupStepMs) + rollupStepMs) % rollupStepMs);
    checkRange(alignedStartMs, endMs, rollupStepMs);
    const rollupSource: SeriesSource = async (matchers) =>
      toSeriesPoints(await store.queryRollup(matchers, startMs, endMs, resolutionMs, fn, rollupStepMs));
    const result = await rangeQueryResult(query, rollupSource, alignedStartMs, endMs, rollupStepMs, { lookbackMs: 1 });
    const info =
      `answered from the ${formatDurationMs(resolutionMs)} rollup (${REASONS[choice.reason]}): ${fn} of each ` +
      `${formatDurationMs(rollupStepMs)} step's buckets, at the step's start`;
    return {
      status: 'success',
      data: { resultType: 'matrix', result },
      infos: [info],
    };
  }

  const instant = async (params: Params) => {
    const query = parseQuery(single(params, 'query'));
    const timeMs = timeParam(params, 'time', now());
    return { status: 'success', data: await instantQueryData(query, source, timeMs) };
  };

  const series = async (params: Params) => {
    const found = (await selectSeries(params, true)) ?? [];
    return {
      status: 'success',
      data: limitResults(
        found.map((s) => ({ __name__: s.name, ...s.labels })),
        params,
      ),
    };
  };

  const labels = async (params: Params) => {
    const found = await selectSeries(params, false);
    if (found === undefined) return { status: 'success', data: limitResults(await store.labelNames(), params) };
    const names = new Set<string>();
    for (const s of found) {
      names.add('__name__');
      for (const k of Object.keys(s.labels)) names.add(k);
    }
    return { status: 'success', data: limitResults([...names].sort(), params) };
  };

  const labelValues = async (name: string, params: Params) => {
    if (!LABEL_NAME_RE.test(name)) throw new FieldmeshError('FM_QUERY_INVALID', `invalid label name: ${JSON.stringify(name)}`);
    const found = await selectSeries(params, false);
    if (found === undefined) return { status: 'success', data: limitResults(await store.labelValues(name), params) };
    const values = new Set<string>();
    for (const s of found) {
      const v = name === '__name__' ? s.name : s.labels[name];
      if (v !== undefined && v !== '') values.add(v);
    }
    return { status: 'success', data: limitResults([...values].sort(), params) };
  };

  return { queryRange, instant, series, labels, labelValues };
}
