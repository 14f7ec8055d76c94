// The awareness plane's figures in the agent's /metrics: read from the plane's own counters at each scrape,
// so /metrics and /api/v1/fleet never disagree. Registered only while the plane runs.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { AwarenessStats } from '../awareness/index.js';

type Labelled = Readonly<Record<string, number>>;

/** A counter or gauge whose values are the plane's, set at each scrape: one value, or values by `label`. */
function mirror(
  registry: Registry,
  kind: 'counter' | 'gauge',
  name: string,
  help: string,
  read: () => number | Labelled,
  label?: string,
): void {
  function collect(this: Counter | Gauge): void {
    const value = read();
    this.reset();
    const put = (labels: Record<string, string>, n: number) => (this instanceof Counter ? this.inc(labels, n) : this.set(labels, n));
    if (typeof value === 'number') put({}, value);
    else for (const [l, n] of Object.entries(value)) put({ [label as string]: l }, n);
  }
  const options = { name, help, labelNames: label === undefined ? [] : [label], registers: [registry], collect };
  if (kind === 'counter') new Counter(options);
  else new Gauge(options);
}

/**
 * Registers `fieldmesh_awareness_*` on `registry`, each read from `stats()` at scrape time. Names and meanings:
 * docs/awareness.md#metrics.
 */
export function registerAwarenessMetrics(registry: Registry, read: () => AwarenessStats): void {
  // One reading per scrape: the metrics are collected in one turn of the event loop.
  let cached: AwarenessStats | undefined;
  const stats = (): AwarenessStats => {
    if (cached === undefined) {
      cached = read();
      setImmediate(() => {
        cached = undefined;
      });
    }
    return cached;
  };
  const counters: [name: string, help: string, read: () => number | Labelled, label?: string][] = [
    ['fieldmesh_awareness_frames_sent_total', 'Awareness frames sent, by type.', () => stats().framesSent, 'type'],
    [
      'fieldmesh_awareness_sent_bytes_total',
      'Bytes of awareness frames sent (payload, without IP and UDP headers).',
      () => stats().bytesSent,
    ],
    ['fieldmesh_awareness_frames_received_total', 'Awareness frames read (first copies).', () => stats().framesReceived],
    ['fieldmesh_awareness_received_bytes_total', 'Bytes of the awareness frames read.', () => stats().bytesReceived],
    [
      'fieldmesh_awareness_frames_rejected_total',
      'Awareness frames that could not be decoded, by reason.',
      () => stats().framesRejected,
      'reason',
    ],
    [
      'fieldmesh_awareness_duplicate_frames_total',
      "Awareness frames heard again (relayed copies, and this node's own on a multicast loop).",
      () => stats().duplicates,
    ],
    ['fieldmesh_awareness_relayed_frames_total', 'Awareness frames this node forwarded (radius above 0).', () => stats().relayed],
    ['fieldmesh_awareness_origin_collisions_total', "Announces of another node with this node's origin id.", () => stats().collisions],
    [
      'fieldmesh_awareness_joins_total',
      'Members heard for the first time, or again after a dead verdict, a leave or a restart.',
      () => stats().changes.joined,
    ],
    ['fieldmesh_awareness_suspicions_total', 'Members this node began to suspect.', () => stats().changes.suspected],
    ['fieldmesh_awareness_refutations_total', 'Suspected members heard again before a verdict.', () => stats().changes.refuted],
    ['fieldmesh_awareness_verdicts_total', 'Dead verdicts this node gave.', () => stats().changes.failed],
    ['fieldmesh_awareness_leaves_total', 'Members that said goodbye with a leave frame.', () => stats().changes.left],
    ['fieldmesh_awareness_isolations_total', 'Times this node heard nobody and called itself isolated.', () => stats().changes.isolated],
    [
      'fieldmesh_awareness_stalls_total',
      "Stalls of this node's own event loop longer than a tick (it judged nobody for two ticks after).",
      () => stats().stalls,
    ],
  ];
  for (const [name, help, read, label] of counters) mirror(registry, 'counter', name, help, read, label);
  mirror(
    registry,
    'gauge',
    'fieldmesh_awareness_members',
    'Members by state, as this node sees them (itself left out).',
    () => stats().members,
    'state',
  );
  mirror(registry, 'gauge', 'fieldmesh_awareness_isolated', '1 while this node hears nobody (the others are unreachable, not dead).', () =>
    stats().isolated ? 1 : 0,
  );
  mirror(
    registry,
    'gauge',
    'fieldmesh_awareness_suspected_by',
    'Other observers whose current pulses suspect this node.',
    () => stats().suspectedBy,
  );
}
