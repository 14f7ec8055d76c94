// Group commit: many callers' writes share one durable commit. Callers await their item; one flush
// (one transaction, one fsync) settles every item of its batch.

export interface GroupCommitOptions<T = unknown> {
  /** Flush as soon as the waiting items weigh this much (each item weighs 1 unless `weigh` says otherwise). */
  readonly maxBatch: number;
  /** Otherwise flush this long after the first item of a batch arrived (0 = on the next macrotask). */
  readonly delayMs: number;
  /** What one item weighs against `maxBatch` (the record sink weighs a batch by its samples). Default 1. */
  readonly weigh?: (item: T) => number;
}

/** `submit(item)`, and `flush()` to commit whatever waits now (before a close). */
export interface GroupCommit<T> {
  (item: T): Promise<void>;
  flush(): void;
}

/**
 * Returns `submit(item)`, which resolves once `flush` (synchronous: a better-sqlite3 transaction) has
 * committed a batch containing the item, and rejects every item of a batch whose flush threw.
 */
export function createGroupCommit<T>(flush: (items: readonly T[]) => void, options: GroupCommitOptions<T>): GroupCommit<T> {
  let batch: Array<{ item: T; resolve: () => void; reject: (err: unknown) => void }> = [];
  let weight = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function run(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const current = batch;
    batch = [];
    weight = 0;
    if (current.length === 0) return;
    try {
      flush(current.map((w) => w.item));
    } catch (err) {
      for (const w of current) w.reject(err);
      return;
    }
    for (const w of current) w.resolve();
  }

  const submit = (item: T) =>
    new Promise<void>((resolve, reject) => {
      batch.push({ item, resolve, reject });
      weight += options.weigh?.(item) ?? 1;
      if (weight >= options.maxBatch) run();
      else if (timer === undefined) timer = setTimeout(run, options.delayMs);
    });
  return Object.assign(submit, { flush: run });
}
