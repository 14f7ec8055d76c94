// Server-side TLS shared by the listeners that leave loopback (the embedded broker, the hub, a node's API): the
// files read once with errors naming them, client certificates checked by OpenSSL against the fleet CA and its CRL,
// every refusal given one reason (the words of src/pki's CertificateRefusal), logged and counted, and the CRL
// re-read when its file changes. docs/security.md#transport-security.

import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { PeerCertificate, SecureContextOptions, TLSSocket, Server as TlsServer } from 'node:tls';
import { z } from 'zod';
import { FieldmeshError, type Logger } from '../kit/index.js';

/**
 * Why a TLS peer was refused. The certificate cases are OpenSSL's verdict (chain, validity, CRL, purpose);
 * `other-node` is a valid certificate whose CN is not one the listener accepts; `tls-version` a peer below the
 * listener's minVersion; `no-certificate` a peer that showed none where one is required; `handshake` any other
 * failed handshake (garbage, a cipher mismatch, a client that gave up).
 */
export type TlsRefusal =
  | 'no-certificate'
  | 'self-signed'
  | 'wrong-ca'
  | 'not-yet-valid'
  | 'expired'
  | 'crl-expired'
  | 'revoked'
  | 'wrong-key-usage'
  | 'other-node'
  | 'tls-version'
  | 'handshake';

export const TLS_REFUSALS: readonly TlsRefusal[] = [
  'no-certificate',
  'self-signed',
  'wrong-ca',
  'not-yet-valid',
  'expired',
  'crl-expired',
  'revoked',
  'wrong-key-usage',
  'other-node',
  'tls-version',
  'handshake',
];

/** The lowest TLS version a listener accepts: 1.2 unless set to 1.3. */
export const tlsMinVersionSchema = z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2');

/** What a TLS listener is given: PEM file paths, read at start. */
export interface ServerTlsFiles {
  readonly cert: string;
  readonly key: string;
  /** The CA whose client certificates are accepted (the fleet CA). Required when requireClientCert. */
  readonly ca?: string | undefined;
  /** The CA's CRL (`fieldmesh pki crl`); re-read when the file changes. */
  readonly crl?: string | undefined;
  readonly requireClientCert: boolean;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** Client certificate CNs accepted (none: any certificate of the CA). */
  readonly clientIdentities?: readonly string[] | undefined;
}

/** OpenSSL's verify results (Node's `authorizationError` codes) by the refusal they are. */
const AUTHORIZATION_ERRORS: Readonly<Record<string, TlsRefusal>> = {
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'not-yet-valid',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'wrong-ca',
  UNABLE_TO_GET_ISSUER_CERT: 'wrong-ca',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'wrong-ca',
  CERT_SIGNATURE_FAILURE: 'wrong-ca',
  CERT_REVOKED: 'revoked',
  CRL_HAS_EXPIRED: 'crl-expired',
  UNABLE_TO_GET_CRL: 'wrong-ca',
  INVALID_PURPOSE: 'wrong-key-usage',
  INVALID_CA: 'wrong-key-usage',
  KEYUSAGE_NO_DIGITAL_SIGNATURE: 'wrong-key-usage',
};

/** The refusal an OpenSSL verify result stands for (`wrong-ca` for results not listed: a chain that does not hold). */
export function refusalOfAuthorizationError(code: string): TlsRefusal {
  return AUTHORIZATION_ERRORS[code] ?? 'wrong-ca';
}

/** The refusal a failed handshake stands for. */
export function refusalOfHandshakeError(err: Error & { code?: string }): TlsRefusal {
  const text = `${err.code ?? ''} ${err.message}`.toLowerCase();
  if (text.includes('unsupported_protocol') || text.includes('unsupported protocol') || text.includes('version too low'))
    return 'tls-version';
  if (text.includes('peer did not return a certificate') || text.includes('peer_did_not_return_a_certificate')) return 'no-certificate';
  return 'handshake';
}

