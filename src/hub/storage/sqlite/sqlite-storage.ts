// SqliteStorage: the HubStorage port on better-sqlite3 (one file, WAL), the hub's default store.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { type LabelMatcher, matchesSelector } from '../../../protocol/index.js';
import {
  type HubStorage,
  type SampleInput,
  type SeriesIdentity,
  type SeriesPoints,
  type StoredNode,
  type StoredSeries,
  seriesKey,
  sortedLabels,
} from '../storage.js';

export interface SqliteStorageOptions {
  /** File path, or ":memory:". */
  readonly path: string;
  /** Samples older than this many ms are deleted by `applyRetention`. */
  readonly retentionMs: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  labels TEXT NOT NULL,
  site TEXT NOT NULL,
  node TEXT NOT NULL,
  unit TEXT NOT NULL,
  type TEXT NOT NULL,
  UNIQUE (name, labels)
);
CREATE TABLE IF NOT EXISTS samples (
  series_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  value REAL,
  PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nodes (
  site TEXT NOT NULL,
  node TEXT NOT NULL,
  zone TEXT NOT NULL,
  state TEXT NOT NULL,
  epoch INTEGER,
  agent_version TEXT,
  tick_ms INTEGER,
  heartbeat_ms INTEGER,
  last_heard INTEGER,
  last_changed INTEGER NOT NULL,
  PRIMARY KEY (site, node)
);
`;

interface SeriesRow {
  id: number;
  name: string;
  labels: string;
  unit: string;
  type: string;
}

interface NodeRow {
  site: string;
  node: string;
  zone: string;
  state: string;
  epoch: number | null;
  agent_version: string | null;
  tick_ms: number | null;
  heartbeat_ms: number | null;
  last_heard: number | null;
  last_changed: number;
}

function opt<T>(v: T | null): T | undefined {
  return v === null ? undefined : v;
}

/** SQLite stores NaN as NULL; ±Inf survive as REAL. */
function storable(value: number | null): number | null {
  return value === null || Number.isNaN(value) ? null : value;
}

export function createSqliteStorage(options: SqliteStorageOptions): HubStorage {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode can lose the last transactions on power loss, never corrupt the file. That is
  // acceptable here: the hub holds a copy of critical metrics, and durability of acknowledged data is
  // the node's outbox's job (it keeps frames until the hub acknowledges (node, boot, seq), a later
  // issue). FULL would fsync on every MQTT message, which the hub's write rate does not need.
  db.pragma('synchronous = NORMAL');
  db.exec(SCHEMA);

  const insertSeries = db.prepare<[string, string, string, string, string, string]>(
    'INSERT INTO series (name, labels, site, node, unit, type) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name, labels) DO UPDATE SET unit = excluded.unit, type = excluded.type RETURNING id',
  );
  const insertSample = db.prepare<[number, number, number | null]>(
    'INSERT OR REPLACE INTO samples (series_id, ts, value) VALUES (?, ?, ?)',
  );
  const selectPoints = db.prepare<[number, number, number], { ts: number; value: number | null }>(
    'SELECT ts, value FROM samples WHERE series_id = ? AND ts >= ? AND ts <= ? ORDER BY ts',
  );
  const hasPoints = db.prepare<[number, number, number], { one: number }>(
    'SELECT 1 AS one FROM samples WHERE series_id = ? AND ts >= ? AND ts <= ? LIMIT 1',
  );
  const deleteOld = db.prepare<[number, number]>('DELETE FROM samples WHERE series_id = ? AND ts < ?');
  const upsertNodeStmt = db.prepare(
    `INSERT INTO nodes (site, node, zone, state, epoch, agent_version, tick_ms, heartbeat_ms, last_heard, last_changed)
     VALUES (@site, @node, @zone, @state, @epoch, @agentVersion, @tickMs, @heartbeatMs, @lastHeard, @lastChanged)
     ON CONFLICT (site, node) DO UPDATE SET zone = excluded.zone, state = excluded.state, epoch = excluded.epoch,
       agent_version = excluded.agent_version, tick_ms = excluded.tick_ms, heartbeat_ms = excluded.heartbeat_ms,
       last_heard = excluded.last_heard, last_changed = excluded.last_changed`,
  );

  // Every series lives in memory too: the hub holds a few thousand, and matchers with regexes run in JS.
  const byKey = new Map<string, StoredSeries>();
  const byId = new Map<number, StoredSeries>();
  for (const row of db.prepare<[], SeriesRow>('SELECT id, name, labels, unit, type FROM series').all()) {
    const s: StoredSeries = {
      id: row.id,
      name: row.name,
      labels: JSON.parse(row.labels) as Record<string, string>,
      unit: row.unit,
      type: row.type as StoredSeries['type'],
    };
    byKey.set(seriesKey(s), s);
    byId.set(s.id, s);
  }

  let open = true;

  function seriesId(identity: SeriesIdentity): number {
    const key = seriesKey(identity);
    const known = byKey.get(key);
    if (known && known.unit === identity.unit && known.type === identity.type) return known.id;
    const labels = sortedLabels(identity.labels);
    const row = insertSeries.get(
      identity.name,
      JSON.stringify(labels),
      labels.site ?? '',
      labels.node ?? '',
      identity.unit,
      identity.type,
    ) as { id: number };
    const s: StoredSeries = { id: row.id, name: identity.name, labels, unit: identity.unit, type: identity.type };
    byKey.set(key, s);
    byId.set(s.id, s);
    return s.id;
  }

  const appendTx = db.transaction((batch: readonly SampleInput[]) => {
    for (const s of batch) insertSample.run(seriesId(s.series), Math.round(s.ts), storable(s.value));
    return batch.length;
  });

  function matching(matchers: readonly LabelMatcher[]): StoredSeries[] {
    const selector = { matchers, text: '' };
    const out: StoredSeries[] = [];
    for (const s of byId.values()) if (matchesSelector(selector, s.name, s.labels)) out.push(s);
    return out.sort((a, b) => (seriesKey(a) < seriesKey(b) ? -1 : 1));
  }

  return {
    get isOpen() {
      return open;
    },
    async upsertSeries(series) {
      return seriesId(series);
    },
    async appendSamples(batch) {
      if (batch.length === 0) return 0;
      return appendTx(batch);
    },
    async querySeries(matchers, startMs, endMs) {
      const out: SeriesPoints[] = [];
      for (const series of matching(matchers)) {
        const points = selectPoints.all(series.id, startMs, endMs).map((r) => [r.ts, r.value] as const);
        if (points.length > 0) out.push({ series, points });
      }
      return out;
    },
    async listSeries(matchers, range) {
      const found = matching(matchers);
      if (range === undefined) return found;
      return found.filter((s) => hasPoints.get(s.id, range.startMs, range.endMs) !== undefined);
    },
    async applyRetention(nowMs) {
      const cutoff = nowMs - options.retentionMs;
      let deleted = 0;
      // Per series, so each delete walks the primary key instead of scanning the table.
      db.transaction(() => {
        for (const id of byId.keys()) deleted += deleteOld.run(id, cutoff).changes;
      })();
      return deleted;
    },
    async upsertNode(n: StoredNode) {
      upsertNodeStmt.run({
        site: n.site,
        node: n.node,
        zone: n.zone,
        state: n.state,
        epoch: n.epoch ?? null,
        agentVersion: n.agentVersion ?? null,
        tickMs: n.tickMs ?? null,
        heartbeatMs: n.heartbeatMs ?? null,
        lastHeard: n.lastHeard ?? null,
        lastChanged: n.lastChanged,
      });
    },
    async listNodes() {
      return db
        .prepare<[], NodeRow>('SELECT * FROM nodes ORDER BY site, node')
        .all()
        .map((r) => ({
          site: r.site,
          node: r.node,
          zone: r.zone,
          state: r.state as StoredNode['state'],
          epoch: opt(r.epoch),
          agentVersion: opt(r.agent_version),
          tickMs: opt(r.tick_ms),
          heartbeatMs: opt(r.heartbeat_ms),
          lastHeard: opt(r.last_heard),
          lastChanged: r.last_changed,
        }));
    },
    async close() {
      if (!open) return;
      open = false;
      db.close();
    },
  };
}
