// The hub's own Prometheus metrics (/metrics), in a registry of its own so several hubs can share a process.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FIELDMESH_VERSION, NODE_STATES, type NodeStateName, type RebirthReason } from '../protocol/index.js';
import { REJECT_REASONS, type RebirthCause, type RejectReason } from './fleet/fleet-state.js';

export interface HubMetrics {
  readonly registry: Registry;
  readonly framesRejected: Counter<'reason'>;
  readonly framesReceived: Counter<'type'>;
  readonly samplesStored: Counter;
  readonly rebirthsRequested: Counter<'reason'>;
  readonly sampleAge: Histogram;
  readonly digestsPublished: Counter;
  readonly storageErrors: Counter;
  rejectFrame(reason: RejectReason): void;
  requestRebirth(cause: RebirthCause | RebirthReason): void;
}

/** Buckets for receive time minus frame time, in seconds: a tick is 1 to 5 s, outages run to minutes. */
const SAMPLE_AGE_BUCKETS_S = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export function createHubMetrics(countNodes: () => Record<NodeStateName, number>): HubMetrics {
  const registry = new Registry();
  const registers = [registry];
  const framesRejected = new Counter({
    name: 'fieldmesh_frames_rejected_total',
    help: 'Frames the hub refused, by reason; a rejected frame never disturbs other traffic.',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of REJECT_REASONS) framesRejected.inc({ reason }, 0);
  const framesReceived = new Counter({
    name: 'fieldmesh_hub_frames_received_total',
    help: 'Frames received on node topics that decoded, by frame type.',
    labelNames: ['type'] as const,
    registers,
  });
  const samplesStored = new Counter({ name: 'fieldmesh_hub_samples_stored_total', help: 'Samples written to hub storage.', registers });
  const rebirthsRequested = new Counter({
    name: 'fieldmesh_hub_rebirths_requested_total',
    help: 'Rebirth requests published to nodes, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const sampleAge = new Histogram({
    name: 'fieldmesh_hub_sample_age_seconds',
    help: 'Hub receive time minus frame time of frames carrying samples (includes clock skew between node and hub).',
    buckets: SAMPLE_AGE_BUCKETS_S,
    registers,
  });
  const digestsPublished = new Counter({ name: 'fieldmesh_hub_digests_published_total', help: 'Digest frames published.', registers });
  const storageErrors = new Counter({ name: 'fieldmesh_hub_storage_errors_total', help: 'Failed storage writes.', registers });
  new Gauge({
    name: 'fieldmesh_hub_nodes',
    help: 'Nodes known to the hub, by lifecycle state.',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const counts = countNodes();
      for (const state of NODE_STATES) this.set({ state }, counts[state]);
    },
  });
  new Gauge({
    name: 'fieldmesh_build_info',
    help: 'The fieldmesh release of this process (always 1).',
    labelNames: ['version'] as const,
    registers,
  }).set({ version: FIELDMESH_VERSION }, 1);

  return {
    registry,
    framesRejected,
    framesReceived,
    samplesStored,
    rebirthsRequested,
    sampleAge,
    digestsPublished,
    storageErrors,
    rejectFrame: (reason) => framesRejected.inc({ reason }),
    requestRebirth: (cause) => rebirthsRequested.inc({ reason: cause }),
  };
}
