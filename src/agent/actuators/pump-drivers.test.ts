// The pump drivers: the command driver through real child processes, the mqtt driver through the
// memory broker with a simulated relay, and the registry.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isFieldmeshError, ManualClock } from '../../kit/index.js';
import { zoneFileSchema } from '../../protocol/consensus/index.js';
import { createMemoryTransport, MemoryBroker, type Transport, type TransportMessage } from '../../transport/index.js';
import { parsePumpReading } from './command-pump-driver.js';
import { createPumpDriver } from './pump-driver.js';

const dir = mkdtempSync(join(tmpdir(), 'fm-pump-driver-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('command pump driver', () => {
  const state = join(dir, 'relay');
  const driver = createPumpDriver(
    {
      type: 'command',
      start: ['sh', '-c', `echo on > ${state}`],
      stop: ['sh', '-c', `echo off > ${state}`],
      read: ['cat', state],
      timeout: 5000,
    },
    { pump: 'pump-1' },
  );

  it('starts, stops and reads back through real processes', async () => {
    await driver.start();
    assert.equal(readFileSync(state, 'utf8'), 'on\n');
    assert.equal(await driver.read(), 'running');
    await driver.stop();
    assert.equal(readFileSync(state, 'utf8'), 'off\n');
    assert.equal(await driver.read(), 'stopped');
  });

  it('runs argv without a shell: metacharacters reach the program as they are', async () => {
    const out = join(dir, 'argv');
    const d = createPumpDriver(
      { type: 'command', start: ['sh', '-c', 'printf %s "$0" > "$1"', '$(id) ; *', out], stop: ['true'], timeout: 5000 },
      { pump: 'p' },
    );
    await d.start();
    assert.equal(readFileSync(out, 'utf8'), '$(id) ; *');
  });

  it('turns a non-zero exit into FM_PUMP_DRIVER_FAILED with its stderr', async () => {
    const d = createPumpDriver(
      { type: 'command', start: ['sh', '-c', 'echo "gpiochip0: Device or resource busy" >&2; exit 3'], stop: ['true'], timeout: 5000 },
      { pump: 'p' },
    );
    await assert.rejects(d.start(), (err) => {
      assert.ok(isFieldmeshError(err, 'FM_PUMP_DRIVER_FAILED'));
      assert.match(err.message, /start command exited with code 3: gpiochip0: Device or resource busy/);
      return true;
    });
  });

  it('kills a program that outlives its timeout and fails the operation', async () => {
    const d = createPumpDriver({ type: 'command', start: ['sleep', '30'], stop: ['true'], timeout: 200 }, { pump: 'p' });
    const t0 = performance.now();
    await assert.rejects(d.start(), /timed out after 200 ms/);
    assert.ok(performance.now() - t0 < 5000);
  });

  it('fails clearly when the program does not exist', async () => {
    const d = createPumpDriver({ type: 'command', start: [join(dir, 'no-such-relay')], stop: ['true'], timeout: 5000 }, { pump: 'p' });
    await assert.rejects(d.start(), /could not run \(ENOENT\)/);
  });

  it('reads unknown without a read command', async () => {
    const d = createPumpDriver({ type: 'command', start: ['true'], stop: ['true'], timeout: 5000 }, { pump: 'p' });
    assert.equal(await d.read(), 'unknown');
  });

  it('parses what relay tools print: gpioget v1 and v2, words', () => {
    assert.equal(parsePumpReading('1\n'), 'running');
    assert.equal(parsePumpReading('0\n'), 'stopped');
    assert.equal(parsePumpReading('"17"=active\n'), 'running');
    assert.equal(parsePumpReading('"GPIO17"=inactive\n'), 'stopped');
    assert.equal(parsePumpReading('ON'), 'running');
    assert.equal(parsePumpReading('garbage'), 'unknown');
    assert.equal(parsePumpReading(''), 'unknown');
  });
});

/** The transport's next `event`, as a promise. */
function next<E extends 'connected'>(t: Transport, event: E): Promise<Parameters<Parameters<Transport['on']>[1]>> {
  return new Promise((resolve) => {
    const listener = (...args: unknown[]): void => {
      t.off(event, listener as never);
      resolve(args as never);
    };
    t.on(event, listener as never);
  });
}

async function connected(broker: MemoryBroker, clientId: string): Promise<Transport> {
  const t = createMemoryTransport(broker, { clientId });
  const up = next(t, 'connected');
  t.start();
  await up;
  return t;
}

/** A relay on the broker: obeys gpio/pump/<id> and reports on <topic>/state (unless `mute`). */
async function startRelay(broker: MemoryBroker, topic: string, options: { mute?: boolean; stuck?: boolean } = {}) {
  const t = await connected(broker, 'relay');
  const received: string[] = [];
  await t.subscribe(topic, (m) => {
    const payload = new TextDecoder().decode(m.payload);
    received.push(payload);
    const state = options.stuck ? 'ON' : payload;
    if (!options.mute) void t.publish(`${topic}/state`, new TextEncoder().encode(state), { qos: 1 });
  }).ready;
  return { transport: t, received };
}

