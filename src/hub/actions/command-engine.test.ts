// The command engine with fake ports on a manual clock: targets resolve as documented (node:ID unique or
// refused, site:, zone:, all, globs, selectors), arguments are checked per command, every node gets one
// result, a silent node times out at its timeout, offline nodes fail fast or are waited for, a pump test
// outside its zone is skipped, at most `concurrency` nodes are asked at once, and runs are listed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FieldmeshError, ManualClock } from '../../kit/index.js';
import type { NodeStateName } from '../../protocol/index.js';
import { CommandEngine, type CommandPorts } from './command-engine.js';
import { parseCommandRequest, resolveTargets } from './command-request.js';

const NODES = [
  { site: 'north', node: 'a', zone: 'z1', state: 'online' as NodeStateName },
  { site: 'north', node: 'b', zone: 'z1', state: 'online' as NodeStateName },
  { site: 'south', node: 'a', zone: 'z2', state: 'online' as NodeStateName },
  { site: 'south', node: 'c', zone: 'z2', state: 'offline' as NodeStateName },
];

function fakePorts(clock: ManualClock, o: { silent?: string[]; inFlight?: { now: number; max: number } } = {}) {
  const nodes = NODES.map((n) => ({ ...n }));
  const births = new Map<string, () => void>();
  const flight = o.inFlight ?? { now: 0, max: 0 };
  const answer = <T>(site: string, node: string, value: T, timeoutMs: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      flight.now++;
      flight.max = Math.max(flight.max, flight.now);
      const done = () => flight.now--;
      if (o.silent?.includes(`${site}/${node}`)) {
        clock.setTimeout(() => {
          done();
          reject(new FieldmeshError('FM_NODE_TIMEOUT', `node ${site}/${node} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        return;
      }
      queueMicrotask(() => {
        done();
        resolve(value);
      });
    });
  const ports: CommandPorts = {
    nodes: () => nodes,
    state: (site, node) => nodes.find((n) => n.site === site && n.node === node)?.state,
    ping: (site, node, timeoutMs) => answer(site, node, { rttMs: 3, epoch: 1 }, timeoutMs),
    rebirth: async () => {},
    query: (site, node, _r, timeoutMs) => answer(site, node, { status: 'success' }, timeoutMs),
    zoneCommand: async (site, node, c) => {
      if (c.zone !== 'z1' || site !== 'north')
        throw new FieldmeshError('FM_NODE_QUERY_FAILED', `node ${site}/${node}: FM_NOT_FOUND: takes no part`, {
          details: { nodeCode: 'FM_NOT_FOUND', nodeMessage: `node ${site}/${node} takes no part in zone "${c.zone}"` },
        });
      return { epoch: 4 };
    },
    command: (site, node, name, args, _by, timeoutMs) => answer(site, node, { name, args }, timeoutMs),
    waitOnline: (site, node, ms, signal) =>
      new Promise<boolean>((resolve) => {
        const timer = clock.setTimeout(() => resolve(false), ms);
        signal.addEventListener('abort', () => resolve(false), { once: true });
        births.set(`${site}/${node}`, () => {
          clock.clearTimeout(timer);
          resolve(true);
        });
      }),
  };
  const comeBack = (site: string, node: string) => {
    const n = nodes.find((x) => x.site === site && x.node === node);
    if (n) n.state = 'online';
    births.get(`${site}/${node}`)?.();
  };
  return { ports, comeBack, flight, births };
}

/** Lets promise chains settle (fake answers resolve in microtasks). */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

test('command targets: node:ID must be unique, node:SITE/ID, site:, zone:, all, globs and selectors; unknown names are 404', () => {
  const names = (t: unknown) => resolveTargets(NODES, t as string).map((n) => `${n.site}/${n.node}`);
  assert.deepEqual(names('node:b'), ['north/b']);
  assert.throws(() => names('node:a'), /node "a" is in sites north, south; say node:SITE\/a/);
  assert.deepEqual(names('node:south/a'), ['south/a']);
  assert.deepEqual(names('site:south'), ['south/a', 'south/c']);
  assert.deepEqual(names('zone:z1'), ['north/a', 'north/b']);
  assert.deepEqual(names('all'), ['north/a', 'north/b', 'south/a', 'south/c']);
  assert.deepEqual(names('*/a'), ['north/a', 'south/a']);
  assert.deepEqual(
    resolveTargets(NODES, { sites: ['south'], states: ['online'] }).map((n) => n.node),
    ['a'],
  );
  assert.throws(
    () => names('node:zz'),
    (e: unknown) => e instanceof FieldmeshError && e.code === 'FM_NOT_FOUND',
  );
  assert.throws(() => names('site:zz'), /names no node/);
  assert.throws(() => parseCommandRequest({ target: 'nodes', command: 'ping' }), /expected node:ID, node:SITE\/ID, site:ID, zone:ID, all/);
});

test('command requests: arguments per command with defaults; wait as a duration; unknown fields refused', () => {
  const q = parseCommandRequest({ target: 'all', command: 'query', args: { query: 'up', range: '2h' } });
  assert.deepEqual(q.args, { query: 'up', range: '7200000', step: '60000' });
  assert.equal(q.timeoutMs, 10_000);
  assert.equal(parseCommandRequest({ target: 'all', command: 'ping', wait: '10m' }).waitMs, 600_000);
  assert.throws(() => parseCommandRequest({ target: 'all', command: 'ping', wait: 'soon' }), /field "wait"/);
  assert.throws(() => parseCommandRequest({ target: 'all', command: 'get', args: { key: 'a//b' } }), /args.key": .*empty segment/);
  assert.throws(() => parseCommandRequest({ target: 'all', command: 'pump-test', args: { zone: 'z1' } }), /args.pump" is missing/);
  assert.throws(() => parseCommandRequest({ target: 'all', command: 'ping', force: true }), /field "force" is unknown/);
  assert.throws(() => parseCommandRequest({ target: 'all', command: 'set-log-level', args: { level: 'debug', for: '3d' } }), /args.for/);
});

test('command engine: one result per node; a silent node times out at its timeout, an offline one at once', async () => {
  const clock = new ManualClock(1_800_000_000_000);
  const { ports } = fakePorts(clock, { silent: ['north/b'] });
  const engine = new CommandEngine({ ports, clock });
  const view = engine.start(parseCommandRequest({ target: 'all', command: 'ping', timeoutMs: 5_000 }), 'ops');
  assert.deepEqual([view.counts.pending, view.counts.offline], [3, 1], 'an offline node has its result before the first view');
  await settle();
  let now = engine.get(view.id);
  assert.deepEqual(
    now?.results.map((r) => [r.site, r.node, r.status]),
    [
      ['north', 'a', 'ok'],
      ['north', 'b', 'pending'],
      ['south', 'a', 'ok'],
      ['south', 'c', 'offline'],
    ],
  );
  clock.advance(5_000);
  now = await engine.finished(view.id);
  assert.equal(now?.state, 'done');
  assert.deepEqual(now?.counts, { pending: 0, ok: 2, failed: 0, timeout: 1, offline: 1, skipped: 0 });
  const silent = now?.results[1];
  assert.deepEqual([silent?.status, silent?.ms, silent?.error?.code], ['timeout', 5_000, 'FM_NODE_TIMEOUT']);
  assert.deepEqual(
    engine.list().map((r) => r.id),
    [view.id],
  );
});

test('command engine: with a wait an offline node is asked once it is back; one that stays away is offline after the wait', async () => {
  const clock = new ManualClock(1_800_000_000_000);
  const { ports, comeBack } = fakePorts(clock);
  const engine = new CommandEngine({ ports, clock });
  const view = engine.start(parseCommandRequest({ target: 'site:south', command: 'ping', wait: '10m' }), null);
  await settle();
  assert.equal(engine.get(view.id)?.results[1]?.status, 'pending', 'waiting for south/c');
  clock.advance(60_000);
  comeBack('south', 'c');
  const done = await engine.finished(view.id);
  assert.deepEqual(
    done?.results.map((r) => [r.node, r.status]),
    [
      ['a', 'ok'],
      ['c', 'ok'],
    ],
  );
  const { ports: away } = fakePorts(clock);
  const engine2 = new CommandEngine({ ports: away, clock });
  const v2 = engine2.start(parseCommandRequest({ target: 'node:south/c', command: 'ping', wait: '1m' }), null);
  await settle();
  clock.advance(60_000);
  const d2 = await engine2.finished(v2.id);
  assert.equal(d2?.results[0]?.status, 'offline');
  assert.match(d2?.results[0]?.error?.message ?? '', /stayed offline for the 60 s waited/);
});

test('command engine: a pump test is skipped where the node has no part in the zone; node commands pass their arguments', async () => {
  const clock = new ManualClock(1_800_000_000_000);
  const { ports } = fakePorts(clock);
  const engine = new CommandEngine({ ports, clock });
  const pump = await engine.finished(
    engine.start(parseCommandRequest({ target: 'all', command: 'pump-test', args: { zone: 'z1', pump: 'p1' } }), 'ops').id,
  );
  assert.deepEqual(
    pump?.results.map((r) => [r.site, r.node, r.status]),
    [
      ['north', 'a', 'ok'],
      ['north', 'b', 'ok'],
      ['south', 'a', 'skipped'],
      ['south', 'c', 'offline'],
    ],
  );
  const svc = await engine.finished(
    engine.start(parseCommandRequest({ target: 'node:north/a', command: 'service', args: { action: 'restart', name: 'modbus' } }), 'ops')
      .id,
  );
  assert.deepEqual(svc?.results[0]?.result, { name: 'service', args: { action: 'restart', name: 'modbus' } });
});

test('command engine: at most `concurrency` nodes are asked at once; the rest wait for a free slot', async () => {
  const clock = new ManualClock(1_800_000_000_000);
  const inFlight = { now: 0, max: 0 };
  const { ports } = fakePorts(clock, { silent: ['north/a', 'north/b', 'south/a'], inFlight });
  const engine = new CommandEngine({ ports, clock, concurrency: 2 });
  const view = engine.start(parseCommandRequest({ target: 'all', command: 'ping', timeoutMs: 1_000 }), null);
  await settle();
  assert.equal(inFlight.max, 2);
  clock.advance(1_000);
  await settle();
  const done = await engine.finished(view.id);
  // The third silent node waited its whole timeout for a slot: it is timed out without being asked.
  assert.deepEqual(
    done?.results.map((r) => [r.node, r.status, r.error?.message.startsWith('not sent') ?? false]),
    [
      ['a', 'timeout', false],
      ['b', 'timeout', false],
      ['a', 'timeout', true],
      ['c', 'offline', false],
    ],
  );
});
