// The node side of [FM-CONFIG-DIST]: takes a desired config (a frame from the hub's retained topic, or a
// render of the node's own repository clone), decodes it, checks identity, puts the node's local keys over
// it, validates it with agentConfigSchema, verifies its hash, skips it when it is what runs, else applies it
// live; keeps the received and the last good on disk and reports config_applied / config_rejected through
// the outbox. One desired config at a time, in arrival order. While it runs a distributed config it also
// compares node.yaml with it (at start, at each apply, and whenever the file changes): keys node.yaml sets
// differently are hand edits, which do not run; they are logged once per change and reported
// (config_hand_edit). docs/config-as-code.md "Reconciliation on the node".

import { type Clock, describeError, FieldmeshError, isFieldmeshError, type Logger } from '../../kit/index.js';
import {
  CONFIG_APPLIED_EVENT,
  CONFIG_HAND_EDIT_EVENT,
  CONFIG_REJECTED_EVENT,
  type ConfigRejectStage,
  type ConfigReportPayload,
  type DesiredConfig,
  decodeConfigFrame,
  type NodeConfigStatus,
  verifyConfigHash,
} from '../../protocol/index.js';
import type { AgentConfig } from '../config.js';
import type { ApplyResult } from './apply-config.js';
import type { ConfigOrigin, ConfigStore } from './config-store.js';
import { handEditedKeys, type LocalConfigRead } from './hand-edits.js';
import { checkConfigIdentity, parseDistributedConfig } from './local-keys.js';

/** What became of one desired config. */
export type ReconcileOutcome =
  | { readonly kind: 'applied'; readonly hash: string; readonly result: ApplyResult; readonly ignoredLocalKeys: readonly string[] }
  | { readonly kind: 'unchanged'; readonly hash: string }
  | { readonly kind: 'rejected'; readonly hash: string; readonly stage: ConfigRejectStage; readonly error: string }
  | { readonly kind: 'cleared' }
  | { readonly kind: 'ignored'; readonly reason: string };

export interface RunningConfigInfo {
  readonly hash: string;
  readonly commit: string | null;
  readonly source: ConfigOrigin;
  readonly appliedAt: number;
}

export interface ConfigReconcilerOptions {
  /** The node's own node.yaml (environment overrides included), parsed: its identity and local keys. */
  readonly local: AgentConfig;
  /** What the node started with. */
  readonly running: RunningConfigInfo;
  /** The last good distributed config the node started from, if any. */
  readonly lastGood: { readonly hash: string; readonly commit: string | null } | undefined;
  /**
   * The config the node started with, parsed (the last good distributed config with node.yaml's local keys, when
   * `running.source` is not `file`): what node.yaml is compared with for hand edits until another is applied.
   */
  readonly runningConfig?: AgentConfig;
  /** The short config version births carry. */
  readonly configVersion: string;
  readonly store: ConfigStore;
  readonly clock: Pick<Clock, 'now'>;
  readonly logger: Logger;
  /** The agent's live apply. */
  apply(next: AgentConfig): Promise<ApplyResult>;
  /** Records an event in the outbox (resolves once on disk). */
  report(kind: string, priority: 'normal' | 'high', payload: ConfigReportPayload): Promise<void>;
}

export class ConfigReconciler {
  private running: RunningConfigInfo;
  private lastGood: { hash: string; commit: string | null } | null;
  private pendingRestart: readonly string[] = [];
  private lastRejected: NodeConfigStatus['lastRejected'] = null;
  private queue: Promise<unknown> = Promise.resolve();
  /** The distributed config that runs, parsed (undefined while node.yaml itself runs). */
  private distributed: AgentConfig | undefined;
  /** node.yaml as last read successfully (at start: the node.yaml the node started with). */
  private localRead: LocalConfigRead | undefined;
  private handEdited: readonly string[] = [];
  private nodeYamlError: string | null = null;
  /** What the hub was last told (hand edits and node.yaml's error), to report each change once. */
  private reportedHandEdit: string | undefined;

  constructor(private readonly o: ConfigReconcilerOptions) {
    this.running = o.running;
    this.lastGood = o.lastGood ?? null;
    this.distributed = o.running.source === 'file' ? undefined : o.runningConfig;
  }

  /** `GET /api/v1/config`'s data. */
  status(): NodeConfigStatus {
    return {
      running: { ...this.running },
      lastGood: this.lastGood === null ? null : { ...this.lastGood },
      pendingRestart: [...this.pendingRestart],
      lastRejected: this.lastRejected,
      configVersion: this.o.configVersion,
      handEdited: [...this.handEdited],
      nodeYamlError: this.nodeYamlError,
    };
  }

