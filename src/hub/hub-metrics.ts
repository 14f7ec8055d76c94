// The hub's own Prometheus metrics (/metrics), in a registry of its own so several hubs can share a process.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type AckLane, FIELDMESH_VERSION, NODE_STATES, type NodeStateName, type RebirthReason } from '../protocol/index.js';
import { type AlertZone, ZONE_SERIES, type ZoneSeriesName, zoneSeries } from './alerts/fleet-series.js';
import { REJECT_REASONS, type RebirthCause, type RejectReason } from './fleet/fleet-state.js';
import { BACKFILL_ORIGINS } from './ledger/backfills.js';

export interface HubMetrics {
  readonly registry: Registry;
  readonly framesRejected: Counter<'reason'>;
  readonly framesReceived: Counter<'type'>;
  readonly samplesStored: Counter;
  readonly rebirthsRequested: Counter<'reason'>;
  readonly sampleAge: Histogram;
  readonly digestsPublished: Counter;
  readonly storageErrors: Counter;
  /** Samples from history frames (the durable plane). */
  readonly historySamplesStored: Counter;
  readonly eventsStored: Counter<'priority'>;
  readonly acksSent: Counter<'lane'>;
  /** Backfill requests published (resends included) and reported done, by origin. [FM-DURABLE-6] */
  readonly backfillsSent: Counter<'origin'>;
  readonly backfillsCompleted: Counter<'origin'>;
  rejectFrame(reason: RejectReason): void;
  requestRebirth(cause: RebirthCause | RebirthReason): void;
}

/** Buckets for receive time minus frame time, in seconds: a tick is 1 to 5 s, outages run to minutes. */
const SAMPLE_AGE_BUCKETS_S = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** A node's last reported outbox backlog, for the backlog gauges. */
export interface BacklogGaugeRow {
  readonly site: string;
  readonly node: string;
  readonly pendingRows: number;
  /** What the pending rows will cost on the wire, bytes (the node's estimate); 0 when not reported. */
  readonly pendingBytes: number;
  /** Age of the oldest pending sample, seconds; 0 when nothing is pending. */
  readonly ageSeconds: number;
}

export function createHubMetrics(
  countNodes: () => Record<NodeStateName, number>,
  backlogs: () => readonly BacklogGaugeRow[] = () => [],
  outstandingBackfills: () => number = () => 0,
): HubMetrics {
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
    help: 'Hub receive time minus sample time (when the node sampled the value) of every live sample: collection, tick and network delay, plus clock skew between node and hub.',
    buckets: SAMPLE_AGE_BUCKETS_S,
    registers,
  });
  const digestsPublished = new Counter({ name: 'fieldmesh_hub_digests_published_total', help: 'Digest frames published.', registers });
  const storageErrors = new Counter({ name: 'fieldmesh_hub_storage_errors_total', help: 'Failed storage writes.', registers });
  const historySamplesStored = new Counter({
    name: 'fieldmesh_hub_history_samples_stored_total',
    help: 'Samples from history frames (the durable plane) written to hub storage; resends count again.',
    registers,
  });
  const eventsStored = new Counter({
    name: 'fieldmesh_hub_events_stored_total',
    help: 'Events newly written to hub storage, by priority (a resent event is not counted twice).',
    labelNames: ['priority'] as const,
    registers,
  });
  const acksSent = new Counter({
    name: 'fieldmesh_hub_acks_sent_total',
    help: 'Ack frames published to nodes after their rows were committed, by outbox lane.',
    labelNames: ['lane'] as const,
    registers,
  });
  for (const lane of ['events', 'samples'] satisfies AckLane[]) acksSent.inc({ lane }, 0);
  const backfillsSent = new Counter({
    name: 'fieldmesh_hub_backfill_requests_sent_total',
    help: 'Backfill requests published to nodes, by origin (dropped: a range a node reported dropped; operator: the API); resends count again.',
    labelNames: ['origin'] as const,
    registers,
  });
  const backfillsCompleted = new Counter({
    name: 'fieldmesh_hub_backfill_requests_completed_total',
    help: 'Backfill requests nodes reported done, by origin.',
    labelNames: ['origin'] as const,
    registers,
  });
  for (const origin of BACKFILL_ORIGINS) {
    backfillsSent.inc({ origin }, 0);
    backfillsCompleted.inc({ origin }, 0);
  }
  new Gauge({
    name: 'fieldmesh_hub_backfill_requests_outstanding',
    help: 'Backfill requests not yet reported done.',
    registers,
    collect() {
      this.set(outstandingBackfills());
    },
  });
  new Gauge({
    name: 'fieldmesh_hub_node_backlog_rows',
    help: 'Outbox rows a node still has to send, as its last history frame reported.',
    labelNames: ['site', 'node'] as const,
    registers,
    collect() {
      this.reset();
      for (const b of backlogs()) this.set({ site: b.site, node: b.node }, b.pendingRows);
    },
  });
  new Gauge({
    name: 'fieldmesh_hub_node_backlog_bytes',
    help: 'What the outbox rows a node still has to send will cost on the wire, bytes (its estimate), as its last history frame reported.',
    labelNames: ['site', 'node'] as const,
    registers,
    collect() {
      this.reset();
      for (const b of backlogs()) this.set({ site: b.site, node: b.node }, b.pendingBytes);
    },
  });
  new Gauge({
    name: 'fieldmesh_hub_node_backlog_age_seconds',
    help: 'Age of the oldest sample a node still has to send (0 when none), as its last history frame reported.',
    labelNames: ['site', 'node'] as const,
    registers,
    collect() {
      this.reset();
      for (const b of backlogs()) this.set({ site: b.site, node: b.node }, b.ageSeconds);
    },
  });
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
    historySamplesStored,
    eventsStored,
    acksSent,
    backfillsSent,
    backfillsCompleted,
    rejectFrame: (reason) => framesRejected.inc({ reason }),
    requestRebirth: (cause) => rebirthsRequested.inc({ reason: cause }),
  };
}

