// broker.yaml: listeners, users with roles, and the scrypt password hashes the embedded broker checks.

import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { tlsMinVersionSchema } from '../platform/index.js';
import { DEFAULT_TOPIC_PREFIX, zonesSchema } from '../protocol/index.js';

/** scrypt cost: N = 2^14, r = 8 (RFC 7914's interactive-login example), 32-byte key, 16-byte salt. */
const SCRYPT_N = 16_384;
const SCRYPT_KEY_BYTES = 32;
const SCRYPT_SALT_BYTES = 16;
const HASH_PATTERN = /^scrypt\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

export const DEFAULT_BROKER_PORT = 18830;
export const DEFAULT_BROKER_WS_PORT = 18831;
/** MQTT over TLS: not 8883, so it never collides with a system Mosquitto. */
export const DEFAULT_BROKER_TLS_PORT = 18883;
/** Secure WebSocket, when websocket and tls are both enabled. */
export const DEFAULT_BROKER_WSS_PORT = 18884;
/** GET /metrics, when broker.yaml has a metrics block. */
export const DEFAULT_BROKER_METRICS_PORT = 18832;
/** The certificate CNs that get the hub role (`fieldmesh pki mosquitto-conf --hub`'s default too). */
export const DEFAULT_HUB_IDENTITIES = ['hub'];

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

const idText = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'expected an id: lowercase letters, digits, "-" and "_"');

const userSchema = z
  .object({
    username: z.string().min(1),
    /** Plain text; prefer passwordHash (see docs/broker.md to make one) outside a lab. */
    password: z.string().min(1).optional(),
    /** `scrypt$<saltB64>$<hashB64>`, as produced by hashPassword(). */
    passwordHash: z.string().regex(HASH_PATTERN, 'expected scrypt$<saltBase64>$<hashBase64>').optional(),
    role: z.enum(['node', 'hub', 'admin']),
    site: idText.optional(),
    node: idText.optional(),
  })
  .strict()
  .superRefine((u, ctx) => {
    if ((u.password === undefined) === (u.passwordHash === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'give exactly one of password or passwordHash' });
    }
    if (u.role === 'node' && (u.site === undefined || u.node === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['site'], message: 'a node user must be bound to a site and a node' });
    }
  });

/** Whether a listener that takes passwords or anonymous clients is reachable from beyond this machine. */
function isExposed(c: {
  listen: { host: string };
  websocket: { enabled: boolean; host?: string | undefined };
  tls?: { enabled: boolean; host?: string | undefined; requireClientCert: boolean } | undefined;
}): boolean {
  const tlsWithoutCerts = c.tls?.enabled === true && !c.tls.requireClientCert && !isLoopbackHost(c.tls.host ?? c.listen.host);
  return !isLoopbackHost(c.listen.host) || (c.websocket.enabled && !isLoopbackHost(c.websocket.host ?? c.listen.host)) || tlsWithoutCerts;
}

