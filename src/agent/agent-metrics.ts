// The agent's own Prometheus metrics, on a registry per agent (the demo runs many agents in one process).

import { Counter, Gauge, Registry } from 'prom-client';
import { FIELDMESH_VERSION } from '../protocol/index.js';

export function createAgentMetrics(identity: { site: string; node: string }) {
  const registry = new Registry();
  registry.setDefaultLabels({ site: identity.site, node: identity.node });
  const registers = [registry];
  const metrics = {
    registry,
    samplesCollected: new Counter({
      name: 'fieldmesh_agent_samples_collected_total',
      help: 'Samples accepted from collectors.',
      labelNames: ['collector'],
      registers,
    }),
    eventsCollected: new Counter({
      name: 'fieldmesh_agent_events_collected_total',
      help: 'Events accepted from collectors, by priority.',
      labelNames: ['priority'],
      registers,
    }),
    eventsDropped: new Counter({
      name: 'fieldmesh_agent_events_dropped_total',
      help: 'Events dropped because the in-memory queue was full while the broker was unreachable.',
      registers,
    }),
    collectorRejected: new Counter({
      name: 'fieldmesh_collector_rejected_total',
      help: 'Input refused by a collector, by reason.',
      labelNames: ['collector', 'reason'],
      registers,
    }),
    samplesRejected: new Counter({
      name: 'fieldmesh_samples_rejected_total',
      help: 'Samples refused before the store, by collector and reason: too-old (older than the store retention), too-new (more than 2 days ahead of the node clock).',
      labelNames: ['collector', 'reason'],
      registers,
    }),
    framesSent: new Counter({
      name: 'fieldmesh_agent_frames_sent_total',
      help: 'Frames handed to the broker, by type.',
      labelNames: ['type'],
      registers,
    }),
    frameBytesSent: new Counter({
      name: 'fieldmesh_agent_frame_bytes_sent_total',
      help: 'Frame payload bytes handed to the broker, by type.',
      labelNames: ['type'],
      registers,
    }),
    publishFailures: new Counter({
      name: 'fieldmesh_agent_publish_failures_total',
      help: 'Publishes that failed because the link dropped.',
      registers,
    }),
    framesRejected: new Counter({
      name: 'fieldmesh_frames_rejected_total',
      help: 'Frames received that could not be decoded, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    births: new Counter({
      name: 'fieldmesh_agent_births_total',
      help: 'Births published, by cause.',
      labelNames: ['cause'],
      registers,
    }),
    outboxDropped: new Counter({
      name: 'fieldmesh_outbox_dropped_total',
      help: 'Outbox rows deleted unsent, by lane and reason (cap: coalesced to the latest per series).',
      labelNames: ['lane', 'reason'],
      registers,
    }),
    outboxAcked: new Counter({
      name: 'fieldmesh_outbox_acked_rows_total',
      help: 'Outbox rows the hub acknowledged and the node deleted, by lane.',
      labelNames: ['lane'],
      registers,
    }),
    remoteQueries: new Counter({
      name: 'fieldmesh_agent_remote_queries_total',
      help: 'Queries from the hub over MQTT (cmd/query), by kind and result: ok, error, busy, too-large, expired (dropped from the queue past the hub timeout).',
      labelNames: ['kind', 'result'],
      registers,
    }),
    backfillRequests: new Counter({
      name: 'fieldmesh_backfill_requests_total',
      help: 'Backfill requests received from the hub, by result: added, pending (already in hand), reported-again (already finished), refused (undecodable or a bad selector).',
      labelNames: ['result'],
      registers,
    }),
    backfillRows: new Counter({
      name: 'fieldmesh_backfill_rows_enqueued_total',
      help: 'Samples read from the local store and queued in the outbox to answer backfill requests.',
      registers,
    }),
    quarantined: new Counter({
      name: 'fieldmesh_agent_files_quarantined_total',
      help: 'Damaged database files moved aside at start, by file.',
      labelNames: ['file'],
      registers,
    }),
    localSeries: new Gauge({ name: 'fieldmesh_agent_local_series', help: 'Series seen on this node.', registers }),
    criticalSeries: new Gauge({ name: 'fieldmesh_agent_critical_series', help: 'Series selected as critical.', registers }),
    connected: new Gauge({ name: 'fieldmesh_agent_broker_connected', help: '1 while the MQTT session is up.', registers }),
    connects: new Counter({ name: 'fieldmesh_agent_broker_connects_total', help: 'MQTT sessions established.', registers }),
    buildInfo: new Gauge({ name: 'fieldmesh_build_info', help: 'Build information.', labelNames: ['version'], registers }),
  };
  metrics.buildInfo.set({ version: FIELDMESH_VERSION }, 1);
  return metrics;
}

export type AgentMetrics = ReturnType<typeof createAgentMetrics>;
