// `npm run bench -- commands`: `fieldmesh cmd all ping` over simulated nodes through a real Mosquitto
// and a real hub: how long until every node has its result, with some nodes silent (they time out) and
// some offline (they fail fast). The run cannot end before the timeout when a node is silent, so the
// figures say how far past the timeout the last result lands, and how long an all-answering run takes.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHub, hubConfigSchema } from '../src/hub/index.js';
import type { CommandRunView } from '../src/protocol/index.js';
import { startMosquitto } from '../test/kit/mosquitto.js';
import { simNodeId, startSimResponders } from '../test/kit/sim-responders.js';
import { waitFor } from '../test/kit/wait.js';

export interface CommandsBench {
  readonly nodes: number;
  readonly silent: number;
  readonly offline: number;
  readonly timeoutMs: number;
  readonly counts: CommandRunView['counts'];
  /** From POST /api/v1/commands to the answer with every result, ms. */
  readonly runMs: number;
  /** The slowest answering node's ms. */
  readonly slowestOkMs: number;
  readonly medianOkMs: number;
}

export async function benchCommands(nodes: number, silent: number, offline: number, timeoutMs: number): Promise<CommandsBench> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-commands-'));
  const mosquitto = await startMosquitto();
  const hub = createHub(
    hubConfigSchema.parse({ dataDir: dir, storage: { path: join(dir, 'hub.db') }, mqtt: { url: mosquitto.url, clientId: 'hub' } }),
  );
  let sims: Awaited<ReturnType<typeof startSimResponders>> | undefined;
  try {
    await hub.start({ listen: false });
    const ids = Array.from({ length: nodes }, (_, i) => simNodeId(i));
    sims = await startSimResponders({
      mqttUrl: mosquitto.url,
      site: 'bench',
      count: nodes,
      silent: new Set(ids.slice(0, silent)),
      offline: new Set(ids.slice(silent, silent + offline)),
    });
    await waitFor(() => hub.fleet.nodes().filter((n) => n.state === 'online').length === nodes - offline, {
      what: `${nodes - offline} simulated nodes online`,
      timeoutMs: 30_000,
    });
    await waitFor(() => hub.fleet.nodes().filter((n) => n.state === 'offline').length === offline, { what: 'offline ones offline' });
    const began = performance.now();
    const res = await hub.app.inject({ method: 'POST', url: '/api/v1/commands', payload: { target: 'all', command: 'ping', timeoutMs } });
    const runMs = performance.now() - began;
    const view = res.json() as CommandRunView;
    const okMs = view.results
      .filter((r) => r.status === 'ok')
      .map((r) => r.ms ?? 0)
      .sort((a, b) => a - b);
    return {
      nodes,
      silent,
      offline,
      timeoutMs,
      counts: view.counts,
      runMs: Math.round(runMs),
      slowestOkMs: okMs.at(-1) ?? 0,
      medianOkMs: okMs[Math.floor(okMs.length / 2)] ?? 0,
    };
  } finally {
    await sims?.close();
    await hub.stop();
    await mosquitto.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
