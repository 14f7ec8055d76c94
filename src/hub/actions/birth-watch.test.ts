// BirthWatch: a waiter resolves at the node's next birth only, and an aborted one is forgotten.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BirthWatch } from './birth-watch.js';

test('birth watch: resolves at the next birth of that node only; an abort rejects and forgets the waiter', async () => {
  const watch = new BirthWatch();
  const controller = new AbortController();
  let born = false;
  const waiting = watch.next('s', 'n1', controller.signal).then(() => {
    born = true;
  });
  watch.birthArrived('s', 'n2');
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(born, false, 'another node was born');
  watch.birthArrived('s', 'n1');
  await waiting;
  assert.equal(watch.waiting, 0);

  const timeout = new AbortController();
  const given = watch.next('s', 'n1', timeout.signal);
  assert.equal(watch.waiting, 1);
  timeout.abort(new Error('timed out'));
  await assert.rejects(given, /timed out/);
  assert.equal(watch.waiting, 0);
  await assert.rejects(watch.next('s', 'n1', timeout.signal), /timed out/, 'an aborted signal rejects at once');
});
