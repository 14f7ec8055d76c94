// The hub's history equals the node's store, sample for sample, through kill -9 rounds of the node under
// concurrent line-protocol pushes of a critical series whose timestamps are dense (one every
// millisecond, so every frame the node sends lands on some sample's millisecond). The live plane sends
// each value with the time it was sampled, so the hub never stores a value at a time it was not sampled
// (issue 9, point 3: it used to store the series' latest at the frame's time, over another sample).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createPrometheusClient } from '../../src/client/index.js';
import { fieldmeshKilledAfter, writeHubConfig } from '../kit/fieldmesh-process.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { newPushLedger, pushLoop } from '../kit/push-ledger.js';
import { waitFor } from '../kit/wait.js';

const start = fieldmeshKilledAfter();
const TOKEN = 'hub-history-token';
const ROUNDS = 3;
const BATCH = 100;
const PUSHERS = 2;
/** Samples acknowledged per round before the node is killed. */
const PER_ROUND = 6_000;
/** The most points one range query may ask for (the API refuses more than 11,000). */
const QUERY_POINTS = 10_000;

/** Every millisecond of [fromMs, toMs] as the API answers it at a 1 ms step (a gap repeats the value before). */
async function valuesByMs(url: string, query: string, fromMs: number, toMs: number): Promise<(number | undefined)[]> {
  const client = createPrometheusClient(url);
  const out: (number | undefined)[] = [];
  for (let from = fromMs; from <= toMs; from += QUERY_POINTS) {
    const to = Math.min(toMs, from + QUERY_POINTS - 1);
    const res = await client.queryRange(query, from / 1000, to / 1000, 0.001);
    const series = res.data.result;
    assert.ok(series.length <= 1, `one series for ${query}, got ${series.length}`);
    const byMs = new Map((series[0]?.values ?? []).map(([t, v]) => [Math.round(Number(t) * 1000), Number(v)]));
    for (let ms = from; ms <= to; ms++) out.push(byMs.get(ms));
  }
  return out;
}

test('hub history: through kill -9 rounds under dense concurrent pushes, the hub holds what the node holds, sample for sample', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-hub-history-'));
  const mosquitto = await startMosquitto();
  try {
    const hubYaml = await writeHubConfig(dir, mosquitto.url);
    const nodeYaml = join(dir, 'node.yaml');
    writeFileSync(
      nodeYaml,
      [
        'node: {id: rig-1, site: lab}',
        `mqtt: {url: "${mosquitto.url}"}`,
        `dataDir: ${join(dir, 'node')}`,
        `http: {port: ${await freePort()}}`,
        // A frame every 50 ms: many frame times fall on the milliseconds of pushed samples.
        'publish: {tick: 50ms, heartbeat: 2s}',
        'outbox: {historyInterval: 200ms}',
        'critical: [{match: probe_dense}]',
        `collectors: [{type: influx, token: ${TOKEN}}]`,
        '',
      ].join('\n'),
    );
    const hub = start(['hub', '--config', hubYaml]);
    const [, hubUrl] = await hub.waitForOutput(/console (http:\/\/\S+?)\/?\s/);
    const base = Date.now();
    const ledger = newPushLedger(base);
    let nodeUrl = '';
    let pushers: Promise<void>[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const node = start(['node', '--config', nodeYaml]);
      [, nodeUrl = ''] = await node.waitForOutput(/HTTP (http:\/\/\S+)/);
      if (round === 1)
        pushers = Array.from({ length: PUSHERS }, () =>
          pushLoop(ledger, () => nodeUrl, { token: TOKEN, series: 'probe_dense,rig=a', batch: BATCH }),
        );
      const target = round * PER_ROUND;
      await waitFor(() => ledger.acked.size >= target, {
        timeoutMs: 60_000,
        intervalMs: 20,
        what: `${target} acknowledged samples (round ${round})`,
      });
      if (round < ROUNDS) {
        node.kill('SIGKILL');
        await node.exited();
      }
    }
    ledger.stop = true;
    await Promise.all(pushers);

    const acked = [...ledger.acked].sort((a, b) => a - b);
    const first = acked[0] as number;
    const last = acked[acked.length - 1] as number;
    const query = 'probe_dense{rig="a"}';
    // Every acknowledged sample at the node, then at the hub, each with its own value. The hub's copy
    // arrives through the outbox at its own pace: polled until complete, then said how it differs.
    const wrongAt = async (url: string) => {
      const values = await valuesByMs(url, query, first, last);
      const wrong = acked.filter((ts) => values[ts - first] !== ts - base);
      return { values, wrong };
    };
    const settle = async (what: string, url: string, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = await wrongAt(url);
        if (got.wrong.length === 0) return got.values;
        if (Date.now() > deadline) {
          const ts = got.wrong[0] as number;
          assert.fail(
            `${got.wrong.length} of ${acked.length} acknowledged samples missing or altered at the ${what}; ` +
              `the first at ${new Date(ts).toISOString()}: ${ts - base} expected, ${got.values[ts - first]} found`,
          );
        }
        await new Promise((r) => setTimeout(r, 1_000));
      }
    };
    const atNode = await settle('node', nodeUrl, 60_000);
    const atHub = await settle('hub', hubUrl as string, 120_000);
    // Sample for sample over the whole range, acknowledged or not (a batch stored just before a kill, its
    // answer lost, may be on both sides): nothing lost, nothing altered, nothing the node does not hold.
    let altered = 0;
    for (let i = 0; i < atNode.length; i++) if (atNode[i] !== atHub[i]) altered++;
    assert.equal(altered, 0, `${altered} of ${atNode.length} milliseconds differ between the node and the hub`);
    const misplaced = atHub.filter((v, i) => v !== undefined && v > first + i - base).length;
    assert.equal(misplaced, 0, 'no value at the hub stands before the time it was sampled');
    assert.ok(acked.length >= ROUNDS * PER_ROUND);
  } finally {
    await mosquitto.stop();
  }
});
