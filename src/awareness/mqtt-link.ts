// The awareness plane over a broker: a node publishes its frames on its own `aware` topic and reads
// the aggregator's digest, one message per tick bundling what the fleet (or its zone) sent. Nodes
// subscribe to one topic, not to N. [FM-AWARE-5]

import { decodeBundle, type FrameRouter } from '../protocol/index.js';
import type { FrameLink, LinkPeer, LinkStats, Transport } from '../transport/index.js';
import { awareTopic, digestTopic } from './topics.js';

export interface MqttLinkOptions {
  /** Where this node's frames go out. */
  readonly transport: Transport;
  /** The process's frame router: the digests come through it, unbundled (a malformed one is its to report). */
  readonly router: FrameRouter;
  readonly prefix: string;
  readonly site: string;
  readonly node: string;
  /** This node's origin id (it may change after a collision): its own frames come back in the digest and are not delivered. */
  readonly origin: () => number;
  /** Read the digest of this zone only; the whole fleet's when undefined. */
  readonly zone?: string;
}

const AGGREGATOR: LinkPeer = { address: 'aggregator' };

/** The frames that are not this node's own (its own come back in the digest: the origin is bytes 1-2 of every awareness frame). */
export function othersOf(frames: readonly Uint8Array[], self: number | undefined): Uint8Array[] {
  return frames.filter((f) => !(f.length >= 3 && (((f[1] as number) << 8) | (f[2] as number)) === self));
}

/** The frames of a digest that are not this node's own, and the decoding error when the digest is malformed past them. */
export function othersInDigest(digest: Uint8Array, self: number | undefined): { frames: Uint8Array[]; error?: string } {
  const { frames, error } = decodeBundle(digest);
  const others = othersOf(frames, self);
  return error === undefined ? { frames: others } : { frames: others, error: error.message };
}

export function createMqttLink(o: MqttLinkOptions): FrameLink {
  const own = awareTopic(o.prefix, o.site, o.node);
  let receiver: ((frame: Uint8Array, from: LinkPeer) => void) | undefined;
  let closed = false;
  const stats = { framesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0, sendErrors: 0 };

  const subscription = o.router.on(
    'hub/aware',
    (frames) => {
      if (closed) return;
      for (const frame of othersOf(frames, o.origin())) {
        stats.framesReceived++;
        stats.bytesReceived += frame.length;
        receiver?.(frame, AGGREGATOR);
      }
    },
    o.zone === undefined ? {} : { zone: o.zone },
  );

  return {
    description: `mqtt ${own} -> ${digestTopic(o.prefix, o.zone)}`,
    send(frame) {
      if (closed || !o.transport.connected) {
        stats.sendErrors++;
        return;
      }
      stats.framesSent++;
      stats.bytesSent += frame.length;
      // QoS 0: a lost pulse is repaired by the next one; nothing here waits for a PUBACK.
      o.transport.publish(own, frame, { qos: 0 }).catch(() => {
        stats.sendErrors++;
      });
    },
    onFrame(r) {
      receiver = r;
    },
    stats: () => ({ ...stats }) satisfies LinkStats,
    async close() {
      if (closed) return;
      closed = true;
      subscription.unsubscribe();
    },
  };
}
