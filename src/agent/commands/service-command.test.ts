// The node's `service` command beyond start/stop/restart: status answers what the node's service API answers
// (one service, or every service without a name), logs answers the newest lines, and a tail too large for one
// reply is cut to the newest lines that fit, saying how many were cut.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { isFieldmeshError, ManualClock, silentLogger } from '../../kit/index.js';
import { MAX_REPLY_BODY_BYTES } from '../../protocol/index.js';
import { serviceView } from '../api/service-routes.js';
import type { LogLine, ServiceStatus, ServiceSupervisor } from '../services/index.js';
import { createLogLevelControl } from './log-level.js';
import { createNodeCommandHandler, fitLogTail } from './node-command-handlers.js';

const T0 = 1_800_000_000_000;
const bytesOf = (body: unknown) => deflateRawSync(Buffer.from(JSON.stringify(body))).length;

function status(name: string, state: ServiceStatus['state']): ServiceStatus {
  return {
    name,
    state,
    pid: state === 'running' ? 4242 : null,
    restarts: 1,
    since: T0,
    lastExit: null,
    nextStartAt: null,
    health: null,
    usage: null,
    cpuSecondsTotal: 0.5,
    command: ['node', 'printer.js'],
    autostart: true,
    restart: 'on-failure',
    hash: 'h',
  };
}

function lines(n: number, text: (i: number) => string): LogLine[] {
  return Array.from({ length: n }, (_, i) => ({ time: T0 + i, stream: i % 2 === 0 ? 'stdout' : 'stderr', line: text(i) }));
}

function handler(tail: LogLine[]) {
  const services = [status('printer', 'running'), status('probe', 'backoff')];
  const supervisor = {
    list: () => services,
    status: (name: string) => services.find((s) => s.name === name),
    logs: (name: string, n = 100) => (services.some((s) => s.name === name) ? tail.slice(-n) : undefined),
  } as unknown as ServiceSupervisor;
  const clock = new ManualClock(T0);
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
    services: supervisor,
  });
}

test('service command: status answers the service API view of one service, or of every service without a name', async () => {
  const run = handler([]);
  assert.deepEqual(await run('service', { action: 'status', name: 'probe' }, 'hub:ops'), serviceView(status('probe', 'backoff')));
  assert.deepEqual(await run('service', { action: 'status' }, 'hub:ops'), {
    services: [serviceView(status('printer', 'running')), serviceView(status('probe', 'backoff'))],
  });
  await assert.rejects(
    run('service', { action: 'status', name: 'nope' }, 'hub:ops'),
    (err: unknown) =>
      isFieldmeshError(err, 'FM_NOT_FOUND') && /service "nope" is not one of this node's \(printer, probe\)/.test(err.message),
  );
});

test('service command: logs answers the newest lines (50 by default), oldest first; bad lines are refused', async () => {
  const run = handler(lines(80, (i) => `line ${i}`));
  const five = (await run('service', { action: 'logs', name: 'printer', lines: '5' }, 'hub:ops')) as {
    lines: { line: string }[];
    cut: number;
  };
  assert.deepEqual(
    five.lines.map((l) => l.line),
    ['line 75', 'line 76', 'line 77', 'line 78', 'line 79'],
  );
  assert.equal(five.cut, 0);
  assert.deepEqual(Object.keys(five.lines[0] ?? {}), ['time', 'stream', 'line']);
  const dflt = (await run('service', { action: 'logs', name: 'printer' }, 'hub:ops')) as { lines: unknown[] };
  assert.equal(dflt.lines.length, 50);
  for (const bad of ['0', '1001', 'x'])
    await assert.rejects(run('service', { action: 'logs', name: 'printer', lines: bad }, 'hub:ops'), (err: unknown) =>
      isFieldmeshError(err, 'FM_QUERY_INVALID'),
    );
  await assert.rejects(run('service', { action: 'logs', name: 'nope' }, 'hub:ops'), (err: unknown) =>
    isFieldmeshError(err, 'FM_NOT_FOUND'),
  );
});

test('service command: a tail that would not fit one reply is cut to the newest lines that fit, and says how many', () => {
  // 1,000 lines of 4,096 characters of noise: about 5.5 MB of JSON that deflate cannot shrink much.
  const noise = lines(1_000, () => randomBytes(3_072).toString('base64'));
  const answer = fitLogTail('printer', noise);
  assert.ok(answer.cut > 0 && answer.cut < 1_000, `cut ${answer.cut}`);
  assert.equal(answer.lines.length + answer.cut, 1_000);
  assert.ok(bytesOf(answer) <= MAX_REPLY_BODY_BYTES, `${bytesOf(answer)} bytes`);
  // The newest lines are the ones kept, and one more would not have fitted.
  assert.equal(answer.lines.at(-1)?.line, noise.at(-1)?.line);
  assert.equal(answer.lines[0]?.line, noise[answer.cut]?.line);
  const oneMore = fitLogTail('printer', noise.slice(answer.cut - 1), Number.POSITIVE_INFINITY);
  assert.ok(bytesOf(oneMore) > MAX_REPLY_BODY_BYTES, 'one more line would not fit');
  // A tail that fits is answered whole.
  const small = fitLogTail('printer', noise.slice(-10));
  assert.equal(small.cut, 0);
  assert.equal(small.lines.length, 10);
});
