// [FM-CONFIG-DIST] The hub side of reconciliation: watches the configuration repository (a folder or a git
// remote), renders each new revision with the repository's own renderer (a port: src/fleet-config through
// the composition root), refuses an invalid revision as a whole (no node gets anything from it; the last
// good revision stays; the refusal is in the API, the audit log, the metrics and the log), publishes each
// node's desired config retained on `<prefix>/_hub/config/<site>/<node>` (only the nodes whose hash
// changed; an empty payload for the nodes the repository removed), hands the revision's sites and consensus
// zones to the hub's monitors (RepoDefinitions), tracks every node from its outbox reports, and rolls a
// revision out wave by wave on request. docs/config-as-code.md "Reconciliation at the hub".

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type Clock, createId, describeError, FieldmeshError, type Logger, type TimerHandle } from '../../kit/index.js';
import { writeFileDurably } from '../../platform/index.js';
import type {
  ApplyNodeResult,
  ApplyRequest,
  ApplyRunView,
  ConfigRepoSummary,
  RefusedRevision,
  RevisionInfo,
} from '../../protocol/config-api.js';
import {
  CONFIG_APPLIED_EVENT,
  CONFIG_HAND_EDIT_EVENT,
  CONFIG_REJECTED_EVENT,
  desiredConfigOf,
  encodeConfigFrame,
  hubConfigTopic,
  type NodeStateName,
} from '../../protocol/index.js';
import type { Transport } from '../../transport/index.js';
import { selectNodes } from '../actions/selection.js';
import type { EventInput, HubStorage } from '../storage/storage.js';
import type { ConfigRepoConfig } from './config-repo-config.js';
import { type ConfigRepoRenderer, formatConfigProblem, type RenderedNodeConfig } from './config-repo-port.js';
import { type ConfigRepoSource, createDirSource, createGitSource } from './config-source.js';
import {
  CONFIG_NODE_STATES,
  ConfigTracker,
  type NodeConfigView,
  parseConfigReport,
  parseHandEditReport,
  summarizeConfigStates,
  type TrackerSnapshot,
} from './config-tracker.js';
import type { RepoDefinitions } from './repo-definitions.js';

/** Reports read back from storage at start (per kind). */
const REBUILD_EVENTS_PER_KIND = 10_000;
/** Unpublished desired configs (broker down) are retried this often. */
const REPUBLISH_INTERVAL_MS = 2_000;
/** Apply runs kept for the API. */
const RUNS_KEPT = 20;

export type {
  ApplyNodeResult,
  ApplyRequest,
  ApplyRunView,
  ConfigRepoSummary,
  RefusedRevision,
  RevisionInfo,
} from '../../protocol/config-api.js';

export interface FleetNodeView {
  readonly site: string;
  readonly node: string;
  readonly zone: string;
  readonly state: NodeStateName;
}

export interface ConfigReconcilerOptions {
  readonly config: ConfigRepoConfig;
  readonly dataDir: string;
  readonly renderer: ConfigRepoRenderer;
  readonly prefix: string;
  readonly transport: () => Transport | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly fleetNodes: () => readonly FleetNodeView[];
  readonly registry?: Registry;
  /** Writes an audit entry (a refused revision); absent: none. */
  readonly audit?: (target: string, result: 'ok' | 'failed') => Promise<void>;
  /** The live feed: `{type: 'config', ...}` messages (a revision read, an apply run's progress). */
  readonly publish?: (message: unknown) => void;
  /** A source of its own (tests); default from config. */
  readonly source?: ConfigRepoSource;
  /** Takes each accepted revision's sites and consensus zones to the hub's monitors (absent: they are not used). */
  readonly definitions?: Pick<RepoDefinitions, 'start' | 'accept'>;
}

interface Waiter {
  check(): void;
}

