// The node agent's composition root: config in, collectors, critical set, publisher, transport and
// HTTP server wired together. Tests and the demo pass adapters through `overrides`.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Clock, createId, describeError, type Logger, silentLogger, systemClock } from '../kit/index.js';
import { nextBootEpoch } from '../platform/index.js';
import { createMqttTransport, type Transport } from '../transport/index.js';
import { type AgentMetrics, createAgentMetrics } from './agent-metrics.js';
import { registerStoreRoutes } from './api/index.js';
import type { AgentEvent, Collector, CollectorContext, NodeIdentity, RejectReason, Sample } from './collectors/collector.js';
import { createCollector } from './collectors/registry.js';
import type { AgentConfig } from './config.js';
import { CriticalSet } from './critical-set.js';
import { createAgentHttp, listenWithFallback } from './http-server.js';
import { createSqliteOutbox, Replicator } from './outbox/index.js';
import { Publisher } from './publisher.js';
import { createSqliteStore, type StoreSample } from './store/index.js';

export interface AgentOverrides {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Builds the transport once the will (which carries the epoch) is known. */
  readonly createTransport?: (will: ReturnType<typeof Publisher.will>) => Transport;
  /** Collectors to run instead of those in the config. */
  readonly collectors?: readonly Collector[];
  /** Session epoch to use instead of the persisted boot counter. */
  readonly epoch?: number;
  /** When the HTTP port is taken, listen on a free one (default true). */
  readonly fallbackToFreePort?: boolean;
}

export interface AgentStats {
  readonly epoch: number;
  readonly localSeries: number;
  readonly criticalSeries: number;
  readonly samplesCollected: number;
  readonly eventsCollected: number;
  readonly bytesOut: number;
  readonly connected: boolean;
  /** Outbox rows waiting for the hub's acknowledgement, and durable-plane frames sent but not yet acknowledged. */
  readonly outboxPendingRows: number;
  readonly outboxFramesInFlight: number;
}

export interface Agent {
  readonly identity: NodeIdentity;
  readonly epoch: number;
  readonly metrics: AgentMetrics;
  readonly transport: Transport;
  /** Starts collectors, the HTTP server and the broker link. Resolves with the HTTP URL when enabled. */
  start(): Promise<{ httpUrl: string | undefined }>;
  /**
   * Stops. Graceful (default): a clean death frame, then a clean disconnect. `graceful: false`
   * drops the link as a crash would, so the broker publishes the will.
   */
  stop(options?: { graceful?: boolean }): Promise<void>;
  stats(): AgentStats;
}

function toStoreSample(s: Sample): StoreSample {
  return {
    name: s.name,
    labels: s.labels,
    time: s.time,
    value: s.value,
    ...(s.type ? { type: s.type } : {}),
    ...(s.unit ? { unit: s.unit } : {}),
  };
}

function readPem(path: string | undefined): string | undefined {
  return path === undefined ? undefined : readFileSync(path, 'utf8');
}

