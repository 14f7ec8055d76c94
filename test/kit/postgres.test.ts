// The PostgreSQL test harness: a private server on a free port (never 5432), fresh databases, committed
// rows surviving a crash (kill -9, restart), and no process left once it is stopped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { startPostgres } from './postgres.js';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('postgres kit: a private server keeps committed rows across a crash and is gone once stopped', async () => {
  const server = await startPostgres();
  try {
    assert.notEqual(server.port, 5432);
    const url = await server.createDatabase();
    const other = await server.createDatabase();
    assert.notEqual(url, other, 'each database is fresh');
    const write = new pg.Client({ connectionString: url });
    await write.connect();
    await write.query('CREATE TABLE t (v int)');
    await write.query('INSERT INTO t VALUES (42)');
    const fsync = await write.query<{ fsync: string }>('SHOW fsync');
    assert.equal(fsync.rows[0]?.fsync, 'on');
    write.on('error', () => {});
    await server.kill();
    await server.start();
    const read = new pg.Client({ connectionString: url });
    await read.connect();
    assert.deepEqual((await read.query('SELECT v FROM t')).rows, [{ v: 42 }]);
    await read.end();
  } finally {
    const pid = server.pid;
    await server.stop();
    assert.equal(isRunning(pid), false);
  }
});
