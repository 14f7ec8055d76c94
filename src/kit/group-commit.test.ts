// Group commit: concurrent submissions share one flush; a failed flush rejects every item of its batch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGroupCommit } from './group-commit.js';

test('group commit: items submitted together share one flush, and a full batch flushes at once', async () => {
  const flushes: number[][] = [];
  const submit = createGroupCommit<number>((items) => flushes.push([...items]), { maxBatch: 3, delayMs: 0 });
  await Promise.all([submit(1), submit(2), submit(3), submit(4), submit(5)]);
  assert.deepEqual(flushes, [
    [1, 2, 3],
    [4, 5],
  ]);
});

test('group commit: a failing flush rejects its batch only', async () => {
  let calls = 0;
  const submit = createGroupCommit<string>(
    (items) => {
      calls++;
      if (items.includes('bad')) throw new Error('disk full');
    },
    { maxBatch: 10, delayMs: 0 },
  );
  const results = await Promise.allSettled([submit('a'), submit('bad')]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  await submit('c');
  assert.equal(calls, 2);
});

test('group commit: items weigh what `weigh` says, and flush() commits what waits at once', async () => {
  const flushes: number[][] = [];
  const submit = createGroupCommit<number>((items) => flushes.push([...items]), { maxBatch: 10, delayMs: 60_000, weigh: (n) => n });
  const heavy = Promise.all([submit(4), submit(7)]);
  await heavy;
  const light = submit(1);
  submit.flush();
  await light;
  assert.deepEqual(flushes, [[4, 7], [1]]);
});
