// Which hub process runs the singleton duties (the retained hub state, the digest, the node registry, retention,
// backfill scheduling, alert evaluation): the embedded hub always does; among the api processes of a scale-out hub,
// the one holding the leader lease in PostgreSQL does, and its fencing epoch is the hub epoch the nodes see.

export interface Leadership {
  /** The fencing epoch while this process leads; undefined while it follows. */
  readonly epoch: number | undefined;
  /**
   * Starts contending. `gained` runs once this process leads (with its epoch); `lost` once it learnt it no longer
   * does (a lease it could not renew in time: another process may lead already).
   */
  start(events: { gained: (epoch: number) => void; lost: (reason: string) => void }): Promise<void>;
  stop(): Promise<void>;
}

/** The embedded hub: the only process, so always the leader, with the boot epoch of hub-state.json. */
export function soleLeadership(epoch: () => number): Leadership {
  let current: number | undefined;
  return {
    get epoch() {
      return current;
    },
    async start(events) {
      current = epoch();
      events.gained(current);
    },
    async stop() {
      current = undefined;
    },
  };
}
