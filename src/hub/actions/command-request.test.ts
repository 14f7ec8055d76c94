// The checks of a command's arguments for `service`: status with or without a name, logs with its line count
// (default, bounds, a clear FM_REQUEST_INVALID naming args.lines otherwise), and the actions that need a name.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../../kit/index.js';
import { SERVICE_LOG_LINES } from '../../protocol/index.js';
import { checkCommandArgs, parseCommandRequest } from './command-request.js';

/** Asserts FM_REQUEST_INVALID whose message matches `re`. */
function refused(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => isFieldmeshError(err, 'FM_REQUEST_INVALID') && re.test(err.message));
}

test('command request: service status takes no name (every service) or one name, and no lines', () => {
  assert.deepEqual(checkCommandArgs('service', { action: 'status' }), { action: 'status' });
  assert.deepEqual(checkCommandArgs('service', { action: 'status', name: 'printer' }), { action: 'status', name: 'printer' });
  refused(() => checkCommandArgs('service', { action: 'status', lines: '5' }), /field "args\.lines" applies to service logs only/);
});

test('command request: service logs needs a name; lines default to 50 and are a whole number from 1 to 1000', () => {
  assert.equal(SERVICE_LOG_LINES.default, 50);
  assert.deepEqual(checkCommandArgs('service', { action: 'logs', name: 'printer' }), { action: 'logs', name: 'printer', lines: '50' });
  assert.deepEqual(checkCommandArgs('service', { action: 'logs', name: 'printer', lines: '5' }), {
    action: 'logs',
    name: 'printer',
    lines: '5',
  });
  assert.equal(checkCommandArgs('service', { action: 'logs', name: 'printer', lines: '1000' }).lines, '1000');
  for (const bad of ['0', '1001', '-3', '2.5', '1e3', 'many', ' 5'])
    refused(
      () => checkCommandArgs('service', { action: 'logs', name: 'printer', lines: bad }),
      new RegExp(
        `^field "args\\.lines": expected a whole number of lines from 1 to 1000, got ${JSON.stringify(JSON.stringify(bad)).slice(1, -1)}$`,
      ),
    );
  refused(() => checkCommandArgs('service', { action: 'logs' }), /field "args\.name" is missing: service logs takes the service's name/);
  refused(
    () => checkCommandArgs('service', { action: 'logs', name: 'printer', lines: 5 }),
    /field "args\.lines": expected a non-empty string/,
  );
});

test('command request: start, stop and restart need a name; an unknown action or argument is named', () => {
  for (const action of ['start', 'stop', 'restart'])
    refused(() => checkCommandArgs('service', { action }), new RegExp(`field "args\\.name" is missing: service ${action}`));
  assert.deepEqual(checkCommandArgs('service', { action: 'restart', name: 'printer' }), { action: 'restart', name: 'printer' });
  refused(
    () => checkCommandArgs('service', { action: 'tail', name: 'printer' }),
    /field "args\.action": expected one of start, stop, restart, status, logs, got "tail"/,
  );
  refused(
    () => checkCommandArgs('service', { action: 'logs', name: 'printer', follow: 'yes' }),
    /field "args\.follow" is unknown for service; it takes action, name, lines/,
  );
  refused(() => checkCommandArgs('service', {}), /field "args\.action" is missing/);
});

test('command request: a POSTed service logs request keeps its checked arguments', () => {
  const r = parseCommandRequest({ target: 'node:a', command: 'service', args: { action: 'logs', name: 'printer', lines: '5' } });
  assert.deepEqual(r.args, { action: 'logs', name: 'printer', lines: '5' });
  refused(
    () => parseCommandRequest({ target: 'all', command: 'service', args: { action: 'logs', name: 'printer', lines: '5000' } }),
    /args\.lines/,
  );
});