describe('mqtt pump driver', () => {
  const config = (extra: object = {}) => ({
    type: 'mqtt' as const,
    topic: 'gpio/pump/pump-1',
    stateTopic: 'gpio/pump/pump-1/state',
    on: 'ON',
    off: 'OFF',
    qos: 1 as const,
    retain: false,
    ...extra,
  });

  it("publishes ON and OFF to the seed's gpio/pump/<id> topic and reads the relay's state back", async () => {
    const broker = new MemoryBroker();
    const relay = await startRelay(broker, 'gpio/pump/pump-1');
    const transport = await connected(broker, 'node');
    const driver = createPumpDriver(config(), { pump: 'pump-1', transport });
    await driver.start();
    assert.equal(await driver.read(), 'running');
    await driver.stop();
    assert.equal(await driver.read(), 'stopped');
    assert.deepEqual(relay.received, ['ON', 'OFF']);
    await driver.close?.();
    await Promise.all([transport.close(), relay.transport.close()]);
  });

  it('reports what a stuck relay says, and unknown from a relay that never answers', async () => {
    const broker = new MemoryBroker();
    const relay = await startRelay(broker, 'gpio/pump/pump-1', { stuck: true });
    const transport = await connected(broker, 'node');
    const clock = new ManualClock();
    const driver = createPumpDriver(config(), { pump: 'pump-1', transport, clock, readTimeoutMs: 2000 });
    await driver.stop();
    assert.equal(await driver.read(), 'running', 'the relay says ON after OFF');
    await relay.transport.close();
    await driver.start();
    const reading = driver.read();
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(2000);
    assert.equal(await reading, 'unknown', 'no state after the last command');
    await driver.close?.();
    await transport.close();
  });

  it('uses the configured payloads and retain flag', async () => {
    const broker = new MemoryBroker();
    const transport = await connected(broker, 'node');
    const driver = createPumpDriver(config({ on: '1', off: '0', retain: true }), { pump: 'pump-1', transport, readTimeoutMs: 50 });
    await driver.start();
    const late = await connected(broker, 'late');
    const m = await new Promise<TransportMessage>((resolve) => late.subscribe('gpio/pump/pump-1', resolve));
    assert.equal(new TextDecoder().decode(m.payload), '1');
    assert.equal(m.retain, true);
    await driver.close?.();
    await Promise.all([transport.close(), late.close()]);
  });

  it('fails with FM_PUMP_DRIVER_FAILED when the link stays down past its wait', async () => {
    const broker = new MemoryBroker();
    const transport = await connected(broker, 'node');
    const clock = new ManualClock();
    const driver = createPumpDriver(config(), { pump: 'pump-1', transport, clock, linkTimeoutMs: 5000 });
    broker.stop();
    const start = driver.start();
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(5000);
    await assert.rejects(start, (err) => isFieldmeshError(err, 'FM_PUMP_DRIVER_FAILED'));
    await driver.close?.();
    await transport.close();
  });

  // Found by test/e2e/zones-mqtt.test.ts: a node opens its pumps as it starts, before its broker link is up;
  // the first stop (and a resumed run's start after kill -9) failed, so every boot faulted the pump and a
  // resumed run was dropped with its runtime, the relay left on with no limit.
  it('waits for the link to come up: a command given before the node is connected reaches the relay', async () => {
    const broker = new MemoryBroker();
    const relay = await startRelay(broker, 'gpio/pump/pump-1');
    const transport = createMemoryTransport(broker, { clientId: 'node' });
    const driver = createPumpDriver(config(), { pump: 'pump-1', transport, linkTimeoutMs: 5000 });
    const stop = driver.stop();
    transport.start();
    await stop;
    assert.equal(await driver.read(), 'stopped');
    await driver.start();
    assert.equal(await driver.read(), 'running');
    assert.deepEqual(relay.received, ['OFF', 'ON']);
    await driver.close?.();
    await Promise.all([transport.close(), relay.transport.close()]);
  });
});

describe('pump driver registry', () => {
  it('builds the driver a parsed zone configuration names', async () => {
    const { zones } = zoneFileSchema.parse({
      zones: [
        {
          id: 'z1',
          voters: ['n1', 'n2'],
          cameras: [
            { id: 'c1', node: 'n1' },
            { id: 'c2', node: 'n2' },
          ],
          pumps: [{ id: 'pump-1', node: 'n1', driver: { type: 'command', start: ['true'], stop: ['true'], read: ['echo', '1'] } }],
        },
      ],
    });
    const pump = zones[0]!.pumps[0]!;
    const driver = createPumpDriver(pump.driver, { pump: pump.id });
    assert.equal(await driver.read(), 'running');
    const sim = createPumpDriver({ type: 'sim' }, { pump: 'p' });
    await sim.start();
    assert.equal(await sim.read(), 'running');
  });
});
