// The hub's composition root: wires transport, fleet state, storage, metrics, live feed and HTTP API,
// and owns the timers (sweep, digest, retention) and the hub's own MQTT presence.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import { Aggregator } from '../awareness/index.js';
import {
  type Clock,
  createId,
  describeError,
  FieldmeshError,
  type Logger,
  silentLogger,
  systemClock,
  type TimerHandle,
} from '../kit/index.js';
import { openFleetCa } from '../pki/index.js';
import { fastifyHttpsOption, nextBootEpoch, secureFastifyApp } from '../platform/index.js';
import {
  assertTopicPrefix,
  commandTopic,
  createFrameRouter,
  encodeAck,
  encodeRebirth,
  type FrameRouter,
  type SourceSubscription,
} from '../protocol/index.js';
import { createMqttTransport, type Transport, type Will } from '../transport/index.js';
import { ActionEngine, BirthWatch, CommandEngine, createHubActionPorts, createHubCommandPorts, type PingResult } from './actions/index.js';
import { ALERT_STORE_SYNC_INTERVAL_MS, type AlertEngine } from './alerts/alert-engine.js';
import type { AlertStore } from './alerts/alert-store.js';
import { createAlertEngine } from './alerts/create-alert-engine.js';
import { createAlertSeriesSource, type FleetView } from './alerts/fleet-series.js';
import { RecordingRules } from './alerts/recording-rules.js';
import { readRuleFiles } from './alerts/rule-file.js';
import { toAlertView } from './api/alerts/alert-view.js';
import type { HubApiDeps, Readiness } from './api/api-deps.js';
import { createHubApp } from './api/app.js';
import { toEventView } from './api/events/event-view.js';
import { AlertChanges } from './api/live/alert-changes.js';
import { LiveFeed } from './api/live/live-feed.js';
import { toNodeView } from './api/nodes/node-view.js';
import { type AuthStore, createHubAuth, createSqliteAuthStore, type HubAuth } from './auth/index.js';
import { CertificateSigner } from './certificates/certificate-signer.js';
import type { HubConfig } from './config.js';
import { ConfigReconciler, type ConfigRepoRenderer, RepoDefinitions } from './config-repo/index.js';
import { type FleetEvent, FleetState, nodeKey } from './fleet/fleet-state.js';
import { SITE_HEALTH_INTERVAL_MS, SiteMonitor } from './health/site-monitor.js';
import { createHubMetrics, createZoneMetrics, type HubMetrics, newHubCounters } from './hub-metrics.js';
import { createFrameReaders } from './ingest/frame-readers.js';
import { createGroupCommit, DurableIngest, LiveIngest, WriteQueue } from './ingest/index.js';
import { BackfillScheduler } from './ledger/backfill-scheduler.js';
import { completeness, type NodeBacklog } from './ledger/completeness.js';
import { createNodeCommands, type NodeCommands } from './node-commands.js';
import { HubPresence } from './presence.js';
import { pushIngestRoutes } from './queue/push-ingest.js';
import { pushSamples } from './queue/push-message.js';
import {
  createMemoryRegistrationStore,
  createRegistrationActions,
  createSqliteRegistrationStore,
  RegistrationGate,
  type RegistrationStore,
} from './registration/index.js';
import { createHubRemoteWrites } from './remote-write.js';
import { type Leadership, soleLeadership } from './scale-out/leadership.js';
import { createScaleOut } from './scale-out/scale-out.js';
import { createSqliteStorage } from './storage/sqlite/sqlite-storage.js';
import type { EventInput, HubStorage } from './storage/storage.js';
import type { HubTracing } from './tracing/hub-tracing.js';
import { createHubZones } from './zones/hub-zones.js';
import { ZoneMonitor } from './zones/zone-monitor.js';

/** How often online nodes are checked for silence. */
export const SWEEP_INTERVAL_MS = 1_000;
/** The console's site and overview messages at most this often (each refresh walks every node). */
const CONSOLE_REFRESH_MIN_MS = 250;
/** Retention runs at start and then this often. */
export const RETENTION_INTERVAL_MS = 3_600_000;
/** How often outstanding backfill requests are checked for being due (new, or unanswered past the timeout). */
export const BACKFILL_CHECK_INTERVAL_MS = 1_000;
/** How often the scale-out leader reads outstanding backfill requests again (workers add some for dropped ranges). */
const BACKFILL_RELOAD_INTERVAL_MS = 5_000;
/** How often the zone monitor recomputes what depends on time (pending detections, the live feed's zone messages). */
export const ZONE_REFRESH_INTERVAL_MS = 1_000;

/** The routes of live ingest: what keeps the fleet state (an event is a sign of life too). */

