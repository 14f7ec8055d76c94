// Detections from detector output: Frigate's events, the seed's score topics, pushed JSON and the
// simulated camera all give the same `detection` events; bad ones are refused with the field at fault.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { ManualClock } from '../../kit/index.js';
import type { Detection } from '../../protocol/consensus/types.js';
import { DETECTION_KIND, detectionOf, detectionOfFrigateEvent } from './detections.js';
import { createHttpPushCollector, httpPushCollectorSchema } from './http-push.js';
import { decodeMqttMessage, mqttTopicSchema } from './mqtt.js';
import { createSimFireCameraCollector, simFireCameraCollectorSchema } from './sim-fire-camera.js';
import { createTestContext } from './test-context.js';

const T0 = new ManualClock().now();

/** A Frigate `frigate/events` message (docs.frigate.video/integrations/mqtt) of a fire seen at T0 + 1.5 s. */
function frigateEvent(over: Record<string, unknown> = {}, type = 'update') {
  return {
    type,
    before: {},
    after: {
      id: 'frigate-object-mxklsc',
      camera: 'ridge-cam-2',
      frame_time: (T0 + 1_500) / 1000,
      label: 'fire',
      top_score: 0.93,
      score: 0.88,
      box: [424, 500, 536, 712],
      false_positive: false,
      start_time: T0 / 1000,
      ...over,
    },
  };
}

test('detections: a Frigate event becomes a detection at its frame time, its box as x, y, width, height', () => {
  assert.deepEqual(detectionOfFrigateEvent(frigateEvent(), 'edge-north-01', ['fire', 'smoke']), {
    id: `frigate:frigate-object-mxklsc:${T0 + 1_500}`,
    camera: 'ridge-cam-2',
    node: 'edge-north-01',
    class: 'fire',
    confidence: 0.88,
    time: T0 + 1_500,
    box: [424, 500, 112, 212],
  } satisfies Detection);
  const later = detectionOfFrigateEvent(frigateEvent({ frame_time: (T0 + 2_500) / 1000 }), 'n', []);
  assert.notEqual(
    later?.id,
    detectionOfFrigateEvent(frigateEvent(), 'n', [])?.id,
    'each observed frame of one object is its own detection',
  );
});

test('detections: a Frigate end, a false positive and a label the zone does not ask about are no detection', () => {
  assert.equal(detectionOfFrigateEvent(frigateEvent({}, 'end'), 'n', ['fire']), undefined);
  assert.equal(detectionOfFrigateEvent(frigateEvent({ false_positive: true }), 'n', ['fire']), undefined);
  assert.equal(detectionOfFrigateEvent(frigateEvent({ label: 'person' }), 'n', ['fire', 'smoke']), undefined);
  assert.throws(() => detectionOfFrigateEvent({ type: 'new' }, 'n', []), /^Error: after: expected the tracked object/);
  assert.throws(
    () => detectionOfFrigateEvent(frigateEvent({ score: 7, top_score: 7 }), 'n', []),
    /confidence: expected a number from 0 to 1/,
  );
});

test('detections: a payload is refused with the field at fault', () => {
  const ok = { camera: 'c1', class: 'smoke', confidence: 0.7 };
  assert.equal(detectionOf(ok, 'n1', T0).id, `n1:c1:${T0}`, 'an id from node, camera and time when none is given');
  for (const [payload, path] of [
    [{ ...ok, confidence: 1.01 }, 'confidence'],
    [{ ...ok, confidence: Number.NaN }, 'confidence'],
    [{ ...ok, camera: '' }, 'camera'],
    [{ ...ok, class: 3 }, 'class'],
    [{ ...ok, time: -1 }, 'time'],
    [{ ...ok, box: [1, 2, 3] }, 'box'],
    [{ ...ok, id: '' }, 'id'],
    ['fire', '(root)'],
  ] as const) {
    assert.throws(
      () => detectionOf(payload, 'n1', T0),
      (err: Error & { path?: string }) => err.path === path,
      `${JSON.stringify(payload)}`,
    );
  }
});

