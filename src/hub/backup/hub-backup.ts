// `fieldmesh hub backup` and `restore` for the embedded hub: a consistent copy of each of its SQLite databases, taken
// with SQLite's online backup API while the hub runs (readers and writers go on; each copy is one point in time of
// its file), packed in one gzip file with a manifest and checksums; and a restore into an empty data folder. A hub on
// PostgreSQL is backed up with pg_dump: `postgresBackupCommands` says how.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { FieldmeshError, redactUrl } from '../../kit/index.js';
import { alertStatePath } from '../alerts/create-alert-engine.js';
import type { HubConfig } from '../config.js';

const MAGIC = 'fieldmesh-hub-backup 1\n';

/** Where a file goes back to: the storage folder (dirname of storage.path), the data folder, or alerts.statePath. */
type Home = 'storage' | 'data' | 'alerts';

interface Entry {
  readonly home: Home;
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

interface Manifest {
  readonly createdAt: string;
  readonly files: readonly Entry[];
}

export type BackupConfig = Pick<HubConfig, 'dataDir' | 'storage' | 'alerts'>;

/** The SQLite files and the small state files of an embedded hub, by where they go back to. */
function hubFiles(config: BackupConfig): { home: Home; path: string; sqlite: boolean }[] {
  const found = new Map<string, { home: Home; path: string; sqlite: boolean }>();
  const add = (home: Home, path: string, sqlite: boolean) => {
    const abs = resolve(path);
    if (!found.has(abs) && existsSync(abs)) found.set(abs, { home, path: abs, sqlite });
  };
  const storageDir = dirname(config.storage.path);
  add('storage', config.storage.path, true);
  for (const [home, dir] of [
    ['storage', storageDir],
    ['data', config.dataDir],
  ] as const)
    if (existsSync(dir)) for (const name of readdirSync(dir).sort()) if (name.endsWith('.db')) add(home, join(dir, name), true);
  const alerts = alertStatePath(config);
  if (alerts !== ':memory:') add('alerts', alerts, true);
  // The hub's boot epoch: restored, the nodes see a greater one at the next start, as after a restart.
  add('data', join(config.dataDir, 'hub-state.json'), false);
  return [...found.values()];
}

/**
 * Writes a backup of the embedded hub of `config` to `out` (replaced atomically), while the hub may run. Returns what
 * it holds. Throws FM_CLI_USAGE for a hub on PostgreSQL (see postgresBackupCommands) or with nothing to back up.
 */
export async function backupHub(config: BackupConfig, out: string): Promise<{ files: { name: string; bytes: number }[]; bytes: number }> {
  if (config.storage.url !== undefined)
    throw new FieldmeshError(
      'FM_CLI_USAGE',
      `this hub stores in PostgreSQL: back it up with pg_dump\n${postgresBackupCommands(config.storage.url, out)}`,
    );
  if (config.storage.path === ':memory:')
    throw new FieldmeshError('FM_CLI_USAGE', 'storage.path is ":memory:": nothing on disk to back up');
  const files = hubFiles(config);
  if (!files.some((f) => f.home === 'storage' && f.path === resolve(config.storage.path)))
    throw new FieldmeshError('FM_CLI_USAGE', `${config.storage.path}: no hub database there (is the configuration the hub's?)`);
  const work = mkdtempSync(join(tmpdir(), 'fieldmesh-backup-'));
  try {
    const entries: Entry[] = [];
    const bodies: Buffer[] = [];
    for (const f of files) {
      let body: Buffer;
      if (f.sqlite) {
        // The online backup API: pages copied in steps while the hub goes on writing; a write in between restarts the
        // copy of what changed, so the result is the file as of one moment.
        const copy = join(work, basename(f.path));
        const db = new Database(f.path, { fileMustExist: true, timeout: 10_000 });
        try {
          await db.backup(copy);
        } finally {
          db.close();
        }
        body = readFileSync(copy);
      } else body = readFileSync(f.path);
      entries.push({ home: f.home, name: basename(f.path), bytes: body.length, sha256: sha256(body) });
      bodies.push(body);
    }
    const manifest: Manifest = { createdAt: new Date().toISOString(), files: entries };
    const packed = gzipSync(Buffer.concat([Buffer.from(`${MAGIC}${JSON.stringify(manifest)}\n`), ...bodies]));
    const tmp = `${out}.partial`;
    writeFileSync(tmp, packed);
    renameSync(tmp, out);
    return { files: entries.map((e) => ({ name: e.name, bytes: e.bytes })), bytes: packed.length };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Restores a backup into the folders `config` names, which must be empty or absent (FM_CLI_USAGE otherwise: a restore
 * never overwrites a hub). Throws FM_BACKUP_INVALID for a file that is not a backup or is damaged (nothing written).
 */
export function restoreHub(config: BackupConfig, from: string): { files: { name: string; bytes: number }[] } {
  if (config.storage.url !== undefined)
    throw new FieldmeshError(
      'FM_CLI_USAGE',
      `this hub stores in PostgreSQL: restore it with pg_restore\n${postgresBackupCommands(config.storage.url, from)}`,
    );
  const { manifest, bodies } = readBackup(from);
  const targets: Record<Home, (name: string) => string> = {
    storage: (name) => join(dirname(config.storage.path), name),
    data: (name) => join(config.dataDir, name),
    alerts: () => alertStatePath(config),
  };
  const dirs = [...new Set(manifest.files.map((e) => resolve(dirname(targets[e.home](e.name)))))];
  for (const dir of dirs)
    if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0))
      throw new FieldmeshError('FM_CLI_USAGE', `${dir} is not empty: restore into an empty data folder (a restore never overwrites a hub)`);
  for (const [i, e] of manifest.files.entries()) {
    const path = targets[e.home](e.name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bodies[i] as Buffer);
  }
  return { files: manifest.files.map((e) => ({ name: e.name, bytes: e.bytes })) };
}

function readBackup(from: string): { manifest: Manifest; bodies: Buffer[] } {
  const invalid = (why: string, cause?: unknown) =>
    new FieldmeshError('FM_BACKUP_INVALID', `${from}: ${why}`, cause === undefined ? {} : { cause });
  let raw: Buffer;
  try {
    raw = gunzipSync(readFileSync(from));
  } catch (err) {
    throw invalid(`not a fieldmesh hub backup (${(err as Error).message})`, err);
  }
  if (raw.subarray(0, MAGIC.length).toString() !== MAGIC) throw invalid('not a fieldmesh hub backup (no header)');
  const end = raw.indexOf(10, MAGIC.length);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(raw.subarray(MAGIC.length, end).toString()) as Manifest;
  } catch (err) {
    throw invalid('its manifest is damaged', err);
  }
  const bodies: Buffer[] = [];
  let at = end + 1;
  for (const e of manifest.files) {
    if (!/^[\w.-]+$/.test(e.name)) throw invalid(`file name ${JSON.stringify(e.name)} refused`);
    const body = raw.subarray(at, at + e.bytes);
    at += e.bytes;
    if (body.length !== e.bytes || sha256(body) !== e.sha256) throw invalid(`${e.name} is damaged (size or checksum)`);
    bodies.push(body);
  }
  if (at !== raw.length) throw invalid('bytes after the last file');
  return { manifest, bodies };
}

function sha256(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * The pg_dump and pg_restore commands for a hub on PostgreSQL at `url`, into or from `file`: the URL as configured but
 * without its password (libpq takes it from PGPASSWORD or ~/.pgpass), so the commands run as printed.
 */
export function postgresBackupCommands(url: string, file: string): string {
  let shown: string;
  try {
    const u = new URL(url);
    u.password = '';
    shown = u.toString();
  } catch {
    shown = redactUrl(url);
  }
  return [
    `  backup:  pg_dump --format=custom --file=${file} '${shown}'`,
    `  restore: pg_restore --clean --if-exists --no-owner --dbname='${shown}' ${file}`,
    '  (the password is left out: give it in PGPASSWORD or ~/.pgpass; pg_dump takes one consistent snapshot while the hub runs)',
  ].join('\n');
}
