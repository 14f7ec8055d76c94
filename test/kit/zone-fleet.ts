// A real fleet for the zones' end-to-end tests: `fieldmesh node` processes with zones, cameras and pumps
// (node.yaml `zones:`), on one or more real Mosquitto brokers (each node on the broker its spec names, so
// two brokers are a real partition: each side hears only its own half), detections pushed over HTTP
// (`kind: detection`, the node's http_push collector), zone status read from `GET /api/v1/zones/:zone`,
// operators' commands sent with the bearer token, and the audit read from each node's outbox
// (table `outbox_events` of `<dataDir>/<site>/<node>/store.db`, events that wait there for the hub). `heal` ends a partition: one
// broker goes and its address leads to another broker from then on, so its nodes reconnect there on
// their own (no restart). With `udp`, there is no broker: the awareness plane and the zone link share UDP
// multicast on loopback, or on a segment of network namespaces (test/kit/netns.ts) whose split and join are
// the partition and its heal. Every process and listener is stopped by `stop()`, which the caller runs on
// every exit path (`t.after(() => fleet.stop())`); the reaper kills what a killed test process leaves.

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { PumpStateView } from '../../src/agent/actuators/pump-controller.js';
import type { ZoneStatus } from '../../src/agent/zones/zone-engine.js';
import { type FieldmeshProcess, runFieldmesh } from './fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from './mosquitto.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

/** The bearer token of every node's zone commands (`zoneCommands.token`). */
export const ZONE_TOKEN = 'zone-fleet-commands-token';
/** The bearer token of every node's `http_push` collector (detections). */
export const DETECTION_TOKEN = 'zone-fleet-push-token';

export interface ZoneFleetNodeSpec {
  readonly id: string;
  /** Index of the broker this node connects to (default 0). */
  readonly broker?: number;
}

export interface ZoneFleetOptions {
  /** The `zones:` block every node carries, as plain objects (written into node.yaml as JSON). */
  readonly zones: readonly unknown[];
  readonly nodes: readonly (string | ZoneFleetNodeSpec)[];
  /** How many Mosquitto brokers (default 1). */
  readonly brokers?: number;
  readonly site?: string;
  /** `publish.tick`: the zone engine's tick (default 200ms). */
  readonly tick?: string;
  /** The nodes' log level (default warn); their output is kept for diagnosis. */
  readonly logLevel?: string;
  /**
   * No broker (`mqtt.enabled: false`, none started unless `brokers` says so): the awareness plane and the zone
   * link on UDP multicast, `group` and `port`. `hosts[i]` is where node i lives: the address its socket and its
   * HTTP server bind to, and the command its process runs under (`ip netns exec <ns>`); loopback by default.
   */
  readonly udp?: {
    readonly group: string;
    readonly port: number;
    readonly hosts?: readonly { readonly address: string; readonly wrapper: readonly string[] }[];
  };
  /** Runs once the brokers are up, before any node starts (a test's relay board subscribes here). */
  readonly beforeNodes?: (brokers: readonly MosquittoInstance[]) => Promise<void> | void;
}

export interface ZoneFleetNode {
  readonly id: string;
  readonly broker: number;
  readonly yaml: string;
  /** The command its process runs under (a network namespace), or none. */
  readonly wrapper: readonly string[];
  /** `<dataDir>/<site>/<node>`: its outbox, zones.json and pumps/. */
  readonly stateDir: string;
  /** Its API (a fixed port, the same across restarts). */
  readonly url: string;
  process: FieldmeshProcess | undefined;
}

/** One outbox event: a zone record (`zone_*`) or a pump record (`pump_*`) with its payload. */
export interface AuditEvent {
  readonly seq: number;
  readonly kind: string;
  readonly priority: string;
  readonly time: number;
  readonly payload: Record<string, unknown>;
}

export type ZonePumpStatus = ZoneStatus['pumps'][number];

