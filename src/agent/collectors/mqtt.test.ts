// Tests of the mqtt collector against an Aedes broker in-process on a free port.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import { createMqttCollector, decodeMqttMessage, mqttCollectorSchema, mqttTopicSchema, topicMatches } from './mqtt.js';
import { createTestContext } from './test-context.js';

let broker: Aedes;
let server: Server;
let url: string;
let publisher: MqttClient;

before(async () => {
  broker = await Aedes.createBroker();
  server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  url = `mqtt://127.0.0.1:${address.port}`;
  publisher = await connectAsync(url, { clientId: 'test-publisher' });
});

after(async () => {
  await publisher.endAsync(true);
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('mqtt collector: seed 000 detector topics become critical events and confidence samples', async () => {
  const config = mqttCollectorSchema.parse({
    type: 'mqtt',
    url,
    topics: [
      { topic: 'frigate/+/fire', as: 'event', kind: 'fire_detected', priority: 'critical', labels_from_topic: { camera: 1 } },
      {
        topic: 'frigate/+/fire',
        as: 'metric',
        metric: 'fire_confidence_ratio',
        value_path: 'after.score',
        labels_from_topic: { camera: 1 },
      },
      { topic: 'sensors/#', metric: 'sensor_value', labels_from_topic: { sensor: 1 } },
    ],
  });
  const collector = createMqttCollector(config, 0);
  const ctx = createTestContext();
  const subscribed = waitForSubscription('frigate/+/fire');
  await collector.start(ctx);
  await subscribed;
  await publisher.publishAsync('frigate/cam2/fire', JSON.stringify({ after: { score: 0.91, box: [1, 2, 3, 4] } }), { qos: 1 });
  await publisher.publishAsync('sensors/t1', '21.5', { qos: 1 });
  await publisher.publishAsync('frigate/cam3/fire', 'not json', { qos: 1 });
  await publisher.publishAsync('other/topic', '1', { qos: 1 });
  await ctx.waitFor(() => ctx.samples.length >= 2 && ctx.events.length >= 2 && ctx.rejections.length >= 1, 5_000, 'messages');
  await collector.stop();
  assert.deepEqual(
    ctx.samples.map((s) => [s.name, s.labels, s.value]),
    [
      ['fire_confidence_ratio', { camera: 'cam2' }, 0.91],
      ['sensor_value', { sensor: 't1' }, 21.5],
    ],
  );
  assert.equal(ctx.events[0]?.kind, 'fire_detected');
  assert.equal(ctx.events[0]?.priority, 'critical');
  assert.deepEqual(ctx.events[0]?.payload, {
    topic: 'frigate/cam2/fire',
    labels: { camera: 'cam2' },
    message: { after: { score: 0.91, box: [1, 2, 3, 4] } },
  });
  assert.deepEqual(ctx.events[1]?.payload, { topic: 'frigate/cam3/fire', labels: { camera: 'cam3' }, message: 'not json' });
  assert.deepEqual(ctx.rejections, ['decode-failed']);
  assert.ok(ctx.logs.some((l) => l.level === 'debug' && /could not be used/.test(l.msg ?? '')));
});

async function waitForSubscription(filter: string): Promise<void> {
  // Aedes announces every subscription; the collector subscribes on connect.
  await new Promise<void>((resolve) => {
    const onSub = (subs: { topic: string }[]) => {
      if (subs.some((s) => s.topic === filter)) {
        broker.off('subscribe', onSub);
        resolve();
      }
    };
    broker.on('subscribe', onSub);
  });
}

test('mqtt collector: stop closes the client while the broker is unreachable', async () => {
  const collector = createMqttCollector(
    mqttCollectorSchema.parse({ type: 'mqtt', url: 'mqtt://127.0.0.1:1', topics: [{ topic: 'x', metric: 'x' }] }),
    1,
  );
  const ctx = createTestContext();
  await collector.start(ctx);
  await ctx.waitFor(() => ctx.logs.some((l) => l.level === 'warn'), 5_000, 'connection warning');
  await collector.stop();
  assert.match(ctx.logs.find((l) => l.level === 'warn')?.msg ?? '', /MQTT connection problem/);
});

test('mqtt collector: payload decoding rules', () => {
  const metric = mqttTopicSchema.parse({ topic: 'a/+', metric: 'm', value_path: 'x.y' });
  const buf = (s: string) => Buffer.from(s);
  assert.equal((decodeMqttMessage(metric, 'a/b', buf('{"x":{"y":"0.5"}}'), 1) as { sample: { value: number } }).sample.value, 0.5);
  assert.equal((decodeMqttMessage(metric, 'a/b', buf('{"x":{"y":true}}'), 1) as { sample: { value: number } }).sample.value, 1);
  assert.equal((decodeMqttMessage(metric, 'a/b', buf(' 42 '), 1) as { sample: { value: number } }).sample.value, 42);
  assert.match((decodeMqttMessage(metric, 'a/b', buf('{"x":{}}'), 1) as { error: string }).error, /payload\.x\.y is not a number/);
  assert.ok('error' in decodeMqttMessage(metric, 'a/b', buf('ON'), 1));
  assert.ok('error' in decodeMqttMessage(metric, 'a/b', Buffer.from([0xff, 0x00]), 1));
  assert.equal(mqttTopicSchema.safeParse({ topic: 'a/#/b', metric: 'm' }).success, false);
  assert.equal(mqttTopicSchema.safeParse({ topic: 'a', as: 'metric' }).success, false);
});

test('mqtt collector: topic filter matching', () => {
  assert.ok(topicMatches('frigate/+/fire', 'frigate/cam1/fire'));
  assert.ok(!topicMatches('frigate/+/fire', 'frigate/cam1/smoke'));
  assert.ok(topicMatches('frigate/fire/#', 'frigate/fire'));
  assert.ok(topicMatches('frigate/fire/#', 'frigate/fire/a/b'));
  assert.ok(!topicMatches('frigate/+', 'frigate/a/b'));
  assert.ok(!topicMatches('#', '$SYS/x'));
});
