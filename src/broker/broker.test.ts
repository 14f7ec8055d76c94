// Tests of the embedded broker with real mqtt.js clients: auth, topic ACLs, wills, WebSocket,
// byte counts, port fallback and the refusal of an open non-loopback listener.

import assert from 'node:assert/strict';
import { type EventEmitter, once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { isFieldmeshError, type Logger, loadConfig } from '../kit/index.js';
import { createBroker, type StartedBroker } from './broker.js';
import { brokerConfigSchema, hashPassword, verifyPassword } from './broker-config.js';

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger & { warnings: string[] } = {
    warnings,
    debug() {},
    info() {},
    warn(_obj, msg) {
      warnings.push(msg ?? '');
    },
    error() {},
    child: () => logger,
  };
  return logger;
}

/** mqtt.js's typed emitter is a Node EventEmitter at runtime. */
function emitter(c: MqttClient): EventEmitter {
  return c as unknown as EventEmitter;
}

/** Connects and resolves on CONNACK, rejects with the client's error when refused. */
async function client(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const c = connect(url, { reconnectPeriod: 0, protocolVersion: 4, connectTimeout: 5000, ...options });
  const result = await Promise.race([
    once(emitter(c), 'connect').then(() => 'ok' as const),
    once(emitter(c), 'error').then(([err]) => err as Error),
  ]);
  if (result !== 'ok') {
    c.end(true);
    throw result;
  }
  return c;
}

function messages(c: MqttClient): { topic: string; payload: string }[] {
  const got: { topic: string; payload: string }[] = [];
  c.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
  return got;
}

