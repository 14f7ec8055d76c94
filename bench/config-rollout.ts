// `npm run bench -- config-rollout`: issue 11's figure "a one-line change in fleet.yaml reaches all nodes of
// a 50-node fleet, applied live and acknowledged per node, within 30 s on loopback". A real Mosquitto, a hub
// watching a repository folder, 50 in-process agents (each with its own MQTT session, outbox and config
// reconciler); the clock runs from the hub's read of the changed folder to each node's config_applied event
// stored at the hub (so it includes render, publish, the node's decode/validate/apply, its outbox and the
// hub's storage of the report).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Agent, agentConfigSchema, createAgent } from '../src/agent/index.js';
import { renderConfigRepoFiles } from '../src/cli/hub-config-repo.js';
import { createHub, hubConfigSchema } from '../src/hub/index.js';
import { startMosquitto } from '../test/kit/mosquitto.js';
import { waitFor } from '../test/kit/wait.js';

export interface ConfigRolloutBench {
  readonly nodes: number;
  /** Start to every node in-sync (each applied its first distributed config at start), ms. */
  readonly firstRolloutMs: number;
  /** From the hub's read of the changed fleet.yaml to the last node's acknowledgement stored at the hub, ms. */
  readonly changeToAllAckedMs: number;
  /** Per node, from the read to its acknowledgement (its config_applied event time), ms. */
  readonly perNodeAckMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Every node applied the change live (nothing waiting for a restart). */
  readonly appliedLive: boolean;
}

const FLEET = (deadband: string) =>
  [
    'http: {enabled: false}',
    'publish: {tick: 1s, heartbeat: 10s}',
    'critical:',
    '  - match: battery_soc',
    `    deadband: ${deadband}`,
    '',
  ].join('\n');

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

export async function benchConfigRollout(nodes: number): Promise<ConfigRolloutBench> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-config-'));
  const repo = join(dir, 'repo');
  mkdirSync(join(repo, 'nodes'), { recursive: true });
  writeFileSync(join(repo, 'fleet.yaml'), FLEET('2%'));
  const ids = Array.from({ length: nodes }, (_, i) => `n${String(i).padStart(3, '0')}`);
  for (const id of ids) writeFileSync(join(repo, 'nodes', `${id}.yaml`), `node: {id: ${id}, site: bench, zone: z1}\n`);
  const mosquitto = await startMosquitto();
  const hub = createHub(
    hubConfigSchema.parse({
      dataDir: dir,
      storage: { path: join(dir, 'hub.db') },
      mqtt: { url: mosquitto.url, clientId: 'hub' },
      configRepo: { dir: repo, interval: '1h' },
    }),
    { configRepoRenderer: renderConfigRepoFiles },
  );
  const agents: Agent[] = [];
  try {
    const began = Date.now();
    await hub.start({ listen: false });
    const reconciler = hub.configRepo;
    if (reconciler === undefined) throw new Error('the hub has no configRepo');
    for (const id of ids) {
      const agent = createAgent(
        agentConfigSchema.parse({
          node: { id, site: 'bench', zone: 'z1' },
          mqtt: { url: mosquitto.url, qos: 1 },
          dataDir: join(dir, id),
          http: { enabled: false },
          publish: { tick: '1s', heartbeat: '10s' },
        }),
      );
      agents.push(agent);
      await agent.start();
    }
    const allInSync = (hash?: (id: string) => boolean) =>
      waitFor(
        () => {
          const views = reconciler.nodes().filter((v) => v.site === 'bench');
          return views.length === nodes && views.every((v) => v.state === 'in-sync' && (hash?.(v.node) ?? true)) ? views : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 20 },
      );
    const first = await allInSync();
    const firstRolloutMs = Date.now() - began;
    const before = new Map(first.map((v) => [v.node, v.desired?.hash]));
    // The one-line change, then the hub's read of it (what its poll does every configRepo.interval).
    writeFileSync(join(repo, 'fleet.yaml'), FLEET('3%'));
    const t0 = Date.now();
    await reconciler.sync();
    const after = await allInSync((id) => {
      const v = reconciler.nodes().find((n) => n.node === id);
      return v?.desired?.hash !== before.get(id) && v?.reported?.hash === v?.desired?.hash;
    });
    const changeToAllAckedMs = Date.now() - t0;
    const acks = after.map((v) => Math.max(0, (v.reported?.at ?? t0) - t0)).sort((a, b) => a - b);
    return {
      nodes,
      firstRolloutMs,
      changeToAllAckedMs,
      perNodeAckMs: { p50: quantile(acks, 0.5), p99: quantile(acks, 0.99), max: acks.at(-1) ?? 0 },
      appliedLive: after.every((v) => v.reported?.pendingRestart.length === 0),
    };
  } finally {
    for (const a of agents) await a.stop().catch(() => {});
    await hub.stop();
    await mosquitto.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
