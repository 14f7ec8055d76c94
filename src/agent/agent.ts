// The node agent's composition root: config in, collectors, critical set, publisher, transport and
// HTTP server wired together. Tests and the demo pass adapters through `overrides`.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gauge } from 'prom-client';
import {
  Aggregator,
  AggregatorTakeover,
  AwarenessPlane,
  createMqttLink,
  type MembershipChange,
  type MembershipChangeKind,
} from '../awareness/index.js';
import { type Clock, createId, describeError, FieldmeshError, type Logger, silentLogger, systemClock } from '../kit/index.js';
import { nextBootEpoch } from '../platform/index.js';
import {
  createFrameRouter,
  type Detection,
  FIELDMESH_VERSION,
  type FrameRouter,
  type LogLevelName,
  parseSelector,
  type Sample,
} from '../protocol/index.js';
import { createMqttTransport, createNoBrokerTransport, createUdpLink, type FrameLink, type Transport } from '../transport/index.js';
import { type AgentMetrics, createAgentMetrics } from './agent-metrics.js';
import { registerGetRoute } from './api/get-routes.js';
import { registerFleetRoutes, registerStoreRoutes } from './api/index.js';
import { registerServiceRoutes } from './api/service-routes.js';
import { createStoreQueries } from './api/store-queries.js';
import { registerZoneRoutes } from './api/zone-routes.js';
import { createAssignmentListener, identityStatus, type StoredAssignment } from './assignment/index.js';
import { registerAwarenessMetrics } from './awareness-metrics.js';
import { createCertificateRenewer, readNodeCredentials } from './certificates/certificate-renewer.js';
import type { AgentEvent, Collector, CollectorContext, NodeIdentity, RejectReason } from './collectors/collector.js';
import { DETECTION_KIND } from './collectors/detections.js';
import { createCollector } from './collectors/registry.js';
import { admitSamples, countRefusals, RefusedSampleLog, sampleWindow } from './collectors/sample-window.js';
import { createLogLevelControl, levelOf } from './commands/log-level.js';
import { createNodeCommandHandler } from './commands/node-command-handlers.js';
import type { AgentConfig } from './config.js';
import { configVersionOf } from './config-version.js';
import { CriticalSet } from './critical-set.js';
import { createAgentHttp, listenWithFallback } from './http-server.js';
import { Backfiller, Replicator } from './outbox/index.js';
import { Publisher } from './publisher.js';
import { QueryResponder } from './query-responder.js';
import { type ApplyResult, createNodeReconcile, type NodeReconcile, type ReconcileOverrides } from './reconcile/index.js';
import { type NodeRecords, openNodeRecords } from './record-sink.js';
import { createNodeRemoteWrites } from './remote-write.js';
import {
  createHealthProbe,
  createPidRegistry,
  createProcessSpawner,
  createProcUsageReader,
  createServiceSupervisor,
  createServicesCollector,
  registerServiceMetrics,
  SERVICE_UP_SERIES,
  type ServiceEvent,
  type ServiceSupervisor,
} from './services/index.js';
import { createSparkplugEdgeNode, type SparkplugEdgeNode } from './sparkplug/edge-node.js';
import { registerZoneMetrics } from './zones/zone-metrics.js';
import { startZoneRuntime, type ZoneRuntime } from './zones/zone-runtime.js';
import { splitZoneDatagrams } from './zones/zone-segment.js';
import { setUpZoneSigning, type ZoneSigning, zoneSigningFiles } from './zones/zone-signing.js';

/** How often the zone signing files (CA, CRL, the node's certificate and key) are polled: a TLS listener's CRL's 1 s. */
const ZONE_SIGNING_POLL_MS = 1_000;

