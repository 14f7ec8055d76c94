// `npm run bench -- tls-cost`: issue 12's "cost of TLS on the slow link". Two fleets side by side in one run, on
// the same broker, workload and time: the same nodes (sim_battery indices) over plain MQTT and over MQTT/TLS with
// client certificates (long-lived connections), wire bytes both ways counted by TCP proxies in front of Mosquitto
// (TLS records included). Then the cost of one reconnect: plain, TLS with a full handshake, TLS resumed with the
// session of the previous connection (mqtt.js passes `session` through to tls.connect; it keeps none itself). Then
// the fleet's MqttTransport itself: its first connect, a reconnect after a cut link (it resumes its last session),
// its byte counters beside the proxy's.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import mqtt from 'mqtt';
import type { Agent } from '../src/agent/index.js';
import { createMqttTransport } from '../src/transport/index.js';
import { type CountingProxy, startCountingProxy } from '../test/kit/counting-proxy.js';
import { once, waitFor } from '../test/kit/wait.js';
import { startTlsFleet, TICK_MS } from './tls-fleet.js';

export interface TlsCostBench {
  readonly nodesPerFleet: number;
  readonly seconds: number;
  readonly ticks: number;
  /** Wire bytes (both ways) per node-tick in the steady state. */
  readonly plainBytesPerNodeTick: number;
  readonly tlsBytesPerNodeTick: number;
  readonly ratio: number;
  /** What the transport's own counters say per node-tick over TLS (the TCP socket under TLS: the wire). */
  readonly tlsTransportCounterBytesPerNodeTick: number;
  /** One connect (CONNECT/CONNACK, a SUBSCRIBE, DISCONNECT) on the wire, both ways. */
  readonly reconnectBytes: { readonly plain: number; readonly tlsFull: number; readonly tlsResumed: number; readonly resumed: boolean };
  /** The MqttTransport over TLS: connect (CONNECT/CONNACK, a SUBSCRIBE) then a reconnect after a cut link, on the wire. */
  readonly transportReconnect: {
    readonly firstConnectBytes: number;
    readonly reconnectBytes: number;
    /** stats().tlsResumed after the reconnect. */
    readonly tlsResumed: number;
    /** Both ways over the whole: the transport's counters and the proxy's. */
    readonly transportCounted: number;
    readonly proxyCounted: number;
  };
  readonly tlsVersion: string;
}

async function oneConnect(
  proxy: CountingProxy,
  tls: boolean,
  creds: { ca: Buffer; cert: Buffer; key: Buffer } | undefined,
  session?: Buffer,
): Promise<{ bytes: number; session?: Buffer; reused: boolean; version: string }> {
  const before = proxy.bytes();
  let got: Buffer | undefined;
  const client = mqtt.connect(`${tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${proxy.port}`, {
    clientId: `reconnect-${tls ? 'tls' : 'plain'}`,
    reconnectPeriod: 0,
    protocolVersion: 5,
    ...(creds ?? {}),
    ...(session === undefined ? {} : { session }),
  } as mqtt.IClientOptions);
  const stream = (client as unknown as { stream: TLSSocket }).stream;
  if (tls) stream.on('session', (s: Buffer) => (got = s));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync('fieldmesh/_hub/state', { qos: 1 });
  const reused = tls ? stream.isSessionReused() : false;
  const version = tls ? (stream.getProtocol() ?? '') : '';
  await client.endAsync();
  await waitFor(() => stream.destroyed, { what: 'socket closed' });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const after = proxy.bytes();
  return { bytes: after.up - before.up + after.down - before.down, ...(got === undefined ? {} : { session: got }), reused, version };
}

