// Standalone reconciliation from a local clone of the configuration repository (node.yaml
// `reconcile: {repo: DIR, pull: 5m}`): every `pull` and on SIGHUP the node runs `git -C DIR pull --ff-only`
// (skipped when DIR is no git repository), renders itself with src/fleet-config (through `renderSelf`, which
// the CLI's composition root passes in: the agent does not import fleet-config) and hands the result to the
// ConfigReconciler like a config from the hub. An invalid commit is refused with its reason.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Clock, describeError, isFieldmeshError, type Logger } from '../../kit/index.js';
import type { DesiredConfig } from '../../protocol/index.js';
import type { ConfigReconciler, ReconcileOutcome } from './config-reconciler.js';

/**
 * Renders this node from the repository at `dir` (the CLI: loadConfigRepo + renderValidConfigRepo + this
 * node's entry). Throws a FieldmeshError whose `details.problems` lists what is wrong when the commit is invalid.
 */
export type RenderSelf = (dir: string, commit: string | null) => Promise<DesiredConfig> | DesiredConfig;

export interface RepoReconcilerOptions {
  readonly dir: string;
  readonly pullMs: number;
  readonly renderSelf: RenderSelf;
  readonly reconciler: ConfigReconciler;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The git binary (default `git` on PATH: Debian's). */
  readonly git?: string;
}

function run(git: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      git,
      [...args],
      { timeout: 120_000, maxBuffer: 4 * 1024 * 1024, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } },
      (err, stdout, stderr) => {
        if (err) reject(Object.assign(err, { stderr: String(stderr).trim() }));
        else resolve({ stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

export class RepoReconciler {
  private timer: ReturnType<Clock['setTimeout']> | undefined;
  private running: Promise<ReconcileOutcome | undefined> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly o: RepoReconcilerOptions) {}

  start(): void {
    this.stopped = false;
    void this.reconcileNow();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Pulls and reconciles now (SIGHUP); a call during a run makes one more run after it. */
  reconcileNow(): Promise<ReconcileOutcome | undefined> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = this.once().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.reconcileNow();
      } else this.schedule();
    });
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = this.o.clock.setTimeout(() => void this.reconcileNow(), this.o.pullMs);
  }

  private async once(): Promise<ReconcileOutcome | undefined> {
    const git = this.o.git ?? 'git';
    const { dir, logger } = this.o;
    const isGit = existsSync(join(dir, '.git'));
    let commit: string | null = null;
    if (isGit) {
      try {
        await run(git, ['-C', dir, 'pull', '--ff-only', '--quiet']);
      } catch (err) {
        // No remote (a clone made on the node itself), or the remote is away: reconcile what the clone holds.
        logger.warn(
          { dir, err: (err as { stderr?: string }).stderr || describeError(err) },
          `config: git pull in ${dir} failed; reconciling what the clone holds`,
        );
      }
      try {
        commit = (await run(git, ['-C', dir, 'rev-parse', 'HEAD'])).stdout.trim() || null;
      } catch (err) {
        logger.warn({ dir, err: describeError(err) }, `config: no commit in ${dir}`);
      }
    }
    if (this.stopped) return undefined;
    let desired: DesiredConfig;
    try {
      desired = await this.o.renderSelf(dir, commit);
    } catch (err) {
      const problems =
        isFieldmeshError(err) && Array.isArray(err.details.problems)
          ? (err.details.problems as { file?: string; line?: number; col?: number; path?: string; message?: string }[]).map((p) => ({
              path: p.file !== undefined ? `${p.file}:${p.line}:${p.col}: ${p.path ?? ''}` : (p.path ?? '(root)'),
              message: String(p.message ?? ''),
            }))
          : undefined;
      return this.o.reconciler.refuse({ hash: '', commit }, 'schema', err, problems);
    }
    return this.o.reconciler.accept(desired, 'repo');
  }
}