export interface HubOverrides {
  readonly transport?: Transport;
  readonly storage?: HubStorage;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Users, sessions, API tokens and audit log (default: SQLite tables in storage.path). */
  readonly authStore?: AuthStore;
  /** Renders the configuration repository (src/fleet-config, passed by the composition root); needed with hub.yaml `configRepo`. */
  readonly configRepoRenderer?: ConfigRepoRenderer;
  /** Node registrations (default: a SQLite table in storage.path; in memory when it is ":memory:"). */
  readonly registrationStore?: RegistrationStore;
  /** Alerts, silences and the notification outbox (default: SQLite, alerts.statePath). */
  readonly alertStore?: AlertStore;
  /**
   * What the leader's duties write through (node registry, backfill requests, retention): a scale-out hub's storage
   * fenced by the leader lease, so a deposed leader writes nothing (default: `storage`).
   */
  readonly leaderStorage?: HubStorage;
  /** Who runs the singleton duties (default: this process, the embedded hub; a PostgreSQL lease with `queue`). */
  readonly leadership?: Leadership;
  /** Called when a scale-out leader lost its lease (the command line exits, and systemd starts it again as a follower). */
  readonly onLeadershipLost?: (reason: string) => void;
  /** Traces of frames and pushes through ingest, stream, worker and store (docs/tracing.md; default: none). */
  readonly tracing?: HubTracing;
}

export interface HubStartOptions {
  /** When the configured HTTP port is taken, listen on a free one and log a warning (default true). */
  readonly fallbackToFreePort?: boolean;
  /** Skip the HTTP listener (tests that use app.inject()). */
  readonly listen?: boolean;
}

export interface HubStats {
  /** The hub's boot counter (0 before start). */
  readonly epoch: number;
  /** Frames on node topics that decoded. */
  readonly framesReceived: number;
  /** Messages refused: undecodable, unknown topic, or refused by the fleet state (gap, no session...). */
  readonly framesRejected: number;
  /** Samples from live data frames and births. */
  readonly samplesStored: number;
  /** Samples from history frames (the durable plane). */
  readonly historySamplesStored: number;
  /** Events newly stored (a resend absorbed by dedup is not counted). */
  readonly eventsStored: number;
  /** Ack frames published, both lanes. */
  readonly acksSent: number;
  readonly rebirthsRequested: number;
  readonly digestsPublished: number;
  /** Backfill requests published (resends included), and reported done. [FM-DURABLE-6] */
  readonly backfillsSent: number;
  readonly backfillsCompleted: number;
  /** Receive time minus frame time of recent frames carrying samples, ms (for p50/p99). */
  readonly sampleAgesMs: readonly number[];
}

export interface Hub {
  readonly fleet: FleetState;
  readonly app: FastifyInstance;
  readonly metrics: HubMetrics;
  /** The alert engine; undefined when `alerts.enabled` is false. */
  readonly alerts: AlertEngine | undefined;
  /** The rule files' recording rules, evaluated while this process leads; undefined when `alerts.enabled` is false. */
  readonly recordingRules: RecordingRules | undefined;
  /** The console's users, roles, sessions and audit log. */
  readonly auth: HubAuth;
  /** Queries and pings of a node's own store, through the broker. [FM-QUERY-1..5] */
  readonly nodeCommands: NodeCommands;
  /** The zones of hub.yaml as the hub sees them (docs/consensus.md "The hub's view"). */
  readonly zones: ZoneMonitor;
  /** The configuration repository's reconciliation; undefined without hub.yaml `configRepo`. */
  readonly configRepo: ConfigReconciler | undefined;
  /** Which nodes the hub admits (hub.yaml `registration`, docs/registration.md). */
  readonly registrations: RegistrationGate;
  /** The online signer of node certificates; undefined without hub.yaml `pki` (docs/pki.md). */
  readonly certificates: CertificateSigner | undefined;
  /**
   * The process's frame router ([FM-TOPIC-5]): every frame the hub reads from the broker is parsed and decoded once
   * there. Undefined before start, and in a process of a scale-out hub without the api role.
   */
  readonly router: FrameRouter | undefined;
  /** Connects, restores the fleet registry, starts timers and the HTTP listener. Call once. */
  start(options?: HubStartOptions): Promise<{ httpUrl: string }>;
  /** Publishes hubState offline, then closes transport, HTTP and storage. */
  stop(): Promise<void>;
  stats(): HubStats;
}

function readPem(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new FieldmeshError('FM_CONFIG_UNREADABLE', `${path}: ${(err as Error).message}`, { cause: err });
  }
}

