// Site health: each rule, its boundary (exactly at a limit is still fine), how acknowledged, silenced,
// inhibited, pending and info alerts count, and the order of the reasons.
// calendar: site health is computed at a given instant.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../kit/index.js';
import {
  type AlertHealthInput,
  assessSiteHealth,
  DEFAULT_HEALTH_THRESHOLDS,
  formatSpan,
  type NodeHealthInput,
  type SiteHealthInput,
} from './site-health.js';

const T0 = Date.UTC(2026, 10, 24, 9, 0, 0);
const MIN = 60_000;

function node(name: string, over: Partial<NodeHealthInput> = {}): NodeHealthInput {
  return { node: name, state: 'online', since: T0, lastHeard: T0, backlogOldestMs: null, ...over };
}

function alert(over: Partial<AlertHealthInput> = {}): AlertHealthInput {
  return {
    fingerprint: 'f7a3f8bb9dd8c192',
    name: 'NodeDown',
    state: 'firing',
    severity: 'critical',
    firedAt: T0,
    summary: 'Node s1/n2 is offline',
    node: 'n2',
    acknowledgedBy: null,
    silenced: false,
    inhibited: false,
    ...over,
  };
}

/** Assesses at the clock's time with the default thresholds. */
function assess(clock: ManualClock, input: SiteHealthInput) {
  return assessSiteHealth(input, DEFAULT_HEALTH_THRESHOLDS, clock.now());
}

const codes = (a: ReturnType<typeof assess>) => a.reasons.map((r) => `${r.level}:${r.code}${r.node === undefined ? '' : `:${r.node}`}`);

test('site health: all nodes online, fresh, no backlog and no alert is green with no reasons', () => {
  const clock = new ManualClock(T0 + 10_000);
  const a = assess(clock, { nodes: [node('n1'), node('n2')], alerts: [] });
  assert.deepEqual(a, { health: 'green', reasons: [] });
});

test('site health: one node offline makes the site error, with its name and how long in the text', () => {
  const clock = new ManualClock(T0 + 4 * MIN + 10_000);
  const a = assess(clock, { nodes: [node('n1', { lastHeard: clock.now() }), node('n2', { state: 'offline', since: T0 })], alerts: [] });
  assert.equal(a.health, 'error');
  assert.deepEqual(a.reasons, [{ code: 'node-offline', level: 'error', text: 'n2 offline for 4 min', since: T0, node: 'n2' }]);
});

test('site health: a stale node, or one unknown among known ones, makes the site warn', () => {
  const clock = new ManualClock(T0 + 45_000);
  const stale = assess(clock, {
    nodes: [node('n1', { lastHeard: clock.now() }), node('n2', { state: 'stale', since: T0 + 20_000 })],
    alerts: [],
  });
  assert.equal(stale.health, 'warn');
  assert.deepEqual(codes(stale), ['warn:node-stale:n2']);
  assert.equal(stale.reasons[0]?.text, 'n2 stale, silent for 45 s');
  const unknown = assess(clock, { nodes: [node('n1', { lastHeard: clock.now() }), node('n2', { state: 'unknown' })], alerts: [] });
  assert.equal(unknown.health, 'warn');
  assert.deepEqual(codes(unknown), ['warn:node-unknown:n2']);
});

test('site health: every node unknown is an error, told once for the site rather than per node', () => {
  const clock = new ManualClock(T0 + MIN);
  const a = assess(clock, {
    nodes: [node('n1', { state: 'unknown', lastHeard: clock.now() }), node('n2', { state: 'unknown', lastHeard: clock.now() })],
    alerts: [],
  });
  assert.equal(a.health, 'error');
  assert.deepEqual(codes(a), ['error:all-unknown']);
  assert.match(a.reasons[0]?.text ?? '', /^all 2 nodes unknown/);
});

test('site health: a site with no node known warns', () => {
  const a = assess(new ManualClock(T0), { nodes: [], alerts: [] });
  assert.equal(a.health, 'warn');
  assert.deepEqual(codes(a), ['warn:no-nodes']);
});

test('site health: backlog older than backlogWarn warns and older than backlogError errors; exactly at a limit is fine', () => {
  const clock = new ManualClock(T0);
  const site = () => ({ nodes: [node('n1', { lastHeard: clock.now(), backlogOldestMs: T0 })], alerts: [] });
  clock.advance(10 * MIN);
  assert.equal(assess(clock, site()).health, 'green', 'exactly 10 min old');
  clock.advance(1);
  const warn = assess(clock, site());
  assert.deepEqual(codes(warn), ['warn:backlog-old:n1']);
  assert.equal(warn.reasons[0]?.since, T0);
  assert.equal(warn.reasons[0]?.text, 'n1 backlog: oldest unsent sample 10 min old');
  clock.advance(50 * MIN - 1);
  assert.equal(assess(clock, site()).health, 'warn', 'exactly 1 h old');
  clock.advance(1);
  assert.deepEqual(codes(assess(clock, site())), ['error:backlog-old:n1']);
  assert.equal(assess(clock, site()).health, 'error');
});

test('site health: a site none of whose nodes was heard for more than `freshness` warns; the newest node counts', () => {
  const clock = new ManualClock(T0);
  const site = () => ({ nodes: [node('n1', { lastHeard: T0 - 10 * MIN }), node('n2', { lastHeard: T0 })], alerts: [] });
  clock.advance(5 * MIN);
  assert.equal(assess(clock, site()).health, 'green', 'n2 heard exactly 5 min ago');
  clock.advance(1);
  const a = assess(clock, site());
  assert.equal(a.health, 'warn');
  assert.deepEqual(codes(a), ['warn:data-stale']);
  assert.equal(a.reasons[0]?.since, T0, 'since the newest last heard');
  assert.equal(a.reasons[0]?.text, 'no data from this site for 5 min');
});