  /**
   * node.yaml as read now (at start, and after each change on disk): compared with the distributed config that
   * runs; a change of the keys that differ (or of whether the file reads at all) is logged once and reported.
   * Nothing of node.yaml is applied: its local keys take effect at the next start.
   */
  localFileRead(read: LocalConfigRead | { readonly error: unknown }): Promise<void> {
    return this.serial(async () => {
      if ('error' in read) {
        const error = isFieldmeshError(read.error) ? `${read.error.code}: ${read.error.message}` : describeError(read.error);
        if (error !== this.nodeYamlError)
          this.o.logger.warn(
            { err: error },
            `config: node.yaml no longer reads (${error}); nothing of it is applied, the node keeps running ${this.running.hash.slice(0, 12)}`,
          );
        this.nodeYamlError = error;
      } else {
        if (this.nodeYamlError !== null) this.o.logger.info({}, 'config: node.yaml reads again');
        this.nodeYamlError = null;
        this.localRead = read;
      }
      await this.checkHandEdits();
    });
  }

  /** Compares node.yaml with the running distributed config; logs and reports what changed since the last report. */
  private async checkHandEdits(): Promise<void> {
    const before = this.handEdited;
    const d = this.distributed;
    this.handEdited = d === undefined || this.localRead === undefined ? [] : handEditedKeys(this.localRead.raw, this.localRead.config, d);
    if (d === undefined) return;
    if (this.handEdited.join() !== before.join() || this.reportedHandEdit === undefined) this.logHandEdits();
    const state = JSON.stringify([this.running.hash, this.handEdited, this.nodeYamlError]);
    if (state === this.reportedHandEdit) return;
    this.reportedHandEdit = state;
    await this.o
      .report(CONFIG_HAND_EDIT_EVENT, 'normal', {
        hash: this.running.hash,
        commit: this.running.commit,
        handEdited: [...this.handEdited],
        ...(this.nodeYamlError === null ? {} : { nodeYamlError: this.nodeYamlError }),
      })
      .catch((err: unknown) => this.o.logger.warn({ err: describeError(err) }, 'config: the config_hand_edit event was not recorded'));
  }

  private logHandEdits(): void {
    const of = this.running.commit !== null ? `commit ${this.running.commit.slice(0, 12)}` : `config ${this.running.hash.slice(0, 12)}`;
    if (this.handEdited.length > 0)
      this.o.logger.warn(
        { handEdited: this.handEdited, hash: this.running.hash, commit: this.running.commit },
        `config: node.yaml sets ${this.handEdited.join(', ')} differently from the distributed config (${of}); the distributed config is what runs: change the repository instead`,
      );
    else if (this.reportedHandEdit !== undefined)
      this.o.logger.info({ hash: this.running.hash }, `config: node.yaml agrees with the distributed config (${of}) again`);
  }

  /**
   * After a start on a distributed config (the last good one): reports it as applied with nothing waiting, so the
   * hub learns that the restart took what waited for it (a node restarted with no new desired config sends no other
   * report). Nothing is sent while node.yaml runs.
   */
  reportStart(): Promise<void> {
    return this.serial(async () => {
      if (this.running.source === 'file') return;
      await this.o
        .report(CONFIG_APPLIED_EVENT, 'normal', {
          hash: this.running.hash,
          commit: this.running.commit,
          applied: [],
          pendingRestart: [],
          atStart: true,
        })
        .catch((err: unknown) => this.o.logger.warn({ err: describeError(err) }, 'config: the config_applied event was not recorded'));
    });
  }

  /** A retained frame from `<prefix>/_hub/config/<site>/<node>`: empty clears the desired config. */
  acceptFrame(bytes: Uint8Array): Promise<ReconcileOutcome> {
    return this.serial(async () => {
      if (bytes.byteLength === 0) return this.clear();
      let desired: DesiredConfig;
      try {
        desired = await decodeConfigFrame(bytes);
      } catch (err) {
        return this.reject({ hash: '', commit: null }, 'decode', err);
      }
      try {
        verifyConfigHash(desired);
      } catch (err) {
        return this.reject({ hash: desired.hash, commit: desired.commit }, 'decode', err);
      }
      return this.reconcile(desired, 'hub');
    });
  }

  /** A desired config already decoded (the node's repository clone renders one). */
  accept(desired: DesiredConfig, origin: Exclude<ConfigOrigin, 'file'>): Promise<ReconcileOutcome> {
    return this.serial(() => this.reconcile(desired, origin));
  }

