// The built-in certificate alerts on a manual clock: CertificateExpiring fires once a node's certificate has less
// than 90 days left (the seed's rule), CertificateExpiringSoon at 14 days, neither before; a renewal resolves them.
// calendar: the engine runs on a manual clock.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtinEngine, EVAL_MS } from './builtin-test-kit.js';
import type { AlertCertificate } from './fleet-series.js';

const DAY_MS = 86_400_000;
const START = Date.UTC(2026, 10, 24, 9, 0, 0);

test('alerts: CertificateExpiring fires at 90 days left and CertificateExpiringSoon at 14, not before; a renewal resolves both', async () => {
  const certificates: AlertCertificate[] = [
    { site: 'ranch', node: 'edge-01', serial: 'aa01', notAfter: START + 120 * DAY_MS },
    { site: 'ranch', node: 'edge-02', serial: 'bb02', notAfter: START + 365 * DAY_MS },
  ];
  const { engine, clock, step } = await builtinEngine(START, { certificates: () => certificates }, {});
  const firing = () =>
    engine
      .list(['firing'])
      .map((a) => `${a.alert.labels.alertname}:${a.alert.labels.node}:${a.alert.labels.severity}`)
      .sort();
  await step(EVAL_MS);
  assert.deepEqual(firing(), [], '120 days left: nothing');

  // 30 days on, one evaluation short of 90 days left.
  clock.advance(30 * DAY_MS - 2 * EVAL_MS);
  await engine.idle();
  await step(EVAL_MS);
  assert.deepEqual(firing(), [], 'still a few seconds above 90 days');
  await step(2 * EVAL_MS);
  assert.deepEqual(firing(), ['CertificateExpiring:edge-01:warning']);
  const value = engine.list(['firing'])[0]?.alert.value ?? 0;
  assert.ok(value <= 90 * 86_400 && value > 89.9 * 86_400, `the value is the seconds left (${value})`);

  clock.advance(76 * DAY_MS);
  await engine.idle();
  await step(EVAL_MS);
  assert.deepEqual(firing(), ['CertificateExpiring:edge-01:warning', 'CertificateExpiringSoon:edge-01:critical']);

  // The node renewed: its newest certificate has a year left.
  certificates[0] = { site: 'ranch', node: 'edge-01', serial: 'aa03', notAfter: clock.now() + 365 * DAY_MS };
  await step(EVAL_MS);
  assert.deepEqual(firing(), []);
});
