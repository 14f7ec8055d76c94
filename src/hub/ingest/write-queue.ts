// The hub's write queue: storage writes land in arrival order, whatever the storage's own concurrency. The embedded
// hub's ingest writes (history and event frames, live samples) run beside it instead (`alongside`): each orders its
// own steps (a frame's samples are stored before its ack goes out, its ledger after), and a history frame's commit
// joins the group commit (group-commit.ts) rather than waiting behind another frame's ack.

import { describeError, type Logger } from '../../kit/index.js';

export interface WriteQueueOptions {
  readonly logger: Logger;
  /** Called once per failed write (after the error is logged): the hub counts them. */
  readonly onError: (what: string, err: unknown) => void;
}

export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly o: WriteQueueOptions) {}

  /** Queues `work`; a failure is logged and counted, never thrown (nobody waits for it). */
  enqueue(what: string, work: () => Promise<unknown>): void {
    this.tail = this.tail.then(work).catch((err: unknown) => {
      this.o.logger.error({ err: describeError(err) }, `storage: ${what} failed`);
      this.o.onError(what, err);
    });
  }

  /**
   * Runs `work` now, beside the queue rather than after it: for a write that needs no order with the others (or
   * makes its own, as the group commit does). A failure is logged and counted, never thrown; drain() waits for it.
   */
  alongside(what: string, work: () => Promise<unknown>): void {
    const run = new Promise<unknown>((resolve) => resolve(work())).then(
      () => {},
      (err: unknown) => {
        this.o.logger.error({ err: describeError(err) }, `storage: ${what} failed`);
        this.o.onError(what, err);
      },
    );
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Runs `work` in order with every other write and hands its result (or error) back to the caller. */
  inOrder<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => {});
    return result;
  }

  /** Resolves once every write queued (or started alongside) so far has settled. */
  async drain(): Promise<void> {
    await Promise.all([this.tail, ...this.running]);
  }
}