export interface AgentOverrides {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /**
   * The node's log level at start (default: `logger`'s own level when it has one, pino's `level`, else debug);
   * `set-log-level` changes it while the node runs, down to what `logger` itself lets through. [FM-QUERY-7]
   */
  readonly logLevel?: LogLevelName;
  /** Builds the transport once the will (which carries the epoch) is known. */
  readonly createTransport?: (will: ReturnType<typeof Publisher.will>) => Transport;
  /** Collectors to run instead of those in the config. */
  readonly collectors?: readonly Collector[];
  /** Session epoch to use instead of the persisted boot counter. */
  readonly epoch?: number;
  /** When the HTTP port is taken, listen on a free one (default true). */
  readonly fallbackToFreePort?: boolean;
  /** Where desired configs come from and what the node started with (the CLI passes these; src/agent/reconcile/). */
  readonly reconcile?: ReconcileOverrides;
  /** node.yaml's identity and the hub's assignment the node runs under (the CLI passes these; src/agent/assignment/). [FM-ASSIGN-4] */
  readonly identity?: {
    /** What node.yaml says (default: the config's `node`). */
    readonly nodeYaml: AgentConfig['node'];
    /** The kept assignment the config's site and zone come from. */
    readonly assigned?: StoredAssignment;
    /** A new assignment arrived and is kept on disk: restart the agent under it. Without: it applies at the next start. */
    onAssigned?(assignment: StoredAssignment): void;
  };
  /** How often zone signing's files are polled for a change (default 1 s). */
  readonly zoneSigningPollMs?: number;
  /** The store, outbox and record sink instead of `openNodeRecords` on the state dir (bench/record-sink.ts measures another layout). */
  readonly records?: (stateDir: string) => NodeRecords;
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
  /** What the pending rows will cost on the wire, bytes (an estimate, as history frames report it). */
  readonly outboxPendingBytes: number;
  /** Backfill requests from the hub still being read from the store. [FM-DURABLE-6] */
  readonly backfillsReading: number;
  /** The awareness plane's own figures, when it runs. */
  readonly awareness?: ReturnType<AwarenessPlane['stats']>;
}

export interface Agent {
  readonly identity: NodeIdentity;
  readonly epoch: number;
  /** When this boot started, ms since the Unix epoch; births carry it. [FM-FRAME-5] */
  readonly bootTime: number;
  /** A short stable hash of the effective configuration; births carry it. [FM-FRAME-5] */
  readonly configVersion: string;
  readonly metrics: AgentMetrics;
  readonly transport: Transport;
  /** The Sparkplug B edge node, with node.yaml `sparkplug.enabled`. */
  readonly sparkplug: SparkplugEdgeNode | undefined;
  /** The process's frame router: every part reading frames from the broker registers on it; its stats count them. */
  readonly router: FrameRouter;
  /** The awareness plane, once started with `awareness.transport` other than none. */
  readonly awareness: AwarenessPlane | undefined;
  /** The zones this node takes part in, once started with `zones:` in its config (the demo and tests read them). */
  readonly zones: ZoneRuntime | undefined;
  /** The programs this node supervises (`services:` in node.yaml; docs/services.md). */
  readonly services: ServiceSupervisor;
  /**
   * Applies `next` live: collectors, critical selectors, zones and services change at once, every other changed
   * key waits for a restart; on an error what was applied is rolled back (docs/config-as-code.md).
   */
  applyConfig(next: AgentConfig): Promise<ApplyResult>;
  /** The node's reconciliation: desired configs from the hub or its repository clone, GET /api/v1/config. */
  readonly reconcile: NodeReconcile;
  /** Starts collectors, the HTTP server and the broker link. Resolves with the HTTP URL when enabled. */
  start(): Promise<{ httpUrl: string | undefined }>;
  /**
   * Stops. Graceful (default): a clean death frame, then a clean disconnect. `graceful: false`
   * drops the link as a crash would, so the broker publishes the will.
   */
  stop(options?: { graceful?: boolean }): Promise<void>;
  stats(): AgentStats;
}

/** The membership changes that go to the hub as events, and their kinds there. */
const EVENT_OF_CHANGE: Partial<Record<MembershipChangeKind, string>> = {
  joined: 'member_joined',
  failed: 'member_failed',
  left: 'member_left',
  isolated: 'awareness_isolated',
  reconnected: 'awareness_reconnected',
};

/**
 * [FM-ZONE-REACH] The nodes of `site` the awareness plane holds alive or suspect (not yet judged lost), by node
 * id: the ids a zone's `voters` list. The plane names its members `site/node`; another site's node of the same id
 * is no voter here.
 */
export function liveSiteNodes(
  plane: { readonly membership: Pick<AwarenessPlane['membership'], 'view'>; readonly fleet: Pick<AwarenessPlane['fleet'], 'nameOf'> },
  site: string,
  clock: Pick<Clock, 'now'>,
): () => readonly string[] {
  const prefix = `${site}/`;
  return () => {
    const nodes: string[] = [];
    for (const m of plane.membership.view(clock.now())) {
      if (m.state !== 'alive' && m.state !== 'suspect') continue;
      const name = plane.fleet.nameOf(m.origin);
      if (name?.startsWith(prefix)) nodes.push(name.slice(prefix.length));
    }
    return nodes;
  };
}

