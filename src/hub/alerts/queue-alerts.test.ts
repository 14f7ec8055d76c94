// The built-in queue alerts of a scale-out hub on a manual clock: QueueLagHigh fires once more frames than
// `maxPending` have waited for the workers for its `for`, QueueReplicaBehind once a copy of the stream has been
// offline or behind for its `for`; both resolve when the queue recovers, and neither fires on a hub without a queue.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../kit/index.js';
import { hubConfigSchema } from '../config.js';
import { hubTestKit } from '../hub-test-kit.js';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.js';
import { createAlertEngine } from './create-alert-engine.js';
import type { AlertQueue } from './fleet-series.js';
import { createSqliteAlertStore } from './sqlite/sqlite-alert-store.js';

const EVAL_MS = 15_000;
const { defer } = hubTestKit();

async function engineWith(queue: () => AlertQueue | undefined) {
  const clock = new ManualClock(Date.now());
  const config = hubConfigSchema.parse({
    storage: { path: ':memory:' },
    alerts: {
      builtins: {
        nodeDown: { enabled: false },
        siteOffline: { enabled: false },
        lowSoc: { enabled: false },
        backlogAge: { enabled: false },
        queueLag: { maxPending: 1_000, for: '1m' },
        queueReplicaBehind: { for: '30s' },
      },
    },
  });
  const storage = createSqliteStorage({ path: ':memory:', retentionMs: 86_400_000 });
  defer(() => storage.close());
  const engine = createAlertEngine(config, {
    fleet: { nodes: () => [], backlog: () => undefined, queue },
    storage,
    clock,
    logger: undefined as never,
    topicPrefix: 'fieldmesh',
    transport: () => undefined,
    listenUrl: () => '',
    store: createSqliteAlertStore({ path: ':memory:' }),
    notifiers: [],
  });
  defer(() => engine.stop());
  await engine.start();
  const firing = () =>
    engine
      .list(['firing'])
      .map((a) => `${a.alert.labels.alertname}:${a.alert.value}:${a.alert.labels.severity}`)
      .sort();
  const step = async (ms: number) => {
    for (let t = 0; t < ms; t += EVAL_MS) {
      clock.advance(EVAL_MS);
      await engine.idle();
    }
  };
  return { firing, step };
}

test('alerts: QueueLagHigh fires after its for with the frames waiting, QueueReplicaBehind with the copies behind; both resolve', async () => {
  let queue: AlertQueue = { consumerPending: 200, consumerAckPending: 100, replicasBehind: 0 };
  const { firing, step } = await engineWith(() => queue);
  await step(2 * 60_000);
  assert.deepEqual(firing(), [], 'a queue within bounds: nothing');

  // Workers fall behind: 1,001 waiting is one over.
  queue = { consumerPending: 901, consumerAckPending: 100, replicasBehind: 1 };
  await step(EVAL_MS);
  assert.deepEqual(firing(), [], 'pending, not firing yet');
  await step(30_000);
  assert.deepEqual(firing(), ['QueueReplicaBehind:1:warning'], 'the replica after its 30 s');
  await step(30_000);
  assert.deepEqual(firing(), ['QueueLagHigh:1001:warning', 'QueueReplicaBehind:1:warning'], 'the lag after its minute');

  queue = { consumerPending: 10, consumerAckPending: 0, replicasBehind: 0 };
  await step(EVAL_MS);
  assert.deepEqual(firing(), [], 'both resolved');
});

test('alerts: the queue alerts stay quiet on a hub without a queue', async () => {
  const { firing, step } = await engineWith(() => undefined);
  await step(5 * 60_000);
  assert.deepEqual(firing(), []);
});
