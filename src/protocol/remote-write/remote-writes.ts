// The remote write forwarders of one process (node.yaml or hub.yaml `remoteWrite`, docs/remote-write.md): one per
// configured remote, each over the series `match` selects (all when empty) of a store, labelled with `__name__`, their
// own labels and the external labels. The node and the hub give their store's query, cursor files and metrics.

import type { Clock, Logger } from '../../kit/index.js';
import type { LabelMatcher } from '../selector.js';
import { matchesSelector, parseSelector } from '../selector.js';
import {
  createRemoteWriteForwarder,
  type RemoteWriteCursorStore,
  type RemoteWriteForwarder,
  type RemoteWriteMetrics,
  type RemoteWriteSource,
} from './forwarder.js';
import { type RemoteWriteConfig, remoteWriteName } from './remote-write-config.js';
import type { RemoteSeries } from './write-request.js';

/** A store's series and their points over [startMs, endMs]; a null value is a staleness marker (stale NaN on the wire). */
export type RemoteWriteQuery = (
  matchers: readonly LabelMatcher[],
  startMs: number,
  endMs: number,
) => Promise<
  readonly {
    readonly series: { readonly id: number; readonly name: string; readonly labels: Readonly<Record<string, string>> };
    readonly points: ReadonlyArray<readonly [number, number | null]>;
  }[]
>;

/** A store's samples in arrival order (the hub's storage: docs/remote-write.md "Arrival order"). */
export interface RemoteWriteArrivals {
  read(
    after: number,
    limit: number,
  ): Promise<{
    readonly series: readonly {
      readonly series: { readonly name: string; readonly labels: Readonly<Record<string, string>> };
      readonly points: ReadonlyArray<readonly [number, number | null]>;
    }[];
    readonly arrival: number;
  }>;
  head(): Promise<number>;
}

/** A source over a store: the series `match` selects (all when empty), each once, labelled with `__name__` and `external`. */
export function selectedSeriesSource(
  query: RemoteWriteQuery,
  match: readonly string[],
  external: Readonly<Record<string, string>>,
  arrivals?: RemoteWriteArrivals,
): RemoteWriteSource {
  const selectors: (readonly LabelMatcher[])[] = match.length === 0 ? [[]] : match.map((m) => parseSelector(m).matchers);
  const parsed = selectors.map((matchers) => ({ matchers, text: '' }));
  const selected = (name: string, labels: Readonly<Record<string, string>>) => parsed.some((sel) => matchesSelector(sel, name, labels));
  const arrivalReads: Pick<RemoteWriteSource, 'readArrivals' | 'arrivalHead'> =
    arrivals === undefined
      ? {}
      : {
          async readArrivals(after, limit) {
            const { series, arrival } = await arrivals.read(after, limit);
            const out: RemoteSeries[] = [];
            for (const { series: s, points } of series) {
              if (points.length === 0 || !selected(s.name, s.labels)) continue;
              const labels: Record<string, string> = { ...external, ...s.labels, __name__: s.name };
              out.push({ labels, samples: points.map(([timestampMs, value]) => ({ timestampMs, value })) });
            }
            return { series: out, arrival };
          },
          arrivalHead: () => arrivals.head(),
        };
  return {
    ...arrivalReads,
    async read(startMs, endMs) {
      const out: RemoteSeries[] = [];
      const seen = new Set<number>();
      for (const matchers of selectors) {
        for (const { series, points } of await query(matchers, startMs, endMs)) {
          if (seen.has(series.id) || points.length === 0) continue;
          seen.add(series.id);
          const labels: Record<string, string> = { ...external, ...series.labels, __name__: series.name };
          out.push({ labels, samples: points.map(([timestampMs, value]) => ({ timestampMs, value })) });
        }
      }
      return out;
    },
  };
}

export interface RemoteWrites {
  readonly forwarders: readonly RemoteWriteForwarder[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RemoteWritesDeps {
  readonly query: RemoteWriteQuery;
  /** External labels under the remote's own `externalLabels` (the node's site and node). */
  readonly external?: Readonly<Record<string, string>>;
  /** The cursor store of the remote named so (a file per remote, fsynced). */
  cursorFor(name: string): RemoteWriteCursorStore;
  /** The store's samples in arrival order; with `arrivalCursorFor`, the remotes are forwarded by arrival order. */
  readonly arrivals?: RemoteWriteArrivals;
  /** The arrival position's store of the remote named so. */
  arrivalCursorFor?(name: string): RemoteWriteCursorStore;
  metricsFor?(name: string): RemoteWriteMetrics | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** One forwarder per configured remote. `start` is idempotent until `stop`. */
export function createRemoteWrites(remotes: readonly RemoteWriteConfig[], deps: RemoteWritesDeps): RemoteWrites {
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
      source: selectedSeriesSource(deps.query, r.match, { ...deps.external, ...r.externalLabels }, deps.arrivals),
      cursor: deps.cursorFor(name),
      arrivalCursor: deps.arrivals === undefined ? undefined : deps.arrivalCursorFor?.(name),
      metrics: deps.metricsFor?.(name),
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
