// The record sink: the one way collected samples and events reach the node's disk. A batch's samples go to the
// store and its critical series' samples to the outbox in ONE transaction of the node's file (`store.db`),
// one WAL fsync, and batches arriving together share the commit. [FM-DURABLE-1]; decision 0001.

import { join } from 'node:path';
import { createGroupCommit, type Logger, silentLogger } from '../kit/index.js';
import type { Sample, TypedSample } from '../protocol/index.js';
import {
  carryOverOutboxFile,
  createSqliteOutbox,
  type Outbox,
  type OutboxCarryOver,
  type OutboxEvent,
  type OutboxSettings,
  outboxDiskBytes,
} from './outbox/index.js';
import { checkStoreSamples, createSqliteStore, type SqliteStore, type SqliteStoreOptions, type StoreWrite } from './store/index.js';

/** Where the collectors' `record` and `emit`, the push endpoints and the agent's own events write. */
export interface RecordSink {
  /**
   * Records a batch: every sample of `samples` into the store and `durable` (the samples of critical series
   * among them, as the outbox keeps them) into the outbox, both or neither. Resolves once committed and
   * fsynced; a producer may be answered then. Rejects (FM_STORE_SAMPLE_INVALID) a batch with a sample the
   * store cannot keep, before anything is written, and with the commit's error when the commit fails.
   */
  record(samples: readonly Sample[], durable: readonly TypedSample[]): Promise<void>;
  /** Records an event into the outbox; resolves once committed and fsynced. */
  recordEvent(event: OutboxEvent): Promise<void>;
  /** Commits whatever waits now (before the store closes). */
  flush(): void;
}

export interface SqliteRecordSinkOptions {
  readonly store: SqliteStore;
  /** The outbox on the store's connection (`createSqliteOutbox({ database: store.database })`). */
  readonly outbox: Outbox;
  /** Longest time (ms) a batch waits for companions before the commit. Default 2, the store's own. */
  readonly groupCommitMs?: number;
  /** Batches holding at least this many samples (events count one) commit at once. Default 8,192, the store's own. */
  readonly groupCommitSamples?: number;
  readonly logger?: Logger;
}

type SinkItem = { readonly samples: readonly Sample[]; readonly durable: readonly TypedSample[] } | { readonly event: OutboxEvent };

/** The record sink on one SQLite file: the store's and the outbox's rows of every batch in one transaction. */
export function createSqliteRecordSink(options: SqliteRecordSinkOptions): RecordSink {
  const { store, outbox } = options;
  if (outbox.database !== store.database) throw new Error('the record sink needs the outbox on the store connection');
  const log = (options.logger ?? silentLogger).child({ component: 'record-sink' });
  const commit = store.database.transaction((storeWrite: StoreWrite, durable: readonly TypedSample[], events: readonly OutboxEvent[]) => {
    storeWrite.write();
    outbox.writeInTransaction(durable, events);
  });

  function flush(items: readonly SinkItem[]): void {
    const batches: (readonly Sample[])[] = [];
    const durable: TypedSample[] = [];
    const events: OutboxEvent[] = [];
    let samples = 0;
    for (const item of items) {
      if ('event' in item) {
        events.push(item.event);
        continue;
      }
      batches.push(item.samples);
      samples += item.samples.length;
      for (const s of item.durable) durable.push(s);
    }
    const storeWrite = store.prepareWrite(batches);
    try {
      commit(storeWrite, durable, events);
    } catch (err) {
      storeWrite.settle(false);
      outbox.settleWrite(false);
      log.error({ err, samples, durable: durable.length, events: events.length }, 'record commit failed');
      throw err;
    }
    storeWrite.settle(true);
    outbox.settleWrite(true);
  }

  const submit = createGroupCommit<SinkItem>(flush, {
    maxBatch: options.groupCommitSamples ?? 8192,
    delayMs: options.groupCommitMs ?? 2,
    weigh: (item) => ('event' in item ? 1 : item.samples.length),
  });
  return {
    record(samples, durable) {
      try {
        checkStoreSamples(samples);
        checkStoreSamples(durable);
      } catch (err) {
        return Promise.reject(err);
      }
      if (samples.length === 0 && durable.length === 0) return Promise.resolve();
      return submit({ samples, durable });
    },
    recordEvent: (event) => submit({ event }),
    flush: () => submit.flush(),
  };
}

/** The node's records: its store, its outbox on the store's file, the sink over both. */
export interface NodeRecords {
  readonly store: SqliteStore;
  readonly outbox: Outbox;
  readonly sink: RecordSink;
  /** What became of an `outbox.db` of the earlier layout found beside the store. */
  readonly carryOver: OutboxCarryOver;
}

export interface NodeRecordsOptions {
  /** The node's state directory, `<dataDir>/<site>/<node>` (it must exist): the file is `store.db` there. */
  readonly dir: string;
  readonly store?: Omit<SqliteStoreOptions, 'path' | 'sharedBytes' | 'logger'>;
  readonly outbox?: Omit<OutboxSettings, 'logger'>;
  readonly logger?: Logger;
}

/**
 * Opens `<dir>/store.db` with the store's and the outbox's tables and the sink over both. An `outbox.db` of the
 * earlier layout (two files, two commits) is carried into it first and deleted.
 */
export function openNodeRecords(options: NodeRecordsOptions): NodeRecords {
  const logger = options.logger ?? silentLogger;
  // The outbox's pages are the outbox's business: store.maxBytes caps the store's own.
  const store = createSqliteStore({ ...options.store, path: join(options.dir, 'store.db'), sharedBytes: outboxDiskBytes, logger });
  const carryOver = carryOverOutboxFile(store.database, join(options.dir, 'outbox.db'), logger);
  const outbox = createSqliteOutbox({ ...options.outbox, database: store.database, logger });
  return { store, outbox, sink: createSqliteRecordSink({ store, outbox, logger }), carryOver };
}
