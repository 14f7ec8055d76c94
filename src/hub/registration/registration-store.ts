// Node registrations in SQLite (docs/registration.md): a table of its own (node_registrations) and one
// meta row (registration_meta) in the hub's database file, through a connection of its own like the auth
// store, so approvals survive restarts. An in-memory store serves tests and `storage.path: ":memory:"`;
// postgres-registration-store.ts keeps them in a scale-out hub's database. All pass registration-store.contract.ts.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** pending: announced itself, waits for an admin; rejected: an admin refused it; approved: admitted. */
export type RegistrationStatus = 'pending' | 'rejected' | 'approved';
/** How an approved node was approved: by an admin, or grandfathered (known before `approve` was switched on). */
export type ApprovalOrigin = 'admin' | 'grandfathered';
/**
 * The hub's retained assignment on the node's `<prefix>/_hub/assign/<site>/<node>` [FM-ASSIGN-1]: `publish` to be
 * published (the hub was off the broker), `retained` published and held by the broker, `clear` to be cleared
 * (the node announced itself under its assigned identity; the clearing did not go out yet).
 */
export type AssignmentState = 'publish' | 'retained' | 'clear';

/** One node the registration gate knows of, as kept. */
export interface RegistrationRecord {
  readonly site: string;
  readonly node: string;
  status: RegistrationStatus;
  /** The facts of its last birth (null until one arrived). */
  zone: string | null;
  agentVersion: string | null;
  /** Node clock, ms since the Unix epoch. */
  bootTime: number | null;
  configVersion: string | null;
  /** Hub time of the first and last frame the gate saw from it while not approved (null for a node approved before it spoke). */
  firstSeen: number | null;
  lastSeen: number | null;
  births: number;
  framesIgnored: number;
  /** Who decided (an admin's name, "cli:<os user>", "hub" for grandfathered nodes) and when; null while pending. */
  decidedBy: string | null;
  decidedAt: number | null;
  /** For an approved node: how. */
  origin: ApprovalOrigin | null;
  /**
   * The site and zone an admin assigned at approval when they differ from what the node announced (null: it
   * runs as it announced itself). A node assigned another site is admitted under `assignedSite`/`node`; its
   * frames under this key are ignored from then on (status `moved` in the counts).
   */
  assignedSite: string | null;
  assignedZone: string | null;
  /** Where the assignment's retained message is (null: none held or owed). */
  assignmentState: AssignmentState | null;
}

/** A pending registration of which nothing is known yet. */
export function blankRegistration(site: string, node: string): RegistrationRecord {
  return {
    site,
    node,
    status: 'pending',
    zone: null,
    agentVersion: null,
    bootTime: null,
    configVersion: null,
    firstSeen: null,
    lastSeen: null,
    births: 0,
    framesIgnored: 0,
    decidedBy: null,
    decidedAt: null,
    origin: null,
    assignedSite: null,
    assignedZone: null,
    assignmentState: null,
  };
}

