// The node's changeable log level: one level for the logger and every child made before or after a
// change, a timed change that reverts, and a timed change on top of another reverting to the first level.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Logger, ManualClock } from '../../kit/index.js';
import { createLogLevelControl } from './log-level.js';

function recorder(lines: string[]): Logger {
  const make = (prefix: string): Logger => ({
    debug: (_o, m) => lines.push(`${prefix}debug ${m}`),
    info: (_o, m) => lines.push(`${prefix}info ${m}`),
    warn: (_o, m) => lines.push(`${prefix}warn ${m}`),
    error: (_o, m) => lines.push(`${prefix}error ${m}`),
    child: (b) => make(`${prefix}${String(b.part)}:`),
  });
  return make('');
}

test('log level: a change reaches children made before it; a timed change reverts after its duration', () => {
  const lines: string[] = [];
  const clock = new ManualClock(1_800_000_000_000);
  const control = createLogLevelControl(recorder(lines), 'info', clock);
  const child = control.logger.child({ part: 'store' });
  child.debug({}, 'hidden');
  child.info({}, 'shown');
  const change = control.set('debug', 600_000);
  assert.deepEqual(change, { level: 'debug', previous: 'info', revertsAt: clock.now() + 600_000, revertsTo: 'info' });
  child.debug({}, 'now shown');
  clock.advance(599_999);
  assert.equal(control.level, 'debug');
  clock.advance(1);
  assert.equal(control.level, 'info');
  child.debug({}, 'hidden again');
  assert.deepEqual(
    lines.filter((l) => l.startsWith('store:')),
    ['store:info shown', 'store:debug now shown'],
  );
  assert.ok(lines.includes('info log level reverted'));
});

test('log level: a timed change on a timed change reverts to the level before both; an untimed one cancels the revert', () => {
  const clock = new ManualClock(1_800_000_000_000);
  const control = createLogLevelControl(recorder([]), 'warn', clock);
  control.set('info', 60_000);
  assert.equal(control.set('debug', 60_000).revertsTo, 'warn');
  clock.advance(60_000);
  assert.equal(control.level, 'warn');
  control.set('debug', 60_000);
  assert.equal(control.set('error').revertsAt, null);
  clock.advance(120_000);
  assert.equal(control.level, 'error', 'no revert after an untimed change');
  control.close();
});
