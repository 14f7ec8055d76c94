// Group commit: many callers' writes share one durable commit. Callers await their item; one flush
// (one transaction, one fsync) settles every item of its batch.

export interface GroupCommitOptions {
  /** Flush as soon as this many items wait. */
  readonly maxBatch: number;
  /** Otherwise flush this long after the first item of a batch arrived (0 = on the next macrotask). */
  readonly delayMs: number;
}

/**
 * Returns `submit(item)`, which resolves once `flush` (synchronous: a better-sqlite3 transaction) has
 * committed a batch containing the item, and rejects every item of a batch whose flush threw.
 */
export function createGroupCommit<T>(flush: (items: readonly T[]) => void, options: GroupCommitOptions): (item: T) => Promise<void> {
  let batch: Array<{ item: T; resolve: () => void; reject: (err: unknown) => void }> = [];
  let timer: ReturnType<typeof setTimeout> | undefined;

  function run(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const current = batch;
    batch = [];
    if (current.length === 0) return;
    try {
      flush(current.map((w) => w.item));
    } catch (err) {
      for (const w of current) w.reject(err);
      return;
    }
    for (const w of current) w.resolve();
  }

  return (item: T) =>
    new Promise<void>((resolve, reject) => {
      batch.push({ item, resolve, reject });
      if (batch.length >= options.maxBatch) run();
      else if (timer === undefined) timer = options.delayMs > 0 ? setTimeout(run, options.delayMs) : setTimeout(run, 0);
    });
}