function readPem(path: string | undefined): string | undefined {
  return path === undefined ? undefined : readFileSync(path, 'utf8');
}

export function createAgent(config: AgentConfig, overrides: AgentOverrides = {}): Agent {
  const clock = overrides.clock ?? systemClock;
  const identity: NodeIdentity = { site: config.node.site, zone: config.node.zone, node: config.node.id };
  // [FM-QUERY-7] One level for every child logger, changeable by the set-log-level command.
  const baseLogger = overrides.logger ?? silentLogger;
  const logLevel = createLogLevelControl(baseLogger, overrides.logLevel ?? levelOf(baseLogger), clock);
  const logger = logLevel.logger.child({ site: identity.site, node: identity.node });
  const stateDir = join(config.dataDir, identity.site, identity.node);
  const epoch = overrides.epoch ?? nextBootEpoch(stateDir, 'agent-state.json');
  const bootTime = clock.now();
  const configVersion = configVersionOf(config);
  const metrics = createAgentMetrics(identity);
  // [FM-SERVICE-UP] The services' up series is critical: after the configured selectors, so theirs decide first.
  const criticalSelectors = [...config.critical, { match: SERVICE_UP_SERIES, deadband: 0, minInterval: 0, maxSilence: 30_000 }];
  const critical = new CriticalSet(criticalSelectors);
  const will = Publisher.will(identity, config.topicPrefix, epoch);
  // Without a broker (a mesh-only node) nothing connects; the outbox keeps its rows for one configured later.
  const brokerless = overrides.createTransport === undefined && !config.mqtt.enabled;
  if (brokerless) metrics.registry.removeSingleMetric('fieldmesh_agent_broker_connected');
  // [FM-CERT-6] The certificate the hub renews (node.yaml `pki`) replaces mqtt.cert/key/ca once there is one.
  // Only on a TLS URL: given a certificate, mqtt.js would turn mqtt:// into mqtts:// by itself.
  const pkiCredentials =
    config.pki === undefined || !/^(mqtts|wss):\/\//i.test(config.mqtt.url)
      ? undefined
      : readNodeCredentials(config.pki.dir, identity.node);
  const transport =
    overrides.createTransport?.(will) ??
    (brokerless ? createNoBrokerTransport() : undefined) ??
    createMqttTransport({
      url: config.mqtt.url,
      clientId: config.mqtt.clientId ?? `fieldmesh-${identity.site}-${identity.node}`,
      username: config.mqtt.username,
      password: config.mqtt.password,
      ca: pkiCredentials?.ca ?? readPem(config.mqtt.ca),
      cert: pkiCredentials?.cert ?? readPem(config.mqtt.cert),
      key: pkiCredentials?.key ?? readPem(config.mqtt.key),
      keepaliveS: Math.round(config.mqtt.keepalive / 1000),
      protocolVersion: config.mqtt.protocolVersion,
      will,
      clock,
      logger,
    });
  // [FM-TOPIC-5] The process's one frame router: every frame from the broker is parsed and decoded once, for all
  // the parts below that read it; what does not decode is counted here, once.
  const router = createFrameRouter({
    source: transport,
    prefix: config.topicPrefix,
    onRejected: (r) => {
      // A zone topic's refusals count with the zone link's (fieldmesh_zone_frames_rejected_total{link="mqtt"}).
      if (r.parsed?.kind === 'zone' && zones !== undefined && r.reason !== 'unknown-topic') {
        zones.refuseFromBroker(r.reason);
        logger.debug({ topic: r.topic, reason: r.reason }, `zone frame rejected: ${r.message}`);
        return;
      }
      metrics.framesRejected.inc({ reason: r.reason });
      logger.warn({ topic: r.topic, reason: r.reason }, `frame rejected: ${r.message}`);
    },
  });
  const publisher = new Publisher({
    identity,
    prefix: config.topicPrefix,
    epoch,
    bootTime,
    configVersion,
    qos: config.mqtt.qos,
    tickMs: config.publish.tick,
    heartbeatMs: config.publish.heartbeat,
    transport,
    router,
    critical,
    clock,
    logger,
    metrics,
  });
  mkdirSync(stateDir, { recursive: true });
  // [FM-DURABLE-1] One file, store.db: the store, the outbox, and the sink that commits a batch to both at once.
  const { store, outbox, sink, carryOver } =
    overrides.records?.(stateDir) ??
    openNodeRecords({
      dir: stateDir,
      store: {
        retentionMs: config.store.retention,
        ...(config.store.maxBytes !== undefined ? { maxBytes: config.store.maxBytes } : {}),
        rollups: config.store.rollups.map((r) => ({ resolutionMs: r.resolution, retentionMs: r.retention })),
        clock,
      },
      outbox: {
        maxSampleRows: config.outbox.maxSampleRows,
        onDropped: (rows) => metrics.outboxDropped.inc({ lane: 'samples', reason: 'cap' }, rows),
      },
      logger,
    });
  if (store.quarantined > 0) metrics.quarantined.inc({ file: 'store' });
  // node.yaml `remoteWrite`: the store forwarded to remote write receivers (docs/remote-write.md).
  const remoteWrites = createNodeRemoteWrites(config.remoteWrite, { store, stateDir, identity, registry: metrics.registry, clock, logger });
  // node.yaml `sparkplug`: the node as a Sparkplug B edge node on its own MQTT session (docs/sparkplug.md).
  const sparkplug = config.sparkplug.enabled ? createSparkplug() : undefined;
  function createSparkplug(): SparkplugEdgeNode {
    const b = config.sparkplug.broker;
    const clientId = `${config.mqtt.clientId ?? `fieldmesh-${identity.site}-${identity.node}`}-spb`;
    return createSparkplugEdgeNode({
      groupId: config.sparkplug.groupId ?? identity.site,
      edgeNodeId: config.sparkplug.edgeNodeId ?? identity.node,
      primaryHostId: config.sparkplug.primaryHostId,
      broker:
        b === undefined
          ? {
              url: config.mqtt.url,
              clientId,
              username: config.mqtt.username,
              password: config.mqtt.password,
              ca: pkiCredentials?.ca ?? readPem(config.mqtt.ca),
              cert: pkiCredentials?.cert ?? readPem(config.mqtt.cert),
              key: pkiCredentials?.key ?? readPem(config.mqtt.key),
            }
          : { ...b, clientId: b.clientId ?? clientId, ca: readPem(b.ca), cert: readPem(b.cert), key: readPem(b.key) },
      stateDir,
      clock,
      reconnectMs: config.sparkplug.reconnect,
      registry: metrics.registry,
      logger: logger.child({ part: 'sparkplug' }),
    });
  }
  if (carryOver.quarantinedTo !== undefined) metrics.quarantined.inc({ file: 'outbox' });
  // What the hub has not acknowledged yet, as Prometheus sees it (the hub's view of it is the node's backlog).
  new Gauge({
    name: 'fieldmesh_outbox_pending_rows',
    help: 'Outbox rows not acknowledged by the hub yet, by lane.',
    labelNames: ['lane'],
    registers: [metrics.registry],
    collect() {
      const b = outbox.backlog();
      this.set({ lane: 'samples' }, b.sampleRows);
      this.set({ lane: 'events' }, b.eventRows);
    },
  });
  const replicator = new Replicator({
    outbox,
    transport,
    router,
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
    onAck: (lane, rows) => {
      metrics.outboxAcked.inc({ lane }, rows);
      // Acks make room in the outbox: a repair waiting for it reads on.
      if (lane === 'samples') backfiller.kick();
    },
  });
  // [FM-DURABLE-6] The hub's backfill requests: read from the store into the outbox, behind live rows.
  const backfiller = new Backfiller({
    outbox,
    store,
    router,
    identity,
    clock,
    logger,
    critical: criticalSelectors.map((c) => parseSelector(c.match)),
    maxPieceRows: config.outbox.maxFrameRows,
    maxQueuedRows: 2 * config.outbox.maxFrameRows,
    notify: () => replicator.notify(),
    onRequest: (result) => metrics.backfillRequests.inc({ result }),
    onEnqueued: (rows) => metrics.backfillRows.inc(rows),
  });
  // [FM-QUERY-1..5] The hub's queries of the local store, answered over the broker.
  const responder = new QueryResponder({
    identity,
    prefix: config.topicPrefix,
    epoch,
    bootTime,
    configVersion,
    transport,
    router,
    queries: createStoreQueries(store, { now: () => clock.now() }),
    clock,
    logger,
    metrics,
    // [FM-QUERY-6] Operators' zone commands from the hub, for the zone runtime (started below).
    zones: () => zones,
    // [FM-QUERY-7] Node commands by name (the collectors, services and awareness plane are made below).
    commands: (name, params, by) => commands(name, params, by),
  });
  // The services this node supervises; their events go to the hub through the outbox.
  const services = createServiceSupervisor({
    services: config.services,
    spawn: createProcessSpawner({ baseEnv: process.env }),
    probe: createHealthProbe({ baseEnv: process.env }),
    readUsage: createProcUsageReader(),
    pids: createPidRegistry(join(stateDir, 'services'), logger),
    clock,
    logger: logger.child({ area: 'services' }),
    onEvent: (e: ServiceEvent) =>
      void emitEvent({
        kind: e.kind,
        priority: e.kind === 'service_failed' || e.kind === 'service_unhealthy' ? 'high' : 'normal',
        time: e.time,
        payload: e.payload,
      }).catch((err: unknown) => logger.warn({ err: describeError(err) }, 'service event not recorded')),
  });
  registerServiceMetrics(metrics.registry, () => services.list());
  const collectors = [
    ...(overrides.collectors ?? config.collectors.map((c, i) => createCollector(c, i))),
    createServicesCollector(services, config.publish.tick),
  ];
  // [FM-AWARE-1..6] The awareness plane: its own sending state of the critical set, its own link.
  let awareness: AwarenessPlane | undefined;
  let awarenessLink: FrameLink | undefined;
  /** [FM-ZONE-LINK-UDP] The zone datagrams of the awareness plane's UDP segment, for the zone runtime. */
  let zoneSegment: FrameLink | undefined;
  let takeover: AggregatorTakeover | undefined;
  async function startAwareness(emit: (change: MembershipChange) => void): Promise<void> {
    const a = config.awareness;
    if (a.transport === 'none') return;
    const origin = a.origin;
    awarenessLink =
      a.transport === 'udp'
        ? await createUdpLink({
            mode: a.udp.mode,
            group: a.udp.group,
            broadcastAddress: a.udp.broadcastAddress,
            port: a.udp.port,
            ttl: a.udp.ttl,
            ...(a.udp.interface !== undefined ? { interfaceAddress: a.udp.interface } : {}),
            logger,
          })
        : undefined;
    // The segment also carries zone datagrams: split them off before the plane reads it.
    const segment = awarenessLink === undefined ? undefined : splitZoneDatagrams(awarenessLink);
    zoneSegment = segment?.zone;
    const plane: AwarenessPlane = new AwarenessPlane({
      identity,
      epoch,
      bootTime,
      configVersion,
      ...(origin !== undefined ? { origin } : {}),
      link:
        segment?.awareness ??
        createMqttLink({
          transport,
          router,
          prefix: config.topicPrefix,
          site: identity.site,
          node: identity.node,
          origin: () => plane.originId,
          ...(a.zoneOnly ? { zone: identity.zone } : {}),
        }),
      critical: critical.cursor(),
      clock,
      logger,
      tickMs: config.publish.tick,
      ...(a.heartbeat !== undefined ? { heartbeatMs: a.heartbeat } : {}),
      radius: a.radius,
      zoneOnly: a.zoneOnly,
      repeat: a.repeat,
      onEvent: emit,
    });
    awareness = plane;
    registerAwarenessMetrics(metrics.registry, () => plane.stats());
    if (a.transport === 'mqtt') {
      const aggregator = new Aggregator({
        transport,
        router,
        prefix: config.topicPrefix,
        clock,
        logger,
        tickMs: config.publish.tick,
        zones: true,
      });
      takeover = new AggregatorTakeover({
        router,
        aggregator,
        mode: a.aggregator,
        self: () => plane.originId,
        aliveOrigins: () =>
          plane.membership
            .view(clock.now())
            .filter((m) => m.state === 'alive')
            .map((m) => m.origin),
        clock,
        logger,
        everyMs: config.publish.tick,
      });
      takeover.start();
    }
    plane.start();
  }
  let started = false;
  let samplesCollected = 0;
  let eventsCollected = 0;
  const http = config.http.enabled
    ? createAgentHttp(
        metrics,
        {
          started: () => started,
          broker: () => (brokerless ? 'none' : transport.connected ? 'connected' : 'disconnected'),
        },
        config.http.tls === undefined ? undefined : { files: config.http.tls, logger },
      )
    : undefined;

  let zones: ZoneRuntime | undefined;

  /** [FM-DURABLE-1] Events go to the outbox; the caller is answered once it is on disk. */
  async function emitEvent(event: AgentEvent): Promise<void> {
    // [FM-ZONE-DETECT] A detection reaches the zones at once; its copy for the hub goes through the outbox.
    if (event.kind === DETECTION_KIND) zones?.detect(event.payload as Detection);
    const payload = new TextEncoder().encode(JSON.stringify(event.payload ?? null));
    await sink.recordEvent({ id: event.id ?? createId(), kind: event.kind, priority: event.priority, time: event.time, payload });
    eventsCollected++;
    metrics.eventsCollected.inc({ priority: event.priority });
    replicator.notify();
  }

  const commands = createNodeCommandHandler({
    clock,
    logger,
    logLevel,
    config,
    store,
    health: () => ({
      site: identity.site,
      node: identity.node,
      epoch,
      agentVersion: FIELDMESH_VERSION,
      bootTime: new Date(bootTime).toISOString(),
      uptimeMs: Math.max(0, clock.now() - bootTime),
      configVersion,
      logLevel: logLevel.level,
      connected: transport.connected,
      outboxPendingRows: outbox.backlog().sampleRows,
      collectors: collectors.map((c) => c.name),
    }),
    fleet: () => awareness?.snapshot(),
    collectors: () => collectors,
    restartCollector: async (c) => {
      await c.stop();
      await c.start(contextFor(c));
    },
    services,
    // [FM-CONFIG-DIST] reload-config: source repo pulls and reconciles now; the answer is GET /api/v1/config's.
    reloadConfig: async () => {
      await reconcile.reconcileNow();
      return reconcile.reconciler.status();
    },
    // [FM-CERT-8] renew-cert: a new key and CSR now, whatever the certificate's age.
    ...(config.pki === undefined || brokerless
      ? {}
      : {
          renewCertificate: async (by: string) => {
            if (certificates === undefined) throw new FieldmeshError('FM_COMMAND_UNSUPPORTED', 'renew-cert: the renewer is not running');
            return certificates.renewNow(by);
          },
        }),
  });

  function contextFor(collector: Collector): CollectorContext {
    const counter = metrics.samplesCollected.labels({ collector: collector.name });
    const collectorLogger = logger.child({ collector: collector.name });
    const refusedLog = new RefusedSampleLog(collectorLogger, clock);
    return {
      identity,
      clock,
      logger: collectorLogger,
      http,
      async record(input: readonly Sample[]) {
        // Only what the store keeps, in whole ms: the refused never reach the critical set, the outbox or the store.
        const { kept: samples, outcome } = admitSamples(input, sampleWindow(clock.now(), config.store.retention));
        if (outcome.refused.length > 0) {
          for (const [reason, n] of Object.entries(countRefusals(outcome))) {
            if (n > 0) metrics.samplesRejected.inc({ collector: collector.name, reason }, n);
          }
          refusedLog.note(input, outcome);
        }
        // [FM-DURABLE-1] Critical samples go to the outbox; the caller is answered once it is on disk.
        const durable = samples
          .filter((s) => critical.observe(s) && config.outbox.replicateSamples)
          .map((s) => ({ name: s.name, labels: s.labels, type: s.type ?? 'gauge', unit: s.unit ?? '', time: s.time, value: s.value }));
        // Everything collected is kept locally; the critical part also waits in the outbox for the hub: one commit.
        await sink.record(samples, durable);
        sparkplug?.observe(collector.name, samples);
        samplesCollected += samples.length;
        counter.inc(samples.length);
        if (durable.length > 0) replicator.notify();
        return outcome;
      },
      emit: emitEvent,
      reject(reason: RejectReason) {
        metrics.collectorRejected.inc({ collector: collector.name, reason });
      },
    };
  }

  let zoneMetrics: ReturnType<typeof registerZoneMetrics> | undefined;
  let zoneSigning: ZoneSigning | undefined;
  /**
   * (Re)starts the zone runtime with `list` (none or empty: stopped). A reconciled config restarts it with its new
   * zones; a running pump keeps running meanwhile and its controller reopens with its envelope state on disk.
   */
  async function openZones(list: AgentConfig['zones']): Promise<void> {
    const running = zones;
    zones = undefined;
    await running?.stop();
    zoneSigning?.close?.();
    zoneSigning = undefined;
    if (list === undefined || list.length === 0) return;
    zoneMetrics ??= registerZoneMetrics(metrics.registry, () => zones?.stats());
    const zm = zoneMetrics;
    const signing =
      config.zoneSecurity.signing === 'required'
        ? await setUpZoneSigning({
            site: identity.site,
            zones: list,
            files: zoneSigningFiles(config, identity.node),
            now: () => clock.now(),
            logger: logger.child({ area: 'zones' }),
            onCertificateRefused: (reason) => zm.certificateRefused(reason),
            // A new CRL reaches this pump owner, a renewed certificate signs, without a restart.
            pollMs: overrides.zoneSigningPollMs ?? ZONE_SIGNING_POLL_MS,
          })
        : undefined;
    zoneSigning = signing;
    zones = await startZoneRuntime({
      ...(signing === undefined ? {} : { signing }),
      site: identity.site,
      node: identity.node,
      prefix: config.topicPrefix,
      zones: list,
      dataDir: stateDir,
      clock,
      logger: logger.child({ area: 'zones' }),
      boot: epoch,
      tickMs: config.publish.tick,
      transport,
      router,
      ...(zoneSegment !== undefined ? { segment: zoneSegment } : {}),
      ...(awareness !== undefined ? { liveNodes: liveSiteNodes(awareness, identity.site, clock) } : {}),
      onDecisionLatency: (zone, pump, ms) => zm.decisionLatency(zone, pump, ms),
      // Every decision, vote, refusal, pump start and stop, with its evidence, to the hub's audit.
      onRecord: ({ source, record }) => {
        const critical =
          source === 'pump'
            ? record.kind === 'started' || record.kind === 'stopped' || record.kind === 'fault'
            : record.kind === 'majority' || record.kind === 'isolated-fallback';
        void emitEvent({
          kind: `${source}_${record.kind}`.replaceAll('-', '_'),
          priority: critical ? 'critical' : 'high',
          time: record.at,
          payload: record,
        }).catch((err: unknown) => logger.warn({ err: describeError(err) }, 'zone record not recorded'));
      },
    });
  }

  // [FM-CONFIG-DIST] Desired configs (from the hub or the node's repository clone), applied live over these parts.
  const reconcile = createNodeReconcile({
    config,
    overrides: overrides.reconcile ?? {},
    stateDir,
    transport,
    brokered: !brokerless,
    configVersion,
    clock,
    logger,
    report: (kind, priority, payload) => emitEvent({ kind, priority, time: clock.now(), payload }),
    parts: {
      logger,
      ...(overrides.collectors === undefined
        ? {
            collectors: {
              get: (name: string) => collectors.find((c) => c.name === name),
              create: createCollector,
              start: async (c: Collector) => {
                await c.start(contextFor(c));
                collectors.push(c);
              },
              stop: async (c: Collector) => {
                collectors.splice(collectors.indexOf(c), 1);
                await c.stop();
              },
            },
          }
        : {}),
      // The selectors the agent adds after the configured ones stay.
      critical: { replace: (selectors) => critical.replaceSelectors([...selectors, ...criticalSelectors.slice(config.critical.length)]) },
      zones: { restart: openZones },
      services,
    },
    identity: identityStatus(overrides.identity?.nodeYaml ?? config.node, config.node, overrides.identity?.assigned),
  });
  // [FM-ASSIGN-1..4] The site and zone the hub assigns at approval.
  const onAssigned = overrides.identity?.onAssigned;
  const assignment = createAssignmentListener({
    transport,
    prefix: config.topicPrefix,
    identity,
    nodeYaml: overrides.identity?.nodeYaml ?? config.node,
    dataDir: config.dataDir,
    logger,
    registry: metrics.registry,
    onAssigned:
      onAssigned ??
      ((a) => logger.warn({ site: a.site, zone: a.zone }, 'identity: the assignment is kept; the node runs under it from its next start')),
  });

  // [FM-CERT-1..8] Renewal of the node's certificate by the hub, over the fleet transport.
  const certificates =
    config.pki === undefined || brokerless
      ? undefined
      : createCertificateRenewer({
          transport,
          prefix: config.topicPrefix,
          identity,
          dir: config.pki.dir,
          ...(config.pki.renewAt === undefined ? {} : { renewAt: config.pki.renewAt }),
          retryMs: config.pki.retry,
          sans: config.pki.sans,
          clock,
          logger,
          registry: metrics.registry,
          // Once, with the new certificate: the outbox resends what the old link had not got acknowledged.
          onRenewed: (credentials) => transport.renewCredentials?.(credentials),
        });

  return {
    identity,
    epoch,
    bootTime,
    configVersion,
    metrics,
    transport,
    sparkplug,
    router,
    get awareness() {
      return awareness;
    },
    get zones() {
      return zones;
    },
    services,
    applyConfig: (next) => reconcile.applyConfig(next),
    reconcile,
    async start() {
      for (const c of collectors) await c.start(contextFor(c));
      let httpUrl: string | undefined;
      // Joins, deaths and leaves the plane sees, and this node's own isolation, go to the hub as events, through
      // the outbox.
      await startAwareness((change) => {
        const kind = EVENT_OF_CHANGE[change.kind];
        if (kind === undefined) return;
        const name =
          change.kind === 'isolated' || change.kind === 'reconnected'
            ? `${identity.site}/${identity.node}`
            : (awareness?.fleet.nameOf(change.origin) ?? `origin ${change.origin}`);
        void emitEvent({
          kind,
          priority: change.kind === 'failed' || change.kind === 'isolated' ? 'high' : 'normal',
          time: change.atMs,
          payload: { ...change, name },
        }).catch((err: unknown) => logger.warn({ err: describeError(err) }, 'membership event not recorded'));
      });
      // The link first: the pumps the zones open are told their restart state through it (an MQTT relay).
      transport.start();
      await openZones(config.zones);
      if (http !== undefined) {
        await registerStoreRoutes(http, store);
        registerFleetRoutes(http, () => awareness);
        registerGetRoute(http, commands, identity);
        registerZoneRoutes(http, () => zones, { token: config.zoneCommands.token, commandsToken: config.commands.token });
        registerServiceRoutes(http, services, { token: config.commands.token, registry: metrics.registry });
        reconcile.registerRoutes(http);
        httpUrl = await listenWithFallback(
          http,
          config.http.host,
          config.http.port,
          overrides.fallbackToFreePort ?? true,
          logger,
          'agent HTTP',
        );
      }
      // Services last: an earlier agent's leftovers are stopped first (pid files), then the autostart ones start.
      await services.start();
      publisher.start();
      responder.start();
      replicator.start();
      backfiller.start();
      await remoteWrites.start();
      sparkplug?.start();
      started = true;
      reconcile.start();
      if (!brokerless) assignment.start();
      certificates?.start();
      logger.info({ epoch, collectors: collectors.length, httpUrl }, 'agent started');
      if (brokerless) {
        logger.info(
          { broker: 'none' },
          `no broker configured (mqtt.enabled: false): the local store, collectors, query API${config.awareness.transport === 'udp' ? ' and UDP awareness' : ''} run; ` +
            'no live frames reach a hub and the hub cannot query this node; critical samples and events stay in the outbox on disk ' +
            `(at most ${config.outbox.maxSampleRows} sample rows, then the oldest coalesce to the latest per series) until a broker is configured; ` +
            '/readyz does not wait for one',
        );
      }
      return { httpUrl };
    },
    async stop(options = {}) {
      const graceful = options.graceful ?? true;
      started = false;
      reconcile.stop();
      assignment.stop();
      certificates?.stop();
      // The services first: their last events still reach the outbox.
      await services.stop();
      for (const c of collectors) {
        await c
          .stop()
          .catch((err: unknown) => logger.warn({ collector: c.name, err: describeError(err) }, 'collector did not stop cleanly'));
      }
      await zones?.stop();
      zoneSigning?.close?.();
      await awareness?.stop(graceful);
      takeover?.stop();
      await awarenessLink?.close();
      if (graceful) await publisher.stop();
      responder.stop();
      replicator.stop();
      await backfiller.stop();
      await remoteWrites.stop();
      await sparkplug?.stop({ graceful });
      await transport.close({ graceful });
      await http?.close();
      sink.flush();
      outbox.close();
      await store.close();
      logLevel.close();
    },
    stats() {
      const pendingRows = outbox.backlog().sampleRows;
      return {
        epoch,
        localSeries: critical.localSeriesCount,
        criticalSeries: critical.criticalSeriesCount,
        samplesCollected,
        eventsCollected,
        bytesOut: transport.stats().bytesOut,
        connected: transport.connected,
        outboxPendingRows: pendingRows,
        outboxFramesInFlight: replicator.framesInFlight,
        outboxPendingBytes: replicator.estimateBytes(pendingRows),
        backfillsReading: outbox.backfillTasks().length,
        ...(awareness ? { awareness: awareness.stats() } : {}),
      };
    },
  };
}
