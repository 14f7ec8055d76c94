// The services panel's derivation from the hub's live up values and stored service_* events, pure.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventView, NodeValueView } from '../protocol/api.js';
import { deriveServices, serviceEventText } from './service-derive.js';

let seq = 0;
function ev(kind: string, time: number, payload: Record<string, unknown>): EventView {
  seq++;
  return {
    site: 'north',
    node: 'n1',
    id: `e${seq}`,
    seq,
    epoch: 1,
    time: new Date(time).toISOString(),
    priority: 'normal',
    kind,
    payload,
    payloadEncoding: 'json',
    receivedAt: new Date(time).toISOString(),
  };
}

function up(service: string, value: number): NodeValueView {
  return { name: 'fieldmesh_service_up', labels: { service }, value, unit: '', time: new Date(0).toISOString(), ageMs: 0 };
}

test('the latest event decides the word; restarts and pid from the latest start; the live value beside it', () => {
  const events = [
    ev('service_started', 1_000, { service: 'ticker', pid: 10, restarts: 0, cause: 'start' }),
    ev('service_exited', 2_000, { service: 'ticker', pid: 10, code: null, signal: 'SIGTERM', expected: true, restartInMs: 0 }),
    ev('service_started', 2_100, { service: 'ticker', pid: 11, restarts: 1, cause: 'operator', by: 'hub:olga' }),
    ev('service_failed', 1_500, { service: 'probe', code: 3, reason: 'exit code 3', restart: false }),
    ev('zone_vote', 1_600, { service: 'not-a-service-event' }),
  ];
  // Any order in, newest first out; a service only in the live values shows its up word.
  const rows = deriveServices([up('ticker', 1), up('probe', 0), up('idle', 0)], [...events].reverse());
  assert.deepEqual(
    rows.map((r) => [r.name, r.state, r.up, r.restarts, r.pid]),
    [
      ['idle', 'down', false, null, null],
      ['probe', 'failed', false, null, null],
      ['ticker', 'running', true, 1, 11],
    ],
  );
  const ticker = rows.find((r) => r.name === 'ticker');
  assert.equal(ticker?.since, new Date(2_100).toISOString());
  assert.equal(ticker?.detail, 'killed by SIGTERM');
  assert.equal(ticker?.events.length, 3);
  assert.equal(rows.find((r) => r.name === 'probe')?.detail, 'exit code 3');
  assert.equal(rows.find((r) => r.name === 'probe')?.tone, 'error');
});

test('exits with a restart pending are backoff, without one stopped; health checks are words', () => {
  const rows = deriveServices(
    [],
    [
      ev('service_exited', 1_000, { service: 'a', code: 1, restartInMs: 2000 }),
      ev('service_exited', 1_000, { service: 'b', code: 0, restartInMs: null }),
      ev('service_unhealthy', 1_000, { service: 'c', failures: 3, detail: 'HTTP 503', restarting: true }),
      ev('service_healthy', 1_000, { service: 'd', detail: 'HTTP 200' }),
    ],
  );
  assert.deepEqual(
    rows.map((r) => `${r.name} ${r.state} ${r.icon}`),
    ['a backoff ↻', 'b stopped ○', 'c unhealthy ▲', 'd healthy ✓'],
  );
  assert.equal(rows.find((r) => r.name === 'c')?.detail, 'HTTP 503');
});

test('event lines read as sentences', () => {
  assert.equal(
    serviceEventText(ev('service_started', 0, { service: 's', pid: 7, restarts: 2, cause: 'operator', by: 'hub:olga' })),
    'started (pid 7, operator by hub:olga), restarts 2',
  );
  assert.equal(
    serviceEventText(ev('service_exited', 0, { service: 's', code: 1, restartInMs: 1500 })),
    'exited: exit code 1, restarts in 1500 ms',
  );
  assert.equal(
    serviceEventText(ev('service_exited', 0, { service: 's', error: 'ENOENT', restartInMs: null })),
    'exited: could not start: ENOENT',
  );
});
