// Which config a node starts with: its node.yaml, or (when it has one and its config source is not `file`)
// the last good distributed config kept under <state dir>/config/, merged with node.yaml's local keys and
// validated again. Called by the CLI before createAgent; says in the log which it runs.

import { join } from 'node:path';
import { describeError, type Logger } from '../../kit/index.js';
import { configHashOf } from '../../protocol/index.js';
import type { AgentConfig } from '../config.js';
import type { RunningConfigInfo } from './config-reconciler.js';
import { ConfigStore } from './config-store.js';
import { checkConfigIdentity, parseDistributedConfig } from './local-keys.js';

/** Where a node takes its desired configs from: the hub (default), its own clone of the repository, or nowhere (node.yaml only). */
export type ConfigSource = 'hub' | 'repo' | 'file';

export interface StartupConfig {
  /** The config to run. */
  readonly config: AgentConfig;
  /** Where it came from, for GET /api/v1/config. */
  readonly running: RunningConfigInfo;
  /** The last good distributed config (what `config` was made from, when it was). */
  readonly lastGood: { readonly hash: string; readonly commit: string | null } | undefined;
}

/** The node's config source: the command line's `--config-source`, else node.yaml's reconcile.source, else repo when reconcile.repo is set, else hub. */
export function configSourceOf(local: AgentConfig, cli?: ConfigSource): ConfigSource {
  return cli ?? local.reconcile.source ?? (local.reconcile.repo !== undefined ? 'repo' : 'hub');
}

/** The state dir of a node: where its store, outbox and config/ live. */
export function nodeStateDir(config: Pick<AgentConfig, 'dataDir' | 'node'>): string {
  return join(config.dataDir, config.node.site, config.node.id);
}

/**
 * The config a node starts with. `local` is node.yaml (environment overrides included), parsed. With a last
 * good distributed config on disk (and a source other than `file`), that one merged with the local keys,
 * when it still validates; else `local`.
 */
export function resolveStartupConfig(local: AgentConfig, source: ConfigSource, logger: Logger, now: number): StartupConfig {
  const fromFile: StartupConfig = {
    config: local,
    running: { hash: configHashOf(local), commit: null, source: 'file', appliedAt: now },
    lastGood: undefined,
  };
  if (source === 'file') {
    logger.info({ source }, 'config: running node.yaml (config source: file; distributed configs are ignored)');
    return fromFile;
  }
  const stored = new ConfigStore(nodeStateDir(local), logger).loadLastGood();
  if (stored === undefined) {
    logger.info({ source }, `config: running node.yaml (no ${source} config applied yet)`);
    return fromFile;
  }
  const { desired } = stored;
  try {
    checkConfigIdentity(desired.config, local);
    const parsed = parseDistributedConfig(desired.config, local);
    if (!parsed.success) throw new Error(parsed.problems.map((p) => `${p.path}: ${p.message}`).join('; '));
    logger.info(
      { hash: desired.hash, commit: desired.commit, source: desired.source },
      `config: running ${stored.origin} config ${desired.hash.slice(0, 12)} (commit ${desired.commit ?? 'none'}); node.yaml supplies the local keys`,
    );
    return {
      config: parsed.data,
      running: { hash: desired.hash, commit: desired.commit, source: stored.origin, appliedAt: now },
      lastGood: { hash: desired.hash, commit: desired.commit },
    };
  } catch (err) {
    logger.warn(
      { hash: desired.hash, err: describeError(err) },
      `config: the last good ${stored.origin} config ${desired.hash.slice(0, 12)} no longer fits this node.yaml (${describeError(err)}); running node.yaml`,
    );
    return fromFile;
  }
}
