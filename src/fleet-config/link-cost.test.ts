// The link cost model against hand-computed cases: the change rate a deadband, a minimum interval and a
// maximum silence give, the bytes of each frame as the MQTT packet that carries it, the durable plane's
// batching and the awareness plane's repeats; and a node config's simulated collector.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentConfigSchema } from '../agent/index.js';
import { estimateLinkCost, mqttPublishBytes, type SeriesProfile } from './index.js';

function config(extra: Record<string, unknown> = {}) {
  return agentConfigSchema.parse({
    node: { id: 'n', site: 's' },
    mqtt: { protocolVersion: 5, qos: 1 },
    outbox: { replicateSamples: false },
    publish: { tick: '2s', heartbeat: '10s' },
    critical: [{ match: 'x', maxSilence: '30s' }],
    ...extra,
  });
}

/** A series sampled every 2 s, stepping by `step` (decimals 0). */
function ramp(step: number, n = 30): SeriesProfile {
  return { name: 'x', labels: {}, intervalMs: 2_000, values: Array.from({ length: n }, (_, k) => k * step) };
}

test('link cost: an MQTT PUBLISH costs its header, topic or alias, packet id and properties', () => {
  // MQTT 5, alias known, QoS 1: fixed 1 + length 1 + topic length 2 + packet id 2 + properties 4 + payload.
  assert.equal(mqttPublishBytes(14, 'fieldmesh/bench/node001/data', 1, 5, true), 24);
  // MQTT 3.1.1 repeats the 28-byte topic every time (the wire bench's 48 bytes for 14 of payload).
  assert.equal(mqttPublishBytes(14, 'fieldmesh/bench/node001/data', 1, 4, true), 48);
  assert.equal(mqttPublishBytes(14, 'fieldmesh/bench/node001/data', 0, 5, false), 50);
  assert.equal(mqttPublishBytes(200, 't', 1, 5, true), 211); // remaining length takes two bytes past 127
});

test('link cost: every change sent, exact bytes for one series stepping each tick', () => {
  const cost = estimateLinkCost(config(), { series: [ramp(1)], windowMs: 60_000 });
  // Tick 0 is the birth (left out); ticks 1..29 each carry one entry: a 7-byte data frame (type, epoch,
  // seq, time delta 2000 ms in 2 bytes, entry header, delta +1) in a 17-byte PUBLISH, plus the topic
  // once (fieldmesh/s/n/data, 18 bytes) before its alias.
  assert.equal(cost.criticalSeries, 1);
  assert.equal(cost.series[0]?.sendsPerSecond, 29 / 60);
  assert.equal(cost.liveBps, Math.round(((29 * 17 + 18) / 60) * 10) / 10);
  assert.equal(cost.durableBps, 0);
  assert.equal(cost.awarenessBps, 0);
  assert.equal(cost.totalBps, cost.liveBps);
});

test('link cost: a deadband, a minimum interval and a maximum silence set the change rate', () => {
  const rate = (critical: Record<string, unknown>, step: number) =>
    estimateLinkCost(config({ critical: [{ match: 'x', maxSilence: '30s', ...critical }] }), {
      series: [ramp(step, 1_800)],
      windowMs: 3_600_000,
    }).series[0]?.sendsPerSecond ?? Number.NaN;
  const perTick = 0.5;
  assert.ok(Math.abs(rate({}, 1) - perTick) < 0.001);
  // A step of 1 against a deadband of 1.5: every second tick.
  assert.ok(Math.abs(rate({ deadband: 1.5 }, 1) - perTick / 2) < 0.001);
  // At most every 10 s however much it moves.
  assert.ok(Math.abs(rate({ minInterval: '10s' }, 1) - 0.1) < 0.001);
  // A constant value: once per max silence.
  assert.ok(Math.abs(rate({}, 0) - 1 / 30) < 0.001);
  assert.ok(Math.abs(rate({ maxSilence: '60s' }, 0) - 1 / 60) < 0.001);
});

test('link cost: the durable plane batches every critical sample per history interval', () => {
  const series = [ramp(1, 1_800)];
  const every30 = estimateLinkCost(config({ outbox: { replicateSamples: true } }), { series, windowMs: 3_600_000 });
  const every120 = estimateLinkCost(config({ outbox: { replicateSamples: true, historyInterval: '120s' } }), {
    series,
    windowMs: 3_600_000,
  });
  assert.ok(every30.durableBps > 0);
  // Larger batches name the series fewer times: cheaper per sample, same samples.
  assert.ok(every120.durableBps < every30.durableBps, `${every120.durableBps} < ${every30.durableBps}`);
  assert.equal(every30.liveBps, every120.liveBps);
  assert.ok(every30.assumptions.some((a) => /history frames/.test(a)));
});

test('link cost: awareness over UDP repeats each change in the next pulses and pays IP and UDP headers', () => {
  const c = config({ mqtt: { enabled: false }, awareness: { transport: 'udp', repeat: 0 } });
  const once = estimateLinkCost(c, { series: [ramp(1, 1_800)], windowMs: 3_600_000 });
  assert.equal(once.liveBps, 0);
  assert.equal(once.durableBps, 0);
  // One pulse per tick: 5-byte header (type, origin, hops/session, seq) + bitmap + a value of 1 to 3 bytes, + 28.
  assert.ok(once.awarenessBps > (7 + 28) / 2 && once.awarenessBps < (10 + 28) / 2 + 0.5, String(once.awarenessBps));
  const constant = estimateLinkCost(config({ mqtt: { enabled: false }, awareness: { transport: 'udp', repeat: 2 } }), {
    series: [ramp(0, 1_800)],
    windowMs: 3_600_000,
  });
  // Unchanged: an empty 6-byte heartbeat pulse every tick, a value each max silence (and its repeats).
  assert.ok(constant.awarenessBps > (6 + 28) / 2 && constant.awarenessBps < once.awarenessBps);
});

test('link cost: a sim_battery collector of the config is its own profile; unknown collectors are named in the assumptions', () => {
  const c = config({
    critical: [
      { match: 'battery_soc', deadband: 0.5 },
      { match: 'dc_voltage', deadband: 0.05 },
    ],
    collectors: [
      { name: 'battery', type: 'sim_battery', index: 3 },
      { name: 'cam', type: 'prometheus', url: 'http://10.0.0.1:9100/metrics' },
    ],
  });
  const cost = estimateLinkCost(c);
  assert.equal(cost.criticalSeries, 2);
  assert.deepEqual(
    cost.series.map((s) => s.series.split('{')[0]),
    ['battery_soc', 'dc_voltage'],
  );
  assert.ok(cost.series.every((s) => s.samplesPerSecond === 0.5));
  assert.ok(cost.assumptions.some((a) => a.startsWith('collector cam (prometheus)')));
  const tighter = estimateLinkCost(
    config({
      ...c,
      critical: [
        { match: 'battery_soc', deadband: 0.5 },
        { match: 'dc_voltage', deadband: 0.01 },
      ],
    }),
  );
  assert.ok(tighter.liveBps > cost.liveBps);
});
