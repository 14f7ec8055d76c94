// `fieldmesh cmd TARGET renew-cert` [FM-CERT-8], the hub's checks of the request: no arguments, a clear
// FM_REQUEST_INVALID naming one given; a node-side command that changes the node.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../../kit/index.js';
import { NODE_SIDE_COMMANDS, READ_ONLY_COMMANDS } from '../../protocol/index.js';
import { checkCommandArgs, parseCommandRequest } from './command-request.js';

test('renew-cert: the request takes no arguments and names one given; it is a node-side command that changes the node', () => {
  assert.deepEqual(checkCommandArgs('renew-cert', undefined), {});
  const r = parseCommandRequest({ target: 'site:ranch', command: 'renew-cert' });
  assert.equal(r.command, 'renew-cert');
  assert.throws(
    () => parseCommandRequest({ target: 'node:delta', command: 'renew-cert', args: { force: 'yes' } }),
    (err: unknown) =>
      isFieldmeshError(err, 'FM_REQUEST_INVALID') &&
      /field "args\.force" is unknown for renew-cert; it takes no arguments/.test(err.message),
  );
  assert.ok(NODE_SIDE_COMMANDS.includes('renew-cert'));
  assert.ok(!READ_ONLY_COMMANDS.includes('renew-cert'));
});
