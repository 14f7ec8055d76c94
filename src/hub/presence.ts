// The hub's presence on the broker [FM-TOPIC-4]: its retained state (online with a new epoch makes every node
// re-announce itself; the will says offline when the link dies without a goodbye) and the fleet digest [FM-AWARE-5].

import { type Clock, describeError, type Logger } from '../kit/index.js';
import { encodeDigest, encodeHubState, hubTopic } from '../protocol/index.js';
import type { Transport, Will } from '../transport/index.js';
import type { FleetState } from './fleet/fleet-state.js';
import type { HubCounters, HubMetrics } from './hub-metrics.js';

/** A digest goes out at least this often even when nothing changed, so late subscribers catch up. */
export const DIGEST_MAX_SILENCE_MS = 30_000;

export interface HubPresenceOptions {
  readonly prefix: string;
  readonly fleet: FleetState;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Pick<HubMetrics, 'digestsPublished'>;
  readonly counters: HubCounters;
  readonly transport: () => Transport | undefined;
}

export class HubPresence {
  private digestSeq = 0;
  private lastDigestAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly o: HubPresenceOptions,
    /** The hub's boot counter. */
    readonly epoch: number,
  ) {}

  /** The will the transport leaves with the broker: offline, retained. */
  will(): Will {
    return { topic: hubTopic(this.o.prefix, 'state'), payload: this.stateFrame(false), qos: 1, retain: true };
  }

  /** Publishes the retained online state (at every connect). */
  online(): void {
    this.o
      .transport()
      ?.publish(hubTopic(this.o.prefix, 'state'), this.stateFrame(true), { qos: 1, retain: true })
      .catch((err: unknown) => this.o.logger.warn({ err: describeError(err) }, 'hubState online not published'));
  }

  /** Publishes the retained offline state before a clean stop. */
  async offline(): Promise<void> {
    const transport = this.o.transport();
    if (transport === undefined || !transport.connected) return;
    await transport
      .publish(hubTopic(this.o.prefix, 'state'), this.stateFrame(false), { qos: 1, retain: true })
      .catch((err: unknown) => this.o.logger.warn({ err: describeError(err) }, 'hubState offline not published'));
  }

  /** Publishes the fleet digest when the fleet changed, or when none went out for DIGEST_MAX_SILENCE_MS. */
  digest(): void {
    const now = this.o.clock.now();
    const changed = this.o.fleet.takeChanged();
    if (!changed && now - this.lastDigestAt < DIGEST_MAX_SILENCE_MS) return;
    const transport = this.o.transport();
    if (transport === undefined || !transport.connected) return;
    this.lastDigestAt = now;
    const frame = encodeDigest({ epoch: this.epoch, seq: this.digestSeq++, time: now, entries: this.o.fleet.digestEntries(now) });
    this.o.counters.digestsPublished++;
    this.o.metrics.digestsPublished.inc();
    transport.publish(hubTopic(this.o.prefix, 'digest'), frame, { qos: 0 }).catch((err: unknown) => {
      this.o.logger.debug({ err: describeError(err) }, 'digest not published');
    });
  }

  private stateFrame(online: boolean): Uint8Array {
    return encodeHubState({ epoch: this.epoch, online, time: this.o.clock.now() });
  }
}
