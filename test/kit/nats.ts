// Starts real nats-servers with JetStream for tests: one server, or a cluster of three joined by routes, each on free
// 127.0.0.1 ports with its own temp store; kill -9 and restart of one server; stopped by their own PIDs only. Never the
// machine's own server on 4222.

import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './ports.js';
import { haltProcess, spawnUntilReady } from './server-process.js';
import { waitFor } from './wait.js';

/** The port nats-server listens on by default: the machine's own server, never one of ours. */
const SYSTEM_NATS_PORT = 4222;

export interface NatsServer {
  /** Its server_name, unique in a cluster (`n1`, `n2`, ...). */
  readonly name: string;
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The HTTP monitoring port (`/healthz`, `/jsz`, `/varz`). */
  readonly monitorPort: number;
  /** PID of the running process, -1 while it is down. */
  readonly pid: number;
  /** True while the process runs. */
  readonly running: boolean;
  /** Everything it logged so far, for diagnosis. */
  log(): string;
  /** kill -9: no shutdown, the store left as the crash leaves it. */
  kill(): Promise<void>;
  /** Starts it again on the same ports with the same store (after `kill`); resolves once it is ready. */
  restart(): Promise<void>;
  /** Stops it (SIGTERM, SIGKILL after 5 s). */
  stop(): Promise<void>;
}

export interface NatsServerSet {
  readonly servers: readonly NatsServer[];
  /** Every server's URL, for a client that fails over between them. */
  readonly urls: readonly string[];
  /** Resolves once every running server reports JetStream healthy (`/healthz`: a meta leader known, streams current). */
  healthy(timeoutMs?: number): Promise<void>;
  /** Stops every server and deletes the stores. */
  stop(): Promise<void>;
}

export interface NatsOptions {
  /** How long a server may take to say it is ready (default 10000 ms). */
  readonly readyTimeoutMs?: number;
}

export function natsServerBinary(): string {
  const candidates = ['/usr/sbin/nats-server', ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'nats-server'))];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {}
  }
  throw new Error('nats-server is not installed (Debian package "nats-server")');
}

/** A free port is free only until something takes it: a server that lost that race is started again on new ones. */
const ADDRESS_IN_USE = /address already in use/;
const START_ATTEMPTS = 3;

interface Ports {
  readonly client: number;
  readonly monitor: number;
  readonly cluster: number;
}

function configText(name: string, dir: string, ports: Ports, routes: readonly number[], clusterName?: string): string {
  const lines = [
    `server_name: ${name}`,
    `listen: 127.0.0.1:${ports.client}`,
    `http: 127.0.0.1:${ports.monitor}`,
    // Small limits: a test stores kilobytes, and the machine is shared.
    `jetstream { store_dir: "${join(dir, 'store')}", max_memory_store: 64MB, max_file_store: 1GB }`,
  ];
  if (clusterName !== undefined) {
    const others = routes.filter((p) => p !== ports.cluster).map((p) => `nats-route://127.0.0.1:${p}`);
    lines.push(`cluster { name: ${clusterName}, listen: 127.0.0.1:${ports.cluster}, routes: [${others.join(', ')}] }`);
  }
  return `${lines.join('\n')}\n`;
}

function launchServer(name: string, dir: string, ports: Ports, config: string, options: NatsOptions): NatsServer {
  const binary = natsServerBinary();
  const confFile = join(dir, 'nats.conf');
  writeFileSync(confFile, config);
  let child: ChildProcess | undefined;
  let output = '';

  async function launch(): Promise<void> {
    child = await spawnUntilReady(binary, ['-c', confFile], {
      what: `nats-server ${name}`,
      ready: 'Server is ready',
      timeoutMs: options.readyTimeoutMs ?? 10_000,
      onOutput: (text) => {
        output += text;
      },
    });
  }

  async function halt(signal: NodeJS.Signals): Promise<void> {
    const proc = child;
    child = undefined;
    await haltProcess(proc, signal);
  }

  const server: NatsServer & { launch(): Promise<void> } = {
    name,
    url: `nats://127.0.0.1:${ports.client}`,
    port: ports.client,
    monitorPort: ports.monitor,
    get pid() {
      return child?.pid ?? -1;
    },
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    log: () => output,
    kill: () => halt('SIGKILL'),
    restart: async () => {
      await halt('SIGTERM');
      await launch();
    },
    stop: () => halt('SIGTERM'),
    launch,
  };
  return server;
}

/** True when the server's `/healthz` says JetStream is healthy (for a cluster: a meta leader known, its assets current). */
async function jetStreamHealthy(server: NatsServer): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${server.monitorPort}/healthz`);
  return res.ok;
}

function serverSet(servers: NatsServer[], dirs: string[]): NatsServerSet {
  return {
    servers,
    urls: servers.map((s) => s.url),
    async healthy(timeoutMs = 20_000) {
      for (const s of servers.filter((x) => x.running)) {
        await waitFor(() => jetStreamHealthy(s), { what: `nats-server ${s.name} JetStream healthy`, timeoutMs, intervalMs: 50 });
      }
    },
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts `count` servers (1: a lone server; 3: a cluster that tolerates the loss of one) and waits until JetStream is healthy. */
async function startServers(count: number, options: NatsOptions): Promise<NatsServerSet> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServersOnce(count, options);
    } catch (err) {
      if (attempt >= START_ATTEMPTS || !ADDRESS_IN_USE.test(String((err as Error).message))) throw err;
    }
  }
}

async function startServersOnce(count: number, options: NatsOptions): Promise<NatsServerSet> {
  const dirs: string[] = [];
  const servers: (NatsServer & { launch(): Promise<void> })[] = [];
  const ports: Ports[] = [];
  const free = await freePorts(3 * count, [SYSTEM_NATS_PORT]);
  for (let i = 0; i < count; i++)
    ports.push({ client: free[3 * i] as number, monitor: free[3 * i + 1] as number, cluster: free[3 * i + 2] as number });
  const clusterName = count > 1 ? `fm-test-${process.pid}` : undefined;
  const routes = ports.map((p) => p.cluster);
  for (let i = 0; i < count; i++) {
    const name = `n${i + 1}`;
    const dir = mkdtempSync(join(tmpdir(), `fieldmesh-nats-${name}-`));
    dirs.push(dir);
    const p = ports[i] as Ports;
    servers.push(
      launchServer(name, dir, p, configText(name, dir, p, routes, clusterName), options) as NatsServer & { launch(): Promise<void> },
    );
  }
  const set = serverSet(servers, dirs);
  try {
    await Promise.all(servers.map((s) => s.launch()));
    await set.healthy();
  } catch (err) {
    await set.stop();
    throw err;
  }
  return set;
}

/** One nats-server with JetStream on free ports (`servers[0]`). */
export function startNatsServer(options: NatsOptions = {}): Promise<NatsServerSet> {
  return startServers(1, options);
}

/** A JetStream cluster of three servers joined by routes, each on free ports: it keeps an R3 stream through the loss of one. */
export function startNatsCluster(options: NatsOptions = {}): Promise<NatsServerSet> {
  return startServers(3, options);
}
