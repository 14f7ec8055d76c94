// Critical set: selectors pick series, deadbands and intervals decide what a tick sends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CriticalSelectorConfig } from './config.js';
import { CriticalSet, exceedsDeadband, toDeadband } from './critical-set.js';

const sample = (name: string, value: number, labels: Record<string, string> = { device: 'battery' }, time = 0) => ({
  name,
  labels,
  value,
  time,
});
const rule = (match: string, extra: Partial<CriticalSelectorConfig> = {}): CriticalSelectorConfig => ({
  match,
  deadband: 0,
  minInterval: 0,
  maxSilence: 30_000,
  ...extra,
});

test('critical: deadbands, absolute and relative, compare with the last sent value', () => {
  assert.equal(exceedsDeadband(toDeadband(0.5), 52.0, 52.5), false);
  assert.equal(exceedsDeadband(toDeadband(0.5), 52.0, 52.51), true);
  assert.equal(exceedsDeadband(toDeadband('2%'), 100, 101.9), false);
  assert.equal(exceedsDeadband(toDeadband('2%'), 100, 97.9), true);
  assert.equal(exceedsDeadband(toDeadband(0), 1, 1), false);
  assert.equal(exceedsDeadband(toDeadband(0), 1, 1.0001), true);
  assert.equal(exceedsDeadband(toDeadband(10), 1, null), true);
  assert.equal(exceedsDeadband(toDeadband(10), Number.NaN, 1), true);
  assert.equal(exceedsDeadband(toDeadband(10), undefined, 1), true);
});

test('critical: only matching series get aliases; a new one asks for a birth', () => {
  const set = new CriticalSet([rule('{__name__=~"battery_soc|dc_voltage"}')]);
  set.observe(sample('battery_soc', 55.2));
  set.observe(sample('host_uptime_seconds', 100, {}));
  assert.equal(set.criticalSeriesCount, 1);
  assert.equal(set.localSeriesCount, 2);
  assert.equal(set.birthNeeded, true);
  const defs = set.birthSeries(0);
  assert.deepEqual(
    defs.map((d) => [d.alias, d.name, d.decimals, d.value]),
    [[1, 'battery_soc', 1, 55.2]],
  );
  assert.equal(set.birthNeeded, false);
  set.observe(sample('dc_voltage', 52.31));
  assert.equal(set.birthNeeded, true);
});

test('critical: a tick sends what moved beyond the deadband, respecting min interval and max silence', () => {
  const set = new CriticalSet([rule('dc_voltage', { deadband: 0.05, minInterval: 4_000, maxSilence: 10_000 })]);
  set.observe(sample('dc_voltage', 52.0));
  set.birthSeries(0);
  set.observe(sample('dc_voltage', 52.04));
  assert.deepEqual(set.due(2_000), [], 'inside the deadband');
  set.observe(sample('dc_voltage', 52.2, undefined, 1_900));
  assert.deepEqual(set.due(2_000), [], 'moved, but the minimum interval has not passed');
  assert.deepEqual(set.due(4_000), [{ alias: 1, value: 52.2, time: 1_900 }], 'the value goes with the time it was sampled');
  assert.deepEqual(set.due(6_000), [], 'already sent');
  set.observe(sample('dc_voltage', 52.2, undefined, 13_500));
  assert.deepEqual(set.due(14_000), [{ alias: 1, value: 52.2, time: 13_500 }], 'max silence re-sends the unchanged value, sampled again');
});

test('critical: a late sample never replaces a newer latest value, and one at the same time does', () => {
  const set = new CriticalSet([rule('dc_voltage')]);
  set.observe(sample('dc_voltage', 52.0, undefined, 5_000));
  set.observe(sample('dc_voltage', 48.0, undefined, 4_000));
  assert.deepEqual(
    set.birthSeries(6_000).map((d) => [d.value, d.time]),
    [[52.0, 5_000]],
    'a back-filled sample leaves the latest alone',
  );
  set.observe(sample('dc_voltage', 53.0, undefined, 5_000));
  assert.deepEqual(set.due(7_000), [{ alias: 1, value: 53.0, time: 5_000 }], 'the same time again: the later write holds, as in the store');
});

test('critical: the first matching selector decides the rule', () => {
  const set = new CriticalSet([rule('dc_voltage{device="battery"}', { decimals: 3 }), rule('dc_voltage', { decimals: 1 })]);
  set.observe(sample('dc_voltage', 52.31));
  set.observe(sample('dc_voltage', 12.5, { device: 'starter' }));
  assert.deepEqual(
    set.birthSeries(0).map((d) => d.decimals),
    [3, 1],
  );
});
