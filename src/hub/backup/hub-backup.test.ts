// fieldmesh hub backup / restore on the embedded hub: a backup taken while the hub runs and its database is written
// restores into a new data folder where a new hub serves the same history, a consistent prefix of what was written;
// a folder that is not empty and a damaged file are refused; a hub on PostgreSQL is told the pg_dump commands.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isFieldmeshError } from '../../kit/index.js';
import { createMemoryTransport, MemoryBroker } from '../../transport/index.js';
import { hubConfigSchema } from '../config.js';
import { createHub } from '../hub.js';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.js';
import { backupHub, restoreHub } from './hub-backup.js';

const dirs: string[] = [];
const temp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const config = (dataDir: string) => hubConfigSchema.parse({ dataDir, storage: { path: join(dataDir, 'hub.db') } });
const series = { name: 'probe_value', labels: { site: 'lab', node: 'rig-1' }, unit: '', type: 'gauge' as const };
const DAY_MS = 86_400_000;

test('hub backup of a running hub under writes restores into an empty folder where a new hub serves the same history', async () => {
  const source = config(temp('fm-backup-a-'));
  const hub = createHub(source, { transport: createMemoryTransport(new MemoryBroker(), { clientId: 'hub' }) });
  await hub.start({ listen: false });
  // A second writer on the hub's file, as ingest writes while the backup copies.
  const writer = createSqliteStorage({ path: source.storage.path, retentionMs: 30 * DAY_MS });
  const base = Date.now() - DAY_MS;
  let written = 0;
  let writing = true;
  const writes = (async () => {
    while (writing) {
      await writer.appendSamples([{ series, ts: base + written * 1_000, value: written }]);
      written++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  const out = join(temp('fm-backup-out-'), 'hub.fmbackup');
  let before: number;
  try {
    while (written < 200) await new Promise((r) => setImmediate(r));
    before = written;
    const done = await backupHub(source, out);
    assert.ok(done.files.some((f) => f.name === 'hub.db'));
  } finally {
    writing = false;
    await writes;
    await writer.close();
    await hub.stop();
  }

  const target = config(join(temp('fm-backup-b-'), 'data'));
  restoreHub(target, out);
  const restored = createHub(target, { transport: createMemoryTransport(new MemoryBroker(), { clientId: 'hub' }) });
  await restored.start({ listen: false });
  try {
    const res = await restored.app.inject(
      `/api/v1/query_range?query=probe_value{site="lab"}&start=${base / 1000}&end=${(base + written * 1_000) / 1000}&step=1`,
    );
    assert.equal(res.statusCode, 200);
    const values = (res.json() as { data: { result: { values: [number, string][] }[] } }).data.result[0]?.values ?? [];
    assert.ok(values.length >= before, 'the new hub serves the history written before the backup began');
  } finally {
    await restored.stop();
  }
  // Consistent: the samples of one moment, 0..k-1 with no hole, at least those written before the backup began.
  const check = createSqliteStorage({ path: target.storage.path, retentionMs: 30 * DAY_MS });
  try {
    const points =
      (await check.querySeries([{ name: '__name__', op: '=', value: 'probe_value' }], base - 1, base + written * 1_000))[0]?.points ?? [];
    assert.ok(points.length >= before && points.length <= written, `${points.length} restored of ${written} written, ${before} before`);
    assert.deepEqual(
      points.map(([, v]) => v),
      points.map((_, i) => i),
    );
  } finally {
    await check.close();
  }

  // Refusals: a folder that is not empty, a damaged file, a hub on PostgreSQL.
  assert.throws(
    () => restoreHub(target, out),
    (err) => isFieldmeshError(err, 'FM_CLI_USAGE') && /not empty/.test(err.message),
  );
  const damaged = join(temp('fm-backup-bad-'), 'bad.fmbackup');
  writeFileSync(damaged, readFileSync(out).subarray(0, 100));
  assert.throws(
    () => restoreHub(config(join(temp('fm-backup-c-'), 'data')), damaged),
    (err) => isFieldmeshError(err, 'FM_BACKUP_INVALID'),
  );
  const onPostgres = hubConfigSchema.parse({
    dataDir: temp('fm-backup-pg-'),
    storage: { url: 'postgres://hub:s3cret@db.example:5432/fieldmesh' },
  });
  await assert.rejects(
    backupHub(onPostgres, 'hub.dump'),
    (err) =>
      isFieldmeshError(err, 'FM_CLI_USAGE') &&
      err.message.includes("pg_dump --format=custom --file=hub.dump 'postgres://hub@db.example:5432/fieldmesh'") &&
      !err.message.includes('s3cret'),
  );
});
