// A collector the test feeds: it keeps the agent's context, through which the test records samples and events.
import type { Collector, CollectorContext } from '../../src/agent/index.js';

export type FeederCollector = Collector & { ctx?: CollectorContext };

export function feederCollector(name = 'feeder'): FeederCollector {
  const c: FeederCollector = {
    kind: 'manual',
    name,
    async start(ctx) {
      c.ctx = ctx;
    },
    async stop() {},
  };
  return c;
}
