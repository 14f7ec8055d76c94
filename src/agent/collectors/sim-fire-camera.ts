// The `sim_fire_camera` collector: a simulated fire-watch node (seed 000: Pi 5 + Hailo, 4 cameras)
// with per-camera fps, liveness and fire confidence, occasional fire episodes, and detector
// temperature. Seeded: the same (seed, index) gives the same values.

import { z } from 'zod';
import { durationMs, hash32, SeededRandom } from '../../kit/index.js';
import type { AgentEvent, Collector, Sample } from './collector.js';
import { collectorName, collectorNameSchema } from './collector-name.js';
import { detectionEvent } from './detections.js';
import { type IntervalLoop, startIntervalLoop } from './interval-loop.js';
import { DEFAULT_SIM_SEED } from './sim-battery.js';

export const simFireCameraCollectorSchema = z
  .strictObject({
    type: z.literal('sim_fire_camera'),
    name: collectorNameSchema,
    cameras: z.number().int().min(1).max(64).default(4),
    interval: durationMs('1s'),
    seed: z.number().int().default(DEFAULT_SIM_SEED),
    index: z.number().int().min(0).default(0),
    /** Chance per tick that a fire episode starts on one of the node's cameras. */
    fire_probability: z.number().min(0).max(1).default(0.002),
    /** Confidence at which `fire_detected` fires; `fire_cleared` when it falls below again. */
    threshold: z.number().gt(0).lt(1).default(0.7),
    /**
     * Every tick a camera's confidence is at least this, it sends a `detection` event for the zones
     * (docs/consensus.md#detections); the zones' own policies decide what counts.
     */
    detect_min: z.number().gt(0).max(1).default(0.5),
    /** Put before the simulated camera ids (cam1, cam2, ...) in detections: zone camera ids are unique. */
    camera_prefix: z.string().default(''),
    /**
     * Fires that appear at a set time after the collector starts, seen by the cameras listed (the demo's
     * `--fire-at`): each camera ramps up to `peak` over 5 ticks and holds it (with noise) for `length`.
     */
    fires: z
      .array(
        z.strictObject({
          at: durationMs(),
          cameras: z.array(z.string().regex(/^cam[1-9][0-9]*$/, 'expected a camera of this node: cam1, cam2, ...')).min(1),
          length: durationMs('3m'),
          peak: z.number().gt(0).max(1).default(0.9),
        }),
      )
      .default([]),
  })
  .superRefine((config, ctx) => {
    for (const [i, fire] of config.fires.entries()) {
      for (const [j, camera] of fire.cameras.entries()) {
        if (Number(camera.slice(3)) > config.cameras)
          ctx.addIssue({
            code: 'custom',
            path: ['fires', i, 'cameras', j],
            message: `"${camera}": this node has cam1 to cam${config.cameras}`,
          });
      }
    }
  });

export type SimFireCameraCollectorConfig = z.output<typeof simFireCameraCollectorSchema>;

/** Chance per tick that a live camera drops out (about once in 3 h at 1 s ticks); outages last 30 to 300 ticks. */
const CAMERA_OUTAGE_PROBABILITY = 0.0001;
const RAMP_TICKS = 5;

export interface BoundingBox {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

interface Episode {
  readonly length: number;
  readonly peak: number;
  readonly bbox: BoundingBox;
  age: number;
}

interface CameraState {
  readonly id: string;
  readonly fpsBase: number;
  downTicks: number;
  episode: Episode | undefined;
  burning: boolean;
}

export interface CameraReading {
  readonly camera: string;
  readonly fps: number;
  readonly up: boolean;
  readonly confidence: number;
  readonly bbox: BoundingBox | undefined;
}

export interface FireNodeReading {
  readonly temperature: number;
  readonly cameras: readonly CameraReading[];
}

const fix = (x: number, digits: number) => Number(x.toFixed(digits));

/** One simulated fire-watch node; `step()` advances one tick. */
export class FireCameraSim {
  private readonly rng: SeededRandom;
  private readonly cams: CameraState[];
  private temperature: number;

  constructor(
    seed: number,
    index: number,
    cameras: number,
    private readonly fireProbability: number,
  ) {
    this.rng = new SeededRandom(hash32(seed ^ 0x0f12e000, index));
    this.cams = Array.from({ length: cameras }, (_, i) => ({
      id: `cam${i + 1}`,
      fpsBase: 14 + this.rng.next() * 2,
      downTicks: 0,
      episode: undefined,
      burning: false,
    }));
    this.temperature = 55 + this.rng.next() * 10;
  }

  /** A fire seen by these cameras from the next tick, ramping up to `peak` and lasting `ticks`. */
  ignite(cameras: readonly string[], ticks: number, peak: number): void {
    for (const c of this.cams) {
      if (!cameras.includes(c.id)) continue;
      c.downTicks = 0;
      c.episode = { length: Math.max(RAMP_TICKS * 2, ticks), peak, bbox: { x: 0.4, y: 0.35, w: 0.2, h: 0.15 }, age: 0 };
    }
  }

