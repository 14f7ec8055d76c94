// calendar: message encoding; no clock reads the times.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatterySim } from '../agent/collectors/index.js';
import type { Logger } from '../kit/index.js';
import { runJsonStar } from './json-star.js';
import { frameAirtimeUs, MCS0_1MHZ_CHANNEL } from './medium.js';
import { MOSQUITTO_MISSING_NOTE } from './mosquitto.js';

const NODES = 5;
const TICKS = 3;
const TICK_MS = 2_000;
const SEED = 20241123;
const METRICS = ['battery_soc', 'dc_voltage', 'dc_current', 'ac_in_l1_power', 'ac_out_l1_power'] as const;
const MQTT_PUBACK_BYTES = 4;
/** IPv4 + TCP (40) + MAC/LLC/FCS (38) per segment. */
const TCP_FRAME_HEADER_BYTES = 78;

/** Size of an MQTT 3.1.1 QoS 1 PUBLISH: fixed header, topic length + topic, packet id, payload. */
function publishBytes(topic: string, payloadBytes: number): number {
  const remaining = 2 + Buffer.byteLength(topic) + 2 + payloadBytes;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : 3;
  return 1 + lengthBytes + remaining;
}

/** Every message of the run as the baseline writes it, computed here without the runner's helpers. */
function baselineMessages(): { topic: string; json: string }[] {
  const out: { topic: string; json: string }[] = [];
  const sims = Array.from({ length: NODES }, (_, i) => new BatterySim(SEED, i, TICK_MS / 1_000));
  for (let k = 0; k < TICKS; k++) {
    const ns = Date.UTC(2026, 0, 1) * 1e6 + k * TICK_MS * 1e6;
    sims.forEach((sim, i) => {
      const node = `node00${i + 1}`;
      const reading = sim.step();
      for (const m of METRICS) {
        const json = `{"value":${reading[m]},"labels":{"node":"${node}","system_id":"${sim.systemId}","device":"battery"},"timestamp":${BigInt(ns)}}`;
        out.push({ topic: `bess/${node}/${m}`, json });
      }
    });
  }
  return out;
}

function capturePids(): { logger: Logger; pids: number[] } {
  const pids: number[] = [];
  const logger: Logger = {
    debug() {},
    info(obj) {
      const pid = (obj as { pid?: unknown }).pid;
      if (typeof pid === 'number') pids.push(pid);
    },
    warn() {},
    error() {},
    child: () => logger,
  };
  return { logger, pids };
}

test('json-star baseline: 5 nodes through a real Mosquitto deliver every message with exactly the analytic frames, bytes and airtime', async () => {
  const { logger, pids } = capturePids();
  const progress: number[] = [];
  const result = await runJsonStar({
    nodes: NODES,
    durationS: 60,
    tickMs: TICK_MS,
    seed: SEED,
    airtime: MCS0_1MHZ_CHANNEL,
    maxTicks: TICKS,
    logger,
    onProgress: (f) => progress.push(f),
  });
  const m = result.measures;
  assert.equal(result.name, 'json-star baseline (Mosquitto)');
  assert.equal(m.completeness, 1, result.notes?.join('\n'));
  assert.equal(m.duplicates, 0);

  const messages = baselineMessages();
  const nodeTicks = NODES * TICKS;
  const seconds = (TICKS * TICK_MS) / 1_000;
  assert.equal(m.payloadBytesPerNodeTick, messages.reduce((sum, x) => sum + Buffer.byteLength(x.json), 0) / nodeTicks);

  // Per node-tick: 5 PUBLISH up + their 5 PUBACKs down; 25 PUBLISH down (all 5 nodes' metrics, its own
  // included) + their 25 PUBACKs up.
  const framesPerNodeTick = 5 + 5 + 5 * NODES + 5 * NODES;
  assert.equal(framesPerNodeTick, 60);
  assert.equal(m.framesPerNodePerS, framesPerNodeTick / (TICK_MS / 1_000));

  // Each message crosses the air once up and once down to each of the 5 subscribers, each copy acknowledged.
  let onAirBytes = 0;
  let airtimeUs = 0;
  const tcpModel = { ...MCS0_1MHZ_CHANNEL, headerBytes: TCP_FRAME_HEADER_BYTES };
  for (const x of messages) {
    const publish = publishBytes(x.topic, Buffer.byteLength(x.json));
    const copies = 1 + NODES;
    onAirBytes += copies * (publish + TCP_FRAME_HEADER_BYTES + MQTT_PUBACK_BYTES + TCP_FRAME_HEADER_BYTES);
    airtimeUs += copies * (frameAirtimeUs(publish, tcpModel, true) + frameAirtimeUs(MQTT_PUBACK_BYTES, tcpModel, true));
  }
  assert.ok(Math.abs((m.onAirBps ?? 0) - (onAirBytes * 8) / seconds) < 1e-6, `onAirBps ${m.onAirBps}`);
  assert.ok(Math.abs((m.airtimeShare ?? 0) - airtimeUs / 1e6 / seconds) < 1e-9, `airtimeShare ${m.airtimeShare}`);
  // 150 frames/s of about 6 ms each: 5 nodes already take most of a 1 MHz channel.
  assert.ok((m.airtimeShare ?? 0) > 0.8 && (m.airtimeShare ?? 0) < 1, `airtimeShare ${m.airtimeShare}`);

  const series = result.series.onAirBytesPerS;
  assert.deepEqual(series?.tS, [2, 4, 6]);
  assert.ok(Math.abs((series?.values ?? []).reduce<number>((a, b) => a + (b ?? 0), 0) * 2 - onAirBytes) < 1e-6);
  assert.equal(m.detectionP99Ms, null);
  assert.equal(m.falseVerdicts, null);
  assert.equal(m.coldStartFullViewMs, null);
  assert.equal(
    result.notes?.some((n) => /would not fit on the real channel/.test(n)),
    false,
  );
  assert.deepEqual(progress, [0, 1 / 3, 2 / 3, 1]);

  assert.equal(pids.length > 0, true, 'the broker logged its pid');
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `mosquitto ${pid} is gone`);
});

test('json-star baseline: without Mosquitto the column is all null and says how to install it', async () => {
  const result = await runJsonStar({
    nodes: 5,
    durationS: 6,
    tickMs: TICK_MS,
    seed: SEED,
    airtime: MCS0_1MHZ_CHANNEL,
    mosquittoPath: '/nonexistent/mosquitto',
  });
  assert.ok(Object.values(result.measures).every((v) => v === null));
  assert.deepEqual(result.notes, [MOSQUITTO_MISSING_NOTE]);
});
