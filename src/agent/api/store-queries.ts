// The node's Prometheus query semantics over its local store, as functions of the request parameters:
// the HTTP routes (store-routes.ts) and the hub's remote queries over MQTT (query-responder.ts) share them.

import { FieldmeshError, formatDurationMs } from '../../kit/index.js';
import {
  type AggregationQuery,
  aggregateSeries,
  evaluateInstantQuery,
  evaluateRangeQuery,
  formatSampleValue,
  type LabelMatcher,
  limitResults,
  type Params,
  parseAggregationQuery,
  parseSelector,
  parseStepMs,
  queryWindow,
  rangeParams,
  rangeSteps,
  repeated,
  type SeriesPoints,
  seconds,
  single,
  timeParam,
} from '../../protocol/index.js';
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

function toSeriesPoints(stored: readonly StorePoints[]): SeriesPoints[] {
  return stored.map(({ series, points }) => ({ metric: { __name__: series.name, ...series.labels }, points }));
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
 * the coarsest of those at most `step`, or the finest of them. Rollups are listed finest first.
 */
export function chooseRollup(
  params: Params,
  query: AggregationQuery,
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
    return { resolutionMs, fn: (fnParam || 'avg') as RollupFn, reason: 'asked' };
  }
  if (query.aggregation === undefined) {
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

  const queryRange = async (params: Params) => {
    const query = parseAggregationQuery(single(params, 'query'));
    const { startMs, endMs, stepMs } = rangeParams(params);
    const choice = chooseRollup(params, query, startMs, stepMs, await store.coverage());
    if (choice !== undefined) return rollupRange(query, choice, startMs, endMs, stepMs);
    const window = queryWindow(startMs, endMs);
    const stored = await store.query(query.selector.matchers, window.startMs, window.endMs);
    const result = evaluateRangeQuery(query, toSeriesPoints(stored), startMs, endMs, stepMs);
    return { status: 'success', data: { resultType: 'matrix', result } };
  };

  /**
   * A range answered from a rollup: steps widened to a whole number of buckets and aligned to them;
   * each point is `fn` over the buckets of its step, at the step's start; then the aggregation, if any.
   */
  async function rollupRange(query: AggregationQuery, choice: RollupChoice, startMs: number, endMs: number, stepMs: number) {
    const { resolutionMs, fn } = choice;
    const rollupStepMs = Math.ceil(stepMs / resolutionMs) * resolutionMs;
    rangeSteps(startMs - (((startMs % rollupStepMs) + rollupStepMs) % rollupStepMs), endMs, rollupStepMs);
    const stored = await store.queryRollup(query.selector.matchers, startMs, endMs, resolutionMs, fn, rollupStepMs);
    const series = stored.map(({ series, points }) => ({ metric: { __name__: series.name, ...series.labels }, values: points }));
    const result = query.aggregation ? aggregateSeries(series, query.aggregation) : series;
    const info =
      `answered from the ${formatDurationMs(resolutionMs)} rollup (${REASONS[choice.reason]}): ${fn} of each ` +
      `${formatDurationMs(rollupStepMs)} step's buckets, at the step's start`;
    return {
      status: 'success',
      data: {
        resultType: 'matrix',
        result: result.map((s) => ({ metric: s.metric, values: s.values.map(([t, v]) => [seconds(t), formatSampleValue(v)] as const) })),
      },
      infos: [info],
    };
  }

  const instant = async (params: Params) => {
    const query = parseAggregationQuery(single(params, 'query'));
    const timeMs = timeParam(params, 'time', now());
    const window = queryWindow(timeMs, timeMs);
    const stored = await store.query(query.selector.matchers, window.startMs, window.endMs);
    const result = evaluateInstantQuery(query, toSeriesPoints(stored), timeMs);
    return { status: 'success', data: { resultType: 'vector', result } };
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
