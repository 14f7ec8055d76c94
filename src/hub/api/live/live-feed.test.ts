// Live feed: snapshot on connect, state changes at once, values at most once per second per node, pings.
// calendar: the feed runs on a manual clock; the ISO times are rendered data.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../../kit/index.js';
import type { NodeView } from '../nodes/node-view.js';
import { LiveFeed } from './live-feed.js';

function view(node: string): NodeView {
  return {
    site: 's1',
    zone: 'z',
    node,
    state: 'online',
    epoch: 1,
    agentVersion: 't',
    lastHeard: null,
    lastHeardAgeMs: null,
    since: null,
    heartbeatMs: 1_000,
    series: 0,
    values: [],
  };
}

function setup() {
  const clock = new ManualClock();
  const feed = new LiveFeed({ clock, snapshot: () => [view('n1')], nodeView: (_s, n) => view(n) });
  const chunks: string[] = [];
  let ended = false;
  const remove = feed.add({ write: (c) => chunks.push(c), end: () => (ended = true) });
  const events = () => chunks.join('').match(/^event: \w+$/gm) ?? [];
  return { clock, feed, chunks, events, remove, ended: () => ended };
}

const at = { site: 's1', at: 0 };

test('live feed: a new client gets a snapshot of all nodes first', () => {
  const { chunks, events } = setup();
  assert.deepEqual(events(), ['event: snapshot']);
  assert.match(chunks[0] ?? '', /^retry: 2000\n\nid: 1\nevent: snapshot\ndata: \{"nodes":\[\{"site":"s1"/);
});

test('live feed: state changes go at once; value changes at most once per second per node', () => {
  const { clock, feed, events } = setup();
  feed.publish({ type: 'valuesChanged', node: 'n1', count: 1, ...at });
  feed.publish({ type: 'valuesChanged', node: 'n1', count: 1, ...at });
  feed.publish({ type: 'valuesChanged', node: 'n1', count: 1, ...at });
  feed.publish({ type: 'valuesChanged', node: 'n2', count: 1, ...at });
  assert.equal(events().length, 3, 'snapshot + first n1 + first n2');
  clock.advance(999);
  assert.equal(events().length, 3);
  clock.advance(1);
  assert.equal(events().length, 4, 'the held-back n1 change goes out after a second');
  feed.publish({ type: 'nodeWentStale', node: 'n1', previous: 'online', ...at });
  assert.equal(events().length, 5, 'state changes are never throttled');
});

test('live feed: a ping comment every 15 s; removing the last client stops timers; close ends streams', () => {
  const { clock, chunks, remove, feed, ended } = setup();
  clock.advance(15_000);
  assert.equal(chunks.at(-1), ': ping\n\n');
  remove();
  assert.equal(feed.clientCount, 0);
  const before = chunks.length;
  clock.advance(60_000);
  assert.equal(chunks.length, before);
  const other = setup();
  other.feed.close();
  assert.equal(other.ended(), true);
  assert.equal(ended(), false);
});

test('live feed: a stored event goes to every client at once as an `event` message, never throttled', () => {
  const { feed, chunks, events } = setup();
  const e = {
    site: 's1',
    node: 'n1',
    id: 'ev-1',
    seq: 1,
    epoch: 1,
    time: '2026-01-01T00:00:00.000Z',
    priority: 'critical' as const,
    kind: 'fire',
    payload: { camera: 2 },
    payloadEncoding: 'json' as const,
    receivedAt: '2026-01-01T00:00:00.000Z',
  };
  feed.publishEvent(e);
  feed.publishEvent({ ...e, id: 'ev-2' });
  assert.deepEqual(events(), ['event: snapshot', 'event: event', 'event: event']);
  assert.deepEqual(JSON.parse(chunks[1]?.split('data: ')[1] ?? ''), e);
});
