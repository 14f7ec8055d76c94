// UdpLink: the FrameLink of a shared segment, UDP multicast (default) or broadcast with node:dgram. No broker,
// no extra bytes on the wire: a datagram is exactly one awareness frame.

import dgram from 'node:dgram';
import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { type ErrorCode, FieldmeshError, type Logger, silentLogger } from '../kit/index.js';
import type { FrameLink, LinkPeer, LinkStats } from './frame-link.js';

/**
 * Default group: in 239.255.0.0/16, the IPv4 Local Scope of RFC 2365 (administratively scoped, never routed
 * off the site). 70.77 spells "FM".
 */
export const UDP_LINK_DEFAULT_GROUP = '239.255.70.77';
/**
 * Default port. Unassigned in the IANA registry (neighbours: 18769 ique, 18881 infotos, 18888 apc-necmp, as
 * listed in nmap-services and absent from /etc/services), and below Linux's ephemeral range (32768-60999), so
 * the kernel never hands it out to an outgoing socket.
 */
export const UDP_LINK_DEFAULT_PORT = 18_870;
export const UDP_LINK_DEFAULT_BROADCAST_ADDRESS = '255.255.255.255';
/** 65,535 minus the IPv4 header (20) and the UDP header (8): the largest payload one datagram can carry. */
export const MAX_UDP_PAYLOAD_BYTES = 65_507;

export interface UdpLinkOptions {
  /** `multicast` (default): one group on the segment. `broadcast`: every host of the subnet hears every frame. */
  readonly mode?: 'multicast' | 'broadcast';
  /** UDP port every node of the segment uses; default 18870. */
  readonly port?: number;
  /** Multicast group (224.0.0.0/4); default 239.255.70.77. Multicast mode only. */
  readonly group?: string;
  /** Destination of broadcast mode: 255.255.255.255 (default) or the subnet's broadcast, e.g. 10.1.2.255. */
  readonly broadcastAddress?: string;
  /**
   * IPv4 address of the local interface to use: multicast membership and outgoing interface, and the
   * source address of every frame. Default none (0.0.0.0): the kernel picks the interface of the route to
   * the group (usually the default route), one interface, not all of them. Set it on multi-homed nodes.
   */
  readonly interfaceAddress?: string;
  /** Multicast TTL; 1 (default) keeps frames on the segment (relays extend the reach), 0 keeps them on this host. */
  readonly ttl?: number;
  /** Multicast loopback (default true): links of other agents on this host hear our frames. */
  readonly loopback?: boolean;
  readonly logger?: Logger;
}

interface ResolvedOptions {
  readonly mode: 'multicast' | 'broadcast';
  readonly port: number;
  readonly group: string;
  readonly broadcastAddress: string;
  readonly interfaceAddress: string | undefined;
  readonly ttl: number;
  readonly loopback: boolean;
}

function invalid(option: string, message: string): FieldmeshError {
  return new FieldmeshError('FM_CONFIG_INVALID', `udp link: ${option} ${message}`, { details: { option } });
}

function resolveOptions(options: UdpLinkOptions): ResolvedOptions {
  const mode = options.mode ?? 'multicast';
  if (mode !== 'multicast' && mode !== 'broadcast') throw invalid('mode', `must be "multicast" or "broadcast", got ${String(mode)}`);
  const port = options.port ?? UDP_LINK_DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw invalid('port', `must be an integer in 1..65535, got ${port}`);
  const group = options.group ?? UDP_LINK_DEFAULT_GROUP;
  const firstOctet = Number(group.split('.')[0]);
  if (!isIPv4(group) || firstOctet < 224 || firstOctet > 239) throw invalid('group', `must be an IPv4 multicast address, got ${group}`);
  const broadcastAddress = options.broadcastAddress ?? UDP_LINK_DEFAULT_BROADCAST_ADDRESS;
  if (!isIPv4(broadcastAddress)) throw invalid('broadcastAddress', `must be an IPv4 address, got ${broadcastAddress}`);
  const interfaceAddress = options.interfaceAddress === '0.0.0.0' ? undefined : options.interfaceAddress;
  if (interfaceAddress !== undefined && !isIPv4(interfaceAddress)) {
    throw invalid('interfaceAddress', `must be an IPv4 address, got ${interfaceAddress}`);
  }
  const ttl = options.ttl ?? 1;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) throw invalid('ttl', `must be an integer in 0..255, got ${ttl}`);
  return Object.freeze({ mode, port, group, broadcastAddress, interfaceAddress, ttl, loopback: options.loopback ?? true });
}

/** A bind or membership failure, naming what we tried, so the operator can fix the config or the host. */
function setupError(step: string, address: string, port: number, err: unknown): FieldmeshError {
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  const code: ErrorCode = errno === 'EADDRINUSE' ? 'FM_PORT_IN_USE' : 'FM_CONFIG_INVALID';
  const hint =
    errno === 'EADDRINUSE'
      ? ' (another program holds the port without SO_REUSEADDR)'
      : errno === 'EADDRNOTAVAIL'
        ? " (is the address on one of this host's interfaces?)"
        : errno === 'ENODEV'
          ? ' (no route to the group: set interfaceAddress)'
          : '';
  return new FieldmeshError(code, `udp link: cannot ${step} ${address}:${port}: ${errno ?? String(err)}${hint}`, {
    cause: err,
    details: { step, address, port, errno },
  });
}

function bindSocket(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    socket.once('error', onError);
    socket.bind({ port, address }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // never bound, or already closed
    }
  });
}

function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4') out.add(a.address);
  return out;
}