export interface ZoneFleet {
  readonly dir: string;
  readonly site: string;
  readonly brokers: readonly MosquittoInstance[];
  readonly nodes: readonly ZoneFleetNode[];
  node(id: string): ZoneFleetNode;
  /** Starts a node's process and waits for its banner (it is then listening and its zones run). */
  start(id: string): Promise<void>;
  /** Kills a node's process (SIGKILL by default: no clean shutdown) and waits for it to be gone. */
  kill(id: string, signal?: NodeJS.Signals): Promise<void>;
  /** A detection of `camera` on `node`, pushed to the node's http_push collector; answers its id. */
  detect(node: string, camera: string, confidence: number, cls?: string): Promise<string>;
  /** `GET /api/v1/zones/:zone` on a node. */
  status(node: string, zone: string): Promise<ZoneStatus>;
  /** A pump as a node's zone status shows it (`view` is the envelope's, on the pump's owner). */
  pump(node: string, zone: string, pump: string): Promise<ZonePumpStatus>;
  /** Polls a node's zone status until `predicate` holds; returns that status. */
  until(node: string, zone: string, predicate: (s: ZoneStatus) => boolean, what: string, timeoutMs?: number): Promise<ZoneStatus>;
  /** `POST /api/v1/zones/:zone/pumps/:pump/:action` with the token (or `token`), as `operator`. */
  command(
    node: string,
    zone: string,
    pump: string,
    action: string,
    options?: { operator?: string; token?: string | null },
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** The node's outbox events, oldest first; only those of `kinds` when given. */
  audit(node: string, kinds?: readonly string[]): AuditEvent[];
  /**
   * Polls the node's outbox until `predicate` holds over its events, and returns them: a record reaches the
   * outbox a moment after the state the API shows.
   */
  auditUntil(node: string, predicate: (events: AuditEvent[]) => boolean, what: string, timeoutMs?: number): Promise<AuditEvent[]>;
  /**
   * Ends a partition: broker `from` stops and its address forwards to broker `to` from then on, so the
   * nodes of `from` reconnect (by their own backoff) to `to`'s broker.
   */
  heal(from: number, to: number): Promise<void>;
  /** Stops every node, forwarder and broker (idempotent). */
  stop(): Promise<void>;
}

/** The node.yaml of one node of the fleet. */
function nodeConfig(o: {
  id: string;
  site: string;
  /** The broker's URL, or the UDP segment the node is on. */
  link: { url: string } | { group: string; port: number };
  address: string;
  dataDir: string;
  port: number;
  tick: string;
  zones: readonly unknown[];
}): Record<string, unknown> {
  return {
    node: { id: o.id, site: o.site },
    ...('url' in o.link
      ? { mqtt: { url: o.link.url } }
      : {
          mqtt: { enabled: false },
          awareness: { transport: 'udp', udp: { group: o.link.group, port: o.link.port, interface: o.address } },
        }),
    dataDir: o.dataDir,
    http: { host: o.address, port: o.port },
    publish: { tick: o.tick, heartbeat: '1s' },
    zones: o.zones,
    zoneCommands: { token: ZONE_TOKEN },
    collectors: [{ type: 'http_push', token: DETECTION_TOKEN }],
  };
}

export async function startZoneFleet(options: ZoneFleetOptions): Promise<ZoneFleet> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-zone-fleet-'));
  const site = options.site ?? 'ridge';
  const tick = options.tick ?? '200ms';
  const brokers: MosquittoInstance[] = [];
  const forwarders: Server[] = [];
  const sockets = new Set<Socket>();
  const nodes: ZoneFleetNode[] = [];
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const n of nodes) n.process?.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.process?.exited()));
    for (const s of sockets) s.destroy();
    await Promise.all(forwarders.map((f) => new Promise<void>((resolve) => f.close(() => resolve()))));
    await Promise.all(brokers.map((b) => b.stop()));
  };

  try {
    for (let i = 0; i < (options.brokers ?? (options.udp ? 0 : 1)); i++) brokers.push(await startMosquitto());
    for (const [index, spec] of options.nodes.entries()) {
      const { id, broker = 0 } = typeof spec === 'string' ? { id: spec } : spec;
      const b = brokers[broker];
      if (options.udp === undefined && b === undefined)
        throw new Error(`node ${id}: no broker ${broker} (the fleet has ${brokers.length})`);
      const link = options.udp ?? { url: b?.url as string };
      const { address, wrapper } = options.udp?.hosts?.[index] ?? { address: '127.0.0.1', wrapper: [] };
      const port = await freePort();
      const dataDir = join(dir, id);
      mkdirSync(dataDir, { recursive: true });
      const yaml = join(dir, `${id}.yaml`);
      // JSON is YAML: the zones go in exactly as the test wrote them.
      const config = nodeConfig({ id, site, link, address, dataDir, port, tick, zones: options.zones });
      writeFileSync(yaml, `${JSON.stringify(config, null, 2)}\n`);
      nodes.push({ id, broker, yaml, wrapper, stateDir: join(dataDir, site, id), url: `http://${address}:${port}`, process: undefined });
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const node = (id: string): ZoneFleetNode => {
    const n = nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`no node ${id} in the fleet (${nodes.map((x) => x.id).join(', ')})`);
    return n;
  };

  const getJson = async (url: string): Promise<Record<string, unknown>> => {
    const res = await fetch(url);
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };

  const status = async (id: string, zone: string): Promise<ZoneStatus> =>
    (await getJson(`${node(id).url}/api/v1/zones/${zone}`)).data as ZoneStatus;

  const fleet: ZoneFleet = {
    dir,
    site,
    brokers,
    nodes,
    node,
    async start(id) {
      const n = node(id);
      if (n.process && n.process.proc.exitCode === null && n.process.proc.signalCode === null) throw new Error(`node ${id} is running`);
      n.process = runFieldmesh(['node', '--config', n.yaml], { FIELDMESH_LOG_LEVEL: options.logLevel ?? 'warn' }, undefined, n.wrapper);
      await n.process.waitForOutput(/fieldmesh node \S+ \(boot \d+\)/, 20_000);
    },
    async kill(id, signal = 'SIGKILL') {
      const n = node(id);
      n.process?.kill(signal);
      await n.process?.exited();
    },
    async detect(id, camera, confidence, cls = 'fire') {
      const res = await fetch(`${node(id).url}/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${DETECTION_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'detection', camera, class: cls, confidence }),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`detection of ${camera} on ${id}: ${res.status} ${text}`);
      return `${id}:${camera}`;
    },
    status,
    async pump(id, zone, pump) {
      const p = (await status(id, zone)).pumps.find((x) => x.id === pump);
      if (p === undefined) throw new Error(`zone ${zone} on ${id} has no pump ${pump}`);
      return p;
    },
    until(id, zone, predicate, what, timeoutMs = 10_000) {
      return waitFor(
        async () => {
          const s = await status(id, zone);
          return predicate(s) && s;
        },
        { timeoutMs, intervalMs: 50, what: `${id}/${zone}: ${what}` },
      );
    },
    async command(id, zone, pump, action, o = {}) {
      const token = o.token === undefined ? ZONE_TOKEN : o.token;
      const headers: Record<string, string> = {};
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (o.operator !== undefined) headers['x-fieldmesh-operator'] = o.operator;
      const res = await fetch(`${node(id).url}/api/v1/zones/${zone}/pumps/${pump}/${action}`, { method: 'POST', headers });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    audit(id, kinds) {
      const db = new Database(join(node(id).stateDir, 'store.db'), { readonly: true, fileMustExist: true });
      try {
        const rows = db.prepare('SELECT seq, kind, priority, ts, payload FROM outbox_events ORDER BY seq').all() as {
          seq: number;
          kind: string;
          priority: string;
          ts: number;
          payload: Buffer;
        }[];
        return rows
          .filter((r) => kinds === undefined || kinds.includes(r.kind))
          .map((r) => ({
            seq: r.seq,
            kind: r.kind,
            priority: r.priority,
            time: r.ts,
            payload: JSON.parse(r.payload.toString('utf8')) as Record<string, unknown>,
          }));
      } finally {
        db.close();
      }
    },
    auditUntil(id, predicate, what, timeoutMs = 5_000) {
      return waitFor(
        () => {
          const events = fleet.audit(id);
          return predicate(events) && events;
        },
        { timeoutMs, intervalMs: 50, what: `${id}'s audit: ${what}` },
      );
    },
    async heal(from, to) {
      const source = brokers[from];
      const target = brokers[to];
      if (source === undefined || target === undefined) throw new Error(`heal ${from} -> ${to}: no such broker`);
      await source.pause();
      const forwarder = createServer((client) => {
        const upstream = tcpConnect(target.port, '127.0.0.1');
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      forwarders.push(forwarder);
      await new Promise<void>((resolve, reject) => {
        forwarder.once('error', reject);
        forwarder.listen(source.port, '127.0.0.1', () => resolve());
      });
    },
    stop,
  };
  try {
    await options.beforeNodes?.(brokers);
    await Promise.all(nodes.map((n) => fleet.start(n.id)));
  } catch (err) {
    await stop();
    throw err;
  }
  return fleet;
}

/** The envelope's view of a pump on its owner (throws when there is no pump, or the status is not its owner's). */
export function viewOf(p: ZonePumpStatus | undefined): PumpStateView {
  if (p === undefined) throw new Error('no such pump in this zone status');
  if (p.view === undefined) throw new Error(`pump ${p.id}: this status is not its owner's (${p.owner})`);
  return p.view;
}
