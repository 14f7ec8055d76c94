// Target labels over a series' own labels, with Prometheus' exported_ renaming of clashes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withoutTargetLabels, withTargetLabels } from './target-labels.js';

const hub = { site: 'bess-a', node: 'n1', zone: 'rack-1' };

test('target labels: a series without clashing labels keeps its own and gains the target labels', () => {
  assert.deepEqual(withTargetLabels({ device: 'bms' }, hub), { device: 'bms', site: 'bess-a', node: 'n1', zone: 'rack-1' });
});

test('target labels: own node, site and zone move to exported_node, exported_site and exported_zone', () => {
  assert.deepEqual(withTargetLabels({ node: 'node001', site: 'plant', zone: 'east', job: 'pdu' }, hub), {
    job: 'pdu',
    site: 'bess-a',
    node: 'n1',
    zone: 'rack-1',
    exported_node: 'node001',
    exported_site: 'plant',
    exported_zone: 'east',
  });
});

test('target labels: an own label is exported even when its value equals the target value', () => {
  assert.deepEqual(withTargetLabels({ node: 'n1' }, { node: 'n1' }), { node: 'n1', exported_node: 'n1' });
});

test('target labels: exported_node taken by the series itself makes the clash exported_exported_node', () => {
  assert.deepEqual(withTargetLabels({ node: 'a', exported_node: 'b' }, hub), {
    node: 'n1',
    exported_node: 'b',
    exported_exported_node: 'a',
    site: 'bess-a',
    zone: 'rack-1',
  });
  assert.deepEqual(withTargetLabels({ node: 'a', exported_node: 'b', exported_exported_node: 'c' }, { node: 'n1' }), {
    node: 'n1',
    exported_node: 'b',
    exported_exported_node: 'c',
    exported_exported_exported_node: 'a',
  });
});

test('target labels: an own label with an empty value is absent, so nothing is exported', () => {
  assert.deepEqual(withTargetLabels({ node: '', exported_node: '' }, { node: 'n1' }), { node: 'n1', exported_node: '' });
  // An empty exported_node is free to take the clash, as in Prometheus.
  assert.deepEqual(withTargetLabels({ node: 'a', exported_node: '' }, { node: 'n1' }), { node: 'n1', exported_node: 'a' });
});

test('target labels: the own labels are not changed', () => {
  const own = { node: 'node001' };
  withTargetLabels(own, hub);
  assert.deepEqual(own, { node: 'node001' });
});

test('target labels: withoutTargetLabels gives back the own labels of what withTargetLabels made', () => {
  const names = Object.keys(hub);
  const cases: Array<Record<string, string>> = [
    { device: 'bms' },
    { node: 'node001', site: 'plant', zone: 'east', job: 'pdu' },
    { node: 'a', exported_node: 'b' },
    { node: 'a', exported_node: 'b', exported_exported_node: 'c', zone: 'z' },
    { __name__: 'dc_voltage', site: 'plant' },
  ];
  for (const own of cases) {
    assert.deepEqual(withoutTargetLabels(withTargetLabels(own, hub), names), own, JSON.stringify(own));
  }
  // The one case Prometheus' renaming loses: an own exported_node without a node reads as a node.
  assert.deepEqual(withoutTargetLabels(withTargetLabels({ exported_node: 'b' }, hub), names), { node: 'b' });
});
