// The awareness plane's counters in /metrics: every figure of the plane's stats under its Prometheus name, read at
// each scrape, labelled where the plane counts by type, reason or state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { AwarenessStats } from '../awareness/index.js';
import { registerAwarenessMetrics } from './awareness-metrics.js';

function stats(over: Partial<AwarenessStats> = {}): AwarenessStats {
  return {
    origin: 4242,
    framesSent: { pulse: 120, announce: 3, want: 1, leave: 0 },
    bytesSent: 900,
    framesReceived: 700,
    bytesReceived: 5_100,
    framesRejected: { truncated: 2 },
    duplicates: 130,
    relayed: 0,
    collisions: 0,
    changes: { joined: 6, suspected: 4, refuted: 3, failed: 1, left: 1, isolated: 2, reconnected: 2, reached: 9 },
    stalls: 1,
    members: { alive: 4, suspect: 0, unreachable: 0, dead: 1, left: 1 },
    isolated: false,
    suspectedBy: 0,
    ...over,
  };
}

/** The value of one sample line: `name{labels} value`, labels given as they print. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(labels === '' ? `${name} ` : `${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

test('awareness metrics: every counter of the plane under its Prometheus name, read at each scrape', async () => {
  const registry = new Registry();
  let current = stats();
  registerAwarenessMetrics(registry, () => current);
  const text = await registry.metrics();
  const expected: [string, string, number][] = [
    ['fieldmesh_awareness_frames_sent_total', 'type="pulse"', 120],
    ['fieldmesh_awareness_frames_sent_total', 'type="announce"', 3],
    ['fieldmesh_awareness_sent_bytes_total', '', 900],
    ['fieldmesh_awareness_frames_received_total', '', 700],
    ['fieldmesh_awareness_received_bytes_total', '', 5_100],
    ['fieldmesh_awareness_frames_rejected_total', 'reason="truncated"', 2],
    ['fieldmesh_awareness_duplicate_frames_total', '', 130],
    ['fieldmesh_awareness_joins_total', '', 6],
    ['fieldmesh_awareness_suspicions_total', '', 4],
    ['fieldmesh_awareness_refutations_total', '', 3],
    ['fieldmesh_awareness_verdicts_total', '', 1],
    ['fieldmesh_awareness_leaves_total', '', 1],
    ['fieldmesh_awareness_isolations_total', '', 2],
    ['fieldmesh_awareness_stalls_total', '', 1],
    ['fieldmesh_awareness_members', 'state="alive"', 4],
    ['fieldmesh_awareness_members', 'state="dead"', 1],
    ['fieldmesh_awareness_isolated', '', 0],
    ['fieldmesh_awareness_suspected_by', '', 0],
  ];
  for (const [name, labels, value] of expected) assert.equal(sample(text, name, labels), value, `${name}{${labels}}`);
  assert.match(text, /# TYPE fieldmesh_awareness_suspicions_total counter/);
  assert.match(text, /# TYPE fieldmesh_awareness_isolated gauge/);

  current = stats({ isolated: true, suspectedBy: 2, changes: { ...stats().changes, suspected: 5 } });
  await new Promise((resolve) => setImmediate(resolve));
  const later = await registry.metrics();
  assert.equal(sample(later, 'fieldmesh_awareness_isolated'), 1);
  assert.equal(sample(later, 'fieldmesh_awareness_suspected_by'), 2);
  assert.equal(sample(later, 'fieldmesh_awareness_suspicions_total'), 5);
});

test('awareness metrics: one reading of the plane per scrape', async () => {
  const registry = new Registry();
  let reads = 0;
  registerAwarenessMetrics(registry, () => {
    reads++;
    return stats();
  });
  const before = reads;
  await registry.metrics();
  assert.equal(reads - before, 1);
});
