// Sparkplug B edge mode (node.yaml `sparkplug`, docs/sparkplug.md): the node as a Sparkplug edge node of its site's
// group, each collector (the source of its series) a device. Its own MQTT session, because the session's will must
// be the NDEATH: bdSeq persisted (fsynced) in the state dir, NBIRTH then a DBIRTH per device, DDATA by exception with
// aliases, NCMD Node Control/Rebirth answered with a full rebirth, and the primary host's STATE honoured.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock, Logger } from '../../kit/index.js';
import type { Sample } from '../../protocol/index.js';
import {
  decodeSparkplugPayload,
  encodeSparkplugPayload,
  parseSparkplugHostState,
  SPARKPLUG_DATATYPE,
  type SparkplugMetric,
  sparkplugDeviceTopic,
  sparkplugNodeTopic,
  sparkplugStateTopic,
} from '../../protocol/sparkplug/index.js';

export const REBIRTH_METRIC = 'Node Control/Rebirth';
export const BDSEQ_METRIC = 'bdSeq';
/** The longest a clean stop waits for its NDEATH's acknowledgement before it disconnects anyway. */
const STOP_NDEATH_WAIT_MS = 5_000;
/** File in the state dir holding the bdSeq of the next session. */
export const BDSEQ_FILE = 'sparkplug-bdseq';

