// The zone page's derivations, pure: pump runtimes that tick from the answer's time, runtime tones, the
// evaluation and decisions in words, button rules and confirmations, the history chart's step lanes and
// when it re-reads (times relative to now).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ZoneHistoryInfo } from '../../types.js';
import {
  actionBlocked,
  actionCopy,
  decisionEvidence,
  evaluationText,
  historyChartData,
  historyKey,
  LANE_HIGH,
  laneBase,
  PUMP_ACTIONS,
  pumpRuntimeMs,
  runTotals,
  runtimeTone,
} from './zone-view.js';

/** Any instant: only differences matter. */
const T0 = Date.now();
const iso = (offsetMs: number) => new Date(T0 + offsetMs).toISOString();

test('pump runtime: the answer’s figure, plus the time since the answer while it runs; a stopped pump does not tick', () => {
  const answeredAt = T0;
  assert.equal(pumpRuntimeMs({ state: 'running', runtimeSeconds: 90 }, answeredAt, T0 + 5_000), 95_000);
  assert.equal(pumpRuntimeMs({ state: 'stopped', runtimeSeconds: 90 }, answeredAt, T0 + 5_000), 90_000);
  assert.equal(pumpRuntimeMs({ state: 'estop', runtimeSeconds: 90 }, answeredAt, T0 + 5_000), 90_000);
  // A browser clock behind the answer's never counts backwards.
  assert.equal(pumpRuntimeMs({ state: 'running', runtimeSeconds: 90 }, answeredAt, T0 - 5_000), 90_000);
});

test('runtime tone: ok below 75 % of the limit, warn from 75 %, error at the limit; no limit is ok', () => {
  assert.deepEqual(runtimeTone(600_000, 1200), { share: 0.5, tone: 'ok' });
  assert.equal(runtimeTone(900_000, 1200).tone, 'warn');
  assert.equal(runtimeTone(1_200_000, 1200).tone, 'error');
  assert.equal(runtimeTone(5_000, 0).tone, 'ok');
});

test('evaluation in words: score against threshold, cameras and nodes against the policy', () => {
  const text = evaluationText(
    {
      at: iso(0),
      fire: true,
      missing: [],
      evidence: {
        detections: ['d1', 'd2'],
        cameras: [
          { camera: 'c1', node: 'a', weight: 1, confidence: 0.9 },
          { camera: 'c2', node: 'b', weight: 0.8, confidence: 0.9 },
        ],
        distinctCameras: 2,
        distinctNodes: 2,
        score: 1.62,
      },
    },
    {
      windowSeconds: 60,
      classes: ['fire'],
      minConfidence: 0.7,
      minCameras: 2,
      minNodes: 2,
      threshold: 1.2,
      cooldownSeconds: 300,
      activates: [],
      isolatedFallback: false,
    },
  );
  assert.equal(text, 'score 1.62 of 1.2 needed · 2 cameras of 2 · 2 nodes of 2');
});

test('decision evidence: votes with their sequence, detections counted, pumps, cause and reason', () => {
  assert.equal(
    decisionEvidence({
      at: iso(0),
      node: 'c',
      kind: 'majority',
      epoch: 3,
      cause: 'majority',
      detections: ['d1', 'd2', 'd3'],
      votes: [
        { voter: 'a', seq: 4, time: iso(0) },
        { voter: 'b', seq: 7, time: iso(0) },
      ],
      pumps: ['pump-1'],
    }),
    'votes of a #4, b #7 · 3 detections · pumps pump-1 · cause majority',
  );
  assert.equal(decisionEvidence({ at: iso(0), node: 'c', kind: 'epoch', epoch: 4 }), '');
});

test('pump buttons: start is refused while running or latched, clear only when latched or faulted, estop and stop always', () => {
  assert.equal(actionBlocked('start', 'running'), 'already running');
  assert.match(actionBlocked('start', 'estop') ?? '', /clear it first/);
  assert.equal(actionBlocked('start', 'stopped'), null);
  assert.notEqual(actionBlocked('test', 'running'), null);
  assert.notEqual(actionBlocked('clear', 'stopped'), null);
  assert.equal(actionBlocked('clear', 'estop'), null);
  assert.equal(actionBlocked('clear', 'fault'), null);
  for (const s of ['running', 'stopped', 'estop', 'fault', 'unknown'] as const) {
    assert.equal(actionBlocked('estop', s), null, `estop on ${s}`);
    assert.equal(actionBlocked('stop', s), null, `stop on ${s}`);
  }
});

