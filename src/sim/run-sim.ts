// `fieldmesh sim`: one scenario, every design side by side on the same workload and link model,
// written as report.json, report.md and SVG plots.

import type { Logger } from '../kit/index.js';
import { runAwarenessSim } from './awareness-sim.js';
import { runJsonStar } from './json-star.js';
import { MCS0_1MHZ_CHANNEL } from './medium.js';
import { createProgress } from './progress.js';
import { type DesignResult, type SimResults, type WrittenReport, writeReport } from './report.js';
import type { Scenario } from './scenario.js';

export interface RunSimOptions {
  /** Where the report goes; created when missing. */
  readonly outDir: string;
  /** Also run the JSON-star baseline through a real Mosquitto (when installed). Default true. */
  readonly baseline?: boolean;
  /** Show a progress bar on stderr. Default true. */
  readonly progress?: boolean;
  readonly logger?: Logger;
}

export async function runSim(s: Scenario, o: RunSimOptions): Promise<{ results: SimResults; written: WrittenReport }> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const designs: DesignResult[] = [];
  // Both transports of the awareness plane, the scenario's own first, on the same workload and faults.
  const transports = s.transport === 'mqtt' ? (['mqtt', 'udp'] as const) : (['udp', 'mqtt'] as const);
  for (const transport of transports) {
    const progress = o.progress === false ? undefined : createProgress({ totalMs: s.durationS * 1000, label: `${s.name} (${transport})` });
    const outcome = await runAwarenessSim({ ...s, transport }, { onProgress: (ms) => progress?.update(ms) });
    progress?.done();
    designs.push(outcome.design);
  }
  if (o.baseline !== false) {
    const progress = o.progress === false ? undefined : createProgress({ totalMs: 1000, label: `${s.name} (json-star baseline)` });
    designs.push(
      await runJsonStar({
        nodes: s.nodes,
        durationS: s.durationS,
        tickMs: s.tickMs,
        seed: s.seed,
        airtime: MCS0_1MHZ_CHANNEL,
        onProgress: (f) => progress?.update(f * 1000),
        ...(o.logger ? { logger: o.logger } : {}),
      }),
    );
    progress?.done();
  }
  const link =
    s.link.model === 'radio'
      ? `radio ${Math.round(s.link.bitsPerSecond / 1000)} kbps, ${s.link.perFrameOverheadUs} us + ${s.link.headerBytes} B per frame, ${s.link.topology.kind === 'full' ? 'everyone in range' : s.link.topology.kind}`
      : `point-to-point ${Math.round(s.link.bitsPerSecond / 1000)} kbps, ${s.link.latencyMs} ms, ${s.link.topology.kind}`;
  const results: SimResults = {
    scenario: {
      name: s.name,
      ...(s.description ? { description: s.description } : {}),
      nodes: s.nodes,
      durationS: s.durationS,
      warmupS: s.warmupS,
      tickMs: s.tickMs,
      seed: s.seed,
      loss: s.loss,
      link,
      faults: s.schedule.map(
        (f) => `${(f.atMs / 1000).toFixed(0)} s ${f.action} ${f.nodes.join(', ')}${f.durationMs ? ` for ${f.durationMs / 1000} s` : ''}`,
      ),
    },
    clock: 'simulated',
    startedAt,
    wallSeconds: Math.round((performance.now() - started) / 100) / 10,
    designs,
  };
  return { results, written: await writeReport(results, o.outDir) };
}
