// Topics: names built by the helpers parse back; foreign and malformed topics parse to undefined.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertTopicPrefix, commandTopic, hubTopic, nodeTopic, parseTopic, zoneSubscription, zoneTopic } from './topics.js';

test('topics: node, command and hub topics parse back under a multi-level prefix', () => {
  const p = 'acme/fieldmesh';
  assert.deepEqual(parseTopic(p, nodeTopic(p, 'farm-1', 'n07', 'data')), { kind: 'node', site: 'farm-1', node: 'n07', channel: 'data' });
  assert.deepEqual(parseTopic(p, commandTopic(p, 'farm-1', 'n07', 'rebirth')), {
    kind: 'cmd',
    site: 'farm-1',
    node: 'n07',
    command: 'rebirth',
  });
  assert.deepEqual(parseTopic(p, hubTopic(p, 'digest')), { kind: 'hub', channel: 'digest' });
  assert.equal(hubTopic(p, 'alerts'), `${p}/_hub/alerts`);
  assert.deepEqual(parseTopic(p, hubTopic(p, 'alerts')), { kind: 'hub', channel: 'alerts' });
});

test('topics: foreign, upper-case and unknown-channel topics are not ours', () => {
  for (const t of ['other/farm/n1/data', 'fieldmesh/Farm/n1/data', 'fieldmesh/farm/n1/blob', 'fieldmesh/farm/n1', 'fieldmesh/_hub/x']) {
    assert.equal(parseTopic('fieldmesh', t), undefined, t);
  }
});

test('topics: a prefix with wildcards or empty levels is refused', () => {
  for (const p of ['', 'a/+/b', 'a//b', '/a', 'a/#']) assert.throws(() => assertTopicPrefix(p), /FM_TOPIC_INVALID|must be/);
  assert.equal(assertTopicPrefix('fieldmesh'), 'fieldmesh');
});

test('topics: a zone topic names its site, node and zone; the zone level alone or deeper is not ours', () => {
  const p = 'acme/fieldmesh';
  assert.equal(zoneTopic(p, 'ranch', 'n3', 'north'), 'acme/fieldmesh/ranch/n3/zone/north');
  assert.deepEqual(parseTopic(p, zoneTopic(p, 'ranch', 'n3', 'north')), { kind: 'zone', site: 'ranch', node: 'n3', zone: 'north' });
  assert.equal(zoneSubscription(p, 'ranch'), 'acme/fieldmesh/ranch/+/zone/+');
  assert.equal(zoneSubscription(p), 'acme/fieldmesh/+/+/zone/+');
  for (const t of [`${p}/ranch/n3/zone`, `${p}/ranch/n3/zone/North`, `${p}/ranch/n3/zone/north/x`, `${p}/ranch/n3/zone/`]) {
    assert.equal(parseTopic(p, t), undefined, t);
  }
});
