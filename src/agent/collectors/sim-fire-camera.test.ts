// Tests of the simulated fire-watch node: determinism, metrics and fire events.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../kit/index.js';
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
