// Where the hub reads the configuration repository from: a plain folder (its YAML files' mtimes polled,
// re-read when they change) or a git remote (cloned with the system's git into the hub's data dir, then
// `git fetch` + `git reset --hard origin/<branch>` on each poll; the commit is the revision). Only the
// hub's own checkout is written. Failures are FieldmeshError FM_FLEET_CONFIG_UNREADABLE with git's words.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { FieldmeshError, redactUrl } from '../../kit/index.js';

/** One read of the repository: its revision (the commit, or a content hash of a folder) and its YAML files. */
export interface RepoSnapshot {
  readonly revision: string;
  /** The git commit; null for a plain folder. */
  readonly commit: string | null;
  readonly files: ReadonlyMap<string, string>;
}

export interface ConfigRepoSource {
  /** `git:<url>@<branch>` or `dir:<path>`: what the hub says it distributes. */
  readonly label: string;
  readonly intervalMs: number;
  /** Reads the repository; undefined when the revision is the one read last (unless `force`). */
  poll(force?: boolean): Promise<RepoSnapshot | undefined>;
}

const YAML = /\.ya?ml$/;
/** A git command that takes longer than this (a hung remote) fails the poll; the next one tries again. */
const GIT_TIMEOUT_MS = 60_000;

function unreadable(message: string, cause?: unknown): FieldmeshError {
  return new FieldmeshError('FM_FLEET_CONFIG_UNREADABLE', message, cause === undefined ? {} : { cause });
}

function listYaml(root: string, prefix = ''): { path: string; mtimeMs: number; size: number }[] {
  const out: { path: string; mtimeMs: number; size: number }[] = [];
  for (const entry of readdirSync(join(root, prefix), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith('.')) continue;
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...listYaml(root, rel));
    else if (entry.isFile() && YAML.test(entry.name)) {
      const st = statSync(join(root, rel));
      out.push({ path: rel, mtimeMs: st.mtimeMs, size: st.size });
    }
  }
  return out;
}

function contentHash(files: ReadonlyMap<string, string>): string {
  const h = createHash('sha256');
  for (const [path, text] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) h.update(path).update('\0').update(text).update('\0');
  return h.digest('hex');
}

/** A plain folder, re-read when a YAML file's mtime or size changes (or one appears or goes). */
export function createDirSource(dir: string, intervalMs: number): ConfigRepoSource {
  const root = resolve(dir);
  let signature = '';
  let revision = '';
  return {
    label: `dir:${root}`,
    intervalMs,
    async poll(force = false) {
      let listed: ReturnType<typeof listYaml>;
      try {
        listed = listYaml(root);
      } catch (err) {
        throw unreadable(`${root}: ${(err as Error).message}`, err);
      }
      const sig = listed.map((f) => `${f.path}:${f.mtimeMs}:${f.size}`).join('\n');
      if (sig === signature && !force) return undefined;
      const files = new Map<string, string>();
      for (const f of listed) {
        try {
          files.set(f.path, readFileSync(join(root, f.path), 'utf8'));
        } catch (err) {
          throw unreadable(`${join(root, f.path)}: ${(err as Error).message}`, err);
        }
      }
      signature = sig;
      const next = contentHash(files);
      if (next === revision && !force) return undefined;
      revision = next;
      return { revision, commit: null, files };
    },
  };
}

/** Runs the system's git; rejects with FM_FLEET_CONFIG_UNREADABLE and git's own message. */
export function runGit(args: readonly string[], cwd?: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      'git',
      [...args],
      {
        ...(cwd === undefined ? {} : { cwd }),
        timeout: GIT_TIMEOUT_MS,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
      },
      (err, stdout, stderr) => {
        if (err === null) resolvePromise(stdout);
        else {
          const why = stderr.trim().split('\n').filter(Boolean).slice(-2).join('; ') || err.message;
          // git's words (and the command line in err) may hold the remote's URL with its password: redacted, no cause kept.
          reject(unreadable(redactUrl(`git ${args[0]}: ${why}`)));
        }
      },
    );
  });
}

/** A git remote: cloned into `checkout` once, then fetched and reset hard to origin/<branch> on every poll. */
export function createGitSource(options: { url: string; branch: string; checkout: string; intervalMs: number }): ConfigRepoSource {
  const { url, branch } = options;
  const checkout = resolve(options.checkout);
  let commit = '';
  async function ensureClone(): Promise<void> {
    if (existsSync(join(checkout, '.git'))) {
      await runGit(['remote', 'set-url', 'origin', url], checkout);
      return;
    }
    mkdirSync(dirname(checkout), { recursive: true });
    await runGit(['clone', '--quiet', '--no-checkout', '--origin', 'origin', url, checkout]);
  }
  return {
    // What the API, the log and the nodes' desired configs (`source`) show: never the URL's password.
    label: `git:${redactUrl(url)}@${branch}`,
    intervalMs: options.intervalMs,
    async poll(force = false) {
      await ensureClone();
      await runGit(['fetch', '--quiet', '--prune', 'origin', `+refs/heads/${branch}:refs/remotes/origin/${branch}`], checkout);
      await runGit(['reset', '--quiet', '--hard', `origin/${branch}`], checkout);
      const head = (await runGit(['rev-parse', 'HEAD'], checkout)).trim();
      if (head === commit && !force) return undefined;
      const listed = (await runGit(['ls-files', '-z'], checkout))
        .split('\0')
        .filter((p) => YAML.test(p) && !p.split('/').some((level) => level.startsWith('.')));
      const files = new Map<string, string>();
      for (const p of listed) {
        try {
          files.set(p, readFileSync(join(checkout, p), 'utf8'));
        } catch (err) {
          throw unreadable(`${join(checkout, p)}: ${(err as Error).message}`, err);
        }
      }
      commit = head;
      return { revision: head, commit: head, files };
    },
  };
}