export class ConfigReconciler {
  readonly #o: ConfigReconcilerOptions;
  readonly #source: ConfigRepoSource;
  readonly #tracker = new ConfigTracker();
  readonly #logger: Logger;
  readonly #statePath: string;
  #lastRead: RevisionInfo | null = null;
  #lastGood: RevisionInfo | null = null;
  #lastRefused: RefusedRevision | null = null;
  #lastError: { at: number; message: string } | null = null;
  #awaitingApply = false;
  #timer: TimerHandle | undefined;
  #republishTimer: TimerHandle | undefined;
  #stopped = false;
  #polling: Promise<ConfigRepoSummary> | undefined;
  readonly #runs: ApplyRunView[] = [];
  readonly #waiters = new Set<Waiter>();
  /** Nodes whose desired config waits to go out (broker down, or a publish failed). */
  readonly #unpublished = new Set<string>();
  readonly #metrics: {
    revisions: Counter<'result'>;
    refused: Gauge;
    publishes: Counter<'kind'>;
    readErrors: Counter;
  } | null;

  constructor(options: ConfigReconcilerOptions) {
    this.#o = options;
    this.#logger = options.logger.child({ component: 'config-repo' });
    const c = options.config;
    this.#source =
      options.source ??
      (c.git !== undefined
        ? createGitSource({
            url: c.git.url,
            branch: c.git.branch,
            checkout: c.git.checkout ?? join(options.dataDir, 'config-repo'),
            intervalMs: c.git.interval,
          })
        : createDirSource(c.dir as string, c.interval));
    this.#statePath = join(options.dataDir, 'config-repo-state.json');
    this.#metrics = options.registry === undefined ? null : this.#createMetrics(options.registry);
  }

  #createMetrics(registry: Registry) {
    const registers = [registry];
    const revisions = new Counter({
      name: 'fieldmesh_config_revisions_total',
      help: 'Configuration repository revisions the hub read, by result (accepted, refused: invalid, nothing distributed).',
      labelNames: ['result'] as const,
      registers,
    });
    revisions.inc({ result: 'accepted' }, 0);
    revisions.inc({ result: 'refused' }, 0);
    const refused = new Gauge({
      name: 'fieldmesh_config_revision_refused',
      help: '1 while the newest revision of the configuration repository is refused (invalid); the hub distributes the last good one.',
      registers,
    });
    const tracker = this.#tracker;
    const fleetNodes = () => this.#o.fleetNodes();
    new Gauge({
      name: 'fieldmesh_config_nodes',
      help: 'Nodes by configuration state (in-sync, pending, failed, pending-restart, offline, unknown-node, removed).',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const { states } = summarizeConfigStates(tracker.views(fleetNodes()));
        for (const s of CONFIG_NODE_STATES) this.set({ state: s }, states[s]);
      },
    });
    new Gauge({
      name: 'fieldmesh_config_drift_nodes',
      help: 'Nodes that report running a config hash the hub never issued (a hand edit).',
      registers,
      collect() {
        this.set(summarizeConfigStates(tracker.views(fleetNodes())).drift);
      },
    });
    const publishes = new Counter({
      name: 'fieldmesh_config_publishes_total',
      help: 'Retained config publishes by kind (config: a desired config; clear: an empty payload for a removed node).',
      labelNames: ['kind'] as const,
      registers,
    });
    const readErrors = new Counter({
      name: 'fieldmesh_config_repo_read_errors_total',
      help: 'Failed reads of the configuration repository (git fetch, an unreadable folder).',
      registers,
    });
    return { revisions, refused, publishes, readErrors };
  }

  get label(): string {
    return this.#source.label;
  }

  /** Restores published state and node reports, then reads the repository once and polls on its interval. */
  async start(storage?: Pick<HubStorage, 'queryEvents'>): Promise<void> {
    this.#restore();
    if (storage !== undefined) {
      const events: EventInput[] = [];
      for (const kind of [CONFIG_APPLIED_EVENT, CONFIG_REJECTED_EVENT, CONFIG_HAND_EDIT_EVENT]) {
        events.push(...(await storage.queryEvents({ kind, limit: REBUILD_EVENTS_PER_KIND })));
      }
      events.sort((a, b) => a.time - b.time);
      for (const e of events) this.receiveEvent(e);
    }
    // The last good revision's sites and zones, until the first read brings a revision.
    await this.#o.definitions?.start().catch((err: unknown) => {
      this.#logger.warn({ err: describeError(err) }, "the repository's sites and zones kept from the last run not restored");
    });
    this.#schedule();
    this.#scheduleRepublish();
    // The first read runs in the background: a slow clone must not hold the hub's start.
    void this.sync().catch(() => {});
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    if (this.#republishTimer !== undefined) this.#o.clock.clearTimeout(this.#republishTimer);
    for (const w of this.#waiters) w.check();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      void this.sync()
        .catch(() => {})
        .finally(() => this.#schedule());
    }, this.#source.intervalMs);
  }

  #scheduleRepublish(): void {
    if (this.#stopped) return;
    this.#republishTimer = this.#o.clock.setTimeout(() => {
      if (this.#unpublished.size > 0) void this.#publishUnpublished();
      this.#scheduleRepublish();
    }, REPUBLISH_INTERVAL_MS);
  }

  #restore(): void {
    if (!existsSync(this.#statePath)) return;
    try {
      this.#tracker.restore(JSON.parse(readFileSync(this.#statePath, 'utf8')) as TrackerSnapshot);
    } catch (err) {
      this.#logger.warn({ err: describeError(err), path: this.#statePath }, 'config-repo state unreadable; every node is published again');
    }
  }

  #persist(): void {
    try {
      writeFileDurably(this.#statePath, `${JSON.stringify(this.#tracker.snapshot())}\n`);
    } catch (err) {
      this.#logger.warn({ err: describeError(err), path: this.#statePath }, 'config-repo state not saved');
    }
  }

  /**
   * Reads the repository now (git fetch + reset, or the folder) and handles a new revision; with `force`,
   * the current revision is rendered again even when unchanged. One read at a time: a call during a read
   * waits for it. Throws FM_FLEET_CONFIG_UNREADABLE when the repository cannot be read.
   */
  sync(force = false): Promise<ConfigRepoSummary> {
    if (this.#polling !== undefined) return this.#polling;
    this.#polling = this.#read(force).finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  async #read(force: boolean): Promise<ConfigRepoSummary> {
    let snapshot: Awaited<ReturnType<ConfigRepoSource['poll']>>;
    try {
      snapshot = await this.#source.poll(force || this.#lastRead === null);
      this.#lastError = null;
    } catch (err) {
      this.#lastError = { at: this.#o.clock.now(), message: (err as Error).message };
      this.#metrics?.readErrors.inc();
      this.#logger.warn({ err: describeError(err), source: this.#source.label }, 'configuration repository not read');
      throw err;
    }
    if (snapshot !== undefined) await this.#handle(snapshot.revision, snapshot.commit, snapshot.files);
    return this.summary();
  }

  async #handle(revision: string, commit: string | null, files: ReadonlyMap<string, string>): Promise<void> {
    const at = this.#o.clock.now();
    const info: RevisionInfo = { revision, commit, at };
    this.#lastRead = info;
    let rendered: ReturnType<ConfigRepoRenderer>;
    try {
      rendered = this.#o.renderer(files, this.#source.label);
    } catch (err) {
      rendered = {
        ok: false,
        problems: [{ kind: 'syntax', file: '(repository)', line: 1, col: 1, path: '(root)', message: (err as Error).message }],
      };
    }
    if (!rendered.ok) {
      this.#lastRefused = { ...info, problems: rendered.problems };
      this.#metrics?.revisions.inc({ result: 'refused' });
      this.#metrics?.refused.set(1);
      const short = revision.slice(0, 12);
      this.#logger.error(
        { revision: short, problems: rendered.problems.length, first: rendered.problems.slice(0, 5).map(formatConfigProblem) },
        `configuration revision ${short} refused: ${rendered.problems.length} problem(s); nodes keep ${this.#lastGood === null ? 'their own config' : `revision ${this.#lastGood.revision.slice(0, 12)}`}`,
      );
      await this.#o
        .audit?.(`refused revision ${short}: ${rendered.problems.slice(0, 20).map(formatConfigProblem).join('; ')}`, 'failed')
        .catch(() => {});
      this.#o.publish?.({ type: 'config', event: 'refused', revision, commit, problems: rendered.problems.length });
      return;
    }
    this.#metrics?.revisions.inc({ result: 'accepted' });
    this.#metrics?.refused.set(0);
    this.#lastGood = info;
    const { changed, removed } = this.#tracker.setRevision(rendered.nodes, commit);
    this.#logger.info(
      {
        revision: revision.slice(0, 12),
        nodes: rendered.nodes.length,
        changed: changed.length,
        removed: removed.length,
        rollout: this.#o.config.rollout,
      },
      'configuration revision accepted',
    );
    for (const r of removed) await this.#clear(r.site, r.node);
    if (this.#o.config.rollout === 'auto') {
      await Promise.all(changed.map((n) => this.#publish(n)));
      this.#awaitingApply = false;
    } else this.#awaitingApply = changed.length > 0;
    this.#persist();
    await this.#o.definitions?.accept(revision, rendered).catch((err: unknown) => {
      this.#logger.error({ err: describeError(err), revision: revision.slice(0, 12) }, "the revision's sites and zones not taken");
    });
    this.#o.publish?.({ type: 'config', event: 'accepted', revision, commit, changed: changed.length, removed: removed.length });
  }

  async #publish(n: RenderedNodeConfig): Promise<boolean> {
    const k = `${n.site}/${n.nodeId}`;
    const transport = this.#o.transport();
    if (transport === undefined || !transport.connected) {
      this.#unpublished.add(k);
      return false;
    }
    const commit = this.#lastGood?.commit ?? null;
    try {
      const desired = desiredConfigOf(n.config, { commit, source: this.#source.label, issuedAt: this.#o.clock.now() });
      const frame = await encodeConfigFrame(desired);
      await transport.publish(hubConfigTopic(this.#o.prefix, n.site, n.nodeId), frame, { qos: 1, retain: true });
      this.#tracker.markPublished(n.site, n.nodeId, desired.hash, commit, this.#o.clock.now());
      this.#unpublished.delete(k);
      this.#metrics?.publishes.inc({ kind: 'config' });
      this.#logger.debug({ site: n.site, node: n.nodeId, hash: desired.hash.slice(0, 12) }, 'config published');
      return true;
    } catch (err) {
      this.#unpublished.add(k);
      this.#logger.warn({ site: n.site, node: n.nodeId, err: describeError(err) }, 'config not published; retried');
      return false;
    }
  }

  async #publishUnpublished(): Promise<void> {
    const keys = [...this.#unpublished];
    let any = false;
    for (const k of keys) {
      const [site, node] = k.split('/') as [string, string];
      const n = this.#tracker.desired(site, node);
      if (n === undefined) this.#unpublished.delete(k);
      else any = (await this.#publish(n)) || any;
    }
    if (any) this.#persist();
  }

  async #clear(site: string, node: string): Promise<void> {
    const transport = this.#o.transport();
    try {
      if (transport === undefined || !transport.connected) throw new Error('not connected to the broker');
      await transport.publish(hubConfigTopic(this.#o.prefix, site, node), new Uint8Array(), { qos: 1, retain: true });
      this.#tracker.markCleared(site, node);
      this.#metrics?.publishes.inc({ kind: 'clear' });
      this.#logger.info({ site, node }, 'node removed from the repository: its retained config cleared');
    } catch (err) {
      this.#logger.warn(
        { site, node, err: describeError(err) },
        'retained config of a removed node not cleared; retried at the next revision',
      );
    }
  }

  /**
   * A newly stored event: `config_applied` / `config_rejected` reports update the node, `config_hand_edit` its hand
   * edits of node.yaml; others are ignored.
   */
  receiveEvent(e: Pick<EventInput, 'site' | 'node' | 'kind' | 'payload' | 'time'>): void {
    if (e.kind !== CONFIG_APPLIED_EVENT && e.kind !== CONFIG_REJECTED_EVENT && e.kind !== CONFIG_HAND_EDIT_EVENT) return;
    let payload: unknown;
    try {
      payload = JSON.parse(new TextDecoder().decode(e.payload));
    } catch {
      payload = undefined;
    }
    if (e.kind === CONFIG_HAND_EDIT_EVENT) {
      const report = parseHandEditReport(payload, e.time);
      if (report === undefined)
        this.#logger.warn({ site: e.site, node: e.node, kind: e.kind }, 'hand-edit report with an unreadable payload ignored');
      else this.#tracker.receiveHandEdit(e.site, e.node, report);
      return;
    }
    const report = parseConfigReport(e.kind, payload, e.time);
    if (report === undefined) {
      this.#logger.warn({ site: e.site, node: e.node, kind: e.kind }, 'config report with an unreadable payload ignored');
      return;
    }
    if (this.#tracker.receiveReport(e.site, e.node, report)) this.#checkWaiters();
  }

  /** Whether the last good revision defines the node (the registration gate admits it: docs/registration.md). */
  defines(site: string, node: string): boolean {
    return this.#tracker.desired(site, node) !== undefined;
  }

  /** The fleet changed (a node went offline or came back): apply waves re-check their nodes. */
  fleetChanged(): void {
    this.#checkWaiters();
  }

  #checkWaiters(): void {
    for (const w of [...this.#waiters]) w.check();
  }

  nodes(): NodeConfigView[] {
    return this.#tracker.views(this.#o.fleetNodes());
  }

  /** One node's view and its desired config with provenance; undefined when the hub knows nothing of it. */
  node(
    site: string,
    node: string,
  ):
    | (NodeConfigView & { config: Readonly<Record<string, unknown>> | null; provenance: RenderedNodeConfig['provenance'] | null })
    | undefined {
    const view = this.nodes().find((v) => v.site === site && v.node === node);
    if (view === undefined) return undefined;
    const desired = this.#tracker.desired(site, node);
    return { ...view, config: desired?.config ?? null, provenance: desired?.provenance ?? null };
  }

  summary(): ConfigRepoSummary {
    const views = this.nodes();
    const { states, drift } = summarizeConfigStates(views);
    return {
      source: this.#source.label,
      rollout: this.#o.config.rollout,
      lastRead: this.#lastRead,
      lastGood: this.#lastGood,
      lastRefused: this.#lastRefused,
      refused: this.#lastRefused !== null && this.#lastRead?.revision === this.#lastRefused.revision,
      lastError: this.#lastError,
      awaitingApply: this.#awaitingApply,
      nodes: { total: views.length, states, drift },
      lastRun: this.#runs[0] ?? null,
    };
  }

  runs(): readonly ApplyRunView[] {
    return this.#runs;
  }

  /** Splits `nodes` into waves: listed sizes then the rest, or waves of `size`. */
  static planWaves<T>(nodes: readonly T[], waves: ApplyRequest['waves']): T[][] {
    if (nodes.length === 0) return [];
    const out: T[][] = [];
    let at = 0;
    if (waves === undefined) return [[...nodes]];
    if (Array.isArray(waves)) {
      for (const size of waves) {
        if (at >= nodes.length) break;
        out.push(nodes.slice(at, at + size));
        at += size;
      }
    } else {
      const size = (waves as { size: number }).size;
      while (at < nodes.length) {
        out.push(nodes.slice(at, at + size));
        at += size;
      }
    }
    if (at < nodes.length) out.push(nodes.slice(at));
    return out;
  }

  /**
   * Rolls the last good revision out to the target's nodes (default every node it defines), wave by wave:
   * publishes a wave, waits until each node reports it applied, failed, or the timeout passes (an offline
   * node counts as `offline`: its retained config waits for it), pauses, then the next wave; stops at the
   * first wave with a failure or a timeout. Returns the run at once; `finished` resolves when it ends.
   */
  apply(request: ApplyRequest, by: string | null): { run: ApplyRunView; finished: Promise<ApplyRunView> } {
    if (this.#lastGood === null)
      throw new FieldmeshError(
        'FM_NOT_FOUND',
        this.#lastRefused === null
          ? 'no revision of the configuration repository read yet'
          : 'no valid revision of the configuration repository yet: the newest is refused (GET /api/v1/config shows why)',
      );
    const fleet = new Map(this.#o.fleetNodes().map((n) => [`${n.site}/${n.node}`, n]));
    const candidates = this.#tracker
      .desiredNodes()
      .map((n) => ({
        site: n.site,
        node: n.nodeId,
        zone: n.zone,
        state: fleet.get(`${n.site}/${n.nodeId}`)?.state ?? ('offline' as NodeStateName),
        rendered: n,
      }))
      .sort((a, b) => (a.site < b.site ? -1 : a.site > b.site ? 1 : a.node < b.node ? -1 : 1));
    const picked = request.target === undefined ? candidates : selectNodes(candidates, request.target);
    const planned = ConfigReconciler.planWaves(picked, request.waves);
    const timeoutMs = request.timeoutMs ?? this.#o.config.applyTimeout;
    const pauseMs = request.pauseMs ?? 0;
    const run = {
      id: createId(),
      by,
      startedAt: this.#o.clock.now(),
      finishedAt: null as number | null,
      state: 'running' as ApplyRunView['state'],
      revision: this.#lastGood.revision,
      commit: this.#lastGood.commit,
      stoppedBy: null as string | null,
      waves: planned.map((nodes, index) => ({
        index,
        state: 'waiting' as ApplyRunView['waves'][number]['state'],
        nodes: nodes.map((n) => ({
          site: n.site,
          node: n.node,
          hash: n.rendered.configHash,
          result: 'waiting' as ApplyNodeResult,
          error: undefined as string | undefined,
        })),
      })),
    };
    this.#runs.unshift(run);
    this.#runs.length = Math.min(this.#runs.length, RUNS_KEPT);
    const progress = () => this.#o.publish?.({ type: 'config', event: 'apply', run: this.#viewOf(run) });
    const finished = (async () => {
      for (const [i, wave] of planned.entries()) {
        const w = run.waves[i] as (typeof run.waves)[number];
        if (this.#stopped) break;
        w.state = 'running';
        progress();
        for (const n of wave) if (this.#tracker.desired(n.site, n.node)?.configHash !== undefined) await this.#publish(n.rendered);
        this.#persist();
        await this.#waitWave(w, timeoutMs, progress);
        const failed = w.nodes.filter((n) => n.result === 'failed' || n.result === 'timeout');
        w.state = failed.length > 0 ? 'failed' : 'ok';
        progress();
        if (failed.length > 0) {
          run.state = 'stopped';
          run.stoppedBy = `wave ${i + 1}: ${failed.map((n) => `${n.site}/${n.node} ${n.result}${n.error === undefined ? '' : ` (${n.error})`}`).join(', ')}`;
          for (const later of run.waves.slice(i + 1)) {
            later.state = 'skipped';
            for (const n of later.nodes) n.result = 'skipped';
          }
          break;
        }
        if (pauseMs > 0 && i < planned.length - 1) await new Promise<void>((r) => this.#o.clock.setTimeout(r, pauseMs));
      }
      if (run.state === 'running') run.state = 'done';
      if (this.#o.config.rollout === 'manual' && request.target === undefined && run.state === 'done') this.#awaitingApply = false;
      run.finishedAt = this.#o.clock.now();
      progress();
      this.#logger.info({ run: run.id, state: run.state, stoppedBy: run.stoppedBy }, 'config apply finished');
      return this.#viewOf(run);
    })();
    return { run: this.#viewOf(run), finished };
  }

  #waitWave(
    wave: { nodes: { site: string; node: string; hash: string; result: ApplyNodeResult; error?: string | undefined }[] },
    timeoutMs: number,
    progress: () => void,
  ): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: TimerHandle | undefined;
      const waiter: Waiter = {
        check: () => {
          const views = new Map(this.nodes().map((v) => [`${v.site}/${v.node}`, v]));
          let changed = false;
          for (const n of wave.nodes) {
            if (n.result !== 'waiting') continue;
            const v = views.get(`${n.site}/${n.node}`);
            const next: ApplyNodeResult | undefined =
              v?.state === 'in-sync'
                ? 'applied'
                : v?.state === 'pending-restart'
                  ? 'pending-restart'
                  : v?.state === 'failed'
                    ? 'failed'
                    : v?.state === 'offline'
                      ? 'offline'
                      : undefined;
            if (next !== undefined) {
              n.result = next;
              if (next === 'failed') n.error = `${v?.reported?.stage}: ${v?.reported?.error}`;
              changed = true;
            }
          }
          if (changed) progress();
          if (this.#stopped || wave.nodes.every((n) => n.result !== 'waiting')) {
            if (timer !== undefined) this.#o.clock.clearTimeout(timer);
            this.#waiters.delete(waiter);
            resolve();
          }
        },
      };
      timer = this.#o.clock.setTimeout(() => {
        for (const n of wave.nodes) if (n.result === 'waiting') n.result = 'timeout';
        this.#waiters.delete(waiter);
        resolve();
      }, timeoutMs);
      this.#waiters.add(waiter);
      waiter.check();
    });
  }

  #viewOf(run: ApplyRunView): ApplyRunView {
    return JSON.parse(JSON.stringify(run)) as ApplyRunView;
  }
}
