// Tests of the simulated battery: equal to the shared workload module, tick for tick, and its events.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../kit/index.js';
import { BatterySim, createSimBatteryCollector, simBatteryCollectorSchema } from './sim-battery.js';
import { createTestContext } from './test-context.js';

interface SharedNodeSim {
  systemId: string;
  step(): Record<string, number>;
}
type SharedModule = { NodeSim: new (seed: number, index: number, opts?: { intervalS?: number }) => SharedNodeSim };
const WORKLOAD = new URL('../../../../shared/workloads/bess-workload.mjs', import.meta.url).href;
const shared = (await import(WORKLOAD)) as SharedModule;

test('sim_battery: the first 1,000 ticks equal workloads/bess-workload.mjs exactly for several nodes', () => {
  for (const [seed, index] of [
    [20241123, 0],
    [20241123, 7],
    [42, 49],
  ] as const) {
    const theirs = new shared.NodeSim(seed, index);
    const ours = new BatterySim(seed, index);
    assert.equal(ours.systemId, theirs.systemId);
    for (let k = 0; k < 1000; k++) assert.deepEqual({ ...ours.step() }, theirs.step(), `seed ${seed} node ${index} tick ${k}`);
  }
});

test('sim_battery: records the five metrics with units and labels each interval on the clock', async () => {
  const clock = new ManualClock();
  const ctx = createTestContext({ clock });
  const collector = createSimBatteryCollector(simBatteryCollectorSchema.parse({ type: 'sim_battery', index: 3 }), 0);
  await collector.start(ctx);
  const expected = new shared.NodeSim(20241123, 3);
  for (let k = 0; k < 3; k++) {
    clock.advance(k === 0 ? 0 : 2_000);
    await ctx.waitFor(() => ctx.samples.length === (k + 1) * 5, 2_000, `tick ${k}`);
    const values = Object.fromEntries(ctx.samples.slice(k * 5).map((s) => [s.name, s.value]));
    assert.deepEqual(values, expected.step());
  }
  await collector.stop();
  clock.advance(10_000);
  assert.equal(ctx.samples.length, 15, 'no tick after stop');
  const soc = ctx.samples.find((s) => s.name === 'battery_soc');
  assert.deepEqual(soc?.labels, { system_id: expected.systemId, device: 'battery' });
  assert.equal(soc?.unit, 'percent');
  assert.equal(ctx.samples.find((s) => s.name === 'dc_voltage')?.unit, 'volts');
  assert.equal(ctx.samples.find((s) => s.name === 'dc_current')?.unit, 'amperes');
  assert.equal(ctx.samples.find((s) => s.name === 'ac_in_l1_power')?.unit, 'watts');
  assert.equal(collector.name, 'sim_battery-0');
});

test('sim_battery: generator and low SOC events follow the simulated state', async () => {
  // Find a node that discharges through 30 % within a simulated day, so the generator starts.
  const clock = new ManualClock();
  const ctx = createTestContext({ clock });
  let index = 0;
  for (; index < 200; index++) {
    const sim = new BatterySim(20241123, index, 60);
    let started = false;
    for (let k = 0; k < 1440 && !started; k++) {
      sim.step();
      started = sim.generatorOn;
    }
    if (started) break;
  }
  assert.ok(index < 200, 'some node starts its generator');
  const collector = createSimBatteryCollector(
    simBatteryCollectorSchema.parse({ type: 'sim_battery', index, interval: '1s', speedup: 60 }),
    0,
  );
  await collector.start(ctx);
  for (let k = 0; k < 1440 && !ctx.events.some((e) => e.kind === 'generator_started'); k++) {
    const before = ctx.samples.length;
    clock.advance(k === 0 ? 0 : 1_000);
    await ctx.waitFor(() => ctx.samples.length > before, 2_000, `tick ${k}`);
  }
  await collector.stop();
  const started = ctx.events.find((e) => e.kind === 'generator_started');
  assert.ok(started, 'generator_started emitted');
  assert.equal(started.priority, 'normal');
  const lowSoc = ctx.events.filter((e) => e.kind === 'low_soc');
  const socs = ctx.samples.filter((s) => s.name === 'battery_soc').map((s) => s.value);
  const crossings = socs.filter((v, i) => v < 20 && (i === 0 || (socs[i - 1] as number) >= 20)).length;
  assert.equal(lowSoc.length, crossings);
  for (const e of lowSoc) assert.equal(e.priority, 'high');
});