  /** A desired config that could not be made (a repository commit that does not validate). */
  refuse(
    what: { hash: string; commit: string | null },
    stage: ConfigRejectStage,
    err: unknown,
    problems?: readonly { path: string; message: string }[],
  ): Promise<ReconcileOutcome> {
    return this.serial(() => this.reject(what, stage, err, problems));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  private async clear(): Promise<ReconcileOutcome> {
    this.o.store.clearLastGood();
    this.lastGood = null;
    this.o.logger.info(
      {},
      "config: the hub cleared this node's desired config; it keeps running its config, and runs node.yaml at its next start",
    );
    return { kind: 'cleared' };
  }

  private async reconcile(desired: DesiredConfig, origin: Exclude<ConfigOrigin, 'file'>): Promise<ReconcileOutcome> {
    const what = { hash: desired.hash, commit: desired.commit };
    try {
      this.o.store.saveReceived(desired);
    } catch (err) {
      this.o.logger.warn({ err: describeError(err) }, 'config: the received config could not be kept on disk');
    }
    try {
      checkConfigIdentity(desired.config, this.o.local);
    } catch (err) {
      return this.reject(what, 'identity', err);
    }
    const parsed = parseDistributedConfig(desired.config, this.o.local);
    if (!parsed.success) {
      const error = parsed.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
      return this.reject(what, 'schema', new FieldmeshError('FM_CONFIG_INVALID', error), parsed.problems);
    }
    const { ignored } = parsed;
    if (desired.hash === this.running.hash) {
      this.o.logger.debug({ hash: desired.hash }, 'config: the desired config is the running one');
      return { kind: 'unchanged', hash: desired.hash };
    }
    let result: ApplyResult;
    try {
      result = await this.o.apply(parsed.data);
    } catch (err) {
      return this.reject(what, 'apply', err);
    }
    const at = this.o.clock.now();
    this.running = { hash: desired.hash, commit: desired.commit, source: origin, appliedAt: at };
    this.lastGood = what;
    this.pendingRestart = result.pendingRestart;
    this.distributed = parsed.data;
    const handEditedBefore = this.handEdited;
    this.handEdited = this.localRead === undefined ? [] : handEditedKeys(this.localRead.raw, this.localRead.config, parsed.data);
    try {
      this.o.store.saveLastGood({ desired, origin, appliedAt: at });
    } catch (err) {
      this.o.logger.error(
        { err: describeError(err) },
        'config: the applied config could not be kept on disk; the next start runs the previous one',
      );
    }
    this.o.logger.info(
      {
        hash: desired.hash,
        commit: desired.commit,
        source: desired.source,
        applied: result.applied,
        pendingRestart: result.pendingRestart,
        ignoredLocalKeys: ignored,
      },
      `config: applied ${origin} config ${desired.hash.slice(0, 12)}${desired.commit ? ` (commit ${desired.commit.slice(0, 12)})` : ''}: ` +
        `live ${result.applied.length > 0 ? result.applied.join(', ') : 'nothing'}; after a restart ${result.pendingRestart.length > 0 ? result.pendingRestart.join(', ') : 'nothing'}` +
        (ignored.length > 0 ? `; local keys kept from node.yaml: ${ignored.join(', ')}` : ''),
    );
    if (this.handEdited.join() !== handEditedBefore.join() || (this.reportedHandEdit === undefined && this.handEdited.length > 0))
      this.logHandEdits();
    // The applied report carries the hand edits against this config: no config_hand_edit needed for it.
    this.reportedHandEdit = JSON.stringify([this.running.hash, this.handEdited, this.nodeYamlError]);
    await this.o
      .report(CONFIG_APPLIED_EVENT, 'normal', {
        ...what,
        applied: result.applied,
        pendingRestart: result.pendingRestart,
        ...(ignored.length > 0 ? { ignoredLocalKeys: ignored } : {}),
        // Only a node that reads its node.yaml (the CLI's) knows its hand edits.
        ...(this.localRead === undefined ? {} : { handEdited: [...this.handEdited] }),
      })
      .catch((err: unknown) => this.o.logger.warn({ err: describeError(err) }, 'config: the config_applied event was not recorded'));
    return { kind: 'applied', hash: desired.hash, result, ignoredLocalKeys: ignored };
  }

  private async reject(
    what: { hash: string; commit: string | null },
    stage: ConfigRejectStage,
    err: unknown,
    problems?: readonly { path: string; message: string }[],
  ): Promise<ReconcileOutcome> {
    const error = isFieldmeshError(err) ? `${err.code}: ${err.message}` : describeError(err);
    this.lastRejected = { ...what, stage, error, ...(problems !== undefined ? { problems } : {}), at: this.o.clock.now() };
    this.o.logger.warn(
      { hash: what.hash, commit: what.commit, stage, problems },
      `config: refused ${what.hash ? what.hash.slice(0, 12) : 'a config'} at ${stage}: ${error}; the node keeps running ${this.running.hash.slice(0, 12)}`,
    );
    await this.o
      .report(CONFIG_REJECTED_EVENT, 'high', { ...what, stage, error, ...(problems !== undefined ? { problems } : {}) })
      .catch((e: unknown) => this.o.logger.warn({ err: describeError(e) }, 'config: the config_rejected event was not recorded'));
    return { kind: 'rejected', hash: what.hash, stage, error };
  }
}
