// Tests of the simulated fire-watch node: determinism, metrics, fire events and scheduled fires.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../kit/index.js';
import { collectorConfigSchema } from './registry.js';
import { createSimFireCameraCollector, FireCameraSim, simFireCameraCollectorSchema } from './sim-fire-camera.js';
import { createTestContext } from './test-context.js';

test('sim_fire_camera: the same seed and index give the same readings, another index differs', () => {
  const run = (index: number) => {
    const sim = new FireCameraSim(7, index, 4, 0.01);
    return Array.from({ length: 500 }, () => sim.step());
  };
  assert.deepEqual(run(1), run(1));
  assert.notDeepEqual(run(1), run(2));
});

test('sim_fire_camera: confidence stays near zero without episodes and camera_up is mostly 1', () => {
  const sim = new FireCameraSim(20241123, 0, 4, 0);
  let maxConfidence = 0;
  let up = 0;
  for (let k = 0; k < 2_000; k++) {
    for (const c of sim.step().cameras) {
      maxConfidence = Math.max(maxConfidence, c.confidence);
      up += c.up ? 1 : 0;
    }
  }
  assert.ok(maxConfidence < 0.2, `max ${maxConfidence}`);
  assert.ok(up / 8_000 > 0.9);
});

test('sim_fire_camera: an episode emits fire_detected (critical, with bbox) then fire_cleared', async () => {
  const clock = new ManualClock();
  const ctx = createTestContext({ clock });
  const collector = createSimFireCameraCollector(
    simFireCameraCollectorSchema.parse({ type: 'sim_fire_camera', cameras: 2, fire_probability: 0.05, seed: 1 }),
    0,
  );
  await collector.start(ctx);
  for (let k = 0; k < 600 && !ctx.events.some((e) => e.kind === 'fire_cleared'); k++) {
    const before = ctx.samples.length;
    clock.advance(k === 0 ? 0 : 1_000);
    await ctx.waitFor(() => ctx.samples.length > before, 2_000, `tick ${k}`);
  }
  await collector.stop();
  assert.equal(ctx.samples.length % 7, 0, 'temperature + 3 metrics x 2 cameras per tick');
  const detected = ctx.events.find((e) => e.kind === 'fire_detected');
  assert.ok(detected, 'fire_detected emitted');
  assert.equal(detected.priority, 'critical');
  const payload = detected.payload as { camera: string; confidence: number; bbox: { x: number; w: number } };
  assert.ok(payload.confidence >= 0.7);
  assert.ok(payload.bbox.w > 0 && payload.bbox.x >= 0 && payload.bbox.x + payload.bbox.w <= 1);
  const cleared = ctx.events.find((e) => e.kind === 'fire_cleared');
  assert.ok(cleared, 'fire_cleared emitted');
  assert.equal((cleared.payload as { camera: string }).camera, payload.camera);
  assert.ok(ctx.events.indexOf(detected) < ctx.events.indexOf(cleared));
  const series = ctx.samples.filter((s) => s.name === 'fire_confidence_ratio' && s.labels.camera === payload.camera).map((s) => s.value);
  assert.ok(Math.max(...series) >= 0.7);
  assert.ok(ctx.samples.some((s) => s.name === 'detector_temperature_celsius' && s.unit === 'celsius'));
  assert.deepEqual(new Set(ctx.samples.filter((s) => s.name === 'camera_up').map((s) => s.labels.camera)), new Set(['cam1', 'cam2']));
});

test('sim_fire_camera: a scheduled fire appears at its time on the cameras listed, as detections above 0.7; bad cameras are named', async () => {
  const clock = new ManualClock(Date.now());
  const ctx = createTestContext({ clock });
  const config = collectorConfigSchema.parse({
    type: 'sim_fire_camera',
    cameras: 3,
    fire_probability: 0,
    camera_prefix: 'n1-',
    fires: [{ at: '10s', cameras: ['cam1', 'cam3'], length: '20s', peak: 0.9 }],
  });
  assert.equal(config.type, 'sim_fire_camera');
  const collector = createSimFireCameraCollector(config as Parameters<typeof createSimFireCameraCollector>[0], 0);
  await collector.start(ctx);
  const detections = () =>
    ctx.events.filter((e) => e.kind === 'detection').map((e) => e.payload as { camera: string; confidence: number; time: number });
  for (let k = 0; k <= 40; k++) {
    const before = ctx.samples.length;
    clock.advance(k === 0 ? 0 : 1_000);
    await ctx.waitFor(() => ctx.samples.length > before, 2_000, `tick ${k}`);
  }
  await collector.stop();
  const seen = detections().filter((d) => d.confidence >= 0.7);
  assert.deepEqual(new Set(seen.map((d) => d.camera)), new Set(['n1-cam1', 'n1-cam3']), 'only the cameras listed see it');
  const first = Math.min(...seen.map((d) => d.time));
  assert.ok(first - ctx.samples[0]!.time >= 10_000 && first - ctx.samples[0]!.time <= 16_000, 'from its time, within the 5-tick ramp');
  const last = Math.max(...seen.map((d) => d.time));
  assert.ok(last - first >= 10_000 && last - first <= 21_000, `it lasts its length (${last - first} ms)`);

  const bad = collectorConfigSchema.safeParse({ type: 'sim_fire_camera', cameras: 2, fires: [{ at: '1m', cameras: ['cam3'] }] });
  assert.equal(bad.success, false);
  assert.deepEqual(
    bad.error?.issues.map((i) => [i.path.join('.'), i.message]),
    [['fires.0.cameras.0', '"cam3": this node has cam1 to cam2']],
  );
});
