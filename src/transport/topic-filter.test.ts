// Tests for MQTT topic-filter matching, by example and against a reference regex model.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isValidFilter, matchesFilter, sharedFilter } from './topic-filter.js';

test('topic filter matches the examples of the MQTT specification', () => {
  assert.equal(matchesFilter('sport/tennis/player1/#', 'sport/tennis/player1'), true);
  assert.equal(matchesFilter('sport/tennis/player1/#', 'sport/tennis/player1/ranking'), true);
  assert.equal(matchesFilter('sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon'), true);
  assert.equal(matchesFilter('sport/#', 'sport'), true);
  assert.equal(matchesFilter('sport/tennis/+', 'sport/tennis/player1'), true);
  assert.equal(matchesFilter('sport/tennis/+', 'sport/tennis/player1/tricks'), false);
  assert.equal(matchesFilter('sport/+', 'sport'), false);
  assert.equal(matchesFilter('sport/+', 'sport/'), true);
  assert.equal(matchesFilter('+/+', '/finance'), true);
  assert.equal(matchesFilter('/+', '/finance'), true);
  assert.equal(matchesFilter('+', '/finance'), false);
  assert.equal(matchesFilter('#', '$SYS/broker'), false);
  assert.equal(matchesFilter('+/broker', '$SYS/broker'), false);
  assert.equal(matchesFilter('$SYS/#', '$SYS/broker'), true);
  assert.equal(matchesFilter('a/b', 'a/b'), true);
  assert.equal(matchesFilter('a/b', 'a/c'), false);
});

test('topic filter validity rejects misplaced wildcards', () => {
  assert.equal(isValidFilter('a/#'), true);
  assert.equal(isValidFilter('a/#/b'), false);
  assert.equal(isValidFilter('a/b+'), false);
  assert.equal(isValidFilter(''), false);
  assert.equal(isValidFilter('+/+/#'), true);
});

/** Reference model: the filter as an anchored regular expression. */
function reference(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && /^[+#]/.test(filter)) return false;
  const levels = filter.split('/');
  let re = '';
  levels.forEach((level, i) => {
    const sep = i === 0 ? '' : '/';
    if (level === '#') re = i === 0 ? '.*' : `${re}(?:/.*)?`;
    else if (level === '+') re += `${sep}[^/]*`;
    else re += sep + level.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${re}$`).test(topic);
}

const level = fc.constantFrom('a', 'b', 'c', '', '$x');
const topicArb = fc.array(level, { minLength: 1, maxLength: 5 }).map((l) => l.join('/'));
const filterArb = fc
  .tuple(fc.array(fc.constantFrom('a', 'b', 'c', '', '+'), { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([l, hash]) => (hash ? [...l, '#'] : l).join('/'));

test('topic filter agrees with a regex model on random filters and topics', () => {
  fc.assert(
    fc.property(filterArb, topicArb, (filter, topic) => {
      assert.equal(matchesFilter(filter, topic), reference(filter, topic), `${filter} vs ${topic}`);
    }),
    { numRuns: 2000 },
  );
});

test('topic filter derived from a topic by wildcards always matches it', () => {
  fc.assert(
    fc.property(topicArb, fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), fc.nat(5), (topic, plus, cut) => {
      fc.pre(!topic.startsWith('$'));
      const levels = topic.split('/').map((l, i) => (plus[i] ? '+' : l));
      const filter = cut < levels.length ? [...levels.slice(0, cut), '#'].join('/') : levels.join('/');
      assert.equal(matchesFilter(filter, topic), true, `${filter} vs ${topic}`);
    }),
  );
});

test('topic filter: a shared subscription $share/<group>/<filter> matches as its filter and is valid only with a plain group', () => {
  assert.deepEqual(sharedFilter('$share/ingest/fieldmesh/+/+/history'), { group: 'ingest', filter: 'fieldmesh/+/+/history' });
  assert.equal(sharedFilter('fieldmesh/+/+/history'), undefined);
  assert.equal(matchesFilter('$share/ingest/fieldmesh/+/+/history', 'fieldmesh/s1/n1/history'), true);
  assert.equal(matchesFilter('$share/ingest/fieldmesh/+/+/history', 'fieldmesh/s1/n1/data'), false);
  assert.equal(matchesFilter('$share/g/#', '$SYS/broker'), false);
  assert.equal(isValidFilter('$share/ingest/fieldmesh/#'), true);
  for (const bad of ['$share/ingest', '$share//a', '$share/in+/a', '$share/in#/a', '$share/g/a/#/b', '$share/g/']) {
    assert.equal(isValidFilter(bad), false, bad);
  }
});