/** The hub's zone monitor's own counters (docs/consensus.md "The hub's view"). */
export interface ZoneMetrics {
  /** Zone records (`zone_*` events) the hub received live, by zone and record kind. */
  readonly decisions: Counter<'zone' | 'kind'>;
  /** Zone frames heard on `<prefix>/+/+/zone/+` that decoded. */
  readonly framesReceived: Counter;
  /** Zone frames and zone events refused, by reason: malformed, other-zone, unknown-zone, not-member. */
  readonly framesRejected: Counter<'reason'>;
  /** From the detection that completed a majority's evidence to the majority record, seconds. */
  readonly decisionLatency: Histogram;
}

export const ZONE_REJECT_REASONS = ['malformed', 'other-zone', 'unknown-zone', 'not-member'] as const;
export type ZoneRejectReason = (typeof ZONE_REJECT_REASONS)[number];

/** Buckets for decision latency: a tick or two on a good link, a minute when a voter's frames need repeats. */
const DECISION_LATENCY_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120];

const ZONE_GAUGE_HELP: Record<ZoneSeriesName, string> = {
  fieldmesh_zone_majority_visible: "1 while at least floor(n/2)+1 of the zone's configured voters are online at the hub, else 0.",
  fieldmesh_zone_voters_online: "The zone's configured voters the hub holds online.",
  fieldmesh_zone_consensus_pending_seconds:
    "How long the zone's detections have waited without a majority decision or a running pump (0: none wait).",
  fieldmesh_zone_pump_running: '1 while the pump runs, as its owner reports it, else 0.',
  fieldmesh_zone_pump_runtime_seconds: "The pump's current run's runtime (the last run's when stopped), seconds.",
};

/** Registers the zone gauges (read from `zones` at every scrape) and the zone counters on `registry`. */
export function createZoneMetrics(registry: Registry, zones: () => readonly AlertZone[], now: () => number): ZoneMetrics {
  const registers = [registry];
  for (const name of ZONE_SERIES) {
    const pumpSeries = name === 'fieldmesh_zone_pump_running' || name === 'fieldmesh_zone_pump_runtime_seconds';
    new Gauge({
      name,
      help: ZONE_GAUGE_HELP[name],
      labelNames: pumpSeries ? (['site', 'zone', 'pump', 'node'] as const) : (['site', 'zone'] as const),
      registers,
      collect() {
        this.reset();
        for (const r of zoneSeries(name, zones(), now())) this.set(r.labels, r.value);
      },
    });
  }
  const framesRejected = new Counter({
    name: 'fieldmesh_zone_frames_rejected_total',
    help: 'Zone frames (and zone events) the hub refused, by reason: malformed (does not decode), unknown-zone (not watched: in neither hub.yaml zones: nor the configuration repository), not-member (the sender may not say that for the zone).',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of ZONE_REJECT_REASONS) framesRejected.inc({ reason }, 0);
  return {
    decisions: new Counter({
      name: 'fieldmesh_zone_decisions_total',
      help: 'Zone records (votes, majorities, lapses, epochs, refusals, commands) the hub received from the nodes, by zone and kind.',
      labelNames: ['zone', 'kind'] as const,
      registers,
    }),
    framesReceived: new Counter({
      name: 'fieldmesh_zone_frames_received_total',
      help: 'Zone frames heard on <prefix>/+/+/zone/+ that decoded.',
      registers,
    }),
    framesRejected,
    decisionLatency: new Histogram({
      name: 'fieldmesh_zone_decision_latency_seconds',
      help: "From the detection that completed a majority's evidence (its time, the camera node's clock) to the majority record (the pump owner's clock), seconds.",
      buckets: DECISION_LATENCY_BUCKETS_S,
      registers,
    }),
  };
}

/** The hub's hand-kept counts for `Hub.stats()` (tests and benches read them; /metrics has the same as counters). */
export interface HubCounters {
  framesReceived: number;
  framesRejected: number;
  samplesStored: number;
  historySamplesStored: number;
  eventsStored: number;
  acksSent: number;
  rebirthsRequested: number;
  digestsPublished: number;
  backfillsSent: number;
  backfillsCompleted: number;
}

export function newHubCounters(): HubCounters {
  return {
    framesReceived: 0,
    framesRejected: 0,
    samplesStored: 0,
    historySamplesStored: 0,
    eventsStored: 0,
    acksSent: 0,
    rebirthsRequested: 0,
    digestsPublished: 0,
    backfillsSent: 0,
    backfillsCompleted: 0,
  };
}
