// What the node's and the hub's remote write forwarders share on Node: the cursor in a small file written durably,
// and the forwarder's metrics as Prometheus names its own (docs/remote-write.md#metrics).

import { readFileSync } from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';
import { writeFileDurably } from './durable-file.js';

/** The cursor of one remote in `path`: `{"cursorMs": <ms>}`, replaced durably (fsync, rename, fsync of the directory). */
export function createFileCursorStore(path: string): { load(): Promise<number | undefined>; save(ms: number): Promise<void> } {
  return {
    async load() {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      const ms = (JSON.parse(text) as { cursorMs?: unknown }).cursorMs;
      if (typeof ms !== 'number' || !Number.isFinite(ms))
        throw new Error(`${path}: no cursorMs number in ${JSON.stringify(text.slice(0, 80))}`);
      return ms;
    },
    async save(ms) {
      writeFileDurably(path, `${JSON.stringify({ cursorMs: ms })}\n`);
    },
  };
}

export interface RemoteWriteMetricSet {
  /** The forwarder's metrics of one remote (the `remote` label). */
  of(remote: string): {
    sent(n: number): void;
    failed(n: number): void;
    retried(n: number): void;
    dropped(n: number): void;
    droppedOutOfOrder(n: number): void;
    highestSent(ms: number): void;
    pending(n: number): void;
    shards(n: number): void;
  };
}

/** Registers the forwarders' metrics in `registry` once; `of(remote)` gives one remote's. */
export function createRemoteWriteMetricSet(registry: Registry): RemoteWriteMetricSet {
  const labelNames = ['remote'] as const;
  const registers = [registry];
  const sent = new Counter({
    name: 'fieldmesh_remote_write_samples_sent_total',
    help: 'Samples a remote write receiver acknowledged (2xx)',
    labelNames,
    registers,
  });
  const failed = new Counter({
    name: 'fieldmesh_remote_write_samples_failed_total',
    help: 'Samples of remote write requests that failed (network error, 5xx, 429, other 4xx), counted per attempt',
    labelNames,
    registers,
  });
  const retried = new Counter({
    name: 'fieldmesh_remote_write_samples_retried_total',
    help: 'Samples sent again after a failure a retry may cure (network error, 5xx, 429)',
    labelNames,
    registers,
  });
  const dropped = new Counter({
    name: 'fieldmesh_remote_write_samples_dropped_total',
    help: 'Samples given up on: the receiver refused them with a 4xx other than 429',
    labelNames,
    registers,
  });
  const outOfOrder = new Counter({
    name: 'fieldmesh_remote_write_samples_out_of_order_total',
    help: 'Of the dropped samples, those the receiver refused as older than its series head (out of order, too old, out of bounds)',
    labelNames,
    registers,
  });
  const highest = new Gauge({
    name: 'fieldmesh_remote_write_highest_sent_timestamp_seconds',
    help: 'Newest sample time a receiver acknowledged, seconds since the Unix epoch',
    labelNames,
    registers,
  });
  const pending = new Gauge({
    name: 'fieldmesh_remote_write_pending_samples',
    help: 'Samples read and not yet acknowledged or dropped',
    labelNames,
    registers,
  });
  const shards = new Gauge({
    name: 'fieldmesh_remote_write_shards',
    help: 'Shards sending the current read window',
    labelNames,
    registers,
  });
  return {
    of(remote) {
      const l = { remote };
      let highestMs = 0;
      sent.inc(l, 0);
      dropped.inc(l, 0);
      return {
        sent: (n) => sent.inc(l, n),
        failed: (n) => failed.inc(l, n),
        retried: (n) => retried.inc(l, n),
        dropped: (n) => dropped.inc(l, n),
        droppedOutOfOrder: (n) => outOfOrder.inc(l, n),
        highestSent: (ms) => {
          if (ms > highestMs) {
            highestMs = ms;
            highest.set(l, ms / 1000);
          }
        },
        pending: (n) => pending.set(l, n),
        shards: (n) => shards.set(l, n),
      };
    },
  };
}