async function transportReconnect(
  tlsPort: number,
  creds: { ca: Buffer; cert: Buffer; key: Buffer },
): Promise<TlsCostBench['transportReconnect']> {
  const proxy = await startCountingProxy(tlsPort);
  const transport = createMqttTransport({
    url: `mqtts://127.0.0.1:${proxy.port}`,
    clientId: 'reconnect-transport',
    ca: creds.ca.toString(),
    cert: creds.cert.toString(),
    key: creds.key.toString(),
    backoff: { initialMs: 10, maxMs: 10, factor: 1, jitter: 0 },
  });
  const total = () => proxy.bytes().up + proxy.bytes().down;
  const counted = () => transport.stats().bytesIn + transport.stats().bytesOut;
  try {
    // Restored on every connect, as a node's subscriptions are; nothing here reads the state.
    transport.subscribe('fieldmesh/_hub/state', () => {});
    const first = once(transport, 'connected', { what: 'transport connected' });
    transport.start();
    await first;
    // The broker's session tickets follow its handshake; settled when the counters stop moving.
    await waitFor(() => counted() === total(), { what: 'first connect relayed' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const firstConnectBytes = total();
    const again = once(transport, 'connected', { what: 'transport reconnected' });
    proxy.cut();
    await again;
    // Not equal to the byte: on the cut the client may still hand a close_notify (24 B) to its kernel that no peer reads.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return {
      firstConnectBytes,
      reconnectBytes: total() - firstConnectBytes,
      tlsResumed: transport.stats().tlsResumed ?? 0,
      transportCounted: counted(),
      proxyCounted: total(),
    };
  } finally {
    await transport.close();
    await proxy.close();
  }
}

export async function benchTlsCost(nodes = 10, seconds = 60): Promise<TlsCostBench> {
  const fleet = await startTlsFleet('tls-cost');
  try {
    const plain: Agent[] = [];
    const tls: Agent[] = [];
    for (let i = 0; i < nodes; i++) {
      const n = String(i + 1).padStart(2, '0');
      plain.push((await fleet.startAgent(`plain-${n}`, i, false)).agent);
      await fleet.issueNode(`tls-${n}`);
      tls.push((await fleet.startAgent(`tls-${n}`, i, true)).agent);
    }
    await waitFor(() => [...plain, ...tls].every((a) => a.transport.connected), { what: 'fleets connected', timeoutMs: 30_000 });
    // Past the births and the first history frames.
    await new Promise((resolve) => setTimeout(resolve, 3 * TICK_MS));
    const p0 = fleet.plainProxy.bytes();
    const t0 = fleet.tlsProxy.bytes();
    const c0 = tls.reduce((s, a) => s + a.transport.stats().bytesIn + a.transport.stats().bytesOut, 0);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const p1 = fleet.plainProxy.bytes();
    const t1 = fleet.tlsProxy.bytes();
    const c1 = tls.reduce((s, a) => s + a.transport.stats().bytesIn + a.transport.stats().bytesOut, 0);
    const ticks = (seconds * 1000) / TICK_MS;
    const perNodeTick = (b: number) => Math.round((b / nodes / ticks) * 10) / 10;
    const plainB = perNodeTick(p1.up - p0.up + p1.down - p0.down);
    const tlsB = perNodeTick(t1.up - t0.up + t1.down - t0.down);

    const dir = join(fleet.dir, 'tls', 'tls-01');
    const creds = {
      ca: readFileSync(join(fleet.pkiDir, 'ca.crt')),
      cert: readFileSync(join(dir, 'tls-01.crt')),
      key: readFileSync(join(dir, 'tls-01.key')),
    };
    const plainConnect = await oneConnect(fleet.plainProxy, false, undefined);
    const full = await oneConnect(fleet.tlsProxy, true, creds);
    const resumed = await oneConnect(fleet.tlsProxy, true, creds, full.session);
    const viaTransport = await transportReconnect(fleet.tlsPort, creds);
    return {
      nodesPerFleet: nodes,
      seconds,
      ticks,
      plainBytesPerNodeTick: plainB,
      tlsBytesPerNodeTick: tlsB,
      ratio: Math.round((tlsB / plainB) * 1000) / 1000,
      tlsTransportCounterBytesPerNodeTick: perNodeTick(c1 - c0),
      reconnectBytes: { plain: plainConnect.bytes, tlsFull: full.bytes, tlsResumed: resumed.bytes, resumed: resumed.reused },
      transportReconnect: viaTransport,
      tlsVersion: full.version,
    };
  } finally {
    await fleet.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchTlsCost(Number(process.argv[2] ?? 10), Number(process.argv[3] ?? 60)), null, 2));
  process.exit(0);
}
