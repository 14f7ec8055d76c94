// `npm run bench`: every figure of the foundation issue, baselines side by side, JSON in bench/results/.
// Usage: npm run bench [-- wire|hub|hub-scale|memory|backfill|store|record-sink|awareness|console|live|commands|config-rollout|cert-rotation|tls-cost|tracing|remote-write|promql ...]

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, runSim } from '../src/sim/index.js';
import { startMosquitto } from '../test/kit/mosquitto.js';
import { benchAgentMemory } from './agent-memory.js';
import { benchBackfill } from './backfill.js';
import { benchCertRotation } from './cert-rotation.js';
import { benchCommands } from './commands.js';
import { benchConfigRollout } from './config-rollout.js';
import { benchConsoleSize } from './console-size.js';
import { benchHubLatency } from './hub-latency.js';
import { benchHubScale } from './hub-scale.js';
import { benchLinkCost } from './link-cost.js';
import { benchLiveFeed } from './live-feed.js';
import { benchPromql } from './promql.js';
import { benchRecordSink } from './record-sink.js';
import { benchRemoteWrite } from './remote-write.js';
import { benchStore } from './store.js';
import { benchTlsCost } from './tls-cost.js';
import { benchTracingCost } from './tracing-cost.js';
import { benchWire } from './wire.js';

const only = new Set(process.argv.slice(2));
const want = (name: string) => only.size === 0 || only.has(name);
const results: Record<string, unknown> = { startedAt: new Date().toISOString(), node: process.version };

function save(name: string, value: unknown): void {
  results[name] = value;
  console.log(JSON.stringify({ [name]: value }, null, 2));
}

if (want('wire')) {
  const mosquitto = await startMosquitto();
  try {
    save('wire', [await benchWire(mosquitto.url, 'mosquitto 2.0', 10, 300), await benchWire(mosquitto.url, 'mosquitto 2.0', 50, 150)]);
  } finally {
    await mosquitto.stop();
  }
}
if (want('hub')) save('hubLatency', [await benchHubLatency(10, 20), await benchHubLatency(50, 30)]);
if (want('memory')) save('agentMemory', await benchAgentMemory(1_000));
if (want('store')) save('store', await benchStore(200));
if (want('record-sink')) save('recordSink', await benchRecordSink());
if (want('remote-write')) save('remoteWrite', await benchRemoteWrite());
if (want('awareness')) {
  // Issue 4's figures: fieldmesh UDP and MQTT digest beside the JSON-star baseline through a real Mosquitto, one run each.
  const runs = [];
  for (const [scenario, nodes] of [
    ['steady', 10],
    ['steady', 50],
    ['churn', 50],
    ['cold-start', 50],
    ['partition', 50],
  ] as const) {
    const s = await loadScenario(scenario, { overrides: { nodes } });
    const { results } = await runSim(s, { outDir: mkdtempSync(join(tmpdir(), 'fm-bench-sim-')), progress: false });
    runs.push({ scenario, nodes, designs: results.designs.map((d) => ({ name: d.name, measures: d.measures })) });
  }
  save('awareness', runs);
}
if (want('backfill')) save('backfill', await benchBackfill(50, 3_600, 150_000));
if (want('console')) save('consoleSize', await benchConsoleSize());
if (want('commands')) save('commands', [await benchCommands(200, 0, 0, 5_000), await benchCommands(200, 10, 10, 5_000)]);
if (want('link-cost')) save('linkCost', await benchLinkCost(5, 300));
if (want('config-rollout')) save('configRollout', await benchConfigRollout(50));
if (want('cert-rotation')) save('certRotation', await benchCertRotation(20));
if (want('tls-cost')) save('tlsCost', await benchTlsCost(10, 60));
// Issue 13: the embedded hub beside the NATS + PostgreSQL hub with 1, 2 and 4 workers; `hub-scale-1k` or `hub-scale-10k` for one size.
if (only.has('hub-scale') || only.has('hub-scale-1k')) save('hubScale1k', await benchHubScale({ nodes: 1_000, measureSeconds: 30 }));
if (only.has('hub-scale') || only.has('hub-scale-10k'))
  save('hubScale10k', await benchHubScale({ nodes: 10_000, measureSeconds: 20, settleSeconds: 5, drainSeconds: 45 }));
// Issue 13: what OpenTelemetry tracing costs the hub's durable ingest (off, ratio 0.01, ratio 1); on its own only.
if (only.has('tracing')) save('tracingCost', await benchTracingCost());
// Issue 14: the PromQL oracle's agreement and latency beside Prometheus (1,000 series, one day); on its own only.
if (only.has('promql')) save('promql', await benchPromql());
if (want('live')) save('liveFeed', [await benchLiveFeed(10, 20), await benchLiveFeed(50, 20)]);

mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const file = new URL(`./results/bench-${Date.now()}.json`, import.meta.url);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(new URL('./results/latest.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
console.log(`written ${file.pathname}`);
process.exit(0);
