// One UDP segment, two planes: the awareness plane's link also carries zone datagrams (frame type 24,
// protocol/consensus/zone-datagram.ts). This splits what the link hears by the first two bytes, so the
// plane never sees a zone datagram (nor counts it as a malformed awareness frame) and the zones never see
// an awareness frame. Both halves send on the same sockets: one group, one port, one interface, one
// own-datagram filter. [FM-ZONE-LINK-UDP] in docs/consensus.md.

import { isZoneDatagram } from '../../protocol/consensus/zone-datagram.js';
import type { FrameLink, LinkPeer } from '../../transport/index.js';

type Receiver = (frame: Uint8Array, from: LinkPeer) => void;

export interface SplitSegment {
  /** The awareness plane's view: every datagram except zone datagrams. Closing it closes the link. */
  readonly awareness: FrameLink;
  /** The zones' view: zone datagrams only. Closing it only stops its delivery (the plane owns the link). */
  readonly zone: FrameLink;
}

/**
 * Splits a shared link. Until the zones register a receiver, zone datagrams are dropped (a node whose
 * zones are off, or not started yet, still keeps them away from the plane).
 */
export function splitZoneDatagrams(link: FrameLink): SplitSegment {
  let plane: Receiver | undefined;
  let zones: Receiver | undefined;
  link.onFrame((frame, from) => {
    if (isZoneDatagram(frame)) zones?.(frame, from);
    else plane?.(frame, from);
  });
  return {
    awareness: {
      description: link.description,
      send: (frame) => link.send(frame),
      onFrame: (r) => {
        plane = r;
      },
      stats: () => link.stats(),
      close: () => link.close(),
    },
    zone: {
      description: link.description,
      send: (frame) => link.send(frame),
      onFrame: (r) => {
        zones = r;
      },
      stats: () => link.stats(),
      close: async () => {
        zones = undefined;
      },
    },
  };
}