export interface SparkplugBroker {
  readonly url: string;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface SparkplugEdgeNodeOptions {
  readonly groupId: string;
  readonly edgeNodeId: string;
  readonly primaryHostId?: string;
  readonly broker: SparkplugBroker;
  readonly stateDir: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Wait before connecting again after a lost or refused connection. */
  readonly reconnectMs?: number;
  /** Where fieldmesh_sparkplug_* metrics register. */
  readonly registry?: Registry;
}

export interface SparkplugEdgeNode {
  start(): void;
  /** Samples a collector (the device) recorded; reported by exception. */
  observe(device: string, samples: readonly Sample[]): void;
  /** graceful: NDEATH published, then disconnect; otherwise the socket is dropped and the broker sends the will. */
  stop(options?: { graceful?: boolean }): Promise<void>;
  /** The bdSeq of the current (or last) session. */
  readonly bdSeq: number | undefined;
  /** Whether the node is born (NBIRTH sent in this session). */
  readonly born: boolean;
}

/** A series' Sparkplug metric name: its name, then its labels as folders `key=value` sorted by key. */
export function sparkplugMetricName(sample: Pick<Sample, 'name' | 'labels'>): string {
  const keys = Object.keys(sample.labels).sort();
  return [sample.name, ...keys.map((k) => `${k}=${sample.labels[k]}`)].join('/');
}

interface MetricState {
  readonly name: string;
  readonly alias: number;
  value: number;
  timestamp: number;
  /** The value the last DBIRTH or DDATA carried (undefined: never sent in this session). */
  sent: number | undefined;
}

interface DeviceState {
  readonly metrics: Map<string, MetricState>;
  /** DBIRTH sent in this session (and not changed since). */
  born: boolean;
}

function writeFileDurably(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** The next session's bdSeq (0 when the file is absent), and the one after it written and fsynced before use. */
export function allocateBdSeq(stateDir: string): number {
  const path = join(stateDir, BDSEQ_FILE);
  let next = 0;
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    if (Number.isInteger(n) && n >= 0 && n <= 255) next = n;
  } catch {}
  writeFileDurably(path, `${(next + 1) % 256}\n`);
  return next;
}

export function createSparkplugEdgeNode(options: SparkplugEdgeNodeOptions): SparkplugEdgeNode {
  const { groupId: group, edgeNodeId: edge, primaryHostId, broker, stateDir, clock, logger } = options;
  const reconnectMs = options.reconnectMs ?? 2_000;
  const devices = new Map<string, DeviceState>();
  let nextAlias = 1;
  let client: MqttClient | undefined;
  let bdSeq: number | undefined;
  let seq = 0;
  let born = false;
  let stopped = true;
  let hostOnline = false;
  /** The newest STATE timestamp seen from the primary host (kept across sessions): an older STATE is stale. */
  let lastHostTimestamp = -1;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  const registers = options.registry === undefined ? [] : [options.registry];
  const sent = new Counter({
    name: 'fieldmesh_sparkplug_messages_sent_total',
    help: 'Sparkplug B messages this edge node published, by type (NBIRTH, DBIRTH, DDATA, NDEATH).',
    labelNames: ['type'],
    registers,
  });
  const rejected = new Counter({
    name: 'fieldmesh_sparkplug_rejected_total',
    help: 'Sparkplug B messages received and ignored, by reason (ncmd-undecodable: NCMD not a Sparkplug B payload; state-invalid: STATE not Sparkplug 3.0 JSON).',
    labelNames: ['reason'],
    registers,
  });
  new Gauge({
    name: 'fieldmesh_sparkplug_born',
    help: '1 while the Sparkplug B edge node is born (NBIRTH sent in the current session), else 0.',
    registers,
    collect() {
      this.set(born ? 1 : 0);
    },
  });
  new Gauge({
    name: 'fieldmesh_sparkplug_bdseq',
    help: 'The bdSeq of the current (or last) Sparkplug B session.',
    registers,
    collect() {
      if (bdSeq !== undefined) this.set(bdSeq);
    },
  });

  const nodeTopic = (type: 'NBIRTH' | 'NDEATH' | 'NCMD' | 'NDATA') => sparkplugNodeTopic(group, type, edge);

  function nextSeq(): number {
    const s = seq;
    seq = (seq + 1) % 256;
    return s;
  }

  function publish(topic: string, payload: Uint8Array): void {
    if (client === undefined) return;
    sent.inc({ type: topic.split('/')[2] });
    client.publish(topic, Buffer.from(payload), { qos: 0, retain: false }, (err) => {
      if (err) logger.warn({ err, topic }, 'sparkplug publish failed');
    });
  }

  function deathPayload(n: number): Uint8Array {
    return encodeSparkplugPayload({
      timestamp: clock.now(),
      metrics: [{ name: BDSEQ_METRIC, datatype: SPARKPLUG_DATATYPE.Int64, value: n }],
    });
  }

  function birthMetric(m: MetricState): SparkplugMetric {
    return { name: m.name, alias: m.alias, timestamp: m.timestamp, datatype: SPARKPLUG_DATATYPE.Double, value: m.value };
  }

  function publishDeviceBirth(name: string, device: DeviceState): void {
    const metrics = [...device.metrics.values()];
    for (const m of metrics) m.sent = m.value;
    device.born = true;
    publish(
      sparkplugDeviceTopic(group, 'DBIRTH', edge, name),
      encodeSparkplugPayload({ timestamp: clock.now(), seq: nextSeq(), metrics: metrics.map(birthMetric) }),
    );
  }

  /** NBIRTH (seq 0, this session's bdSeq) and a DBIRTH for every device known. */
  function birth(): void {
    if (bdSeq === undefined || client === undefined) return;
    if (primaryHostId !== undefined && !hostOnline) return;
    seq = 0;
    publish(
      nodeTopic('NBIRTH'),
      encodeSparkplugPayload({
        timestamp: clock.now(),
        seq: nextSeq(),
        metrics: [
          { name: BDSEQ_METRIC, datatype: SPARKPLUG_DATATYPE.Int64, value: bdSeq },
          { name: REBIRTH_METRIC, datatype: SPARKPLUG_DATATYPE.Boolean, value: false },
        ],
      }),
    );
    born = true;
    for (const [name, device] of devices) publishDeviceBirth(name, device);
    logger.info({ group, edge, bdSeq, devices: devices.size }, 'sparkplug: born');
  }

  function onCommand(topic: string, payload: Buffer): void {
    if (topic === nodeTopic('NCMD')) {
      let metrics: readonly SparkplugMetric[];
      try {
        metrics = decodeSparkplugPayload(payload).metrics;
      } catch (err) {
        rejected.inc({ reason: 'ncmd-undecodable' });
        logger.warn({ err: (err as Error).message, topic }, 'sparkplug: NCMD is not a Sparkplug B payload; ignored');
        return;
      }
      if (metrics.some((m) => m.name === REBIRTH_METRIC && m.value === true)) {
        logger.info({ group, edge }, 'sparkplug: rebirth requested');
        born = false;
        birth();
      }
      return;
    }
    if (primaryHostId !== undefined && topic === sparkplugStateTopic(primaryHostId)) {
      const state = parseSparkplugHostState(payload);
      if (state === undefined) {
        rejected.inc({ reason: 'state-invalid' });
        logger.warn(
          { topic, payload: payload.subarray(0, 64).toString() },
          'sparkplug: STATE payload is not Sparkplug 3.0 JSON {online, timestamp}; ignored',
        );
        return;
      }
      // An older STATE than one already seen is stale (an old host session's death delivered late): ignored.
      if (state.timestamp < lastHostTimestamp) return;
      lastHostTimestamp = state.timestamp;
      hostOnline = state.online;
      if (!state.online) {
        if (born) {
          // In session: NDEATH, disconnect, and the session establishment over again (a new bdSeq), whose birth
          // waits for the host's next online STATE.
          logger.info({ host: primaryHostId }, 'sparkplug: primary host offline; new session, birth when it is back');
          restartSession();
        }
        return;
      }
      if (!born) birth();
    }
  }

  function openSession(): void {
    if (stopped) return;
    born = false;
    hostOnline = false;
    for (const d of devices.values()) d.born = false;
    let n: number;
    try {
      n = allocateBdSeq(stateDir);
    } catch (err) {
      // No bdSeq that survives a restart, no session: tried again later.
      logger.error(
        { err: (err as Error).message, dir: stateDir },
        `sparkplug: cannot persist the bdSeq (${BDSEQ_FILE}); no session until it can`,
      );
      reconnectTimer = setTimeout(openSession, reconnectMs);
      return;
    }
    bdSeq = n;
    const c = connect(broker.url, {
      clientId: broker.clientId,
      username: broker.username,
      password: broker.password,
      ca: broker.ca,
      cert: broker.cert,
      key: broker.key,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      will: { topic: nodeTopic('NDEATH'), payload: Buffer.from(deathPayload(n)), qos: 1, retain: false },
    });
    client = c;
    c.on('connect', () => {
      const topics = [nodeTopic('NCMD'), `${sparkplugDeviceTopic(group, 'DCMD', edge, '+')}`];
      if (primaryHostId !== undefined) topics.push(sparkplugStateTopic(primaryHostId));
      c.subscribe(topics, { qos: 1 }, (err) => {
        if (err) {
          logger.warn({ err }, 'sparkplug: subscribe failed');
          c.end(true);
          return;
        }
        // Without a primary host, born at once; with one, when its STATE says online (retained, so it comes now).
        if (primaryHostId === undefined) birth();
      });
    });
    c.on('message', (topic, payload) => {
      if (c === client) onCommand(topic, payload);
    });
    c.on('error', (err) => logger.warn({ err: err.message }, 'sparkplug: connection error'));
    c.on('close', () => {
      if (c !== client) return;
      born = false;
      client = undefined;
      if (!stopped) reconnectTimer = setTimeout(openSession, reconnectMs);
    });
  }

  /** Ends this session as a clean one ends (NDEATH published, then DISCONNECT), and opens the next. */
  function restartSession(): void {
    const c = client;
    client = undefined;
    born = false;
    if (c !== undefined && bdSeq !== undefined) {
      // The next session once this one is closed, however it closes (the NDEATH acknowledged, or the link lost).
      let next = false;
      const openNext = () => {
        if (next) return;
        next = true;
        openSession();
      };
      c.once('close', openNext);
      sent.inc({ type: 'NDEATH' });
      c.publish(nodeTopic('NDEATH'), Buffer.from(deathPayload(bdSeq)), { qos: 1 }, () => c.end(false, {}, openNext));
    } else {
      openSession();
    }
  }

  return {
    get bdSeq() {
      return bdSeq;
    },
    get born() {
      return born;
    },
    start() {
      if (!stopped) return;
      stopped = false;
      openSession();
    },
    observe(deviceName, samples) {
      let device = devices.get(deviceName);
      if (device === undefined) {
        device = { metrics: new Map(), born: false };
        devices.set(deviceName, device);
      }
      let added = false;
      const changed: MetricState[] = [];
      for (const s of samples) {
        const name = sparkplugMetricName(s);
        let m = device.metrics.get(name);
        if (m === undefined) {
          m = { name, alias: nextAlias++, value: s.value, timestamp: s.time, sent: undefined };
          device.metrics.set(name, m);
          added = true;
          continue;
        }
        if (s.time < m.timestamp) continue;
        m.value = s.value;
        m.timestamp = s.time;
        if (!Object.is(m.sent, s.value) && !changed.includes(m)) changed.push(m);
      }
      if (!born) return;
      // A device or metric the births did not list: births list every metric of the session, and DBIRTHs follow
      // the NBIRTH before any data, so the whole birth sequence again (same bdSeq, seq from 0, every value).
      if (added || !device.born) {
        born = false;
        birth();
        return;
      }
      if (changed.length === 0) return;
      for (const m of changed) m.sent = m.value;
      publish(
        sparkplugDeviceTopic(group, 'DDATA', edge, deviceName),
        encodeSparkplugPayload({
          timestamp: clock.now(),
          seq: nextSeq(),
          metrics: changed.map((m) => ({ alias: m.alias, timestamp: m.timestamp, datatype: SPARKPLUG_DATATYPE.Double, value: m.value })),
        }),
      );
    },
    async stop(stopOptions = {}) {
      stopped = true;
      if (reconnectTimer !== undefined) clearTimeout(reconnectTimer);
      const c = client;
      client = undefined;
      born = false;
      if (c === undefined) return;
      if (stopOptions.graceful ?? true) {
        if (c.connected && bdSeq !== undefined) {
          sent.inc({ type: 'NDEATH' });
          // Acknowledged (QoS 1) before the DISCONNECT; a link lost meanwhile ends the wait (the will goes instead).
          let timer: ReturnType<typeof setTimeout> | undefined;
          await new Promise<void>((resolve) => {
            timer = setTimeout(resolve, STOP_NDEATH_WAIT_MS);
            c.once('close', () => resolve());
            c.publish(nodeTopic('NDEATH'), Buffer.from(deathPayload(bdSeq as number)), { qos: 1 }, () => resolve());
          });
          clearTimeout(timer);
        }
        await new Promise<void>((resolve) => c.end(false, {}, () => resolve()));
      } else {
        // As a crash: the socket goes without DISCONNECT, so the broker publishes the will (NDEATH).
        c.stream?.destroy();
        await new Promise<void>((resolve) => c.end(true, {}, () => resolve()));
      }
    },
  };
}