test('site health: thresholds come from the caller', () => {
  const clock = new ManualClock(T0 + 2 * MIN);
  const input = { nodes: [node('n1', { backlogOldestMs: T0 })], alerts: [] };
  const a = assessSiteHealth(input, { backlogWarnMs: MIN, backlogErrorMs: 90_000, freshnessMs: 30_000 }, clock.now());
  assert.deepEqual(codes(a), ['error:backlog-old:n1', 'warn:data-stale']);
});

test('site health: a firing critical alert is an error, a warning alert a warn; pending and info alerts do not count', () => {
  const clock = new ManualClock(T0 + MIN);
  const nodes = [node('n1', { lastHeard: clock.now() })];
  const critical = assess(clock, { nodes, alerts: [alert()] });
  assert.equal(critical.health, 'error');
  assert.deepEqual(critical.reasons, [
    { code: 'alert-critical', level: 'error', text: 'NodeDown: Node s1/n2 is offline', since: T0, node: 'n2', alert: 'f7a3f8bb9dd8c192' },
  ]);
  const warning = assess(clock, { nodes, alerts: [alert({ severity: 'warning', name: 'LowSOC', summary: undefined, node: undefined })] });
  assert.equal(warning.health, 'warn');
  assert.deepEqual(codes(warning), ['warn:alert-warning']);
  assert.equal(warning.reasons[0]?.text, 'LowSOC: firing');
  assert.equal(assess(clock, { nodes, alerts: [alert({ severity: undefined })] }).health, 'warn', 'no severity label: warn');
  assert.equal(assess(clock, { nodes, alerts: [alert({ state: 'pending', firedAt: null })] }).health, 'green');
  assert.equal(assess(clock, { nodes, alerts: [alert({ state: 'resolved' })] }).health, 'green');
  assert.equal(assess(clock, { nodes, alerts: [alert({ severity: 'info' })] }).health, 'green');
});

test('site health: an acknowledged alert still counts, marked acknowledged; a silenced one does not count', () => {
  const clock = new ManualClock(T0 + MIN);
  const nodes = [node('n1', { lastHeard: clock.now() })];
  const acked = assess(clock, { nodes, alerts: [alert({ acknowledgedBy: 'ana' })] });
  assert.equal(acked.health, 'error');
  assert.equal(acked.reasons[0]?.acknowledged, true);
  assert.equal(acked.reasons[0]?.text, 'NodeDown: Node s1/n2 is offline (acknowledged by ana)');
  assert.deepEqual(assess(clock, { nodes, alerts: [alert({ silenced: true })] }), { health: 'green', reasons: [] });
});

test('site health: a site gone dark lists SiteOffline and its offline nodes, not the NodeDown alerts SiteOffline inhibits', () => {
  const clock = new ManualClock(T0 + 10 * MIN);
  const offline = { state: 'offline' as const, since: T0, lastHeard: T0 };
  const siteOffline = alert({ fingerprint: 'a000000000000001', name: 'SiteOffline', summary: 'Site s1 is offline', node: undefined });
  const nodeDown = (n: string, inhibited: boolean) =>
    alert({ fingerprint: `b00000000000000${n.slice(1)}`, summary: `Node s1/${n} is offline`, node: n, inhibited });
  const a = assess(clock, {
    nodes: [node('n1', offline), node('n2', offline)],
    alerts: [siteOffline, nodeDown('n1', true), nodeDown('n2', true)],
  });
  assert.equal(a.health, 'error', 'the site stays in error');
  assert.deepEqual(codes(a), ['error:alert-critical', 'error:node-offline:n1', 'error:node-offline:n2', 'warn:data-stale']);
  assert.equal(a.reasons[0]?.alert, 'a000000000000001');
  // Not inhibited (no SiteOffline rule firing yet): each NodeDown is a reason of its own.
  const b = assess(clock, { nodes: [node('n1', offline), node('n2', offline)], alerts: [nodeDown('n1', false), nodeDown('n2', false)] });
  assert.equal(b.reasons.filter((r) => r.code === 'alert-critical').length, 2);
  // An inhibited warning alone leaves a site green, as a silenced one does.
  const nodes = [node('n1', { lastHeard: clock.now() })];
  assert.deepEqual(assess(clock, { nodes, alerts: [alert({ severity: 'warning', inhibited: true })] }), { health: 'green', reasons: [] });
});

test('site health: errors come before warnings, the longest-standing first', () => {
  const clock = new ManualClock(T0 + 30 * MIN);
  const a = assess(clock, {
    nodes: [
      node('n1', { state: 'stale', since: T0, lastHeard: clock.now() - 30_000 }),
      node('n2', { state: 'offline', since: T0 + 20 * MIN }),
      node('n3', { state: 'offline', since: T0 + 10 * MIN, lastHeard: clock.now() }),
    ],
    alerts: [alert({ severity: 'warning', firedAt: T0 - MIN, node: 'n1' })],
  });
  assert.deepEqual(codes(a), ['error:node-offline:n3', 'error:node-offline:n2', 'warn:alert-warning:n1', 'warn:node-stale:n1']);
});

test('site health: spans read as a person would say them', () => {
  assert.equal(formatSpan(999), '0 s');
  assert.equal(formatSpan(59_999), '59 s');
  assert.equal(formatSpan(60_000), '1 min');
  assert.equal(formatSpan(2 * 3_600_000), '2 h');
  assert.equal(formatSpan(2 * 3_600_000 + 5 * MIN), '2 h 5 min');
  assert.equal(formatSpan(3 * 86_400_000 + 4 * 3_600_000), '3 d 4 h');
});
