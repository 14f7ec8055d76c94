// A collector the benchmarks feed by hand (from the standard workload) instead of a real source.

import type { Collector, CollectorContext } from '../src/agent/index.js';

export type Feeder = Collector & { ctx?: CollectorContext };

export function feeder(): Feeder {
  const c: Feeder = {
    kind: 'bench',
    name: 'bench',
    async start(ctx) {
      c.ctx = ctx;
    },
    async stop() {},
  };
  return c;
}