test('confirmations: start says it bypasses the majority and is audited; emergency stop is the one danger', () => {
  const start = actionCopy('start', 'pump-1', 'north', 1200);
  assert.match(start.body, /bypasses the zone's majority/);
  assert.match(start.body, /audited/);
  assert.match(start.body, /20 min/);
  const danger = PUMP_ACTIONS.filter((a) => actionCopy(a, 'p', 'z', 60).danger);
  assert.deepEqual(danger, ['estop']);
  assert.match(actionCopy('estop', 'pump-1', 'north', 60).body, /latches/);
  for (const a of PUMP_ACTIONS) assert.match(actionCopy(a, 'pump-1', 'north', 60).body, /audited/, a);
});

test('history chart: each pump a step lane, high while a run holds (clipped to the range), detections as points on lane 0', () => {
  const h: ZoneHistoryInfo = {
    zone: 'north',
    start: iso(0),
    end: iso(600_000),
    pumps: [
      {
        pump: 'pump-1',
        runs: [
          { start: iso(-60_000), end: iso(60_000), cause: 'majority', by: 'zone', stopReason: 'manual' },
          { start: iso(300_000), end: null, cause: 'manual', by: 'olga', stopReason: null },
        ],
      },
      { pump: 'pump-2', runs: [{ start: iso(120_000), end: iso(180_000), cause: 'test', by: 'olga', stopReason: 'test-done' }] },
    ],
    detections: [
      { time: iso(100_000), camera: 'c1', node: 'a', confidence: 0.9 },
      { time: iso(-5_000), camera: 'c1', node: 'a', confidence: 0.9 },
    ],
  };
  const d = historyChartData(h);
  const at = (offsetMs: number) => d.x.indexOf((T0 + offsetMs) / 1000);
  const high = (lane: number, offsetMs: number) => d.lanes[lane]?.[at(offsetMs)] === laneBase(lane) + LANE_HIGH;
  assert.deepEqual(
    d.x.map((x) => x * 1000 - T0),
    [0, 60_000, 100_000, 120_000, 180_000, 300_000, 600_000],
    'the range, run edges clipped into it, the detection inside it',
  );
  assert.equal(high(0, 0), true, 'a run begun before the range is running at its start');
  assert.equal(high(0, 60_000), false, 'and stops at its end');
  assert.equal(high(0, 300_000), true);
  assert.equal(high(0, 600_000), true, 'a run still going holds at the end of the range');
  assert.equal(high(1, 120_000), true);
  assert.equal(high(1, 180_000), false);
  assert.equal(high(1, 600_000), false);
  assert.deepEqual(
    d.detections
      .map((v, i) => (v === null ? null : d.x[i] === undefined ? null : (d.x[i] as number) * 1000 - T0))
      .filter((v) => v !== null),
    [100_000],
    'the detection before the range is left out',
  );
  assert.deepEqual(
    d.ticks.map((t) => t.label),
    ['detections', 'pump-1', 'pump-2'],
  );
  assert.deepEqual(runTotals(h), [
    { pump: 'pump-1', runs: 2, ms: 60_000 + 300_000 },
    { pump: 'pump-2', runs: 1, ms: 60_000 },
  ]);
});

test('history chart: no pump and no detection still spans the range', () => {
  const d = historyChartData({ zone: 'z', start: iso(0), end: iso(900_000), pumps: [], detections: [] });
  assert.deepEqual(d.x, [T0 / 1000, (T0 + 900_000) / 1000]);
  assert.deepEqual(d.lanes, []);
  assert.deepEqual(d.detections, [null, null]);
});

test('history key: changes with a start, a stop or a new detection, not with a runtime that ticks', () => {
  const pump = {
    pump: 'pump-1',
    owner: 'c',
    state: 'running' as const,
    cause: 'majority',
    since: iso(0),
    runtimeSeconds: 5,
    maxRuntimeSeconds: 1200,
    atMaxRuntime: 'stop' as const,
    overRuntime: false,
    lastStart: { at: iso(0), cause: 'majority', by: 'zone' },
    lastStop: null,
  };
  const det = { id: 'd1', camera: 'c1', node: 'a', class: 'fire', confidence: 0.9, time: iso(0) };
  const k = historyKey({ pumps: [pump], detections: [det] });
  assert.equal(historyKey({ pumps: [{ ...pump, runtimeSeconds: 9 }], detections: [det] }), k);
  assert.notEqual(
    historyKey({ pumps: [{ ...pump, state: 'estop', lastStop: { at: iso(5_000), reason: 'estop', by: 'olga' } }], detections: [det] }),
    k,
  );
  assert.notEqual(historyKey({ pumps: [pump], detections: [{ ...det, id: 'd2' }, det] }), k);
});
