// The node's remote write forwarders (node.yaml `remoteWrite`, docs/remote-write.md): every sample the store holds,
// or those of the series `match` selects, to each receiver, resumed from a cursor file per remote in the state dir.

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
import type { SampleStore } from './store/index.js';

/** A source over the node's store: the series `match` selects (all when empty), labelled with `__name__` and `external`. */
export function storeRemoteWriteSource(
  store: Pick<SampleStore, 'query'>,
  match: readonly string[],
  external: Readonly<Record<string, string>>,
): RemoteWriteSource {
  const selectors: (readonly LabelMatcher[])[] = match.length === 0 ? [[]] : match.map((m) => parseSelector(m).matchers);
  return {
    async read(startMs, endMs) {
      const out: RemoteSeries[] = [];
      const seen = new Set<number>();
      for (const matchers of selectors) {
        for (const { series, points } of await store.query(matchers, startMs, endMs)) {
          if (seen.has(series.id)) continue;
          seen.add(series.id);
          const labels: Record<string, string> = { ...external, ...series.labels, __name__: series.name };
          out.push({ labels, samples: points.map(([timestampMs, value]) => ({ timestampMs, value })) });
        }
      }
      return out;
    },
  };
}

export interface NodeRemoteWrites {
  readonly forwarders: readonly RemoteWriteForwarder[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

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
): NodeRemoteWrites {
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
      source: storeRemoteWriteSource(deps.store, r.match, { site: deps.identity.site, node: deps.identity.node, ...r.externalLabels }),
      cursor: createFileCursorStore(join(deps.stateDir, 'remote-write', `${name}.json`)),
      metrics: metricSet?.of(name),
      clock: deps.clock,
      logger: deps.logger,
    });
  });
  return {
    forwarders,
    async start() {
      for (const f of forwarders) await f.start();
    },
    async stop() {
      await Promise.all(forwarders.map((f) => f.stop()));
    },
  };
}
