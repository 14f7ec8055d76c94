// The hub's remote write forwarders (hub.yaml `remoteWrite`, docs/remote-write.md): the history the hub's storage
// holds, or the series `match` selects, to each receiver, from a cursor file per remote in the hub's data dir. Run by
// the process that leads (the embedded hub; on a scale-out hub the leader).

import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { Clock, Logger } from '../kit/index.js';
import { createFileCursorStore, createRemoteWriteMetricSet } from '../platform/index.js';
import { createRemoteWrites, type RemoteWriteConfig, type RemoteWrites } from '../protocol/remote-write/index.js';
import type { HubStorage } from './storage/storage.js';

/** One forwarder per configured remote over the hub's history: series with their site, node and zone labels. */
export function createHubRemoteWrites(
  remotes: readonly RemoteWriteConfig[],
  deps: {
    readonly storage: Pick<HubStorage, 'querySeries'>;
    readonly dataDir: string;
    readonly registry: Registry;
    readonly clock: Clock;
    readonly logger: Logger;
  },
): RemoteWrites {
  const metricSet = remotes.length > 0 ? createRemoteWriteMetricSet(deps.registry) : undefined;
  return createRemoteWrites(remotes, {
    query: (matchers, startMs, endMs) => deps.storage.querySeries(matchers, startMs, endMs),
    cursorFor: (name) => createFileCursorStore(join(deps.dataDir, 'remote-write', `${name}.json`)),
    metricsFor: (name) => metricSet?.of(name),
    clock: deps.clock,
    logger: deps.logger,
  });
}