export function createAgent(config: AgentConfig, overrides: AgentOverrides = {}): Agent {
  const clock = overrides.clock ?? systemClock;
  const identity: NodeIdentity = { site: config.node.site, zone: config.node.zone, node: config.node.id };
  const logger = (overrides.logger ?? silentLogger).child({ site: identity.site, node: identity.node });
  const stateDir = join(config.dataDir, identity.site, identity.node);
  const epoch = overrides.epoch ?? nextBootEpoch(stateDir, 'agent-state.json');
  const metrics = createAgentMetrics(identity);
  const critical = new CriticalSet(config.critical);
  const will = Publisher.will(identity, config.topicPrefix, epoch);
  const transport =
    overrides.createTransport?.(will) ??
    createMqttTransport({
      url: config.mqtt.url,
      clientId: config.mqtt.clientId ?? `fieldmesh-${identity.site}-${identity.node}`,
      username: config.mqtt.username,
      password: config.mqtt.password,
      ca: readPem(config.mqtt.ca),
      cert: readPem(config.mqtt.cert),
      key: readPem(config.mqtt.key),
      keepaliveS: Math.round(config.mqtt.keepalive / 1000),
      protocolVersion: config.mqtt.protocolVersion,
      will,
      clock,
      logger,
    });
  const publisher = new Publisher({
    identity,
    prefix: config.topicPrefix,
    epoch,
    qos: config.mqtt.qos,
    tickMs: config.publish.tick,
    heartbeatMs: config.publish.heartbeat,
    transport,
    critical,
    clock,
    logger,
    metrics,
  });
  mkdirSync(stateDir, { recursive: true });
  const store = createSqliteStore({
    path: join(stateDir, 'store.db'),
    retentionMs: config.store.retention,
    ...(config.store.maxBytes !== undefined ? { maxBytes: config.store.maxBytes } : {}),
    clock,
    logger,
  });
  if (store.quarantined > 0) metrics.quarantined.inc({ file: 'store' });
  const outbox = createSqliteOutbox({
    path: join(stateDir, 'outbox.db'),
    maxSampleRows: config.outbox.maxSampleRows,
    logger,
    onDropped: (rows) => metrics.outboxDropped.inc({ lane: 'samples', reason: 'cap' }, rows),
  });
  if (outbox.quarantinedTo !== undefined) metrics.quarantined.inc({ file: 'outbox' });
  const replicator = new Replicator({
    outbox,
    transport,
    identity,
    prefix: config.topicPrefix,
    epoch,
    clock,
    logger,
    budgetBytesPerSecond: config.outbox.budgetBytesPerSecond,
    maxFrameRows: config.outbox.maxFrameRows,
    maxInFlight: 4,
    historyIntervalMs: config.outbox.historyInterval,
    onFrameSent: (lane, bytes) => {
      metrics.framesSent.inc({ type: lane === 'events' ? 'event' : 'history' });
      metrics.frameBytesSent.inc({ type: lane === 'events' ? 'event' : 'history' }, bytes);
    },
    onAck: (lane, rows) => metrics.outboxAcked.inc({ lane }, rows),
  });
  const collectors = overrides.collectors ?? config.collectors.map((c, i) => createCollector(c, i));
  let started = false;
  let samplesCollected = 0;
  let eventsCollected = 0;
  const http = config.http.enabled
    ? createAgentHttp(metrics, { started: () => started, brokerConnected: () => transport.connected })
    : undefined;

  function contextFor(collector: Collector): CollectorContext {
    const counter = metrics.samplesCollected.labels({ collector: collector.name });
    return {
      identity,
      clock,
      logger: logger.child({ collector: collector.name }),
      http,
      async record(input: readonly Sample[]) {
        // Whole milliseconds: sub-millisecond times from pushes are rounded, as the store and the wire keep ms.
        const samples = input.map((s) => (Number.isInteger(s.time) ? s : { ...s, time: Math.round(s.time) }));
        // [FM-DURABLE-1] Critical samples go to the outbox; the caller is answered once it is on disk.
        const durable = samples
          .filter((s) => critical.observe(s) && config.outbox.replicateSamples)
          .map((s) => ({ name: s.name, labels: s.labels, type: s.type ?? 'gauge', unit: s.unit ?? '', time: s.time, value: s.value }));
        // Everything collected is kept locally; the critical part also waits in the outbox for the hub.
        await Promise.all([store.append(samples.map(toStoreSample)), outbox.appendSamples(durable)]);
        samplesCollected += samples.length;
        counter.inc(samples.length);
        if (durable.length > 0) replicator.notify();
      },
      async emit(event: AgentEvent) {
        const payload = new TextEncoder().encode(JSON.stringify(event.payload ?? null));
        await outbox.appendEvent({ id: event.id ?? createId(), kind: event.kind, priority: event.priority, time: event.time, payload });
        eventsCollected++;
        metrics.eventsCollected.inc({ priority: event.priority });
        replicator.notify();
      },
      reject(reason: RejectReason) {
        metrics.collectorRejected.inc({ collector: collector.name, reason });
      },
    };
  }

  return {
    identity,
    epoch,
    metrics,
    transport,
    async start() {
      for (const c of collectors) await c.start(contextFor(c));
      let httpUrl: string | undefined;
      if (http !== undefined) {
        await registerStoreRoutes(http, store);
        httpUrl = await listenWithFallback(
          http,
          config.http.host,
          config.http.port,
          overrides.fallbackToFreePort ?? true,
          logger,
          'agent HTTP',
        );
      }
      publisher.start();
      replicator.start();
      transport.start();
      started = true;
      logger.info({ epoch, collectors: collectors.length, httpUrl }, 'agent started');
      return { httpUrl };
    },
    async stop(options = {}) {
      const graceful = options.graceful ?? true;
      started = false;
      for (const c of collectors) {
        await c
          .stop()
          .catch((err: unknown) => logger.warn({ collector: c.name, err: describeError(err) }, 'collector did not stop cleanly'));
      }
      if (graceful) await publisher.stop();
      replicator.stop();
      await transport.close({ graceful });
      await http?.close();
      outbox.close();
      await store.close();
    },
    stats() {
      return {
        epoch,
        localSeries: critical.localSeriesCount,
        criticalSeries: critical.criticalSeriesCount,
        samplesCollected,
        eventsCollected,
        bytesOut: transport.stats().bytesOut,
        connected: transport.connected,
        outboxPendingRows: outbox.backlog().sampleRows,
        outboxFramesInFlight: replicator.framesInFlight,
      };
    },
  };
}
