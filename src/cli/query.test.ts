// `fieldmesh query` in-process against a node's query API on a free port over the memory store:
// human blocks, --json, aggregation, relative times, and exit codes 2 for usage and 1 for unreachable.
// calendar: T0 is parser input for relative times; the queried data is stamped relative to Date.now().

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Command, CommanderError } from 'commander';
import Fastify from 'fastify';
import { createMemorySampleStore, registerStoreRoutes } from '../agent/api/index.js';
import { errorText, exitCodeFor } from './io.js';
import { parseCliTimeMs, registerQuery } from './query.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const S0 = T0 / 1_000;

/** Runs `fieldmesh query <args>` as main() does: output captured, errors as one line and an exit code. */
async function run(args: string[]): Promise<{ out: string; err: string; code: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
  const program = new Command('fieldmesh').exitOverride().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  registerQuery(program, io);
  for (const c of program.commands) c.exitOverride();
  let code = 0;
  try {
    await program.parseAsync(['query', ...args], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) code = 2;
    else {
      err.push(errorText(e));
      code = exitCodeFor(e);
    }
  }
  return { out: out.join('\n'), err: err.join('\n'), code };
}

describe('cli query', () => {
  const app = Fastify({ logger: false });
  let url = '';

  before(async () => {
    const store = createMemorySampleStore();
    const now = Date.now();
    const samples = [];
    for (let i = 0; i < 6; i++) {
      samples.push({ name: 'battery_soc', labels: { site: 's1', node: 'a' }, time: T0 + i * 15_000, value: 50 + i / 2 });
      samples.push({ name: 'battery_soc', labels: { site: 's1', node: 'b' }, time: T0 + i * 15_000, value: 40 });
    }
    samples.push({ name: 'uptime', labels: { node: 'a' }, time: now - 60_000, value: 7 });
    await store.append(samples);
    await registerStoreRoutes(app, store);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(() => app.close());

  test('query prints one block per series with its labels and a compact time/value table', async () => {
    const r = await run(['--node', url, 'battery_soc{node="a"}', '--start', String(S0), '--end', '2026-01-01T12:01:15Z']);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      [
        'battery_soc{site="s1", node="a"}  (6 points from 2026-01-01, UTC)',
        '  12:00:00  50  12:00:15  50.5  12:00:30  51  12:00:45  51.5',
        '  12:01:00  52  12:01:15  52.5',
      ].join('\n'),
    );
  });

  test('query --json prints the Prometheus response; aggregation and --step pass through', async () => {
    const r = await run([
      '--hub',
      url,
      'sum by (site) (battery_soc)',
      '--start',
      String(S0),
      '--end',
      String(S0 + 60),
      '--step',
      '30s',
      '--json',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), {
      status: 'success',
      data: {
        resultType: 'matrix',
        result: [
          {
            metric: { site: 's1' },
            values: [
              [S0, '90'],
              [S0 + 30, '91'],
              [S0 + 60, '92'],
            ],
          },
        ],
      },
    });
  });

  test('query defaults to the last hour at 15s and says when nothing matched', async () => {
    const r = await run(['--node', url, 'uptime']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^uptime\{node="a"\} {2}\(\d+ points from/);
    assert.equal((await run(['--node', url, 'nothing_here', '--start=-5m'])).out, 'no series matched');
  });

  test('query usage errors exit 2 with one line: refused PromQL, bad times, no or two targets', async () => {
    for (const args of [
      ['--node', url, 'holt_winters(battery_soc[5m], 0.5, 0.5)'],
      ['--node', url, 'battery_soc', '--start', 'yesterday'],
      ['--node', url, 'battery_soc', '--step', '0'],
      ['--node', url, 'battery_soc', '--start', 'now', '--end', '-1h'],
      ['battery_soc'],
      ['--node', url, '--hub', url, 'battery_soc'],
    ]) {
      const r = await run(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, /^error: FM_CLI_USAGE: [^\n]+$/, args.join(' '));
    }
    assert.match(
      (await run(['--node', url, 'holt_winters(battery_soc[5m], 0.5, 0.5)'])).err,
      /node refused the query: .*function holt_winters is not supported/,
    );
  });

  test('query against an unreachable server exits 1 with one line', async () => {
    const r = await run(['--node', 'http://127.0.0.1:1', 'battery_soc']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^error: FM_TRANSPORT_UNAVAILABLE: http:\/\/127\.0\.0\.1:1 is unreachable/);
  });
});

test('query times: now, durations ago, RFC 3339 and unix seconds', () => {
  const now = T0;
  assert.equal(parseCliTimeMs('now', now, 'end'), now);
  assert.equal(parseCliTimeMs('-1h', now, 'start'), now - 3_600_000);
  assert.equal(parseCliTimeMs('now-1h30m', now, 'start'), now - 5_400_000);
  assert.equal(parseCliTimeMs('15m', now, 'start'), now - 900_000);
  assert.equal(parseCliTimeMs('2026-01-01T11:00:00Z', now, 'start'), now - 3_600_000);
  assert.equal(parseCliTimeMs(String(S0), now, 'start'), now);
});