/**
 * Opens a UDP link: binds, joins the group, and resolves once frames can flow. Rejects with a FieldmeshError
 * (FM_PORT_IN_USE, or FM_CONFIG_INVALID for an address that is not on this host or a group without route)
 * naming the address and port.
 */
export async function createUdpLink(options: UdpLinkOptions = {}): Promise<FrameLink> {
  const o = resolveOptions(options);
  const logger = options.logger ?? silentLogger;
  const destination = o.mode === 'multicast' ? o.group : o.broadcastAddress;

  // Two sockets. `rx` is bound to the shared port with SO_REUSEADDR, so every agent on this host can bind it and
  // the kernel hands each of them a copy of every multicast or broadcast datagram. `tx` sends from its own
  // ephemeral port, without SO_REUSEADDR: the kernel gives that port to no other socket of this host, so a
  // datagram whose source is (one of our addresses, tx's port) is our own frame coming back through multicast
  // loopback or broadcast, and is dropped. Comparing with rx's address cannot work: every agent on the host
  // shares rx's port, and their frames must get through. A marker in the frame would cost bytes on the air.
  const rx = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const tx = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  const fail = async (error: FieldmeshError): Promise<never> => {
    await Promise.all([closeSocket(rx), closeSocket(tx)]);
    throw error;
  };

  // On Linux rx binds the group itself: a socket on 0.0.0.0 would also get datagrams of any other group some
  // other program joined on this port (IP_MULTICAST_ALL). Not every system accepts binding a group (Windows
  // does not), so elsewhere rx binds 0.0.0.0.
  const rxAddress = o.mode === 'multicast' && process.platform === 'linux' ? o.group : '0.0.0.0';
  try {
    await bindSocket(rx, o.port, rxAddress);
  } catch (err) {
    return fail(setupError('bind', rxAddress, o.port, err));
  }
  // With an interface given, tx binds it: that fixes the source address (and, for 255.255.255.255, the
  // outgoing interface), so our own frames are recognised by address and port alike.
  const txAddress = o.interfaceAddress ?? '0.0.0.0';
  try {
    await bindSocket(tx, 0, txAddress);
  } catch (err) {
    return fail(setupError('bind the sending socket to', txAddress, 0, err));
  }
  try {
    if (o.mode === 'multicast') {
      rx.addMembership(o.group, o.interfaceAddress);
      if (o.interfaceAddress !== undefined) tx.setMulticastInterface(o.interfaceAddress);
      tx.setMulticastTTL(o.ttl);
      // Loopback is an option of the sending socket: it decides whether this host's other sockets hear tx.
      tx.setMulticastLoopback(o.loopback);
    } else {
      tx.setBroadcast(true);
    }
  } catch (err) {
    const step =
      o.mode === 'multicast' ? `join group ${o.group} on interface ${o.interfaceAddress ?? '0.0.0.0'} at` : 'enable broadcast on';
    return fail(setupError(step, o.mode === 'multicast' ? o.group : txAddress, o.port, err));
  }

  const txPort = tx.address().port;
  let ownAddresses = o.interfaceAddress !== undefined ? new Set([o.interfaceAddress]) : localAddresses();
  const isOwnFrame = (rinfo: dgram.RemoteInfo): boolean => {
    if (rinfo.port !== txPort) return false;
    if (ownAddresses.has(rinfo.address)) return true;
    if (o.interfaceAddress !== undefined) return false;
    ownAddresses = localAddresses(); // an address this host gained since (DHCP renewal)
    return ownAddresses.has(rinfo.address);
  };

  let receiver: ((frame: Uint8Array, from: LinkPeer) => void) | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  const stats = { framesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0, sendErrors: 0 };

  rx.on('message', (msg, rinfo) => {
    if (closed || isOwnFrame(rinfo)) return;
    stats.framesReceived++;
    stats.bytesReceived += msg.byteLength;
    if (receiver === undefined) return;
    try {
      receiver(msg, { address: `${rinfo.address}:${rinfo.port}` });
    } catch (err) {
      // A receiver bug must not take the socket down with it; the node keeps hearing its neighbours.
      logger.error({ err, from: `${rinfo.address}:${rinfo.port}` }, 'udp link receiver threw');
    }
  });
  rx.on('error', (err) => logger.warn({ err }, 'udp link receive socket error'));
  tx.on('error', (err) => {
    stats.sendErrors++;
    logger.warn({ err }, 'udp link send socket error');
  });

  const where = o.interfaceAddress ?? 'default interface';
  const description =
    o.mode === 'multicast' ? `udp ${o.group}:${o.port} on ${where}` : `udp broadcast ${o.broadcastAddress}:${o.port} from ${where}`;

  return {
    description,
    send(frame: Uint8Array): void {
      // The datagram is sent from `frame` itself, asynchronously: callers hand over a frame they no longer change.
      if (closed || frame.byteLength > MAX_UDP_PAYLOAD_BYTES) {
        stats.sendErrors++;
        return;
      }
      try {
        tx.send(frame, o.port, destination, (err) => {
          if (err) {
            stats.sendErrors++;
            logger.debug({ err, bytes: frame.byteLength }, 'udp link send failed');
          } else {
            stats.framesSent++;
            stats.bytesSent += frame.byteLength;
          }
        });
      } catch (err) {
        stats.sendErrors++;
        logger.debug({ err, bytes: frame.byteLength }, 'udp link send failed');
      }
    },
    onFrame(fn) {
      receiver = fn;
    },
    stats: (): LinkStats => ({ ...stats }),
    close(): Promise<void> {
      closed = true;
      closing ??= Promise.all([closeSocket(rx), closeSocket(tx)]).then(() => undefined);
      return closing;
    },
  };
}
