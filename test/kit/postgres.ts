// Starts a private PostgreSQL server for tests: Debian's binaries, a data folder copied from one initdb
// template per test process, a free 127.0.0.1 port and a unix socket in its own temp folder, fsync on;
// fresh databases on demand; stopped on every exit path (test/kit/reaper.ts). Never the machine's 5432.

import { type ChildProcess, execFileSync } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';
import { haltProcess, spawnUntilReady } from './server-process.js';

export interface PostgresOptions {
  /** How long to wait for the server to accept connections (default 30000 ms). */
  readonly readyTimeoutMs?: number;
  /** Extra `-c name=value` settings. */
  readonly settings?: Readonly<Record<string, string>>;
}

export interface PostgresInstance {
  readonly port: number;
  /** PID of the postmaster (changes on restart). */
  readonly pid: number;
  /** A connection URL to `database` on this server (superuser `postgres`, trust on loopback). */
  url(database?: string): string;
  /** Creates a fresh, empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Everything the server logged so far. */
  log(): string;
  /** Kills the server outright (SIGKILL to the postmaster and its backends), as a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data (after `kill`: crash recovery). */
  start(): Promise<void>;
  /** Fast shutdown (SIGINT; SIGKILL after 10 s), and the data folder deleted. */
  stop(): Promise<void>;
}

/** The bin folder of the newest Debian PostgreSQL (13 or newer), or of initdb on PATH. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .map(Number)
        .filter((v) => Number.isInteger(v) && v >= 13)
        .sort((a, b) => b - a)
    : [];
  const candidates = [...versions.map((v) => join(root, String(v), 'bin')), ...(process.env.PATH ?? '').split(':')];
  for (const dir of candidates) {
    try {
      accessSync(join(dir, 'initdb'), constants.X_OK);
      accessSync(join(dir, 'postgres'), constants.X_OK);
      return dir;
    } catch {}
  }
  throw new Error('PostgreSQL 13+ is not installed (Debian package "postgresql")');
}

/** PostgreSQL refuses to run as root: as root, its processes run as the `postgres` OS user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** A folder the server's user owns (0700), removed when the test process exits. */
function ownedTempDir(prefix: string, user: { uid: number; gid: number } | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (user) chownSync(dir, user.uid, user.gid);
  leftovers.add(dir);
  return dir;
}

const leftovers = new Set<string>();
process.once('exit', () => {
  for (const dir of leftovers) rmSync(dir, { recursive: true, force: true });
});

let template: string | undefined;

/**
 * One initdb per test process (about a second); each server copies its data folder. --no-sync only for
 * the template: the copies are what run, with fsync on.
 */
function templateDataDir(bin: string, user: { uid: number; gid: number } | undefined): string {
  if (template !== undefined) return template;
  const dir = ownedTempDir('fieldmesh-pg-template-', user);
  const data = join(dir, 'data');
  execFileSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions'],
    { stdio: ['ignore', 'ignore', 'pipe'], ...(user ?? {}), cwd: dir },
  );
  template = data;
  return data;
}

let databases = 0;

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresInstance> {
  const bin = postgresBinDir();
  const user = serverUser();
  const source = templateDataDir(bin, user);
  const dir = ownedTempDir('fieldmesh-pg-', user);
  const data = join(dir, 'data');
  const socket = join(dir, 'socket');
  execFileSync('cp', ['-a', source, data]);
  mkdirSync(socket, { mode: 0o700 });
  if (user) chownSync(socket, user.uid, user.gid);
  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: socket,
    // Durability is what the hub's store is tested for.
    fsync: 'on',
    synchronous_commit: 'on',
    full_page_writes: 'on',
    // Several servers may run at once on a small machine.
    shared_buffers: '16MB',
    max_connections: '60',
    logging_collector: 'off',
    ...options.settings,
  };
  const args = ['-D', data, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];

  let child: ChildProcess | undefined;
  let output = '';

  async function launch(): Promise<void> {
    child = await spawnUntilReady(join(bin, 'postgres'), args, {
      what: 'postgres',
      ready: 'database system is ready to accept connections',
      timeoutMs: options.readyTimeoutMs ?? 30_000,
      spawn: { cwd: dir, ...(user ?? {}) },
      onOutput: (text) => {
        output += text;
      },
    });
  }

  /** SIGINT is PostgreSQL's fast shutdown (its backends take it as a cancel); SIGKILL a crash. */
  async function halt(signal: 'SIGINT' | 'SIGKILL'): Promise<void> {
    const proc = child;
    child = undefined;
    await haltProcess(proc, signal, 10_000);
  }

  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  await launch();
  return {
    port,
    get pid() {
      return child?.pid ?? -1;
    },
    url,
    async createDatabase(name) {
      databases++;
      const database = name ?? `test_${process.pid}_${databases}`;
      const admin = new pg.Client({ connectionString: url() });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
      } finally {
        await admin.end();
      }
      return url(database);
    },
    log: () => output,
    kill: () => halt('SIGKILL'),
    start: () => launch(),
    async stop() {
      await halt('SIGINT');
      rmSync(dir, { recursive: true, force: true });
      leftovers.delete(dir);
    },
  };
}

/**
 * A contract-suite target whose places are fresh databases on one private server (started now, stopped
 * at teardown); `open` opens a store on a database's URL.
 */
export async function postgresTarget<S, O>(open: (url: string, options: O) => Promise<S>) {
  const server = await startPostgres();
  return {
    async fresh() {
      const url = await server.createDatabase();
      return { open: (options: O) => open(url, options) };
    },
    teardown: () => server.stop(),
  };
}
