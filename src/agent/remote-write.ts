// The node's remote write forwarders (node.yaml `remoteWrite`, docs/remote-write.md): every sample the store holds,
// or those of the series `match` selects, to each receiver, resumed from a cursor file per remote in the state dir.

import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { Clock, Logger } from '../kit/index.js';
import { createFileCursorStore, createRemoteWriteMetricSet } from '../platform/index.js';
import { createRemoteWrites, type RemoteWriteConfig, type RemoteWrites } from '../protocol/remote-write/index.js';
import type { SampleStore } from './store/index.js';

/** One forwarder per configured remote; the node's site and node are external labels unless the config sets them. */
export function createNodeRemoteWrites(
  remotes: readonly RemoteWriteConfig[],
  deps: {
    readonly store: Pick<SampleStore, 'query'>;
    readonly stateDir: string;
    readonly identity: { readonly site: string; readonly node: string };
    readonly registry: Registry;
    readonly clock: Clock;
    readonly logger: Logger;
  },
): RemoteWrites {
  const metricSet = remotes.length > 0 ? createRemoteWriteMetricSet(deps.registry) : undefined;
  return createRemoteWrites(remotes, {
    query: (matchers, startMs, endMs) => deps.store.query(matchers, startMs, endMs),
    external: { site: deps.identity.site, node: deps.identity.node },
    cursorFor: (name) => createFileCursorStore(join(deps.stateDir, 'remote-write', `${name}.json`)),
    metricsFor: (name) => metricSet?.of(name),
    clock: deps.clock,
    logger: deps.logger,
  });
}
