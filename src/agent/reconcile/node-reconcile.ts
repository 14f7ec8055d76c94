// The reconciliation of one running agent, wired: its live apply over the parts the agent passes in, the
// ConfigReconciler, the subscription to its desired-config topic (source hub) or the repository clone's pull
// loop (source repo), and GET /api/v1/config. src/agent/agent.ts makes one with `createNodeReconcile` and
// calls start/stop; the rest lives here so the composition root stays small.

import type { FastifyInstance } from 'fastify';
import { type Clock, describeError, type Logger } from '../../kit/index.js';
import { type ConfigReportPayload, configHashOf, hubConfigTopic, type NodeIdentityStatus } from '../../protocol/index.js';
import type { Subscription, Transport, TransportMessage } from '../../transport/index.js';
import type { AgentConfig } from '../config.js';
import { type ApplyResult, applyConfigLive, type LiveParts } from './apply-config.js';
import { ConfigReconciler, type RunningConfigInfo } from './config-reconciler.js';
import { registerConfigRoutes } from './config-routes.js';
import { ConfigStore } from './config-store.js';
import { type LocalConfigFile, watchLocalFile } from './hand-edits.js';
import { type RenderSelf, RepoReconciler } from './repo-reconciler.js';
import { type ConfigSource, configSourceOf } from './startup-config.js';

/** What the CLI tells the agent about its config (AgentOverrides.reconcile). */
export interface ReconcileOverrides {
  /** The node's own node.yaml, parsed (default: the config the agent runs): identity and local keys. */
  readonly local?: AgentConfig;
  /** `--config-source`; default node.yaml's reconcile.source, else repo when reconcile.repo is set, else hub. */
  readonly source?: ConfigSource;
  /** Where the running config came from (resolveStartupConfig); default node.yaml. */
  readonly running?: RunningConfigInfo;
  readonly lastGood?: { readonly hash: string; readonly commit: string | null };
  /** Renders this node from a repository folder (the CLI passes fleet-config's); needed for source repo. */
  readonly renderSelf?: RenderSelf;
  /** node.yaml on disk: watched while a distributed config can run, to see hand edits (absent: not watched). */
  readonly localFile?: LocalConfigFile;
}

export interface NodeReconcile {
  readonly reconciler: ConfigReconciler;
  readonly source: ConfigSource;
  /** Applies `next` live over the running config; see applyConfigLive. */
  applyConfig(next: AgentConfig): Promise<ApplyResult>;
  /** Serves GET /api/v1/config (before the server listens). */
  registerRoutes(http: FastifyInstance): void;
  /** Subscribes to the desired-config topic (source hub) or starts the pull loop (source repo); once the agent runs. */
  start(): void;
  /** Source repo: pull and reconcile now (SIGHUP). Other sources: nothing. */
  reconcileNow(): Promise<void>;
  stop(): void;
}

export interface NodeReconcileOptions {
  readonly config: AgentConfig;
  readonly overrides: ReconcileOverrides;
  readonly stateDir: string;
  readonly transport: Transport;
  /** False for a node without a broker: no hub config reaches it. */
  readonly brokered: boolean;
  readonly configVersion: string;
  readonly parts: LiveParts;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The identity the node runs under, for GET /api/v1/config. [FM-ASSIGN-4] */
  readonly identity?: NodeIdentityStatus;
  report(kind: string, priority: 'normal' | 'high', payload: ConfigReportPayload): Promise<void>;
}

export function createNodeReconcile(o: NodeReconcileOptions): NodeReconcile {
  const logger = o.logger.child({ area: 'config' });
  const local = o.overrides.local ?? o.config;
  const source = configSourceOf(local, o.overrides.source);
  let live = o.config;
  let applying: Promise<unknown> = Promise.resolve();
  async function applyConfig(next: AgentConfig): Promise<ApplyResult> {
    const run = applying.then(async () => {
      const result = await applyConfigLive(live, next, { ...o.parts, logger });
      // What runs now: the keys applied live take their new values, the others keep theirs until a restart.
      live = { ...live, ...Object.fromEntries(result.applied.map((k) => [k, (next as Record<string, unknown>)[k]])) } as AgentConfig;
      return result;
    });
    applying = run.catch(() => {});
    return run;
  }
  const reconciler = new ConfigReconciler({
    local,
    running: o.overrides.running ?? { hash: configHashOf(o.config), commit: null, source: 'file', appliedAt: o.clock.now() },
    lastGood: o.overrides.lastGood,
    runningConfig: o.config,
    configVersion: o.configVersion,
    store: new ConfigStore(o.stateDir, logger),
    clock: o.clock,
    logger,
    apply: applyConfig,
    report: o.report,
  });
  const topic = hubConfigTopic(o.config.topicPrefix, local.node.site, local.node.id);
  const onMessage = (m: TransportMessage): void => {
    void reconciler
      .acceptFrame(m.payload)
      .catch((err: unknown) => logger.error({ err: describeError(err) }, 'config: a desired config failed unexpectedly'));
  };
  let repo: RepoReconciler | undefined;
  let subscription: Subscription | undefined;
  let unwatch: (() => void) | undefined;
  /** node.yaml read again, for hand edits: what it sets, or why it does not read. */
  const readLocal = (file: LocalConfigFile): void => {
    let read: Parameters<ConfigReconciler['localFileRead']>[0];
    try {
      read = file.read();
    } catch (err) {
      read = { error: err };
    }
    void reconciler
      .localFileRead(read)
      .catch((err: unknown) => logger.error({ err: describeError(err) }, 'config: comparing node.yaml failed unexpectedly'));
  };
  return {
    reconciler,
    source,
    applyConfig,
    registerRoutes(http) {
      registerConfigRoutes(http, () => ({ ...reconciler.status(), ...(o.identity === undefined ? {} : { identity: o.identity }) }));
    },
    start() {
      void reconciler.reportStart();
      // A node that only runs node.yaml has nothing to compare it with.
      const file = o.overrides.localFile;
      if (file !== undefined && source !== 'file') {
        readLocal(file);
        unwatch = watchLocalFile(file.path, () => readLocal(file), { clock: o.clock, logger });
      }
      if (source === 'hub' && o.brokered) {
        subscription = o.transport.subscribe(topic, onMessage);
        subscription.ready.catch((err: unknown) =>
          logger.warn({ topic, err: describeError(err) }, 'config: subscribing to the desired config failed'),
        );
      } else if (source === 'repo') {
        const dir = local.reconcile.repo;
        if (dir === undefined || o.overrides.renderSelf === undefined) {
          logger.error({ dir }, 'config: source repo needs reconcile.repo in node.yaml and a renderer; reconciling nothing');
          return;
        }
        repo = new RepoReconciler({
          dir,
          pullMs: local.reconcile.pull,
          renderSelf: o.overrides.renderSelf,
          reconciler,
          clock: o.clock,
          logger,
        });
        repo.start();
      }
    },
    async reconcileNow() {
      await repo?.reconcileNow();
    },
    stop() {
      unwatch?.();
      subscription?.unsubscribe();
      repo?.stop();
    },
  };
}
