// The hub's own series for alert rules: the configuration repository's reconciliation as series a rule file
// can select (a refused revision, each node's state and drift), and nothing when there is no repository.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LabelMatcher } from '../../protocol/index.js';
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
