// The console's zone derivations for the store, the overview and the site page, pure: live messages read
// either way, the overview's zone lines, a site's zones, pump state words, and the zone route.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRoute, zoneHref } from './router.js';
import type { ZoneSummary } from './types.js';
import { pumpMark, zoneFromMessage, zoneLabel, zoneLines, zonesOfSite } from './zone-derive.js';

function summary(zone: string, over: Partial<ZoneSummary> = {}): ZoneSummary {
  return {
    zone,
    site: 'ridge',
    source: 'hub.yaml',
    epoch: 1,
    voters: 3,
    votersOnline: 3,
    majorityNeeded: 2,
    majorityVisible: true,
    fire: false,
    detectionsInWindow: 0,
    pumps: 1,
    pumpsRunning: 0,
    lastDecisionAt: null,
    overlaps: [],
    activates: [],
    ...over,
  };
}

test('zone message: the summary itself or wrapped as {zone: summary}; anything else is ignored', () => {
  const z = summary('north');
  assert.deepEqual(zoneFromMessage(z), z);
  assert.deepEqual(zoneFromMessage({ type: 'zone', zone: z }), z);
  assert.equal(zoneFromMessage({ zone: 'north' }), undefined, 'a bare id without an epoch is no summary');
  assert.equal(zoneFromMessage(null), undefined);
  assert.equal(zoneFromMessage('north'), undefined);
  assert.equal(zoneFromMessage({ zone: { epoch: 1 } }), undefined);
});

test('zone lines: fire, pumps running and no majority, each naming its zones as site/zone; none when all is calm', () => {
  assert.deepEqual(zoneLines([summary('north'), summary('east')]), []);
  const lines = zoneLines([
    summary('north', { pumpsRunning: 2, fire: true }),
    summary('east', { pumpsRunning: 1 }),
    summary('west', { site: null, majorityVisible: false, votersOnline: 1 }),
  ]);
  assert.deepEqual(
    lines.map((l) => [l.kind, l.text]),
    [
      ['fire', 'fire seen in ridge/north'],
      ['pumps-running', 'pumps running in ridge/east and ridge/north'],
      ['no-majority', 'no majority visible in west'],
    ],
  );
  assert.equal(zoneLines([summary('north', { pumpsRunning: 1 })])[0]?.text, 'pump running in ridge/north');
  const three = zoneLines(['a', 'b', 'c'].map((z) => summary(z, { majorityVisible: false })));
  assert.equal(three[0]?.text, 'no majority visible in ridge/a, ridge/b and ridge/c');
});

test('zones of a site: only those the hub places there, by id; labels carry the site when known', () => {
  const zs = [summary('east'), summary('north'), summary('x', { site: 'other' }), summary('y', { site: null })];
  assert.deepEqual(
    zonesOfSite(zs, 'ridge').map((z) => z.zone),
    ['east', 'north'],
  );
  assert.equal(zoneLabel(summary('y', { site: null })), 'y');
  assert.equal(zoneLabel(summary('y')), 'ridge/y');
});

test('pump states: every state has a word and a shape, and an unknown state reads as unknown', () => {
  for (const s of ['running', 'stopped', 'estop', 'fault', 'unknown'] as const) {
    const m = pumpMark(s);
    assert.ok(m.word.length > 0 && m.icon.length > 0, s);
  }
  assert.equal(pumpMark('bogus' as never).word, 'unknown');
  assert.equal(pumpMark('estop').word, 'emergency stop');
});

test('routes: #/zones/:zone is the zone page (ids decoded), and zoneHref encodes them back', () => {
  assert.deepEqual(parseRoute('#/zones/north'), { page: 'zone', zone: 'north' });
  assert.deepEqual(parseRoute(zoneHref('a b/c')), { page: 'zone', zone: 'a b/c' });
  assert.equal(parseRoute('#/zones').page, 'missing');
});
