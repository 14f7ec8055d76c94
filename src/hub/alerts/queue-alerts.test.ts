// The built-in queue alerts of a scale-out hub on a manual clock: QueueLagHigh fires once more frames than
// `maxPending` have waited for the workers for its `for`, QueueReplicaBehind once a copy of the stream has been
// offline or behind for its `for`; both resolve when the queue recovers, and neither fires on a hub without a queue.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtinEngine } from './builtin-test-kit.js';
import type { AlertQueue } from './fleet-series.js';

async function engineWith(queue: () => AlertQueue | undefined) {
  const { engine, step } = await builtinEngine(
    Date.now(),
    { queue },
    {
      queueLag: { maxPending: 1_000, for: '1m' },
      queueReplicaBehind: { for: '30s' },
    },
  );
  const firing = () =>
    engine
      .list(['firing'])
      .map((a) => `${a.alert.labels.alertname}:${a.alert.value}:${a.alert.labels.severity}`)
      .sort();
  return { firing, step };
}

test('alerts: QueueLagHigh fires after its for with the frames waiting, QueueReplicaBehind with the copies behind; both resolve', async () => {
  let queue: AlertQueue = { consumerPending: 200, consumerAckPending: 100, replicasBehind: 0 };
  const { firing, step } = await engineWith(() => queue);
  await step(2 * 60_000);
  assert.deepEqual(firing(), [], 'a queue within bounds: nothing');

  // Workers fall behind: 1,001 waiting is one over.
  queue = { consumerPending: 901, consumerAckPending: 100, replicasBehind: 1 };
  await step(15_000);
  assert.deepEqual(firing(), [], 'pending, not firing yet');
  await step(30_000);
  assert.deepEqual(firing(), ['QueueReplicaBehind:1:warning'], 'the replica after its 30 s');
  await step(30_000);
  assert.deepEqual(firing(), ['QueueLagHigh:1001:warning', 'QueueReplicaBehind:1:warning'], 'the lag after its minute');

  queue = { consumerPending: 10, consumerAckPending: 0, replicasBehind: 0 };
  await step(15_000);
  assert.deepEqual(firing(), [], 'both resolved');
});

test('alerts: the queue alerts stay quiet on a hub without a queue', async () => {
  const { firing, step } = await engineWith(() => undefined);
  await step(5 * 60_000);
  assert.deepEqual(firing(), []);
});
