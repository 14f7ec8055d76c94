// The hub's own series for alert rules: the configuration repository's reconciliation as series a rule file
// can select (a refused revision, each node's state and drift), and nothing when there is no repository.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LabelMatcher } from '../../protocol/index.js';
import { evaluateAlertExpression, parseAlertExpression } from './alert-expr.js';
import { type AlertConfigRepo, createAlertSeriesSource, type FleetView } from './fleet-series.js';

const storage = { querySeries: async () => [] };

function source(repo: AlertConfigRepo | undefined) {
  const fleet: FleetView = { nodes: () => [], backlog: () => undefined, configRepo: () => repo };
  return createAlertSeriesSource(storage, fleet);
}

const named = (name: string, ...more: LabelMatcher[]): LabelMatcher[] => [{ name: '__name__', op: '=', value: name }, ...more];

test('alert series: the configuration reconciliation as fieldmesh_config_* series, selectable by label', async () => {
  const repo: AlertConfigRepo = {
    refused: true,
    nodes: [
      { site: 'north', node: 'n1', state: 'in-sync', drift: false },
      { site: 'north', node: 'n2', state: 'failed', drift: true },
    ],
  };
  const at = 1_000_000;
  const refused = await source(repo)(named('fieldmesh_config_revision_refused'), at, at);
  assert.deepEqual(refused, [{ metric: { __name__: 'fieldmesh_config_revision_refused' }, points: [[at, 1]] }]);
  const failed = await source(repo)(named('fieldmesh_config_node_state', { name: 'state', op: '=', value: 'failed' }), at, at);
  assert.deepEqual(
    failed.map((s) => s.metric),
    [{ __name__: 'fieldmesh_config_node_state', site: 'north', node: 'n2', state: 'failed' }],
  );
  const drift = await source(repo)(named('fieldmesh_config_node_drift'), at, at);
  assert.deepEqual(
    drift.map((s) => [s.metric.node, s.points[0]?.[1]]),
    [
      ['n1', 0],
      ['n2', 1],
    ],
  );
  assert.deepEqual((await source({ ...repo, refused: false })(named('fieldmesh_config_revision_refused'), at, at))[0]?.points, [[at, 0]]);
  // No repository: no series (an absent series, as Prometheus has none for a job that is not there).
  assert.deepEqual(await source(undefined)(named('fieldmesh_config_revision_refused'), at, at), []);
});

test('alert series: up, fieldmesh_node_state, fieldmesh_node_backlog_rows and ALERTS as a Prometheus user expects them, usable in a rule', async () => {
  const at = 2_000_000;
  const fleet: FleetView = {
    nodes: () => [
      { site: 's1', zone: 'z', node: 'a', state: 'online', lastHeard: at, lastChanged: 0 },
      { site: 's1', zone: 'z', node: 'b', state: 'stale', lastHeard: at - 60_000, lastChanged: 0 },
    ],
    backlog: (_site, node) =>
      node === 'a' ? { pendingRows: 12, oldestPendingMs: at - 5_000, pendingBytes: null, reportedAt: at } : undefined,
    activeAlerts: () => [
      { labels: { alertname: 'NodeDown', node: 'b' }, state: 'firing' },
      { labels: { alertname: 'Old', node: 'a' }, state: 'resolved' },
    ],
  };
  const src = createAlertSeriesSource(storage, fleet);
  assert.deepEqual(
    (await src(named('up'), at, at)).map((s) => [s.metric, s.points]),
    [
      [{ __name__: 'up', site: 's1', zone: 'z', node: 'a' }, [[at, 1]]],
      [{ __name__: 'up', site: 's1', zone: 'z', node: 'b' }, [[at, 0]]],
    ],
  );
  const stale = await src(named('fieldmesh_node_state', { name: 'state', op: '=', value: 'stale' }), at, at);
  assert.deepEqual(
    stale.map((s) => [s.metric.node, s.points[0]?.[1]]),
    [
      ['a', 0],
      ['b', 1],
    ],
  );
  // A node that never reported a backlog has no backlog series (not a 0 that would claim an empty outbox).
  assert.deepEqual(
    (await src(named('fieldmesh_node_backlog_rows'), at, at)).map((s) => [s.metric.node, s.points[0]?.[1]]),
    [['a', 12]],
  );
  assert.deepEqual(
    (await src(named('ALERTS'), at, at)).map((s) => s.metric),
    [{ __name__: 'ALERTS', alertname: 'NodeDown', node: 'b', alertstate: 'firing' }],
  );
  // In a rule: `up == 0` selects the stale node.
  const down = await evaluateAlertExpression(parseAlertExpression('up == 0'), src, at);
  assert.deepEqual(
    down.map((s) => s.labels.node),
    ['b'],
  );
});

test('alert series: fieldmesh_node_completeness_ratio is the ratio of each node over the last full UTC day before the evaluation', async () => {
  const day = 86_400_000;
  const at = 20 * day + 3_600_000;
  const asked: [string, number, number][] = [];
  const fleet: FleetView = {
    nodes: () => [{ site: 's1', zone: 'z', node: 'a', state: 'online', lastHeard: at, lastChanged: 0 }],
    backlog: () => undefined,
    completenessRatio: async (_site, node, startMs, endMs) => {
      asked.push([node, startMs, endMs]);
      return 0.75;
    },
  };
  const got = await createAlertSeriesSource(storage, fleet)(named('fieldmesh_node_completeness_ratio'), at, at);
  assert.deepEqual(got, [
    { metric: { __name__: 'fieldmesh_node_completeness_ratio', site: 's1', zone: 'z', node: 'a' }, points: [[at, 0.75]] },
  ]);
  assert.deepEqual(asked, [['a', 19 * day, 20 * day]]);
  // Without a ledger to read (a FleetView without completenessRatio), the name is an ordinary stored series.
  assert.deepEqual(
    await createAlertSeriesSource(storage, { nodes: fleet.nodes, backlog: () => undefined })(
      named('fieldmesh_node_completeness_ratio'),
      at,
      at,
    ),
    [],
  );
});