async function nextMessage(got: { topic: string }[], topic: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!got.some((m) => m.topic === topic)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for a message on ${topic}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const NODE_PASSWORD = 'n1-secret';

describe('broker with users and ACLs', () => {
  const broker = createBroker(
    brokerConfigSchema.parse({
      listen: { port: 0 },
      websocket: { port: 0 },
      users: [
        { username: 'hub', password: 'hub-secret', role: 'hub' },
        { username: 'n1', passwordHash: hashPassword(NODE_PASSWORD), role: 'node', site: 's1', node: 'n1' },
        { username: 'n2', password: 'n2-secret', role: 'node', site: 's1', node: 'n2' },
      ],
      aggregators: ['s1/n2'],
    }),
  );
  let started: StartedBroker;
  const clients: MqttClient[] = [];
  const open = async (options: IClientOptions, url?: string) => {
    const c = await client(url ?? started.mqttUrl, options);
    clients.push(c);
    return c;
  };
  const hubUser = { username: 'hub', password: 'hub-secret' };
  const nodeUser = { username: 'n1', password: NODE_PASSWORD };

  before(async () => {
    started = await broker.start();
  });
  after(async () => {
    for (const c of clients) c.end(true);
    await broker.stop();
  });

  test('broker refuses anonymous clients and wrong passwords when users are configured', async () => {
    const before = broker.stats().rejectedAuth;
    await assert.rejects(client(started.mqttUrl, { clientId: 'anon' }), /Not authorized/i);
    await assert.rejects(client(started.mqttUrl, { clientId: 'bad', username: 'n1', password: 'wrong' }), /Bad username or password/i);
    await assert.rejects(client(started.mqttUrl, { clientId: 'ghost', username: 'ghost', password: 'x' }), /Bad username or password/i);
    assert.equal(broker.stats().rejectedAuth - before, 3);
  });

  test('broker lets a node of `aggregators` read every awareness frame and write the digests; another node neither [FM-AWARE-5]', async () => {
    const hub = await open({ clientId: 'hub-agg', ...hubUser });
    const got = messages(hub);
    await hub.subscribeAsync('fieldmesh/_hub/#', { qos: 1 });
    const n2 = await open({ clientId: 'n2-agg', username: 'n2', password: 'n2-secret' });
    const heard = messages(n2);
    await n2.subscribeAsync('fieldmesh/+/+/aware', { qos: 0 });
    const n1 = await open({ clientId: 'n1-agg', ...nodeUser });
    await assert.rejects(n1.subscribeAsync('fieldmesh/+/+/aware', { qos: 0 }), 'n1 is no aggregator: the subscription is refused');
    await n1.publishAsync('fieldmesh/s1/n1/aware', 'pulse', { qos: 1 });
    await nextMessage(heard, 'fieldmesh/s1/n1/aware');
    await n2.publishAsync('fieldmesh/_hub/aware/z1', 'digest', { qos: 1 });
    await nextMessage(got, 'fieldmesh/_hub/aware/z1');
    const n1Again = await open({ clientId: 'n1-agg-2', ...nodeUser });
    const closed = once(emitter(n1Again), 'close');
    n1Again.publish('fieldmesh/_hub/aware/z1', 'forged digest', { qos: 0 });
    await closed;
    await hub.publishAsync('fieldmesh/_hub/state', 'marker-agg', { qos: 1 });
    await nextMessage(got, 'fieldmesh/_hub/state');
    assert.deepEqual(
      got.filter((m) => m.topic === 'fieldmesh/_hub/aware/z1').map((m) => m.payload),
      ['digest'],
      "only the aggregator's digest arrived",
    );
  });

  test('broker delivers a node publish under its own prefix', async () => {
    const hub = await open({ clientId: 'hub-own', ...hubUser });
    const got = messages(hub);
    await hub.subscribeAsync('fieldmesh/#', { qos: 1 });
    const n1 = await open({ clientId: 'n1-own', ...nodeUser });
    await n1.publishAsync('fieldmesh/s1/n1/data', 'mine', { qos: 1 });
    await nextMessage(got, 'fieldmesh/s1/n1/data');
    assert.equal(got.find((m) => m.topic === 'fieldmesh/s1/n1/data')?.payload, 'mine');
  });

  test('broker drops a node that publishes under another node and the message never arrives', async () => {
    const hub = await open({ clientId: 'hub-spoof', ...hubUser });
    const got = messages(hub);
    await hub.subscribeAsync('fieldmesh/#', { qos: 1 });
    const n1 = await open({ clientId: 'n1-spoof', ...nodeUser });
    const rejectedBefore = broker.stats().rejectedPublish;
    const closed = once(emitter(n1), 'close');
    n1.publish('fieldmesh/s1/n2/data', 'spoofed', { qos: 0 });
    await closed;
    assert.equal(broker.stats().rejectedPublish - rejectedBefore, 1);
    // A marker published after the refusal proves the subscriber has seen everything before it.
    await hub.publishAsync('fieldmesh/_hub/state', 'marker', { qos: 1 });
    await nextMessage(got, 'fieldmesh/_hub/state');
    assert.equal(
      got.some((m) => m.topic === 'fieldmesh/s1/n2/data'),
      false,
    );
  });

  test("broker grants a node its own commands, the hub topics and its site's zone frames, and refuses another node's data", async () => {
    const n1 = await open({ clientId: 'n1-subs', ...nodeUser });
    const filters = {
      'fieldmesh/s1/n1/cmd/#': { qos: 1 as const },
      'fieldmesh/_hub/#': { qos: 1 as const },
      'fieldmesh/+/+/data': { qos: 0 as const },
      'fieldmesh/s2/n9/birth': { qos: 0 as const },
      'fieldmesh/s1/n2/cmd/#': { qos: 1 as const },
      'fieldmesh/#': { qos: 1 as const },
      'fieldmesh/+/+/event': { qos: 1 as const },
    };
    // mqtt.js reports any refused filter as an error that carries the SUBACK codes, in order.
    const codes = await new Promise<number[]>((resolve) => {
      n1.subscribe(filters, (err, granted) => {
        const fromError = (err as { packet?: { granted?: number[] } } | null)?.packet?.granted;
        resolve(fromError ?? (granted ?? []).map((g) => g.qos));
      });
    });
    const granted = Object.keys(filters).map((topic, i) => ({ topic, qos: codes[i] }));
    const byTopic = Object.fromEntries(granted.map((g) => [g.topic, g.qos]));
    assert.deepEqual(byTopic, {
      'fieldmesh/s1/n1/cmd/#': 1,
      'fieldmesh/_hub/#': 1,
      'fieldmesh/+/+/data': 128,
      'fieldmesh/s2/n9/birth': 128,
      'fieldmesh/s1/n2/cmd/#': 128,
      'fieldmesh/#': 128,
      'fieldmesh/+/+/event': 128,
    });
  });

  test('broker checks a node will against the ACL: a spoofed will is dropped, its own is published', async () => {
    const hub = await open({ clientId: 'hub-will', ...hubUser });
    const got = messages(hub);
    await hub.subscribeAsync('fieldmesh/+/+/death', { qos: 1 });
    const spoof = await open({
      clientId: 'n1-will-a',
      ...nodeUser,
      will: { topic: 'fieldmesh/s1/n2/death', payload: Buffer.from('x'), qos: 1, retain: false },
    });
    spoof.stream.destroy();
    const own = await open({
      clientId: 'n1-will-b',
      ...nodeUser,
      will: { topic: 'fieldmesh/s1/n1/death', payload: Buffer.from('lost'), qos: 1, retain: false },
    });
    own.stream.destroy();
    await nextMessage(got, 'fieldmesh/s1/n1/death');
    assert.equal(
      got.some((m) => m.topic === 'fieldmesh/s1/n2/death'),
      false,
    );
  });

  test('broker serves MQTT over WebSocket and counts bytes per client', async () => {
    assert.ok(started.wsUrl?.startsWith('ws://127.0.0.1:'));
    const hub = await open({ clientId: 'hub-ws', ...hubUser }, started.wsUrl);
    const got = messages(hub);
    await hub.subscribeAsync('fieldmesh/s1/n1/data', { qos: 1 });
    const n1 = await open({ clientId: 'n1-bytes', ...nodeUser });
    const payload = 'x'.repeat(2000);
    await n1.publishAsync('fieldmesh/s1/n1/data', payload, { qos: 1 });
    await nextMessage(got, 'fieldmesh/s1/n1/data');
    const stats = broker.stats();
    const n1Bytes = stats.perClientBytesIn.get('n1-bytes') ?? 0;
    assert.ok(n1Bytes >= 2000 + 'fieldmesh/s1/n1/data'.length, `n1 sent ${n1Bytes} bytes`);
    assert.ok((stats.perClientBytesIn.get('hub-ws') ?? 0) > 0, 'WebSocket client bytes are counted');
    assert.ok(stats.bytesOut >= 2000, `broker wrote ${stats.bytesOut} bytes`);
    assert.ok(stats.messagesIn >= 1);
    assert.ok(stats.clients >= 2);
  });
});

describe('broker listeners', () => {
  test('broker falls back to a free port and says which one when the configured port is taken', async () => {
    const holder = createServer();
    holder.listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const taken = (holder.address() as { port: number }).port;
    const logger = recordingLogger();
    const broker = createBroker(brokerConfigSchema.parse({ listen: { port: taken }, websocket: { enabled: false } }), { logger });
    try {
      const started = await broker.start();
      assert.notEqual(started.port, taken);
      assert.equal(started.mqttUrl, `mqtt://127.0.0.1:${started.port}`);
      assert.ok(
        logger.warnings.some((w) => w.includes(String(taken)) && w.includes(String(started.port))),
        logger.warnings.join('\n'),
      );
      const c = await client(started.mqttUrl, { clientId: 'fallback' });
      c.end(true);
    } finally {
      await broker.stop();
      holder.close();
    }
  });

  test('broker refuses a taken port with FM_PORT_IN_USE when fallback is off', async () => {
    const holder = createServer();
    holder.listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const taken = (holder.address() as { port: number }).port;
    const broker = createBroker(brokerConfigSchema.parse({ listen: { port: taken }, websocket: { enabled: false } }));
    try {
      await assert.rejects(broker.start({ fallbackToFreePort: false }), (err) => isFieldmeshError(err, 'FM_PORT_IN_USE'));
    } finally {
      await broker.stop();
      holder.close();
    }
  });

  test('broker config refuses a non-loopback listener without users unless anonymous is explicit', () => {
    assert.throws(
      () => loadConfig(brokerConfigSchema, { text: 'listen:\n  host: 0.0.0.0\n', file: 'broker.yaml' }),
      (err) => isFieldmeshError(err, 'FM_CONFIG_INVALID') && /broker\.yaml: users: .*beyond loopback/.test(err.message),
    );
    const open = loadConfig(brokerConfigSchema, { text: 'listen:\n  host: 0.0.0.0\nallowAnonymous: true\n', file: 'broker.yaml' });
    assert.equal(open.allowAnonymous, true);
    const local = loadConfig(brokerConfigSchema, { file: 'broker.yaml' });
    assert.equal(local.allowAnonymous, true);
    assert.equal(local.listen.port, 18830);
    assert.equal(local.websocket.port, 18831);
    assert.equal(local.websocket.host, '127.0.0.1');
  });

  test('broker config requires node users to name their site and node', () => {
    assert.throws(
      () => loadConfig(brokerConfigSchema, { text: 'users:\n  - {username: n1, password: p, role: node}\n', file: 'broker.yaml' }),
      (err) => isFieldmeshError(err, 'FM_CONFIG_INVALID') && /users\[0\]\.site: a node user must be bound/.test(err.message),
    );
  });

  test('broker password hashes verify the right password only', async () => {
    const hash = hashPassword('correct horse');
    assert.match(hash, /^scrypt\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.equal(await verifyPassword('correct horse', hash), true);
    assert.equal(await verifyPassword('correct horse!', hash), false);
    assert.equal(await verifyPassword('x', 'plain'), false);
    assert.notEqual(hashPassword('correct horse'), hash, 'salted');
  });
});
