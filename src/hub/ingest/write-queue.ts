// The hub's write queue: storage writes land in arrival order, whatever the storage's own concurrency,
// so a frame's samples are stored before its ack goes out and a node's ledger follows its frames.

import { describeError, type Logger } from '../../kit/index.js';

export interface WriteQueueOptions {
  readonly logger: Logger;
  /** Called once per failed write (after the error is logged): the hub counts them. */
  readonly onError: (what: string, err: unknown) => void;
}

export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: WriteQueueOptions) {}

  /** Queues `work`; a failure is logged and counted, never thrown (nobody waits for it). */
  enqueue(what: string, work: () => Promise<unknown>): void {
    this.tail = this.tail.then(work).catch((err: unknown) => {
      this.o.logger.error({ err: describeError(err) }, `storage: ${what} failed`);
      this.o.onError(what, err);
    });
  }

  /** Runs `work` in order with every other write and hands its result (or error) back to the caller. */
  inOrder<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => {});
    return result;
  }

  /** Resolves once every write queued so far has settled. */
  async drain(): Promise<void> {
    await this.tail;
  }
}
