// Leadership of a scale-out hub's api processes through the PostgreSQL leader lease (storage/postgres/leader-lease.ts):
// the holder's fencing epoch is the hub epoch the nodes see, so a new leader's online state makes them re-announce.

import type { LeaderLease, LeaseTerm } from '../storage/postgres/leader-lease.js';
import type { Leadership } from './leadership.js';

/** `lease` is created with `onChange` calling the returned function; see `openHub`. */
export function leaseLeadership(lease: () => LeaderLease): { leadership: Leadership; onChange: (term: LeaseTerm | undefined) => void } {
  let events: Parameters<Leadership['start']>[0] | undefined;
  let epoch: number | undefined;
  const onChange = (term: LeaseTerm | undefined): void => {
    if (term !== undefined && term.epoch !== epoch) {
      // A new term (taken, or taken again after a lapse): lead under it.
      if (epoch !== undefined) events?.lost(`lease epoch ${epoch} replaced by ${term.epoch}`);
      epoch = term.epoch;
      events?.gained(term.epoch);
    } else if (term === undefined && epoch !== undefined) {
      const was = epoch;
      epoch = undefined;
      events?.lost(`lease of epoch ${was} not renewed in time`);
    }
  };
  const leadership: Leadership = {
    get epoch() {
      return epoch;
    },
    async start(e) {
      events = e;
      const l = lease();
      // The lease tells onChange itself; a first attempt that fails leaves this process a follower until the next.
      await l.tryAcquire().catch(() => {});
      l.start();
    },
    async stop() {
      events = undefined;
      await lease().stop();
      epoch = undefined;
    },
  };
  return { leadership, onChange };
}
