// The hub's remote write forwarders (hub.yaml `remoteWrite`, docs/remote-write.md): the history the hub's storage
// holds, or the series `match` selects, to each receiver, from a cursor per remote: in the storage when it keeps them
// (PostgreSQL: shared by a scale-out hub's api processes, saved fenced by the leader's lease), else a file in the hub's
// data dir (the embedded hub). Run by the process that leads (the embedded hub; on a scale-out hub the leader).

import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { Clock, Logger } from '../kit/index.js';
import { createFileCursorStore, createRemoteWriteMetricSet } from '../platform/index.js';
import {
  createRemoteWrites,
  type RemoteWriteArrivals,
  type RemoteWriteConfig,
  type RemoteWriteCursorStore,
  type RemoteWrites,
} from '../protocol/remote-write/index.js';
import type { HubStorage } from './storage/storage.js';

/** One forwarder per configured remote over the hub's history: series with their site, node and zone labels. */
export function createHubRemoteWrites(
  remotes: readonly RemoteWriteConfig[],
  deps: {
    /** The leader's storage: on a scale-out hub fenced by its lease, so a deposed leader moves no cursor. */
    readonly storage: Pick<HubStorage, 'querySeries' | 'loadRemoteWriteCursor' | 'saveRemoteWriteCursor' | 'readArrivals' | 'arrivalHead'>;
    readonly dataDir: string;
    readonly registry: Registry;
    readonly clock: Clock;
    readonly logger: Logger;
  },
): RemoteWrites {
  const metricSet = remotes.length > 0 ? createRemoteWriteMetricSet(deps.registry) : undefined;
  return createRemoteWrites(remotes, {
    query: (matchers, startMs, endMs) => deps.storage.querySeries(matchers, startMs, endMs),
    cursorFor: (name) =>
      storageCursorStore(deps.storage, name) ?? createFileCursorStore(join(deps.dataDir, 'remote-write', `${name}.json`)),
    // By arrival order (docs/remote-write.md "Arrival order"): late history is forwarded too. Its position is a
    // cursor of its own (`<name>.arrival`), so a time cursor of an earlier version is still read for the first pass.
    ...arrivalsOf(deps.storage),
    arrivalCursorFor: (name) =>
      storageCursorStore(deps.storage, `${name}.arrival`) ??
      createFileCursorStore(join(deps.dataDir, 'remote-write', `${name}.arrival.json`)),
    metricsFor: (name) => metricSet?.of(name),
    clock: deps.clock,
    logger: deps.logger,
  });
}

/** The remote's cursor in the storage's table, when the storage keeps cursors (PostgreSQL); undefined otherwise. */
function storageCursorStore(
  storage: Pick<HubStorage, 'loadRemoteWriteCursor' | 'saveRemoteWriteCursor'>,
  remote: string,
): RemoteWriteCursorStore | undefined {
  const { loadRemoteWriteCursor: load, saveRemoteWriteCursor: save } = storage;
  if (load === undefined || save === undefined) return undefined;
  return { load: () => load.call(storage, remote), save: (cursor) => save.call(storage, remote, cursor) };
}

/** The storage's arrival reads, when it has them (both stores do). */
function arrivalsOf(storage: Pick<HubStorage, 'readArrivals' | 'arrivalHead'>): { arrivals?: RemoteWriteArrivals } {
  const { readArrivals: read, arrivalHead: head } = storage;
  if (read === undefined || head === undefined) return {};
  return { arrivals: { read: (after, limit) => read.call(storage, after, limit), head: () => head.call(storage) } };
}
