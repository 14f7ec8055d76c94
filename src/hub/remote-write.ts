// The hub's remote write forwarders (hub.yaml `remoteWrite`, docs/remote-write.md): the history the hub's storage
// holds, or the series `match` selects, to each receiver, from a cursor file per remote in the hub's data dir. Run by
// the process that leads (the embedded hub; on a scale-out hub the leader).

import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { Clock, Logger } from '../kit/index.js';
import { createFileCursorStore, createRemoteWriteMetricSet } from '../platform/index.js';
import { type LabelMatcher, parseSelector } from '../protocol/index.js';
import {
  createRemoteWriteForwarder,
  type RemoteSeries,
  type RemoteWriteConfig,
  type RemoteWriteForwarder,
  type RemoteWriteSource,
  remoteWriteName,
} from '../protocol/remote-write/index.js';
import type { HubStorage } from './storage/storage.js';

/** A source over the hub's storage: series labelled with `__name__`, their site, node and zone, and `external`. */
export function storageRemoteWriteSource(
  storage: Pick<HubStorage, 'querySeries'>,
  match: readonly string[],
  external: Readonly<Record<string, string>>,
): RemoteWriteSource {
  const selectors: (readonly LabelMatcher[])[] = match.length === 0 ? [[]] : match.map((m) => parseSelector(m).matchers);
  return {
    async read(startMs, endMs) {
      const out: RemoteSeries[] = [];
      const seen = new Set<number>();
      for (const matchers of selectors) {
        for (const { series, points } of await storage.querySeries(matchers, startMs, endMs)) {
          if (seen.has(series.id) || points.length === 0) continue;
          seen.add(series.id);
          const labels: Record<string, string> = { ...external, ...series.labels, __name__: series.name };
          // A null value is the hub's staleness marker: Prometheus' stale NaN on the wire.
          out.push({ labels, samples: points.map(([timestampMs, value]) => ({ timestampMs, value })) });
        }
      }
      return out;
    },
  };
}

export interface HubRemoteWrites {
  readonly forwarders: readonly RemoteWriteForwarder[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createHubRemoteWrites(
  remotes: readonly RemoteWriteConfig[],
  deps: {
    readonly storage: Pick<HubStorage, 'querySeries'>;
    readonly dataDir: string;
    readonly registry: Registry;
    readonly clock: Clock;
    readonly logger: Logger;
  },
): HubRemoteWrites {
  const metricSet = remotes.length > 0 ? createRemoteWriteMetricSet(deps.registry) : undefined;
  const forwarders = remotes.map((r) => {
    const name = remoteWriteName(r);
    return createRemoteWriteForwarder({
      name,
      url: r.url,
      headers: r.headers,
      basicAuth: r.basicAuth,
      bearerToken: r.bearerToken,
      remoteTimeoutMs: r.remoteTimeout,
      ...(r.history > 0 ? { startMs: deps.clock.now() - r.history } : {}),
      queue: {
        maxSamplesPerSend: r.queue.maxSamplesPerSend,
        maxShards: r.queue.maxShards,
        batchSendDeadlineMs: r.queue.batchSendDeadline,
        minBackoffMs: r.queue.minBackoff,
        maxBackoffMs: r.queue.maxBackoff,
      },
      source: storageRemoteWriteSource(deps.storage, r.match, r.externalLabels),
      cursor: createFileCursorStore(join(deps.dataDir, 'remote-write', `${name}.json`)),
      metrics: metricSet?.of(name),
      clock: deps.clock,
      logger: deps.logger,
    });
  });
  let running = false;
  return {
    forwarders,
    async start() {
      if (running) return;
      running = true;
      for (const f of forwarders) await f.start();
    },
    async stop() {
      running = false;
      await Promise.all(forwarders.map((f) => f.stop()));
    },
  };
}
