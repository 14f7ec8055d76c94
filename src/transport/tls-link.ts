// The TLS link of an mqtts:// URL, built here instead of by mqtt.js: TLS over a TCP socket of our own, whose byte
// counts are the bytes on the wire, offering the session of the previous link for resumption.

import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';

/** Where and how an mqtts:// link connects (mqtt.js's defaults for a TLS link). */
export interface TlsTarget {
  readonly host: string;
  readonly port: number;
  /** URL credentials (`mqtts://user:pass@host`), which mqtt.js would have taken from the URL. */
  readonly username?: string;
  readonly password?: string;
}

export interface TlsLinkOptions extends TlsTarget {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /** A session (TLS 1.3 ticket) of an earlier link to the same broker, offered for resumption. */
  readonly session?: Buffer;
  /** Called with every session (ticket) the broker issues on this link; TLS 1.3 brokers send several. */
  onSession(session: Buffer): void;
  /** Errors of the handshake (an untrusted or refused certificate), for the MQTT client to report. */
  onError(err: Error): void;
}

export interface TlsLink {
  /** What mqtt.js reads and writes: the cleartext side. */
  readonly socket: TLSSocket;
  /**
   * The TCP socket under it. Its `bytesRead` / `bytesWritten` count what crosses the wire (records, handshake,
   * alerts) and keep their last value after the socket is closed. The TLS socket's own counters are cleartext.
   */
  readonly tcp: Socket;
}

const MQTTS_DEFAULT_PORT = 8883;

/**
 * The TLS target of a URL as mqtt.js 5 reads it: mqtts://, ssl:// and tls:// URLs, and mqtt:// or tcp:// ones when
 * a client certificate and key are given (mqtt.js upgrades those to mqtts itself). Undefined for plain TCP and
 * WebSocket URLs.
 */
export function tlsTargetOf(url: string, hasClientCertificate: boolean): TlsTarget | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const scheme = parsed.protocol.replace(/:$/, '').toLowerCase();
  const tls = ['mqtts', 'ssl', 'tls'].includes(scheme) || (hasClientCertificate && ['mqtt', 'tcp'].includes(scheme));
  if (!tls) return undefined;
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  return {
    host,
    port: parsed.port === '' ? MQTTS_DEFAULT_PORT : Number(parsed.port),
    ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
  };
}

/** Opens TCP, then TLS on it (server certificate and name verified, as mqtt.js does). */
export function openTlsLink(options: TlsLinkOptions): TlsLink {
  const tcp = tcpConnect({ host: options.host, port: options.port });
  const socket = tlsConnect({
    socket: tcp,
    // SNI and the name check use the host; an IP address is checked against the certificate's IP SANs.
    ...(isIP(options.host) === 0 ? { servername: options.host } : {}),
    host: options.host,
    rejectUnauthorized: true,
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    ...(options.cert === undefined ? {} : { cert: options.cert }),
    ...(options.key === undefined ? {} : { key: options.key }),
    ...(options.session === undefined ? {} : { session: options.session }),
  });
  socket.on('session', (session: Buffer) => options.onSession(session));
  // Handshake errors end the link; mqtt.js sees the close. After the handshake mqtt.js handles errors itself.
  const onHandshakeError = (err: Error) => {
    options.onError(err);
    socket.destroy();
  };
  socket.on('error', onHandshakeError);
  socket.once('secureConnect', () => socket.off('error', onHandshakeError));
  // A TCP error before TLS took the socket (refused, unreachable) reaches the TLS socket as its own error.
  tcp.on('error', () => {});
  return { socket, tcp };
}
