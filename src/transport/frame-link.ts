// The FrameLink port: a datagram medium the awareness plane broadcasts on. Real: UDP multicast or
// broadcast on a shared segment (udp-link.ts). Emulated: the simulator's radio and point-to-point links.
// A link carries opaque bytes; it neither orders, acknowledges nor repeats them.

/** Where a datagram came from, as the medium tells it (for logs and per-neighbour counters). */
export interface LinkPeer {
  /** "address:port" for UDP; the simulated node's name in the simulator. */
  readonly address: string;
}

export interface LinkStats {
  readonly framesSent: number;
  readonly bytesSent: number;
  readonly framesReceived: number;
  readonly bytesReceived: number;
  /** Datagrams the medium refused or failed to send (too large, socket error). */
  readonly sendErrors: number;
}

export interface FrameLink {
  /** A short description for logs: "udp 239.255.70.77:18870 on 127.0.0.1", "sim radio". */
  readonly description: string;
  /** Sends one datagram to every node in range; never throws (a failure counts in `sendErrors`). */
  send(frame: Uint8Array): void;
  /** Registers the receiver; a link has one. Frames this link itself sent are never delivered back. */
  onFrame(receiver: (frame: Uint8Array, from: LinkPeer) => void): void;
  stats(): LinkStats;
  close(): Promise<void>;
}
