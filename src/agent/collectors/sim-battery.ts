// The `sim_battery` collector: a simulated Victron-style battery node (PV, load, generator with
// hysteresis, LiFePO4 pack) for the demo and benchmarks. Same physics and PRNG as
// workloads/bess-workload.mjs, so the same (seed, index) yields the same values.

import { z } from 'zod';
import { durationMs, hash32, SeededRandom } from '../../kit/index.js';
import type { Collector, Sample } from './collector.js';
import { collectorName, collectorNameSchema } from './collector-name.js';
import { type IntervalLoop, startIntervalLoop } from './interval-loop.js';

export const DEFAULT_SIM_SEED = 20241123;
/** SOC under which the `low_soc` event fires (percent). */
export const LOW_SOC_PERCENT = 20;

export const simBatteryCollectorSchema = z.strictObject({
  type: z.literal('sim_battery'),
  name: collectorNameSchema,
  interval: durationMs('2s'),
  seed: z.number().int().default(DEFAULT_SIM_SEED),
  /** Node index in the simulated fleet: picks this node's parameters and random stream. */
  index: z.number().int().min(0).default(0),
  /** Simulated seconds per real second. */
  speedup: z.number().positive().default(1),
});

export type SimBatteryCollectorConfig = z.output<typeof simBatteryCollectorSchema>;

export interface BatteryReading {
  readonly battery_soc: number;
  readonly dc_voltage: number;
  readonly dc_current: number;
  readonly ac_in_l1_power: number;
  readonly ac_out_l1_power: number;
}

const round = (x: number, step: number) => Math.round(x / step) * step;
const fix = (x: number, digits: number) => Number(x.toFixed(digits));

/** Open-circuit voltage of a 16s LiFePO4 pack (flat curve, steep ends). */
function ocv(soc: number): number {
  const s = Math.min(100, Math.max(0, soc)) / 100;
  return 16 * (3.0 + 0.25 * Math.tanh(12 * s) + 0.08 * s + 0.12 * s ** 12);
}

/** One simulated battery system; `step()` advances one tick and returns quantised readings. */
export class BatterySim {
  readonly systemId: string;
  readonly capacityAh: number;
  private readonly rng: SeededRandom;
  private readonly rInt: number;
  private readonly pvPeakW: number;
  private readonly baseLoadW: number;
  private tick = 0;
  private soc: number;
  private cloud = 1.0;
  private applianceW = 0;
  private current = 0;
  generatorOn: boolean;

  constructor(
    seed: number,
    index: number,
    private readonly intervalS = 2,
    private readonly startHour = 10.0,
  ) {
    this.rng = new SeededRandom(hash32(seed, index));
    const r = this.rng;
    this.capacityAh = 200 + Math.floor(r.next() * 5) * 100;
    this.rInt = 0.004 + r.next() * 0.004;
    this.pvPeakW = 2500 + r.next() * 5000;
    this.baseLoadW = 400 + r.next() * 1600;
    this.systemId = `${hash32(seed ^ 0x5bd1e995, index)
      .toString(16)
      .padStart(8, '0')}a1b2`.slice(0, 12);
    this.soc = 35 + r.next() * 55;
    this.generatorOn = this.soc < 30;
  }

  private hourOfDay(): number {
    return (this.startHour + (this.tick * this.intervalS) / 3600) % 24;
  }

  step(): BatteryReading {
    const r = this.rng;
    const dt = this.intervalS;
    const h = this.hourOfDay();
    this.cloud = Math.min(1, Math.max(0.15, this.cloud + r.gauss() * 0.02 * Math.sqrt(dt / 2)));
    const sun = h > 6 && h < 18 ? Math.sin(((h - 6) / 12) * Math.PI) ** 1.5 : 0;
    const pvW = this.pvPeakW * sun * this.cloud;
    if (r.next() < dt / 600) this.applianceW = this.applianceW > 0 ? 0 : 300 + r.next() * 1700;
    const swing = 0.35 * this.baseLoadW * Math.sin(((h - 14) / 24) * 2 * Math.PI);
    const loadW = Math.max(50, this.baseLoadW + swing + this.applianceW + r.gauss() * 0.02 * this.baseLoadW);
    if (!this.generatorOn && this.soc < 30) this.generatorOn = true;
    if (this.generatorOn && this.soc > 80) this.generatorOn = false;
    const acInW = this.generatorOn ? 3000 + r.gauss() * 40 : 0;
    const v0 = ocv(this.soc) + this.current * this.rInt;
    const netW = pvW + acInW * 0.95 - loadW / 0.93;
    const trueI = netW / v0;
    this.current = trueI;
    this.soc = Math.min(100, Math.max(0, this.soc + ((trueI * dt) / (this.capacityAh * 3600)) * 100));
    const voltage = ocv(this.soc) + trueI * this.rInt + r.gauss() * 0.01;
    const measuredI = trueI + r.gauss() * 0.5;
    this.tick += 1;
    return {
      battery_soc: fix(round(this.soc, 0.1), 1),
      dc_voltage: fix(round(voltage, 0.01), 2),
      dc_current: fix(round(measuredI, 0.1), 1),
      ac_in_l1_power: Math.round(acInW),
      ac_out_l1_power: Math.round(loadW),
    };
  }
}

const UNITS: Readonly<Record<keyof BatteryReading, string>> = {
  battery_soc: 'percent',
  dc_voltage: 'volts',
  dc_current: 'amperes',
  ac_in_l1_power: 'watts',
  ac_out_l1_power: 'watts',
};

export function createSimBatteryCollector(config: SimBatteryCollectorConfig, index: number): Collector {
  const name = collectorName('sim_battery', config.name, index);
  let loop: IntervalLoop | undefined;

  return {
    kind: 'sim_battery',
    name,
    async start(ctx) {
      const sim = new BatterySim(config.seed, config.index, (config.interval / 1000) * config.speedup);
      const labels = { system_id: sim.systemId, device: 'battery' };
      let lastSoc: number | undefined;
      loop = startIntervalLoop(ctx.clock, ctx.logger, config.interval, async () => {
        const generatorWasOn = sim.generatorOn;
        const reading = sim.step();
        const time = ctx.clock.now();
        const samples: Sample[] = (Object.keys(UNITS) as (keyof BatteryReading)[]).map((metric) => ({
          name: metric,
          labels,
          value: reading[metric],
          time,
          type: 'gauge',
          unit: UNITS[metric],
        }));
        await ctx.record(samples);
        const detail = { system_id: sim.systemId, battery_soc: reading.battery_soc };
        if (sim.generatorOn !== generatorWasOn) {
          const kind = sim.generatorOn ? 'generator_started' : 'generator_stopped';
          await ctx.emit({ kind, priority: 'normal', time, payload: { ...detail, ac_in_l1_power: reading.ac_in_l1_power } });
        }
        if (reading.battery_soc < LOW_SOC_PERCENT && (lastSoc === undefined || lastSoc >= LOW_SOC_PERCENT)) {
          await ctx.emit({ kind: 'low_soc', priority: 'high', time, payload: { ...detail, threshold: LOW_SOC_PERCENT } });
        }
        lastSoc = reading.battery_soc;
      });
    },
    async stop() {
      await loop?.stop();
      loop = undefined;
    },
  };
}
