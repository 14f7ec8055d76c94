// The agent's own collector of its services' state: every tick, fieldmesh_service_up{service} as a local
// sample (1 running or healthy, 0 otherwise). The agent marks the series critical (a selector added after
// the configured ones), so it rides the awareness plane and reaches the hub's live state like any
// critical series; a configured selector matching it first decides its deadband and silence.

import type { Collector } from '../collectors/collector.js';
import { type IntervalLoop, startIntervalLoop } from '../collectors/interval-loop.js';
import { isServiceUp } from './service-metrics.js';
import type { ServiceSupervisor } from './supervisor.js';

export const SERVICE_UP_SERIES = 'fieldmesh_service_up';

export function createServicesCollector(supervisor: ServiceSupervisor, tickMs: number): Collector {
  let loop: IntervalLoop | undefined;
  /** Services recorded before: one removed by a new config gets a last 0. */
  let known = new Set<string>();
  return {
    kind: 'services',
    name: 'services',
    async start(ctx) {
      known = new Set();
      loop = startIntervalLoop(ctx.clock, ctx.logger, tickMs, async () => {
        const time = ctx.clock.now();
        const now = supervisor.list();
        const samples = now.map((s) => ({
          name: SERVICE_UP_SERIES,
          labels: { service: s.name },
          value: isServiceUp(s.state) ? 1 : 0,
          time,
          type: 'gauge' as const,
          unit: '',
        }));
        const names = new Set(now.map((s) => s.name));
        for (const gone of known)
          if (!names.has(gone))
            samples.push({ name: SERVICE_UP_SERIES, labels: { service: gone }, value: 0, time, type: 'gauge', unit: '' });
        known = names;
        if (samples.length > 0) await ctx.record(samples);
      });
    },
    async stop() {
      await loop?.stop();
      loop = undefined;
    },
  };
}
