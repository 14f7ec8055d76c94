// Standalone reconciliation from a local clone of the configuration repository (node.yaml
// `reconcile: {repo: DIR, pull: 5m}`): every `pull` and on SIGHUP the node runs `git -C DIR pull --ff-only`
// (in each of DIR's direct subfolders that is a git repository when DIR is none: the seed's fleet-config/ and
// site-config-<site>/ pair; no pull at all when there is none), renders itself with src/fleet-config (through `renderSelf`, which
// the CLI's composition root passes in: the agent does not import fleet-config) and hands the result to the
// ConfigReconciler like a config from the hub. An invalid commit is refused with its reason.

import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
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

  /** The git repositories to pull: `dir` itself, or (the seed's pair: fleet-config/ and site-config-<site>/) its direct subfolders that are. */
  private repositories(): { name: string; path: string }[] {
    const { dir } = this.o;
    if (existsSync(join(dir, '.git'))) return [{ name: '', path: dir }];
    let entries: string[] = [];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      return [];
    }
    return entries.filter((e) => existsSync(join(dir, e, '.git'))).map((e) => ({ name: e, path: join(dir, e) }));
  }

  private async once(): Promise<ReconcileOutcome | undefined> {
    const git = this.o.git ?? 'git';
    const { dir, logger } = this.o;
    const commits: string[] = [];
    for (const repo of this.repositories()) {
      try {
        await run(git, ['-C', repo.path, 'pull', '--ff-only', '--quiet']);
      } catch (err) {
        // No remote (a repository made on the node itself), or the remote is away: reconcile what the clone holds.
        const reason = (err as { stderr?: string }).stderr || describeError(err);
        logger.warn(
          { repo: repo.path, err: reason },
          `config: git pull in ${repo.path} failed (${reason}); reconciling what the clone holds`,
        );
      }
      try {
        const head = (await run(git, ['-C', repo.path, 'rev-parse', 'HEAD'])).stdout.trim();
        if (head !== '') commits.push(repo.name === '' ? head : `${repo.name}@${head}`);
      } catch (err) {
        logger.warn({ repo: repo.path, err: describeError(err) }, `config: no commit in ${repo.path}`);
      }
    }
    // One repository: its commit; the pair: "fleet-config@<sha> site-config-<site>@<sha>"; no git: null.
    const commit = commits.length > 0 ? commits.join(' ') : null;
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
