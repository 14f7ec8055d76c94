import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../../kit/index.js';
import {
  ackSubject,
  ackSubscription,
  assertSubjectPrefix,
  frameMessageId,
  frameSubject,
  parseAckSubject,
  parseFrameSubject,
  streamSubjects,
} from './subjects.js';

const history = {
  type: 'history' as const,
  epoch: 4,
  zone: 'north',
  firstSeq: 120,
  lastSeq: 180,
  pendingRows: 0,
  oldestPendingMs: null,
  pendingBytes: 0,
  dropped: [],
  repaired: [],
  series: [{ name: 'v', labels: {}, type: 'gauge' as const, unit: '', samples: [[1, 1]] as const }],
};

test('queue subjects: a frame goes to <prefix>.<site>.<node>.<channel> and parses back; acks to <prefix>.<site>.<node>.ack', () => {
  assert.equal(frameSubject('fieldmesh', 'ridge', 'pump-1', 'history'), 'fieldmesh.ridge.pump-1.history');
  assert.deepEqual(parseFrameSubject('acme.fm', 'acme.fm.ridge.n_2.event'), { site: 'ridge', node: 'n_2', channel: 'event' });
  assert.deepEqual(streamSubjects('fieldmesh'), ['fieldmesh.*.*.history', 'fieldmesh.*.*.event', 'fieldmesh.*.*.push']);
  assert.equal(ackSubject('fieldmesh', 'ridge', 'pump-1'), 'fieldmesh.ridge.pump-1.ack');
  assert.equal(ackSubscription('fieldmesh'), 'fieldmesh.*.*.ack');
  assert.deepEqual(parseAckSubject('fieldmesh', 'fieldmesh.ridge.pump-1.ack'), { site: 'ridge', node: 'pump-1' });
  // Site "ack" and node "history" are valid ids: a frame and an ack subject never share a shape, and no ack subject
  // falls under the stream's subjects.
  const ackOfHistoryNode = ackSubject('fieldmesh', 'ack', 'history');
  assert.equal(parseFrameSubject('fieldmesh', ackOfHistoryNode), undefined);
  assert.equal(parseAckSubject('fieldmesh', frameSubject('fieldmesh', 'ack', 'history', 'history')), undefined);
  const streamPatterns = streamSubjects('fieldmesh').map((p) => new RegExp(`^${p.replaceAll('.', '\\.').replaceAll('*', '[^.]+')}$`));
  assert.ok(
    streamPatterns.every((re) => !re.test(ackOfHistoryNode)),
    ackOfHistoryNode,
  );
});

test('queue subjects: what is not ours parses as nothing', () => {
  for (const subject of [
    'other.ridge.n1.history',
    'fieldmesh.ridge.n1.data',
    'fieldmesh.ridge.n1',
    'fieldmesh.Ridge.n1.event',
    'fieldmesh.ridge.n1.event.x',
  ]) {
    assert.equal(parseFrameSubject('fieldmesh', subject), undefined, subject);
  }
  for (const subject of [
    'fieldmesh.ridge.ack',
    'fieldmesh.ridge.n1.ack.x',
    'fieldmesh.-x.n1.ack',
    'fieldmesh.ridge.n1.nack',
    'other.ridge.n1.ack',
  ]) {
    assert.equal(parseAckSubject('fieldmesh', subject), undefined, subject);
  }
});

test('queue subjects: an id that is no valid id (and so perhaps no NATS token) is refused by name', () => {
  for (const [site, node] of [
    ['ridge.x', 'n1'],
    ['ridge', 'n*'],
    ['ridge', '>'],
    ['ridge', 'N1'],
    ['', 'n1'],
  ] as const) {
    assert.throws(
      () => frameSubject('fieldmesh', site, node, 'event'),
      (err: unknown) => isFieldmeshError(err) && err.code === 'FM_TOPIC_INVALID' && err.message.includes(site === 'ridge' ? node : site),
    );
    assert.throws(
      () => ackSubject('fieldmesh', site, node),
      (err: unknown) => isFieldmeshError(err) && err.code === 'FM_TOPIC_INVALID',
    );
  }
  for (const prefix of ['', 'a..b', 'a.*', 'a.>', 'a b', '$JS']) {
    assert.throws(
      () => assertSubjectPrefix(prefix),
      (err: unknown) => isFieldmeshError(err) && err.code === 'FM_CONFIG_INVALID',
      prefix,
    );
  }
  assert.equal(assertSubjectPrefix('acme.fieldmesh_1'), 'acme.fieldmesh_1');
});

test('queue message ids: the node, boot epoch, lane and outbox range; a history frame without rows has none', () => {
  assert.equal(frameMessageId('ridge', 'pump-1', history), 'ridge/pump-1/4/samples/120-180');
  const event = {
    type: 'event' as const,
    epoch: 4,
    seq: 77,
    time: 1,
    id: 'e',
    priority: 'normal' as const,
    kind: 'k',
    payload: new Uint8Array(),
  };
  assert.equal(frameMessageId('ridge', 'pump-1', event), 'ridge/pump-1/4/events/77-77');
  assert.equal(
    frameMessageId('ridge', 'pump-1', { ...history, firstSeq: 180, series: [], dropped: [{ fromMs: 1, toMs: 2, rows: 3 }] }),
    undefined,
  );
});
