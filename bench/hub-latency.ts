// The hub under a simulated fleet in real time: sample age at the hub (receive time minus frame time)
// and what the nodes put on the wire, for 10 and 50 battery nodes on loopback.

import { startDemo } from '../src/sim/index.js';

export interface HubLatencyResult {
  readonly nodes: number;
  readonly seconds: number;
  readonly nodesSeenOnline: number;
  readonly samplesReceivedByHub: number;
  readonly sampleAgeAtHubMs: { readonly p50: number; readonly p99: number };
  readonly wireBytesPerNodePerSecond: number;
}

export async function benchHubLatency(nodes: number, seconds: number): Promise<HubLatencyResult> {
  // Ports 0: the bench must not collide with a demo running on the defaults.
  const demo = await startDemo({ nodes, sites: 1, brokerPort: 0, wsPort: 0, hubPort: 0 });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const s = await demo.stop();
  return {
    nodes,
    seconds: s.durationSeconds,
    nodesSeenOnline: s.nodesSeenOnline,
    samplesReceivedByHub: s.samplesReceivedByHub,
    sampleAgeAtHubMs: s.sampleAgeAtHubMs,
    wireBytesPerNodePerSecond: s.wireBytesPerNodePerSecond,
  };
}