test('detections: the mqtt collector reads Frigate events and the seed score topics (camera from the topic)', () => {
  const frigate = mqttTopicSchema.parse({ topic: 'frigate/events', as: 'detection' });
  const got = decodeMqttMessage(frigate, 'frigate/events', Buffer.from(JSON.stringify(frigateEvent())), T0 + 9_000, 'edge-1');
  assert.ok('event' in got);
  assert.equal(got.event.kind, DETECTION_KIND);
  assert.equal(got.event.priority, 'critical');
  assert.equal((got.event.payload as Detection).time, T0 + 1_500, 'the frame time, not the receive time');
  assert.deepEqual(decodeMqttMessage(frigate, 'frigate/events', Buffer.from(JSON.stringify(frigateEvent({}, 'end'))), T0, 'edge-1'), {
    skip: true,
  });

  const seed = mqttTopicSchema.parse({ topic: 'frigate/+/fire', as: 'detection', format: 'score', labels_from_topic: { camera: 1 } });
  const scored = decodeMqttMessage(seed, 'frigate/cam2/fire', Buffer.from('{"score":0.91,"box":[1,2,3,4]}'), T0, 'edge-2');
  assert.ok('event' in scored);
  assert.deepEqual(scored.event.payload, {
    id: `edge-2:cam2:${T0}`,
    camera: 'cam2',
    node: 'edge-2',
    class: 'fire',
    confidence: 0.91,
    time: T0,
  });
  const bad = decodeMqttMessage(seed, 'frigate/cam2/fire', Buffer.from('{"score":"high"}'), T0, 'edge-2');
  assert.ok('error' in bad && /detection confidence: expected a number/.test(bad.error));
  assert.throws(
    () => mqttTopicSchema.parse({ topic: 'frigate/+/fire', as: 'detection', format: 'score' }),
    /format: score needs the camera/,
  );
});

test('detections: http_push takes detection events and refuses a bad one with its element and field', async () => {
  const http = Fastify();
  const ctx = createTestContext({ http, clock: new ManualClock(T0) });
  await createHttpPushCollector(httpPushCollectorSchema.parse({ type: 'http_push', token: 't' }), 0).start(ctx);
  const post = (body: unknown) =>
    http.inject({ method: 'POST', url: '/events', payload: JSON.stringify(body), headers: { authorization: 'Bearer t' } });
  const ok = await post({ kind: 'detection', camera: 'c1', class: 'fire', confidence: 0.8, box: [0.1, 0.2, 0.3, 0.4] });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual(ctx.events.at(-1)?.payload, {
    id: `test-node:c1:${T0}`,
    camera: 'c1',
    node: 'test-node',
    class: 'fire',
    confidence: 0.8,
    time: T0,
    box: [0.1, 0.2, 0.3, 0.4],
  });
  const bad = await post([{ kind: 'note' }, { kind: 'detection', camera: 'c1', class: 'fire', confidence: 2 }]);
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json().message, /^\[1\]\.confidence: expected a number from 0 to 1/);
  assert.equal(ctx.events.length, 1, 'nothing of the refused body was recorded');
});

test('detections: the simulated camera sends a detection every tick a live camera is at detect_min or more', async () => {
  const clock = new ManualClock();
  const ctx = createTestContext({ clock });
  const collector = createSimFireCameraCollector(
    simFireCameraCollectorSchema.parse({ type: 'sim_fire_camera', cameras: 2, fire_probability: 0.05, seed: 1, camera_prefix: 'n0-' }),
    0,
  );
  await collector.start(ctx);
  for (let k = 0; k < 600 && !ctx.events.some((e) => e.kind === 'fire_cleared'); k++) {
    const before = ctx.samples.length;
    clock.advance(k === 0 ? 0 : 1_000);
    await ctx.waitFor(() => ctx.samples.length > before, 2_000, `tick ${k}`);
  }
  await collector.stop();
  const detections = ctx.events.filter((e) => e.kind === DETECTION_KIND).map((e) => e.payload as Detection);
  assert.ok(detections.length > 0, 'an episode gives detections');
  for (const d of detections) {
    assert.ok(d.confidence >= 0.5);
    assert.match(d.camera, /^n0-cam[12]$/);
    assert.equal(d.node, 'test-node');
  }
  const confidences = ctx.samples.filter((s) => s.name === 'fire_confidence_ratio' && s.value >= 0.5).length;
  assert.ok(detections.length <= confidences, 'one detection per camera-tick at most');
  assert.equal(new Set(detections.map((d) => d.id)).size, detections.length, 'ids unique');
});
