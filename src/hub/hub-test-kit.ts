// Test support for the hub's tests, never built into dist: the battery_soc series, cleanups after each
// test, a whole hub on an in-memory broker and a manual clock, and nodes played by the test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'node:test';
import { waitFor } from '../../test/kit/wait.js';
import { type Logger, ManualClock } from '../kit/index.js';
import {
  decodeWireFrame,
  encodeDeath,
  encodeHistory,
  nodeTopic,
  type SeriesDef,
  SessionEncoder,
  type WireFrame,
} from '../protocol/index.js';
import { createMemoryTransport, MemoryBroker, type Transport, type TransportMessage } from '../transport/index.js';
import { hubConfigSchema } from './config.js';
import { createHub, type Hub } from './hub.js';

/** The one gauge the hub tests' nodes announce: battery state of charge in percent, 55.5 at birth. */
export function batterySoc(labels: Record<string, string> = {}): SeriesDef {
  return {
    alias: 1,
    name: 'battery_soc',
    labels,
    type: 'gauge',
    unit: 'percent',
    decimals: 1,
    deadband: { kind: 'none' },
    maxSilenceMs: 30_000,
    value: 55.5,
  };
}

/** Decodes a frame the test knows to be valid; throws the decode error otherwise. */
export function wire(bytes: Uint8Array): WireFrame {
  const r = decodeWireFrame(bytes);
  if (!r.ok) throw r.error;
  return r.frame;
}

type BirthFields = Parameters<SessionEncoder['birth']>[0];

/** A birth in zone z1 with 1 s ticks and 5 s heartbeats; `fields` overrides any of it. */
export function birthOf(enc: SessionEncoder, time: number, series: SeriesDef[], fields: Partial<BirthFields> = {}): Uint8Array {
  return enc.birth({ time, zone: 'z1', agentVersion: '0.1.0', tickMs: 1_000, heartbeatMs: 5_000, series, ...fields });
}

/** A history frame of outbox row 1: one battery_soc sample at `time`, nothing pending (zone z1 unless given). */
export function historyOf(epoch: number, time: number, zone = 'z1'): Uint8Array {
  return encodeHistory({
    epoch,
    zone,
    firstSeq: 1,
    lastSeq: 1,
    pendingRows: 0,
    oldestPendingMs: null,
    pendingBytes: 0,
    dropped: [],
    repaired: [],
    series: [{ name: 'battery_soc', labels: {}, unit: 'percent', type: 'gauge', samples: [[time, 50]] }],
  });
}

/** Moves the clock on in the alert engine's 15 s steps, awaiting each evaluation. */
export async function runAlerts(hub: Hub, clock: ManualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 15_000) {
    clock.advance(15_000);
    await hub.alerts?.idle();
  }
}

type Cleanup = () => Promise<void> | void;

export interface TestHubOptions {
  /** Prefix of the temporary data directory, made when `dataDir` is not given and removed after the test. */
  readonly prefix?: string;
  readonly dataDir?: string;
  readonly clock?: ManualClock;
  readonly broker?: MemoryBroker;
  /** Merged over `{dataDir, storage: {path: <dataDir>/hub.db}}` before `hubConfigSchema.parse`. */
  readonly config?: Record<string, unknown>;
  /** Opens the HTTP listener (configure `http.port`); false by default: inject only. */
  readonly listen?: boolean;
  readonly clientId?: string;
  readonly logger?: Logger;
}

export interface TestHub {
  readonly hub: Hub;
  readonly clock: ManualClock;
  readonly broker: MemoryBroker;
  readonly dataDir: string;
  readonly httpUrl: string;
}

export interface TestClientOptions {
  /** Arms a will: a death of this epoch on the node's death topic when the link is lost. */
  readonly will?: { readonly site: string; readonly node: string; readonly epoch: number };
  /** Topics subscribed once connected. */
  readonly subscribe?: readonly string[];
}

export interface TestClient {
  readonly transport: Transport;
  /** Every message received on the subscriptions. */
  readonly received: TransportMessage[];
}

/**
 * Registers an afterEach that runs, last first, what the test deferred, and returns helpers that
 * defer their own teardown. Call once at the top of a test file.
 */
export function hubTestKit() {
  const cleanups: Cleanup[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const defer = (cleanup: Cleanup): void => {
    cleanups.push(cleanup);
  };

  /** A temporary directory, removed after the test. */
  const tempDir = (prefix: string): string => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };

  /** A started hub on a memory broker, stopped after the test. */
  const startHub = async (options: TestHubOptions = {}): Promise<TestHub> => {
    const dataDir = options.dataDir ?? tempDir(options.prefix ?? 'fieldmesh-hub-');
    const clock = options.clock ?? new ManualClock();
    const broker = options.broker ?? new MemoryBroker();
    const config = hubConfigSchema.parse({ dataDir, storage: { path: join(dataDir, 'hub.db') }, ...options.config });
    const hub = createHub(config, {
      transport: createMemoryTransport(broker, { clientId: options.clientId ?? 'hub' }),
      clock,
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
    });
    defer(() => hub.stop());
    const { httpUrl } = await hub.start({ listen: options.listen ?? false });
    return { hub, clock, broker, dataDir, httpUrl };
  };

  /** A connected client of the broker (a node or a watcher played by the test), closed after the test. */
  const connectClient = async (broker: MemoryBroker, clientId: string, options: TestClientOptions = {}): Promise<TestClient> => {
    const { will } = options;
    const transport = createMemoryTransport(broker, {
      clientId,
      ...(will !== undefined
        ? {
            will: {
              topic: nodeTopic('fieldmesh', will.site, will.node, 'death'),
              payload: encodeDeath({ epoch: will.epoch, reason: 'lost' }),
              qos: 1 as const,
              retain: false,
            },
          }
        : {}),
    });
    const received: TransportMessage[] = [];
    const connected = new Promise<void>((resolve) => transport.on('connected', () => resolve()));
    transport.start();
    await connected;
    for (const topic of options.subscribe ?? []) await transport.subscribe(topic, (m) => received.push(m)).ready;
    defer(() => transport.close());
    return { transport, received };
  };

  /** Node s1/n1 with its will armed, connected and born (epoch 3, battery_soc) at the clock's time. */
  const bornNode = async (broker: MemoryBroker, clock: ManualClock): Promise<Transport> => {
    const epoch = 3;
    const { transport } = await connectClient(broker, 'node-s1-n1', { will: { site: 's1', node: 'n1', epoch } });
    const birth = birthOf(new SessionEncoder(epoch), clock.now(), [batterySoc()]);
    await transport.publish(nodeTopic('fieldmesh', 's1', 'n1', 'birth'), birth, { qos: 1 });
    return transport;
  };

  /** Node s1/n1 born and seen online, then its link cut: the hub holds it offline through its will. */
  const lostNode = async (hub: Hub, broker: MemoryBroker, clock: ManualClock): Promise<void> => {
    const node = await bornNode(broker, clock);
    await waitFor(() => hub.fleet.get('s1', 'n1')?.state === 'online', { what: 'n1 online' });
    await node.close({ graceful: false });
    await waitFor(() => hub.fleet.get('s1', 'n1')?.state === 'offline', { what: 'n1 offline' });
  };

  return { defer, tempDir, startHub, connectClient, bornNode, lostNode };
}