export function createHub(config: HubConfig, overrides: HubOverrides = {}): Hub {
  const clock = overrides.clock ?? systemClock;
  const logger = (overrides.logger ?? silentLogger).child({ component: 'hub' });
  const prefix = assertTopicPrefix(config.topicPrefix);
  // docs/scale-out.md: with a queue, durable frames go through NATS JetStream to workers, and api processes contend.
  const queueConfig = config.queue;
  /** docs/tracing.md: undefined while tracing is off (nothing traced, nothing paid). */
  const tracing = overrides.tracing;
  /** Without a queue the hub does everything; with one, `roles` says whether this process serves the fleet state and API. */
  const api = queueConfig === undefined || config.roles.includes('api');
  if (queueConfig !== undefined && (overrides.leadership === undefined || overrides.storage === undefined))
    throw new FieldmeshError(
      'FM_CONFIG_INVALID',
      'queue: a scale-out hub is opened with openHub() (it needs its PostgreSQL storage and lease)',
    );
  /** Tells this process's MQTT clients from those of the other processes of a scale-out hub. */
  const processSuffix = createId().slice(0, 8);
  const leadership = overrides.leadership ?? soleLeadership(() => nextBootEpoch(config.dataDir, 'hub-state.json', clock.now()));
  const fleet = new FleetState({
    clock,
    staleAfterHeartbeats: config.fleet.staleAfterHeartbeats,
    rebirthMinIntervalMs: config.fleet.rebirthMinInterval,
  });
  /** Each node's outbox backlog as its last history frame reported it (restored from storage at start). */
  const backlogs = new Map<string, NodeBacklog & { site: string; node: string }>();
  const metrics = createHubMetrics(
    () => fleet.countByState(),
    () =>
      [...backlogs.values()].map((b) => ({
        site: b.site,
        node: b.node,
        pendingRows: b.pendingRows,
        pendingBytes: b.pendingBytes ?? 0,
        ageSeconds: b.oldestPendingMs === null ? 0 : Math.max(0, clock.now() - b.oldestPendingMs) / 1_000,
      })),
    () => backfills.size,
  );
  // docs/scale-out.md: which api process leads, for operators and their alerts.
  const leaderEpoch = new Gauge({
    name: 'fieldmesh_hub_leader_epoch',
    help: 'The fencing epoch under which this hub process runs the singleton duties (the embedded hub: its boot epoch); 0 while it does not',
    registers: [metrics.registry],
  });
  const storage = overrides.storage ?? createSqliteStorage({ path: config.storage.path, retentionMs: config.storage.retention });
  const leaderStorage = overrides.leaderStorage ?? storage;
  // hub.yaml `remoteWrite`: the history forwarded by the leading process (docs/remote-write.md).
  const remoteWrites = createHubRemoteWrites(config.remoteWrite, {
    // The leader's (fenced) storage: on PostgreSQL the cursors live there, shared by the api processes.
    storage: leaderStorage,
    dataDir: config.dataDir,
    registry: metrics.registry,
    clock,
    logger,
  });
  const startRemoteWrites = () =>
    void remoteWrites.start().catch((err: unknown) => logger.error({ err: describeError(err) }, 'remote write did not start'));
  let transport: Transport | undefined = overrides.transport;
  let aggregator: Aggregator | undefined;
  /** The process's one frame router, over the broker link (built in startApi; none in a worker-only process). */
  let router: FrameRouter | undefined;
  /** The hub's own routes on it, ended at stop. */
  const routes: SourceSubscription[] = [];
  let presence: HubPresence | undefined;
  let started = false;
  let stopped = false;
  const counters = newHubCounters();
  const timers = new Map<string, TimerHandle>();
  const writes = new WriteQueue({ logger, onError: () => metrics.storageErrors.inc() });
  // [FM-DURABLE-6] Repair requests, remembered in storage (restored at start).
  const backfills = new BackfillScheduler({
    prefix,
    storage: leaderStorage,
    writes,
    pacing: { minIntervalMs: config.backfill.minInterval, timeoutMs: config.backfill.timeout },
    clock,
    logger,
    metrics,
    counters,
    transport: () => transport,
    reachable: (site, node) => fleet.get(site, node)?.state !== 'offline',
  });

  const backlogOf = (site: string, node: string): NodeBacklog | undefined => backlogs.get(nodeKey(site, node));
  // [FM-CERT-1..6] The online signer, with hub.yaml `pki` (built below, once registrations exist).
  let certificates: CertificateSigner | undefined;
  const certificateOf = (site: string, node: string) => certificates?.stateOf(site, node);
  const live = new LiveFeed({
    clock,
    snapshot: () => fleet.nodes().map((r) => toNodeView(r, clock.now(), true, backlogOf(r.site, r.node), certificateOf(r.site, r.node))),
    nodeView: (site, node) => {
      const r = fleet.get(site, node);
      return r === undefined ? undefined : toNodeView(r, clock.now(), true, backlogOf(site, node), certificateOf(site, node));
    },
    sites: () => siteMonitor.sites(),
    alerts: () => (alerts?.list() ?? []).map(toAlertView),
  });

  function readiness(): Readiness {
    const reasons: string[] = [];
    if (!started || stopped) reasons.push('hub: not started');
    if (api && !transport?.connected) reasons.push('mqtt: not connected');
    if (scaleOut !== undefined && scaleOut.connection?.isClosed() !== false) reasons.push('queue: not connected');
    if (!storage.isOpen) reasons.push('storage: not open');
    return { ready: reasons.length === 0, reasons };
  }

  const authStore = overrides.authStore ?? createSqliteAuthStore({ path: config.storage.path });
  const auth = createHubAuth({ config: config.auth, host: config.http.host, store: authStore, clock, logger, registry: metrics.registry });

  let listenUrl = '';
  // [FM-HUB-ZONE-1..7] The zones of hub.yaml: frames, stored events, the voters' fleet state; views and alerts.
  const zoneMonitor = new ZoneMonitor({
    zones: config.zones,
    clock,
    fleet,
    logger,
    metrics: createZoneMetrics(
      metrics.registry,
      () => zoneMonitor.alertZones(),
      () => clock.now(),
    ),
    alerts: () => alerts?.list() ?? [],
    onSummaryChanged: (zone) => live.publishMessage('zone', { type: 'zone', zone }),
  });
  const alertFleet: FleetView = {
    nodes: () => fleet.nodes(),
    backlog: backlogOf,
    zones: () => zoneMonitor.alertZones(),
    // Read at evaluation time, once the reconciler below exists.
    configRepo: () => (configRepo === undefined ? undefined : { refused: configRepo.summary().refused, nodes: configRepo.nodes() }),
    certificates: () => certificates?.certificates() ?? [],
    // Read at evaluation time, once the queue side below exists (a scale-out hub's leader).
    queue: () => scaleOut?.queueState(),
    // The ALERTS series (docs/grafana.md); read at evaluation time, once the engine below exists.
    activeAlerts: () => alerts?.list().map((a) => a.alert) ?? [],
    completenessRatio: async (site, node, startMs, endMs) => completeness(await storage.nodeLedger(site, node), startMs, endMs).ratio,
  };
  // Throws FM_CONFIG_INVALID naming file and path when a rule file is wrong: before anything starts.
  const alerts = config.alerts.enabled
    ? createAlertEngine(config, {
        fleet: alertFleet,
        storage,
        clock,
        logger,
        registry: metrics.registry,
        topicPrefix: prefix,
        transport: () => transport,
        listenUrl: () => listenUrl,
        // Every event refreshes the console; alertInhibitionChanged too: a source that starts or stops
        // firing changes its targets' views (inhibited) without changing their state.
        onEvent: () => queueConsoleRefresh(),
        ...(overrides.alertStore === undefined ? {} : { store: overrides.alertStore }),
        // docs/scale-out.md: the api processes share the alert store; each reads what the others wrote.
        ...(queueConfig === undefined ? {} : { syncIntervalMs: ALERT_STORE_SYNC_INTERVAL_MS }),
      })
    : undefined;
  // docs/alerts.md "Recording rules": the leader's, their results written through the leader's (fenced) storage.
  const recordingRules = config.alerts.enabled
    ? new RecordingRules({
        rules: readRuleFiles(config.alerts.ruleFiles).recording,
        source: createAlertSeriesSource(storage, alertFleet),
        write: (batch) => leaderStorage.appendRecordedSamples(batch),
        clock,
        logger,
        registry: metrics.registry,
        evaluationIntervalMs: config.alerts.evaluationInterval,
      })
    : undefined;

  // The console's sites and their health (docs/console.md), and what the live feed tells of them and of alerts.
  const siteMonitor = new SiteMonitor({
    clock,
    fleet,
    backlog: backlogOf,
    ...(alerts === undefined ? {} : { alerts: () => alerts.list() }),
    sites: config.sites,
    console: config.console,
  });
  const alertChanges = new AlertChanges();
  let consoleRefreshQueued = false;
  let lastConsoleRefresh = Number.NEGATIVE_INFINITY;

  /** Publishes `alert`, `site` and `overview` messages for what changed since the last refresh. */
  function refreshConsole(): void {
    if (alerts !== undefined) {
      for (const a of alertChanges.take(alerts.list(['pending', 'firing', 'resolved']).map(toAlertView))) live.publishMessage('alert', a);
    }
    const changed = siteMonitor.changes();
    for (const site of changed.sites) live.publishMessage('site', site);
    if (changed.overview !== undefined) live.publishMessage('overview', changed.overview);
  }

  /**
   * One refresh after a burst of fleet or alert events (a hub restart brings hundreds of births at once), and at most
   * one every CONSOLE_REFRESH_MIN_MS: a refresh walks every node, and at 10,000 nodes a refresh after every read from
   * the broker took a fifth of the api process's time (docs/benchmarks.md, hub-scale). Real time, not the hub's clock:
   * it paces work, it does not tell time.
   */
  function queueConsoleRefresh(): void {
    if (consoleRefreshQueued) return;
    consoleRefreshQueued = true;
    const run = () => {
      consoleRefreshQueued = false;
      lastConsoleRefresh = performance.now();
      if (!stopped) refreshConsole();
    };
    const wait = lastConsoleRefresh + CONSOLE_REFRESH_MIN_MS - performance.now();
    if (wait <= 0) queueMicrotask(run);
    else setTimeout(run, wait).unref();
  }

  // Bulk actions (docs/console.md "Bulk actions"): rebirth waits for the node's next birth.
  const births = new BirthWatch();
  const actions = new ActionEngine({
    clock,
    logger,
    ports: createHubActionPorts({
      fleet,
      alerts,
      births,
      sendRebirth: (site, node) => sendOperatorRebirth(site, node),
      // The command engine's ping (built below; only called once a run starts).
      ping: (site, node, timeoutMs) => commands.runOne(site, node, 'ping', {}, 'hub', timeoutMs) as Promise<PingResult>,
      now: () => clock.now(),
    }),
    onProgress: (view) => live.publishMessage('action', view),
  });

  // [FM-QUERY-1..5] Queries and pings of a node's own store, through the broker; replies come in onMessage.
  const nodeCommands = createNodeCommands({ prefix, transport: () => transport, fleet, clock, logger });

  // Commands to any set of nodes (docs/commands.md): the same node commands, fanned out, one result per node.
  const commands = new CommandEngine({
    clock,
    logger,
    ports: createHubCommandPorts({ fleet, births, nodeCommands: () => nodeCommands, sendRebirth: sendOperatorRebirth, clock }),
  });

  // The fleet's configuration repository (docs/config-as-code.md "Reconciliation at the hub"). [FM-CONFIG-DIST]
  let configRepo: ConfigReconciler | undefined;
  if (config.configRepo !== undefined) {
    if (overrides.configRepoRenderer === undefined)
      throw new FieldmeshError('FM_CONFIG_INVALID', 'configRepo: this hub was built without the configuration repository renderer');
    configRepo = new ConfigReconciler({
      config: config.configRepo,
      dataDir: config.dataDir,
      renderer: overrides.configRepoRenderer,
      prefix,
      transport: () => transport,
      clock,
      logger,
      fleetNodes: () => fleet.nodes(),
      registry: metrics.registry,
      audit: (target, result) =>
        auth.audit({
          actor: 'hub',
          actorKind: 'cli',
          role: null,
          method: 'CONFIG',
          route: 'config-repo',
          target,
          status: 0,
          result,
          ip: null,
        }),
      publish: (message) => live.publishMessage('config', message),
      // The repository's sites and consensus zones beside hub.yaml's (which win for the same id).
      definitions: new RepoDefinitions({
        hubSites: config.sites,
        hubZones: config.zones,
        sites: siteMonitor,
        zones: zoneMonitor,
        storage,
        logger,
        dataDir: config.dataDir,
      }),
    });
  }

  // [docs/registration.md] Which nodes are admitted; the others' frames stop here, unstored and unacknowledged.
  const registrationStore =
    overrides.registrationStore ??
    (config.storage.path === ':memory:' ? createMemoryRegistrationStore() : createSqliteRegistrationStore({ path: config.storage.path }));
  const registrations = new RegistrationGate({
    mode: config.registration.mode,
    store: registrationStore,
    clock,
    logger,
    registry: metrics.registry,
    ...(configRepo === undefined ? {} : { repoDefines: (site: string, node: string) => configRepo?.defines(site, node) ?? false }),
    onChange: (view) => live.publishMessage('registration', { type: 'registration', registration: view }),
  });
  // Approvals (with an assignment [FM-ASSIGN-1], or a rebirth request) and rejections, for the API.
  const registrationActions = createRegistrationActions({
    gate: registrations,
    prefix,
    transport: () => transport,
    sendRebirth: sendRegistrationRebirth,
    nodes: () => fleet.nodes(),
    sites: () => siteMonitor.sites(),
    logger,
  });

  if (config.pki !== undefined) {
    const pki = config.pki;
    certificates = new CertificateSigner({
      ca: openFleetCa({ dir: pki.dir, clock, ...optionalPassphrase(pki.passphraseFile) }),
      prefix,
      validityMs: Math.round(pki.nodeCertDays * 86_400_000),
      renewAt: pki.renewAt,
      clock,
      logger,
      registry: metrics.registry,
      transport: () => transport,
      isApproved: (site, node) => registrations.isApproved(site, node),
      revokeSupersededAfterMs: pki.revokeSupersededAfter,
      pendingFile: join(pki.dir, 'pending-csrs.json'),
      audit: (target, result) =>
        void auth.audit({
          actor: 'hub',
          actorKind: 'cli',
          role: null,
          method: 'PKI',
          route: 'pki-revoke-superseded',
          target,
          status: 0,
          result,
          ip: null,
        }),
    });
  }

  const deps: HubApiDeps = {
    fleet,
    storage,
    clock,
    metrics,
    live,
    readiness,
    logger,
    // docs/grafana.md: /api/v1/query and query_range read the fleet's own series (up, fieldmesh_node_state) beside storage.
    seriesSource: createAlertSeriesSource(storage, alertFleet),
    backlog: backlogOf,
    requestBackfill: ({ site, node, fromMs, toMs, selectors }) => backfills.request(site, node, fromMs, toMs, selectors, 'operator'),
    nodeCommands,
    ...(alerts === undefined ? {} : { alerts }),
    ...(recordingRules === undefined ? {} : { recordingRules }),
    auth,
    actions,
    commands,
    sites: siteMonitor,
    zones: createHubZones({ monitor: zoneMonitor, storage, clock, nodeCommands: () => nodeCommands }),
    ...(configRepo === undefined ? {} : { configRepo }),
    registrations:
      certificates === undefined
        ? registrationActions
        : {
            ...registrationActions,
            // [FM-CERT-5] Approval issues the first certificate of a node that asked while pending.
            async approve(site, node, by, assignment) {
              const result = await registrationActions.approve(site, node, by, assignment);
              await certificates?.approved(site, node);
              return result;
            },
          },
    ...(certificates === undefined ? {} : { certificate: (site: string, node: string) => certificates?.stateOf(site, node) ?? null }),
  };
  const httpTls = config.http.tls;
  const app = createHubApp(deps, httpTls === undefined ? {} : fastifyHttpsOption(httpTls, 'http.tls'));
  if (httpTls !== undefined) {
    const tlsRefused = new Counter({
      name: 'fieldmesh_hub_tls_refused_total',
      help: 'TLS peers the HTTPS listener of the hub refused, by reason (expired, revoked, wrong-ca, tls-version, ...)',
      labelNames: ['reason'],
      registers: [metrics.registry],
    });
    secureFastifyApp(app, { files: httpTls, at: 'http.tls', logger, onRefused: (reason) => tlsRefused.inc({ reason }) });
  }

  // docs/scale-out.md "Pushes straight to the ingest tier": an ingest process with tokens takes the push APIs.
  if (queueConfig !== undefined && config.roles.includes('ingest') && config.ingest.tokens.length > 0)
    void app.register(
      pushIngestRoutes({
        ...config.ingest,
        stream: () => scaleOut?.stream,
        clock,
        logger,
        registry: metrics.registry,
        tracing,
      }),
    );

  // docs/remote-write.md "On the embedded hub": with ingest.tokens, the one-process hub takes remote write, 204 once
  // the samples are committed with fsync in the group commit (`groupCommit` is set before the server listens).
  if (queueConfig === undefined && config.ingest.tokens.length > 0)
    void app.register(
      pushIngestRoutes({
        ...config.ingest,
        apis: ['remote-write'],
        stream: () => undefined,
        store: async (site, node, message) => {
          await groupCommit.storage.appendSamples(pushSamples(site, node, message));
        },
        clock,
        logger,
        registry: metrics.registry,
        tracing,
      }),
    );

  function every(name: string, ms: number, fn: () => void): void {
    timers.set(
      name,
      clock.setTimeout(() => {
        if (stopped) return;
        every(name, ms, fn);
        fn();
      }, ms),
    );
  }

  /** Fleet events to the live feed, the command engine, the configuration repository and the console. */
  function publishEvents(events: readonly FleetEvent[], stateChanged: boolean): void {
    for (const e of events) {
      live.publish(e);
      if (e.type === 'nodeWentOffline') nodeCommands.nodeWentOffline(e.site, e.node);
    }
    if (stateChanged) configRepo?.fleetChanged();
    if (stateChanged) queueConsoleRefresh();
  }

  // The embedded hub's group commit: the history frames and live samples arriving together are stored in one
  // transaction (docs/hub.md#storage); with a queue the workers store history and the api stores no samples.
  const groupCommit = createGroupCommit(storage, { logger });

  // Live ingest: births, data, deaths into the fleet state and their samples into history.
  const liveIngest = new LiveIngest({
    prefix,
    fleet,
    storage: queueConfig === undefined ? groupCommit.storage : leaderStorage,
    writes,
    clock,
    logger,
    metrics,
    counters,
    transport: () => transport,
    onFleetEvents: publishEvents,
    // With a queue, history comes from the nodes' history frames through the workers (every critical sample is in them).
    storeSamples: queueConfig === undefined,
    onBirth: (site, node, zone) => {
      births.birthArrived(site, node);
      // [FM-ASSIGN-5] A node now running under its assignment: its retained assignment is cleared.
      registrationActions.birthAdmitted(site, node, zone);
    },
  });

  // Durable ingest [FM-DURABLE-3]: history and event frames stored (a history frame's samples in the group commit),
  // then acknowledged; each frame beside the others, so none waits for another's ack.
  const durableIngest = new DurableIngest({
    storage: groupCommit.storage,
    clock,
    logger,
    metrics,
    counters,
    tracing: tracing && {
      tracing,
      dbSystem: config.storage.url === undefined ? 'sqlite' : 'postgresql',
      ackSystem: 'mqtt',
      ackDestination: (site, node) => commandTopic(prefix, site, node, 'ack'),
    },
    sendAck: async (site, node, lane, firstSeq, lastSeq) => {
      if (transport === undefined) throw new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', 'no broker link');
      await transport.publish(commandTopic(prefix, site, node, 'ack'), encodeAck({ lane, firstSeq, lastSeq }), { qos: 1 });
    },
    onBackfillDone: (done) => backfills.completed(done),
    // [FM-DURABLE-6] Ask for every newly reported drop, once per range.
    onDropped: (site, node, fresh) => {
      if (!config.backfill.requestDropped) return;
      for (const d of fresh) void backfills.request(site, node, d.fromMs, d.toMs, [], 'dropped').catch(() => {});
    },
    onEventStored: eventStored,
  });

  function eventStored(event: EventInput): void {
    live.publishEvent(toEventView(event));
    // [FM-HUB-ZONE-3] Detections, zone and pump records, as stored (a resend never counts twice).
    zoneMonitor.receiveEvent(event);
    // [FM-CONFIG-DIST] config_applied / config_rejected reports.
    configRepo?.receiveEvent(event);
  }

  // The hub's readers of the broker, on the process's one frame router (built when the api role starts).
  const readers = createFrameReaders({
    logger,
    clock,
    metrics,
    counters,
    registrations,
    liveIngest,
    durable: queueConfig === undefined ? { ingest: durableIngest, writes } : undefined,
    tracing,
    backlogs,
    nodeCommands,
    zoneMonitor,
    certificates: () => certificates,
  });

  const scaleOut =
    queueConfig === undefined
      ? undefined
      : createScaleOut({
          config,
          queue: queueConfig,
          storage,
          clock,
          logger,
          registry: metrics.registry,
          metrics,
          counters,
          transport: () => transport,
          onEventStored: eventStored,
          tracing,
          ingestTransport: () => mqttLink(`${config.mqtt.clientId}-ingest-${processSuffix}`),
        });

  /**
   * After an approval: an `unknown-node` rebirth request, so the node re-announces itself and its outbox
   * sends again every frame the hub did not acknowledge while it was pending. False when it could not go out
   * (the node re-announces itself when the hub is back on the broker anyway).
   */
  async function sendRegistrationRebirth(site: string, node: string): Promise<boolean> {
    if (transport === undefined || !transport.connected || stopped) return false;
    try {
      await transport.publish(commandTopic(prefix, site, node, 'rebirth'), encodeRebirth({ reason: 'unknown-node' }), { qos: 1 });
    } catch (err) {
      logger.warn({ site, node, err: describeError(err) }, 'rebirth request after approval not sent');
      return false;
    }
    counters.rebirthsRequested++;
    metrics.requestRebirth('unknown-node');
    logger.info({ site, node, cause: 'approved' }, 'requesting rebirth');
    return true;
  }

  /** An operator's rebirth request (bulk action); rejects when it cannot go out. */
  async function sendOperatorRebirth(site: string, node: string): Promise<void> {
    if (transport === undefined || !transport.connected || stopped)
      throw new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', 'the hub is not connected to the broker: rebirth request not sent');
    await transport.publish(commandTopic(prefix, site, node, 'rebirth'), encodeRebirth({ reason: 'operator' }), { qos: 1 });
    counters.rebirthsRequested++;
    metrics.requestRebirth('operator');
    logger.info({ site, node, cause: 'operator' }, 'requesting rebirth');
  }

  function onConnected(): void {
    logger.info({ epoch: presence?.epoch }, 'connected to the broker');
    // [FM-TOPIC-4] A retained hubState with a new epoch makes every node re-announce itself.
    presence?.online();
    registrationActions.connected();
    certificates?.connected();
  }

  function onDisconnected(reason: string): void {
    logger.warn({ reason }, 'lost the broker');
  }

  /** The api role: fleet state from the broker, the leader contention, the console's timers. */
  async function startApi(): Promise<void> {
    // The embedded hub leads at once (its presence gives the transport its will); a scale-out api process contends.
    await leadership.start({ gained: becomeLeader, lost: leadershipLost });
    if (transport === undefined) {
      // The api processes of a scale-out hub each have a client id of their own (one id would have them evict each other).
      transport = mqttLink(queueConfig === undefined ? config.mqtt.clientId : `${config.mqtt.clientId}-api-${processSuffix}`, {
        // The broker announces our death to the nodes when the link dies without a goodbye (the embedded hub's; the
        // api processes of a scale-out hub come and go without one: the leader's online state is what nodes follow).
        ...(queueConfig === undefined && presence !== undefined ? { will: presence.will() } : {}),
      });
    }
    // [FM-TOPIC-5] The process's one frame router: each message's topic parsed once, its frame decoded once, for
    // every reader below and the aggregator; what does not decode is counted once (onRejected).
    router = createFrameRouter({ source: transport, prefix, onRejected: (r) => readers.rejected(r) });
    routes.push(...readers.register(router));
    transport.on('connected', onConnected);
    transport.on('disconnected', onDisconnected);
    transport.start();
    transportReady = true;
    if (leadership.epoch !== undefined) startLeaderDuties();
    every('sweep', SWEEP_INTERVAL_MS, () => liveIngest.sweep());
    every('digest', config.fleet.digestInterval, digest);
  }

  /** An MQTT link to the broker of hub.yaml `mqtt` under `clientId`. */
  function mqttLink(clientId: string, extra: { will?: Will } = {}): Transport {
    return createMqttTransport({
      url: config.mqtt.url,
      clientId,
      ...(config.mqtt.username !== undefined ? { username: config.mqtt.username } : {}),
      ...(config.mqtt.password !== undefined ? { password: config.mqtt.password } : {}),
      ...optionalPem('ca', readPem(config.mqtt.ca)),
      ...optionalPem('cert', readPem(config.mqtt.cert)),
      ...optionalPem('key', readPem(config.mqtt.key)),
      ...extra,
      clock,
      logger,
    });
  }

  function digest(): void {
    if (presence !== undefined) liveIngest.persist();
    registrations.flush();
    presence?.digest();
  }

  let transportReady = false;
  let startComplete = false;

  /** This process leads from now: the hub epoch the nodes see is `epoch`. */
  function becomeLeader(epoch: number): void {
    leaderEpoch.set(epoch);
    presence = new HubPresence({ prefix, fleet, clock, logger, metrics, counters, transport: () => transport }, epoch);
    logger.info({ epoch }, queueConfig === undefined ? 'hub epoch' : 'this hub process leads');
    if (transportReady) startLeaderDuties();
    if (startComplete) void alerts?.start().catch((err: unknown) => logger.error({ err: describeError(err) }, 'alerts did not start'));
    if (startComplete) recordingRules?.start();
    if (startComplete) startRemoteWrites();
  }

  /** The singleton duties: the retained state, the awareness digest, retention, backfill scheduling. */
  function startLeaderDuties(): void {
    if (transport === undefined) return;
    if (transport.connected) presence?.online();
    // [FM-AWARE-5] The MQTT awareness path: one digest per tick of every node's frames.
    if (config.awareness.aggregate) {
      aggregator = new Aggregator({
        transport,
        ...(router === undefined ? {} : { router }),
        prefix,
        clock,
        logger,
        tickMs: config.awareness.tick,
        zones: true,
      });
      aggregator.start();
    }
    retention();
    every('retention', RETENTION_INTERVAL_MS, retention);
    every('backfill', BACKFILL_CHECK_INTERVAL_MS, () => backfills.sendDue());
    // Workers add the requests for dropped ranges they stored: read them again now and then.
    if (queueConfig !== undefined) every('backfill-reload', BACKFILL_RELOAD_INTERVAL_MS, () => void backfills.reload().catch(() => {}));
  }

  /** A leader that could not renew its lease stops leading at once: another process may lead already. */
  function leadershipLost(reason: string): void {
    logger.error({ reason }, 'this hub process lost the leader lease');
    leaderEpoch.set(0);
    presence = undefined;
    for (const name of ['retention', 'backfill', 'backfill-reload']) {
      const t = timers.get(name);
      if (t !== undefined) clock.clearTimeout(t);
      timers.delete(name);
    }
    aggregator?.stop();
    aggregator = undefined;
    void recordingRules?.stop();
    void remoteWrites.stop();
    overrides.onLeadershipLost?.(reason);
  }

  function retention(): void {
    writes.enqueue('retention', async () => {
      const deleted = await leaderStorage.applyRetention(clock.now());
      if (deleted > 0) logger.info({ deleted }, 'retention deleted old samples');
    });
  }

  async function listen(fallback: boolean): Promise<string> {
    const { host, port } = config.http;
    try {
      await app.listen({ host, port });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      if (!fallback) throw new FieldmeshError('FM_PORT_IN_USE', `HTTP port ${port} on ${host} is in use`, { cause: err });
      await app.listen({ host, port: 0 });
      logger.warn({ port, actualPort: boundPort() }, `HTTP port ${port} is in use; listening on ${boundPort()} instead`);
    }
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    return `${httpTls === undefined ? 'http' : 'https'}://${shown}:${boundPort()}`;
  }

  function boundPort(): number {
    const address = app.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  return {
    fleet,
    app,
    metrics,
    alerts,
    recordingRules,
    auth,
    nodeCommands,
    zones: zoneMonitor,
    configRepo,
    registrations,
    get certificates() {
      return certificates;
    },
    get router() {
      return router;
    },

    async start(options = {}) {
      if (started) throw new Error('hub already started');
      started = true;
      const knownNodes = await storage.listNodes();
      for (const known of knownNodes) fleet.restore(known);
      // Switching approve mode on grandfathers every node known until now.
      registrations.start(knownNodes);
      for (const b of await storage.listBacklogs()) backlogs.set(nodeKey(b.site, b.node), b);
      await backfills.reload();
      // [FM-HUB-ZONE-3] Pump states, decisions and detections of the last 24 h, before any frame arrives.
      await zoneMonitor.rebuild(storage);
      if (api) await startApi();
      await scaleOut?.start();
      if (api) {
        // Age-based health (backlog age, freshness) and silences that start or end on their own.
        every('console', SITE_HEALTH_INTERVAL_MS, refreshConsole);
        every('zones', ZONE_REFRESH_INTERVAL_MS, () => zoneMonitor.refresh());
        await configRepo?.start(storage);
      }
      await auth.announce();
      const httpUrl = options.listen === false ? '' : await listen(options.fallbackToFreePort ?? true);
      listenUrl = httpUrl;
      // After the fleet registry is restored and the URL known: alerts link to it.
      startComplete = true;
      if (leadership.epoch !== undefined) await alerts?.start();
      // An api process that does not lead lists the leader's alerts from the shared store (until it leads).
      else if (api) await alerts?.follow();
      if (leadership.epoch !== undefined) recordingRules?.start();
      if (leadership.epoch !== undefined) startRemoteWrites();
      logger.info({ epoch: leadership.epoch, httpUrl, nodes: fleet.size, roles: config.roles }, 'hub started');
      return { httpUrl };
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      for (const t of timers.values()) clock.clearTimeout(t);
      timers.clear();
      commands.close();
      configRepo?.stop();
      nodeCommands.close();
      certificates?.stop();
      backfills.stop();
      // The registry is the leader's to write (a follower's write would be refused by the lease's fence).
      if (leadership.epoch !== undefined) liveIngest.persist();
      aggregator?.stop();
      await actions.close();
      await alerts?.stop();
      await recordingRules?.stop();
      await remoteWrites.stop();
      if (transport !== undefined) {
        for (const route of routes.splice(0)) route.unsubscribe();
        await presence?.offline();
        transport.off('connected', onConnected);
        transport.off('disconnected', onDisconnected);
        await transport.close();
      }
      await app.close();
      await scaleOut?.stop();
      await leadership.stop();
      await groupCommit.drain();
      await writes.drain();
      await storage.close();
      registrations.flush();
      registrationStore.close();
      await authStore.close();
      logger.info({ epoch: presence?.epoch }, 'hub stopped');
    },

    stats() {
      return { epoch: presence?.epoch ?? 0, ...counters, sampleAgesMs: liveIngest.sampleAges() };
    },
  };
}

/** hub.yaml `pki.passphraseFile`: its first line. */
function optionalPassphrase(file: string | undefined): { passphrase?: string } {
  if (file === undefined) return {};
  try {
    return { passphrase: (readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '').trim() };
  } catch (err) {
    throw new FieldmeshError('FM_CONFIG_UNREADABLE', `pki.passphraseFile ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function optionalPem(name: 'ca' | 'cert' | 'key', pem: string | undefined): Record<string, string> {
  return pem === undefined ? {} : { [name]: pem };
}
