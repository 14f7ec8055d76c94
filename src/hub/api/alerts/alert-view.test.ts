// The alert as the API and the live feed show it: silencing and inhibition, and the live feed's
// `alert` message when only the inhibition changes.
// calendar: views are rendered at a given instant.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AlertRecord } from '../../alerts/alert.js';
import type { AlertSnapshot } from '../../alerts/alert-engine.js';
import { AlertChanges } from '../live/alert-changes.js';
import { toAlertView } from './alert-view.js';

const T0 = Date.UTC(2026, 10, 24, 9, 0, 0);

function record(): AlertRecord {
  return {
    fingerprint: 'f7a3f8bb9dd8c192',
    ruleId: 'builtin/NodeDown',
    labels: { alertname: 'NodeDown', node: 'n1', severity: 'critical', site: 'bess-a', zone: 'rack-1' },
    annotations: { summary: 'Node bess-a/n1 is offline' },
    state: 'firing',
    value: 120,
    activeAt: T0,
    firedAt: T0 + 120_000,
    resolvedAt: null,
    lastSeenAt: T0 + 120_000,
    ack: null,
    notified: 'none',
    notifiedAt: null,
    generatorUrl: 'http://hub.example:18800/api/v1/alerts/f7a3f8bb9dd8c192',
  };
}

const snapshot = (alert: AlertRecord, inhibitedBy: string[], silencedBy: string[] = []): AlertSnapshot => ({
  alert,
  rule: undefined,
  silencedBy,
  inhibitedBy,
});

test('alert view: an inhibited alert says so and names its inhibitors; silencing is told apart', () => {
  const a = record();
  const inhibited = toAlertView(snapshot(a, ['0a1b2c3d4e5f6789']));
  assert.equal(inhibited.inhibited, true);
  assert.deepEqual(inhibited.inhibitedBy, ['0a1b2c3d4e5f6789']);
  assert.equal(inhibited.silenced, false);
  assert.equal(inhibited.state, 'firing', 'an inhibited alert still fires');
  const plain = toAlertView(snapshot(a, [], ['k3v0q9x1b2c4']));
  assert.equal(plain.inhibited, false);
  assert.deepEqual(plain.inhibitedBy, []);
  assert.equal(plain.silenced, true);
});

test('live alert changes: an alert whose inhibition starts or ends goes out again, though its state did not change', () => {
  const a = record();
  const changes = new AlertChanges();
  assert.equal(changes.take([toAlertView(snapshot(a, []))]).length, 1, 'the first look reports everything');
  assert.deepEqual(changes.take([toAlertView(snapshot(a, []))]), []);
  const inhibited = changes.take([toAlertView(snapshot(a, ['0a1b2c3d4e5f6789']))]);
  assert.deepEqual(
    inhibited.map((m) => [m.fingerprint, m.inhibited]),
    [['f7a3f8bb9dd8c192', true]],
  );
  assert.deepEqual(changes.take([toAlertView(snapshot(a, ['0a1b2c3d4e5f6789']))]), []);
  const released = changes.take([toAlertView(snapshot(a, []))]);
  assert.deepEqual(
    released.map((m) => [m.fingerprint, m.inhibited]),
    [['f7a3f8bb9dd8c192', false]],
  );
});
