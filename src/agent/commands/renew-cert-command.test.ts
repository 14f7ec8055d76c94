// `fieldmesh cmd TARGET renew-cert` [FM-CERT-8], the node's side: the renewer's answer handed back, or
// FM_COMMAND_UNSUPPORTED on a node without node.yaml pki. The hub's checks: src/hub/actions/renew-cert-request.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError, ManualClock, silentLogger } from '../../kit/index.js';
import { createLogLevelControl } from './log-level.js';
import { createNodeCommandHandler } from './node-command-handlers.js';

function handler(renewCertificate?: (by: string) => Promise<object>) {
  const clock = new ManualClock(1_800_000_000_000);
  return createNodeCommandHandler({
    clock,
    logger: silentLogger,
    logLevel: createLogLevelControl(silentLogger, 'info', clock),
    config: {},
    store: { query: async () => [], labelValues: async () => [] },
    health: () => ({}),
    fleet: () => undefined,
    collectors: () => [],
    restartCollector: async () => {},
    ...(renewCertificate === undefined ? {} : { renewCertificate }),
  });
}

test('renew-cert: the node answers with the request it sent, or says it has no pki', async () => {
  const asked: string[] = [];
  const run = handler(async (by) => {
    asked.push(by);
    return { requestId: 'r-1', serial: 'ab12', sent: true };
  });
  assert.deepEqual(await run('renew-cert', {}, 'hub:admin'), { requestId: 'r-1', serial: 'ab12', sent: true });
  assert.deepEqual(asked, ['hub:admin']);
  await assert.rejects(
    handler()('renew-cert', {}, 'hub:admin'),
    (err: unknown) => isFieldmeshError(err, 'FM_COMMAND_UNSUPPORTED') && /renew-cert: .*node\.yaml has no pki section/.test(err.message),
  );
});