export interface RegistrationStore {
  list(): RegistrationRecord[];
  put(record: RegistrationRecord): void;
  /** The registration mode of the hub's last start (undefined on a new database). */
  lastMode(): string | undefined;
  setLastMode(mode: string): void;
  close(): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS node_registrations (
  site TEXT NOT NULL,
  node TEXT NOT NULL,
  status TEXT NOT NULL,
  zone TEXT,
  agent_version TEXT,
  boot_time INTEGER,
  config_version TEXT,
  first_seen INTEGER,
  last_seen INTEGER,
  births INTEGER NOT NULL,
  frames_ignored INTEGER NOT NULL,
  decided_by TEXT,
  decided_at INTEGER,
  origin TEXT,
  assigned_site TEXT,
  assigned_zone TEXT,
  assignment_state TEXT,
  PRIMARY KEY (site, node)
);
CREATE TABLE IF NOT EXISTS registration_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

/** A row of node_registrations (the same columns in SQLite and PostgreSQL). */
export interface RegistrationRow {
  site: string;
  node: string;
  status: string;
  zone: string | null;
  agent_version: string | null;
  boot_time: number | null;
  config_version: string | null;
  first_seen: number | null;
  last_seen: number | null;
  births: number;
  frames_ignored: number;
  decided_by: string | null;
  decided_at: number | null;
  origin: string | null;
  assigned_site: string | null;
  assigned_zone: string | null;
  assignment_state: string | null;
}

/** Columns added after the table first shipped: a database made before them gets them, empty (no assignment). */
const ADDED_COLUMNS = ['assigned_site TEXT', 'assigned_zone TEXT', 'assignment_state TEXT'] as const;

export function toRegistration(r: RegistrationRow): RegistrationRecord {
  return {
    site: r.site,
    node: r.node,
    status: r.status === 'approved' || r.status === 'rejected' ? r.status : 'pending',
    zone: r.zone,
    agentVersion: r.agent_version,
    bootTime: r.boot_time,
    configVersion: r.config_version,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    births: r.births,
    framesIgnored: r.frames_ignored,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    origin: r.origin === 'admin' || r.origin === 'grandfathered' ? r.origin : null,
    assignedSite: r.assigned_site,
    assignedZone: r.assigned_zone,
    assignmentState:
      r.assignment_state === 'publish' || r.assignment_state === 'retained' || r.assignment_state === 'clear' ? r.assignment_state : null,
  };
}

/** The record's row, for the stores that write one (PostgreSQL). */
export function registrationRow(r: RegistrationRecord): RegistrationRow {
  return {
    site: r.site,
    node: r.node,
    status: r.status,
    zone: r.zone,
    agent_version: r.agentVersion,
    boot_time: r.bootTime,
    config_version: r.configVersion,
    first_seen: r.firstSeen,
    last_seen: r.lastSeen,
    births: r.births,
    frames_ignored: r.framesIgnored,
    decided_by: r.decidedBy,
    decided_at: r.decidedAt,
    origin: r.origin,
    assigned_site: r.assignedSite,
    assigned_zone: r.assignedZone,
    assignment_state: r.assignmentState,
  };
}

/** The registrations in the hub's database file (storage.path); ":memory:" keeps nothing. */
export function createSqliteRegistrationStore(options: { readonly path: string }): RegistrationStore {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  // The hub's storage and auth store hold their own connections to the same file.
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  // A database of an older hub: its table lacks the assignment's columns.
  const have = new Set(
    db
      .prepare<[], { name: string }>('PRAGMA table_info(node_registrations)')
      .all()
      .map((c) => c.name),
  );
  for (const column of ADDED_COLUMNS)
    if (!have.has(column.split(' ')[0] as string)) db.exec(`ALTER TABLE node_registrations ADD COLUMN ${column}`);
  const selectAll = db.prepare<[], RegistrationRow>('SELECT * FROM node_registrations ORDER BY site, node');
  const upsert = db.prepare(
    `INSERT INTO node_registrations (site, node, status, zone, agent_version, boot_time, config_version, first_seen, last_seen,
       births, frames_ignored, decided_by, decided_at, origin, assigned_site, assigned_zone, assignment_state)
     VALUES (@site, @node, @status, @zone, @agentVersion, @bootTime, @configVersion, @firstSeen, @lastSeen,
       @births, @framesIgnored, @decidedBy, @decidedAt, @origin, @assignedSite, @assignedZone, @assignmentState)
     ON CONFLICT (site, node) DO UPDATE SET status = excluded.status, zone = excluded.zone, agent_version = excluded.agent_version,
       boot_time = excluded.boot_time, config_version = excluded.config_version, first_seen = excluded.first_seen,
       last_seen = excluded.last_seen, births = excluded.births, frames_ignored = excluded.frames_ignored,
       decided_by = excluded.decided_by, decided_at = excluded.decided_at, origin = excluded.origin,
       assigned_site = excluded.assigned_site, assigned_zone = excluded.assigned_zone, assignment_state = excluded.assignment_state`,
  );
  const getMeta = db.prepare<[string], { value: string }>('SELECT value FROM registration_meta WHERE key = ?');
  const setMeta = db.prepare(
    'INSERT INTO registration_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );
  let open = true;
  return {
    list: () => selectAll.all().map(toRegistration),
    put: (record) => {
      if (open) upsert.run({ ...record });
    },
    lastMode: () => getMeta.get('mode')?.value,
    setLastMode: (mode) => {
      setMeta.run('mode', mode);
    },
    close: () => {
      if (!open) return;
      open = false;
      db.close();
    },
  };
}

/** Registrations in memory (tests). */
export function createMemoryRegistrationStore(): RegistrationStore {
  const rows = new Map<string, RegistrationRecord>();
  let mode: string | undefined;
  return {
    list: () => [...rows.values()].map((r) => ({ ...r })).sort((a, b) => (`${a.site}/${a.node}` < `${b.site}/${b.node}` ? -1 : 1)),
    put: (record) => {
      rows.set(`${record.site}/${record.node}`, { ...record });
    },
    lastMode: () => mode,
    setLastMode: (m) => {
      mode = m;
    },
    close: () => {},
  };
}