export const brokerConfigSchema = z
  .object({
    listen: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(DEFAULT_BROKER_PORT),
      })
      .strict()
      .default({ host: '127.0.0.1', port: DEFAULT_BROKER_PORT }),
    websocket: z
      .object({
        enabled: z.boolean().default(true),
        /** Defaults to listen.host. */
        host: z.string().optional(),
        port: z.number().int().min(0).max(65_535).default(DEFAULT_BROKER_WS_PORT),
        path: z.string().startsWith('/').default('/mqtt'),
      })
      .strict()
      .default({ enabled: true, port: DEFAULT_BROKER_WS_PORT, path: '/mqtt' }),
    /**
     * MQTT over TLS (and secure WebSocket when websocket is enabled): PEM files from `fieldmesh pki`. With client
     * certificates, the certificate is the identity: CN = node id, OU = site; a CN in hubIdentities is the hub.
     */
    tls: z
      .object({
        enabled: z.boolean().default(true),
        /** Defaults to listen.host. */
        host: z.string().optional(),
        port: z.number().int().min(0).max(65_535).default(DEFAULT_BROKER_TLS_PORT),
        wsPort: z.number().int().min(0).max(65_535).default(DEFAULT_BROKER_WSS_PORT),
        cert: z.string().min(1),
        key: z.string().min(1),
        /** The fleet CA (ca.crt): client certificates must chain to it. */
        ca: z.string().min(1).optional(),
        /** The fleet CA's CRL (crl.pem), re-read when the file changes. */
        crl: z.string().min(1).optional(),
        requireClientCert: z.boolean().default(true),
        minVersion: tlsMinVersionSchema,
        /** Certificate CNs with the hub role (read and write the whole prefix). */
        hubIdentities: z.array(idText).default(DEFAULT_HUB_IDENTITIES),
        /** Certificate CNs with the admin role. */
        adminIdentities: z.array(idText).default([]),
      })
      .strict()
      .optional(),
    /**
     * Prometheus metrics over plain HTTP (GET /metrics): the TLS refusals by reason, the connected clients and the
     * refused connections, publishes and subscriptions. Off unless given; keep it on loopback or a monitoring network.
     */
    metrics: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(DEFAULT_BROKER_METRICS_PORT),
      })
      .strict()
      .optional(),
    topicPrefix: z.string().min(1).default(DEFAULT_TOPIC_PREFIX),
    /**
     * The consensus zones the broker enforces, by site, each site's list as node.yaml's `zones` has it: a node
     * may publish on its topic of zone Z (`<prefix>/<site>/<node>/zone/<Z>`) only when zone Z lists it (or drives a
     * pump a fire in Z activates). Absent: every node may write its own zone topics. [FM-ZONE-SIGN-6]
     */
    zones: z.record(idText, zonesSchema).optional(),
    /**
     * Node identities (`site/node`) that may act as the awareness aggregator while the hub is away [FM-AWARE-5]:
     * read every node's awareness frames and write the digests, as `fieldmesh pki mosquitto-conf --aggregator` grants
     * on Mosquitto. Other node identities get neither (anonymous, hub and admin clients go anywhere).
     */
    aggregators: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}\/[a-z0-9][a-z0-9_-]{0,62}$/, 'expected SITE/NODE, e.g. ranch/bess-01'))
      .default([]),
    /** Default: true only when every listener is on loopback. */
    allowAnonymous: z.boolean().optional(),
    users: z.array(userSchema).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const exposed = isExposed(c);
    if (exposed && c.users.length === 0 && c.allowAnonymous !== true) {
      ctx.addIssue({
        code: 'custom',
        path: ['users'],
        message: `the broker listens beyond loopback (${c.listen.host}) without users: add users, or set allowAnonymous: true to accept anyone`,
      });
    }
    if (c.tls?.enabled && c.tls.requireClientCert && c.tls.ca === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls', 'ca'],
        message: 'requireClientCert needs ca: the fleet CA (ca.crt) that issued the clients',
      });
    }
    const seen = new Set<string>();
    c.users.forEach((u, i) => {
      if (seen.has(u.username)) ctx.addIssue({ code: 'custom', path: ['users', i, 'username'], message: `duplicate user "${u.username}"` });
      seen.add(u.username);
    });
  })
  .transform((c) => {
    const exposed = isExposed(c);
    return {
      ...c,
      websocket: { ...c.websocket, host: c.websocket.host ?? c.listen.host },
      tls: c.tls === undefined || !c.tls.enabled ? undefined : { ...c.tls, host: c.tls.host ?? c.listen.host },
      allowAnonymous: c.allowAnonymous ?? (!exposed && c.users.length === 0),
    };
  });

export type BrokerConfig = z.output<typeof brokerConfigSchema>;
export type BrokerUser = BrokerConfig['users'][number];
export type BrokerRole = BrokerUser['role'];

/** Hashes a password for broker.yaml: `scrypt$<saltB64>$<hashB64>`. */
export function hashPassword(plain: string): string {
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const hash = scryptSync(plain, salt, SCRYPT_KEY_BYTES, { N: SCRYPT_N });
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Checks a password against a hash from hashPassword(), in constant time; false for a malformed hash. */
export function verifyPassword(plain: string, hash: string): Promise<boolean> {
  const m = HASH_PATTERN.exec(hash);
  if (!m) return Promise.resolve(false);
  const salt = Buffer.from(m[1] as string, 'base64');
  const expected = Buffer.from(m[2] as string, 'base64');
  return new Promise((resolve) => {
    // Async scrypt: 50 nodes reconnecting after a partition must not block the event loop.
    scrypt(plain, salt, expected.length, { N: SCRYPT_N }, (err, derived) => {
      resolve(err === null && derived.length === expected.length && timingSafeEqual(derived, expected));
    });
  });
}
