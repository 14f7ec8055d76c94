import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { decodeSparkplugPayload, encodeSparkplugPayload, SPARKPLUG_DATATYPE } from './payload.js';
import { isSparkplugId, parseSparkplugHostState, sparkplugDeviceTopic, sparkplugNodeTopic, sparkplugStateTopic } from './topics.js';

const independent = createRequire(import.meta.url)('sparkplug-payload').get('spBv1.0') as {
  decodePayload(bytes: Uint8Array): { seq?: { toNumber(): number }; metrics: { name?: string; type?: string; value: unknown }[] };
};

test('sparkplug payload writes a seq and a bdSeq of 0 (proto2 presence), as an NBIRTH needs', () => {
  const bytes = encodeSparkplugPayload({
    timestamp: 1,
    seq: 0,
    metrics: [{ name: 'bdSeq', datatype: SPARKPLUG_DATATYPE.Int64, value: 0 }],
  });
  const ours = decodeSparkplugPayload(bytes);
  assert.equal(ours.seq, 0);
  assert.deepEqual(ours.metrics, [{ name: 'bdSeq', datatype: SPARKPLUG_DATATYPE.Int64, value: 0 }]);
  const theirs = independent.decodePayload(bytes);
  assert.equal(theirs.seq?.toNumber(), 0);
  assert.equal(theirs.metrics[0]?.type, 'Int64');
});

test('sparkplug payload values by datatype read back by the independent decoder', () => {
  const bytes = encodeSparkplugPayload({
    timestamp: 1_700_000_000_123,
    seq: 255,
    metrics: [
      { name: 'Node Control/Rebirth', datatype: SPARKPLUG_DATATYPE.Boolean, value: false },
      { name: 'v', alias: 7, timestamp: 1_700_000_000_000, datatype: SPARKPLUG_DATATYPE.Double, value: 48.25 },
      { name: 's', datatype: SPARKPLUG_DATATYPE.String, value: 'ok' },
    ],
  });
  const theirs = independent.decodePayload(bytes);
  assert.equal(theirs.seq?.toNumber(), 255);
  assert.deepEqual(
    theirs.metrics.map((m) => [m.name, m.type, m.value]),
    [
      ['Node Control/Rebirth', 'Boolean', false],
      ['v', 'Double', 48.25],
      ['s', 'String', 'ok'],
    ],
  );
  assert.equal(decodeSparkplugPayload(bytes).timestamp, 1_700_000_000_123);
});

test('sparkplug payload decoding refuses bytes that are not a payload', () => {
  assert.throws(() => decodeSparkplugPayload(new Uint8Array([0x12, 0xff, 0xff])));
});

test('sparkplug topics and STATE payloads', () => {
  assert.equal(sparkplugNodeTopic('g', 'NBIRTH', 'e'), 'spBv1.0/g/NBIRTH/e');
  assert.equal(sparkplugDeviceTopic('g', 'DDATA', 'e', 'd'), 'spBv1.0/g/DDATA/e/d');
  assert.equal(sparkplugStateTopic('h'), 'spBv1.0/STATE/h');
  assert.deepEqual(parseSparkplugHostState('{"online":true,"timestamp":5}'), { online: true, timestamp: 5 });
  assert.equal(parseSparkplugHostState('ONLINE'), undefined);
  assert.equal(parseSparkplugHostState('{"online":"yes","timestamp":5}'), undefined);
  assert.equal(isSparkplugId('a/b'), false);
  assert.equal(isSparkplugId('plant-1'), true);
});