function readPemFile(path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new FieldmeshError('FM_CONFIG_INVALID', `${key}: cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { key, path },
    });
  }
}

/** Throws FM_CONFIG_INVALID when a setting cannot work (client certificates required without a CA to check them). */
export function assertServerTlsFiles(files: ServerTlsFiles, at: string): void {
  if (files.requireClientCert && files.ca === undefined) {
    throw new FieldmeshError('FM_CONFIG_INVALID', `${at}.ca: requireClientCert needs the CA whose client certificates are accepted`, {
      details: { key: `${at}.ca` },
    });
  }
}

/**
 * The options of `tls.createServer` / `https.createServer` / Fastify's `https` for these files. `at` names the
 * setting in errors (`tls`, `http.tls`). Client certificates are requested whenever a CA is given, and judged in
 * guardTlsServer (rejectUnauthorized stays false here so the refusal's reason can be logged and counted).
 */
export function readServerTlsOptions(
  files: ServerTlsFiles,
  at: string,
): SecureContextOptions & {
  requestCert: boolean;
  rejectUnauthorized: false;
} {
  assertServerTlsFiles(files, at);
  return {
    cert: readPemFile(files.cert, `${at}.cert`),
    key: readPemFile(files.key, `${at}.key`),
    ...(files.ca === undefined ? {} : { ca: readPemFile(files.ca, `${at}.ca`) }),
    ...(files.crl === undefined ? {} : { crl: readPemFile(files.crl, `${at}.crl`) }),
    minVersion: files.minVersion,
    requestCert: files.ca !== undefined,
    rejectUnauthorized: false,
  };
}

export interface TlsGuardOptions {
  readonly files: ServerTlsFiles;
  /** The setting's path in the configuration (`tls`, `http.tls`), for errors and logs. */
  readonly at: string;
  readonly logger: Logger;
  /** Called once per refusal (a counter). */
  readonly onRefused: (reason: TlsRefusal) => void;
  /** How often the CRL file is polled for a change (default 1 s). */
  readonly crlPollMs?: number;
}

export interface TlsGuard {
  /** Judges a socket after its handshake: undefined when it may go on, else why it was refused (and destroyed). */
  admit(socket: TLSSocket): TlsRefusal | undefined;
  /** Re-reads the certificate, key, CA and CRL now (the CRL watcher calls it). */
  reload(): void;
  /** Stops watching the CRL. */
  close(): void;
}

function peerName(cert: PeerCertificate | undefined): Record<string, string> {
  if (cert === undefined || Object.keys(cert).length === 0) return {};
  const subject = cert.subject as Partial<Record<string, string | string[]>> | undefined;
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const cn = first(subject?.CN);
  const ou = first(subject?.OU);
  return {
    ...(cn === undefined ? {} : { peerCn: cn }),
    ...(ou === undefined ? {} : { peerOu: ou }),
    ...(cert.serialNumber === undefined ? {} : { peerSerial: cert.serialNumber.toLowerCase() }),
  };
}

/** Whether a certificate names itself as its issuer (a self-signed one, or the CA's own). */
function isSelfIssued(cert: PeerCertificate): boolean {
  return JSON.stringify(cert.subject) === JSON.stringify(cert.issuer);
}

/** The CN (node id) and OU (site) of a peer certificate. */
export function peerIdentity(cert: PeerCertificate | undefined): { cn?: string; ou?: string } {
  const { peerCn, peerOu } = peerName(cert);
  return { ...(peerCn === undefined ? {} : { cn: peerCn }), ...(peerOu === undefined ? {} : { ou: peerOu }) };
}

/**
 * Guards a TLS server: refuses (destroys, logs with its reason, counts) a peer whose handshake failed, whose client
 * certificate OpenSSL did not verify when one is required, or whose CN is not accepted; re-reads the CRL when its
 * file changes (a broken new CRL is logged and the old one kept).
 */
export function guardTlsServer(server: TlsServer, options: TlsGuardOptions): TlsGuard {
  const { files, at, logger } = options;

  function refuse(reason: TlsRefusal, socket: TLSSocket | undefined, message: string, cert?: PeerCertificate): TlsRefusal {
    options.onRefused(reason);
    logger.warn({ reason, remote: socket?.remoteAddress, listener: at, ...peerName(cert) }, `TLS peer refused (${reason}): ${message}`);
    socket?.destroy();
    return reason;
  }

  server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
    refuse(refusalOfHandshakeError(err), socket, err.message);
  });

  const guard: TlsGuard = {
    admit(socket) {
      if (!files.requireClientCert) return undefined;
      const cert = socket.getPeerCertificate();
      if (cert === null || cert === undefined || Object.keys(cert).length === 0) {
        return refuse('no-certificate', socket, 'the client showed no certificate');
      }
      if (!socket.authorized) {
        const code = String(socket.authorizationError ?? 'UNKNOWN');
        let reason = refusalOfAuthorizationError(code);
        // With a CRL, OpenSSL reports a self-signed leaf as UNABLE_TO_GET_CRL (no CRL of its issuer) before anything else.
        if (reason === 'wrong-ca' && isSelfIssued(cert)) reason = 'self-signed';
        return refuse(reason, socket, `client certificate refused by ${code}`, cert);
      }
      const allowed = files.clientIdentities;
      const { cn } = peerIdentity(cert);
      if (allowed !== undefined && allowed.length > 0 && (cn === undefined || !allowed.includes(cn))) {
        return refuse('other-node', socket, `client certificate CN "${cn ?? ''}" is not one of ${allowed.join(', ')}`, cert);
      }
      return undefined;
    },
    reload() {
      try {
        server.setSecureContext(readServerTlsOptions(files, at));
        logger.info({ listener: at, crl: files.crl }, 'TLS files re-read');
      } catch (err) {
        logger.warn({ listener: at, err: (err as Error).message }, 'TLS files could not be re-read; the previous ones stay in use');
      }
    },
    close() {
      stopWatching();
    },
  };

  const stopWatching = watchFiles(files.crl === undefined ? [] : [files.crl], options.crlPollMs ?? 1000, () => guard.reload());
  return guard;
}

/**
 * Polls `paths` every `intervalMs` (fs.watchFile: works for files replaced by a rename, on every filesystem) and
 * calls `onChange(path)` when one's modification time or size changed. Returns the function that stops watching.
 * The CRL of a TLS listener, and the zone signing files of a node, are re-read this way.
 */
export function watchFiles(paths: readonly string[], intervalMs: number, onChange: (path: string) => void): () => void {
  const listeners = paths.map((path) => {
    const listener = (curr: { mtimeMs: number; size: number }, prev: { mtimeMs: number; size: number }): void => {
      if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size) onChange(path);
    };
    watchFile(path, { interval: intervalMs, persistent: false }, listener);
    return { path, listener };
  });
  return () => {
    for (const { path, listener } of listeners.splice(0)) unwatchFile(path, listener);
  };
}

/** `http.tls` of hub.yaml and node.yaml: HTTPS with HSTS, client certificates of the fleet CA optionally required. */
export const httpTlsSchema = z
  .strictObject({
    cert: z.string().min(1),
    key: z.string().min(1),
    /** The fleet CA (ca.crt): needed to require client certificates. */
    ca: z.string().min(1).optional(),
    /** The fleet CA's CRL, re-read when the file changes. */
    crl: z.string().min(1).optional(),
    requireClientCert: z.boolean().default(false),
    minVersion: tlsMinVersionSchema,
    /** Client certificate CNs accepted (default: any certificate of the CA), e.g. [hub] on a node. */
    clientIdentities: z.array(z.string().min(1)).optional(),
  })
  .refine((t) => !t.requireClientCert || t.ca !== undefined, {
    path: ['ca'],
    message: 'requireClientCert needs ca: the fleet CA (ca.crt) that issued the clients',
  });

export type HttpTlsConfig = z.output<typeof httpTlsSchema>;
