// The TLS benches' fleet: a fleet CA, a real Mosquitto with a plain listener and a TLS listener that requires
// certificates of the CA (use_identity_as_username), byte-counting TCP proxies in front of both (wire bytes both
// ways, TLS records included), an in-process hub signing CSRs (hub.yaml pki) and in-process agents with the
// sim_battery collector of the standard workload (seed-004 rate: the five metrics every 2 s), each with its own
// certificate in its pki.dir.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Agent, agentConfigSchema, createAgent } from '../src/agent/index.js';
import { createHub, type Hub, hubConfigSchema } from '../src/hub/index.js';
import { type Logger, ManualClock } from '../src/kit/index.js';
import { initFleetCa, openFleetCa } from '../src/pki/index.js';
import { type CountingProxy, startCountingProxy } from '../test/kit/counting-proxy.js';
import { type MosquittoInstance, startMosquitto } from '../test/kit/mosquitto.js';
import { freePort } from '../test/kit/ports.js';

export const TICK_MS = 2_000;
/** The standard workload's critical metrics: all five travel live and durable. */
export const CRITICAL = ['battery_soc', 'dc_voltage', 'dc_current', 'ac_in_l1_power', 'ac_out_l1_power'];

export const quiet: Logger = {
  debug() {},
  info() {},
  warn: (obj, msg) => console.error('warn', msg, JSON.stringify(obj)),
  error: (obj, msg) => console.error('error', msg, JSON.stringify(obj)),
  child: () => quiet,
};

export interface TlsFleet {
  readonly dir: string;
  readonly pkiDir: string;
  readonly mosquitto: MosquittoInstance;
  /** The TLS listener's port (behind `tlsProxy`). */
  readonly tlsPort: number;
  readonly plainProxy: CountingProxy;
  readonly tlsProxy: CountingProxy;
  readonly hub: Hub;
  readonly hubUrl: string;
  /** Issues `node`'s certificate into its pki.dir; `dueInMs`: backdated so renewAt 0.5 of a one-day certificate falls then. */
  issueNode(node: string, dueInMs?: number): Promise<string>;
  startAgent(node: string, index: number, tls: boolean): Promise<{ agent: Agent; httpUrl: string }>;
  stop(): Promise<void>;
}

const DAY_MS = 86_400_000;
const BACKDATING_MS = 300_000;

export async function startTlsFleet(name: string): Promise<TlsFleet> {
  const dir = mkdtempSync(join(tmpdir(), `fm-bench-${name}-`));
  const pkiDir = join(dir, 'pki');
  await initFleetCa({ dir: pkiDir, fleet: 'bench-fleet' });
  const ca = openFleetCa({ dir: pkiDir });
  await ca.issue('broker', { site: 'hq', sans: ['127.0.0.1'], outDir: join(dir, 'broker') });
  const tlsPort = await freePort();
  const mosquitto = await startMosquitto({
    extraConfig: [
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${join(pkiDir, 'ca.crt')}`,
      `certfile ${join(dir, 'broker', 'broker.crt')}`,
      `keyfile ${join(dir, 'broker', 'broker.key')}`,
      'require_certificate true',
      'use_identity_as_username true',
      'tls_version tlsv1.2',
    ],
  });
  const plainProxy = await startCountingProxy(mosquitto.port);
  const tlsProxy = await startCountingProxy(tlsPort);
  const hub = createHub(
    hubConfigSchema.parse({
      mqtt: { url: mosquitto.url, clientId: 'hub' },
      http: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, 'hub.db') },
      dataDir: dir,
      pki: { dir: pkiDir, nodeCertDays: 1, renewAt: 0.5 },
    }),
    { logger: quiet },
  );
  const { httpUrl: hubUrl } = await hub.start();
  const agents: Agent[] = [];
  return {
    dir,
    pkiDir,
    mosquitto,
    tlsPort,
    plainProxy,
    tlsProxy,
    hub,
    hubUrl,
    async issueNode(node, dueInMs) {
      const out = join(dir, 'tls', node);
      // renewAt 0.5 of (1 day + the CA's 5 min backdating) after notBefore.
      const back = dueInMs === undefined ? 0 : (DAY_MS + BACKDATING_MS) / 2 - BACKDATING_MS - dueInMs;
      const signer = back === 0 ? ca : openFleetCa({ dir: pkiDir, clock: new ManualClock(Date.now() - back) });
      await signer.issue(node, { site: 'bench', days: 1, outDir: out });
      return out;
    },
    async startAgent(node, index, tls) {
      const url = tls ? `mqtts://127.0.0.1:${tlsProxy.port}` : `mqtt://127.0.0.1:${plainProxy.port}`;
      const agent = createAgent(
        agentConfigSchema.parse({
          node: { id: node, site: 'bench', zone: 'north' },
          mqtt: { url, qos: 1, ...(tls ? { ca: join(pkiDir, 'ca.crt') } : {}) },
          dataDir: join(dir, 'data', node),
          http: { host: '127.0.0.1', port: 0 },
          publish: { tick: `${TICK_MS}ms`, heartbeat: '10s' },
          outbox: { historyInterval: `${TICK_MS}ms` },
          critical: CRITICAL.map((match) => ({ match })),
          collectors: [{ name: 'battery', type: 'sim_battery', index, interval: `${TICK_MS}ms` }],
          ...(tls ? { pki: { dir: join(dir, 'tls', node), retry: '1s', renewAt: 0.5 } } : {}),
        }),
        { logger: quiet },
      );
      agents.push(agent);
      const { httpUrl } = await agent.start();
      if (httpUrl === undefined) throw new Error(`${node}: no HTTP API`);
      return { agent, httpUrl };
    },
    async stop() {
      await Promise.all(agents.map((a) => a.stop().catch(() => {})));
      await hub.stop();
      await plainProxy.close();
      await tlsProxy.close();
      await mosquitto.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

type Values = [number, string][];

async function series(base: string, selector: string, startMs: number, endMs: number): Promise<Values[]> {
  const url = `${base}/api/v1/query_range?query=${encodeURIComponent(selector)}&start=${startMs / 1000}&end=${endMs / 1000}&step=0.1`;
  const body = (await (await fetch(url)).json()) as { data: { result: { metric: Record<string, string>; values: Values }[] } };
  return body.data.result.sort((a, b) => (a.metric.__name__ ?? '').localeCompare(b.metric.__name__ ?? '')).map((r) => r.values);
}

/**
 * The five critical series of a node, from its own store and from the hub, both at 100 ms steps over [start, end]
 * (the query APIs resample; a tick is 2 s, so every sample shows in its steps): the points compared and those that
 * differ or are missing at the hub.
 */
export async function samplesMissingAtHub(
  hubUrl: string,
  node: string,
  nodeUrl: string,
  startMs: number,
  endMs: number,
): Promise<{ recorded: number; missing: number }> {
  let recorded = 0;
  let missing = 0;
  for (const metric of CRITICAL) {
    const mine = (await series(nodeUrl, metric, startMs, endMs))[0] ?? [];
    const theirs = new Set(((await series(hubUrl, `${metric}{node="${node}"}`, startMs, endMs))[0] ?? []).map(([t, v]) => `${t}:${v}`));
    recorded += mine.length;
    missing += mine.filter(([t, v]) => !theirs.has(`${t}:${v}`)).length;
  }
  return { recorded, missing };
}

export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}