  step(): FireNodeReading {
    const r = this.rng;
    this.temperature = Math.min(85, Math.max(45, this.temperature + r.gauss() * 0.1 + (60 - this.temperature) * 0.01));
    if (r.next() < this.fireProbability) {
      const candidates = this.cams.filter((c) => c.episode === undefined && c.downTicks === 0);
      const cam = candidates[Math.floor(r.next() * candidates.length)];
      if (cam !== undefined) {
        const w = 0.05 + r.next() * 0.2;
        const h = 0.05 + r.next() * 0.2;
        cam.episode = {
          length: 20 + Math.floor(r.next() * 100),
          peak: 0.75 + r.next() * 0.23,
          bbox: { x: fix(r.next() * (1 - w), 3), y: fix(r.next() * (1 - h), 3), w: fix(w, 3), h: fix(h, 3) },
          age: 0,
        };
      }
    }
    const cameras = this.cams.map((c): CameraReading => {
      if (c.downTicks > 0) c.downTicks--;
      else if (r.next() < CAMERA_OUTAGE_PROBABILITY) c.downTicks = 30 + Math.floor(r.next() * 270);
      const noise = Math.abs(r.gauss()) * 0.02;
      const fps = fix(c.fpsBase + r.gauss() * 0.3, 1);
      if (c.downTicks > 0) return { camera: c.id, fps: 0, up: false, confidence: 0, bbox: undefined };
      let fire = 0;
      const e = c.episode;
      if (e !== undefined) {
        e.age++;
        const rampUp = Math.min(1, e.age / RAMP_TICKS);
        const rampDown = Math.min(1, Math.max(0, (e.length - e.age) / RAMP_TICKS));
        fire = e.peak * Math.min(rampUp, rampDown) + r.gauss() * 0.02;
        if (e.age >= e.length) c.episode = undefined;
      }
      const confidence = fix(Math.min(1, Math.max(0, Math.max(noise, fire))), 3);
      return { camera: c.id, fps, up: true, confidence, bbox: e?.bbox };
    });
    return { temperature: fix(this.temperature, 1), cameras };
  }
}

export function createSimFireCameraCollector(config: SimFireCameraCollectorConfig, index: number): Collector {
  const name = collectorName('sim_fire_camera', config.name, index);
  let loop: IntervalLoop | undefined;

  return {
    kind: 'sim_fire_camera',
    name,
    async start(ctx) {
      const sim = new FireCameraSim(config.seed, config.index, config.cameras, config.fire_probability);
      const burning = new Set<string>();
      const startedAt = ctx.clock.now();
      const scheduled = [...config.fires];
      loop = startIntervalLoop(ctx.clock, ctx.logger, config.interval, async () => {
        for (let i = scheduled.length - 1; i >= 0; i--) {
          const fire = scheduled[i] as (typeof scheduled)[number];
          if (ctx.clock.now() - startedAt < fire.at) continue;
          scheduled.splice(i, 1);
          sim.ignite(fire.cameras, Math.ceil(fire.length / config.interval), fire.peak);
          ctx.logger.info({ cameras: fire.cameras, peak: fire.peak }, 'simulated fire: the cameras see it from now');
        }
        const reading = sim.step();
        const time = ctx.clock.now();
        const samples: Sample[] = [
          { name: 'detector_temperature_celsius', labels: {}, value: reading.temperature, time, type: 'gauge', unit: 'celsius' },
        ];
        const events: AgentEvent[] = [];
        for (const c of reading.cameras) {
          const labels = { camera: c.camera };
          samples.push(
            { name: 'camera_fps', labels, value: c.fps, time, type: 'gauge' },
            { name: 'camera_up', labels, value: c.up ? 1 : 0, time, type: 'state' },
            { name: 'fire_confidence_ratio', labels, value: c.confidence, time, type: 'gauge', unit: 'ratio' },
          );
          if (c.up && c.confidence >= config.detect_min) {
            events.push(
              detectionEvent({
                id: `${ctx.identity.node}:${c.camera}:${time}`,
                camera: `${config.camera_prefix}${c.camera}`,
                node: ctx.identity.node,
                class: 'fire',
                confidence: c.confidence,
                time,
                ...(c.bbox === undefined ? {} : { box: [c.bbox.x, c.bbox.y, c.bbox.w, c.bbox.h] as const }),
              }),
            );
          }
          if (c.confidence >= config.threshold && !burning.has(c.camera)) {
            burning.add(c.camera);
            events.push({
              kind: 'fire_detected',
              priority: 'critical',
              time,
              payload: { camera: c.camera, confidence: c.confidence, bbox: c.bbox ?? null },
            });
          } else if (c.confidence < config.threshold && burning.has(c.camera)) {
            burning.delete(c.camera);
            events.push({ kind: 'fire_cleared', priority: 'high', time, payload: { camera: c.camera, confidence: c.confidence } });
          }
        }
        await ctx.record(samples);
        for (const e of events) await ctx.emit(e);
      });
    },
    async stop() {
      await loop?.stop();
      loop = undefined;
    },
  };
}
