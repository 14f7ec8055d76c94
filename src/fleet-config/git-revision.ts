// A configuration repository as it was at a git revision, read with Debian's `git` (ls-tree and show,
// no checkout, no JS reimplementation), and where the two sides of `fieldmesh config diff` come from.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { FieldmeshError } from '../kit/index.js';
import { type ConfigRepo, parseConfigRepo, readConfigRepoFiles } from './repo.js';

/** One side of a diff: a git revision of a folder, the folder's working tree, or another folder. */
export type ConfigSource =
  | { readonly kind: 'git'; readonly dir: string; readonly rev: string }
  | { readonly kind: 'dir'; readonly dir: string };

/** What a side is called in output: `HEAD (examples/fleet)`, `examples/fleet (working tree)`. */
export function describeSource(source: ConfigSource): string {
  return source.kind === 'git' ? `${source.rev} (${source.dir})` : source.dir;
}

const GIT_MAX_BUFFER = 64 * 1024 * 1024;

function git(dir: string, args: readonly string[]): string {
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    maxBuffer: GIT_MAX_BUFFER,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' },
  });
}

function gitError(dir: string, what: string, err: unknown): FieldmeshError {
  const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
  const why =
    (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'git is not installed' : stderr.split('\n')[0] || 'git knows no such commit';
  return new FieldmeshError('FM_FLEET_CONFIG_UNREADABLE', `${dir}: ${what}: ${why}`, { cause: err, details: { dir } });
}

/** True when `dir` is inside a git working tree. */
export function isGitWorkTree(dir: string): boolean {
  if (!existsSync(dir)) return false;
  try {
    return git(dir, ['rev-parse', '--is-inside-work-tree']).trim() === 'true';
  } catch {
    return false;
  }
}

/**
 * The YAML files of `dir` at git revision `rev` (paths relative to `dir`, which may be a folder inside the
 * repository). Throws FM_FLEET_CONFIG_UNREADABLE naming the revision when git cannot resolve it.
 */
export function readGitRevisionFiles(dir: string, rev: string): Map<string, string> {
  let commit: string;
  try {
    commit = git(dir, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]).trim();
  } catch (err) {
    throw gitError(dir, `no revision "${rev}"`, err);
  }
  let listing: string;
  try {
    listing = git(dir, ['ls-tree', '-r', '-z', '--name-only', commit, '--', '.']);
  } catch (err) {
    throw gitError(dir, `cannot list ${rev}`, err);
  }
  const files = new Map<string, string>();
  for (const path of listing.split('\0')) {
    if (!/\.ya?ml$/.test(path) || path.split('/').some((p) => p.startsWith('.'))) continue;
    try {
      files.set(path, git(dir, ['show', `${commit}:./${path}`]));
    } catch (err) {
      throw gitError(dir, `cannot read ${rev}:${path}`, err);
    }
  }
  return files;
}

/** The files of a side; a git revision where the folder held no YAML yet is an empty repository. */
export function readSourceFiles(source: ConfigSource): Map<string, string> {
  return source.kind === 'git' ? readGitRevisionFiles(source.dir, source.rev) : readConfigRepoFiles(source.dir);
}

/** A side's repository, or undefined when it holds no file at all (a revision before the repository existed). */
export function loadSource(source: ConfigSource): ConfigRepo | undefined {
  const files = readSourceFiles(source);
  if (files.size === 0) return undefined;
  return parseConfigRepo(files, describeSource(source));
}
