// The embedded MQTT broker (Aedes) of `fieldmesh broker` and `fieldmesh demo`: TCP and WebSocket
// listeners, MQTT over TLS and secure WebSocket with client certificates as identities, per-user roles and
// topic ACLs, and per-client byte counts taken from the sockets.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { Counter, Gauge, Registry } from 'prom-client';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { FieldmeshError, isValidId, type Logger, silentLogger } from '../kit/index.js';
import { guardTlsServer, peerIdentity, readServerTlsOptions, type TlsGuard, type TlsRefusal } from '../platform/index.js';
import { canPublish, canReceive, canSubscribe, type Identity, isZoneWriteRefused, zoneWritersOf } from './broker-acl.js';
import { type BrokerConfig, type BrokerUser, isLoopbackHost, verifyPassword } from './broker-config.js';

export interface BrokerStartOptions {
  /** When a configured port is taken, listen on a free one and log a warning (default true). */
  readonly fallbackToFreePort?: boolean;
}

export interface StartedBroker {
  readonly mqttUrl: string;
  readonly port: number;
  readonly wsUrl?: string;
  readonly wsPort?: number;
  /** MQTT over TLS, when broker.yaml has a tls block. */
  readonly mqttsUrl?: string;
  readonly tlsPort?: number;
  /** Secure WebSocket, when websocket and tls are both enabled. */
  readonly wssUrl?: string;
  readonly wssPort?: number;
  /** GET /metrics (Prometheus text), when broker.yaml has a metrics block. */
  readonly metricsUrl?: string;
}

export interface BrokerStats {
  /** Clients connected now. */
  readonly clients: number;
  /** Bytes read from / written to client sockets (WebSocket framing included), since start. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** PUBLISH packets accepted from clients. */
  readonly messagesIn: number;
  /** Bytes read per client id, since start (a client id that reconnects accumulates). */
  readonly perClientBytesIn: Map<string, number>;
  readonly rejectedAuth: number;
  readonly rejectedPublish: number;
  readonly rejectedSubscribe: number;
  /** Zone-topic publishes refused because no zone of broker.yaml lists the node (counted in rejectedPublish too). */
  readonly rejectedZonePublish: number;
  /** TLS peers refused, by reason (also fieldmesh_broker_tls_refused_total{reason}). */
  readonly tlsRefused: ReadonlyMap<TlsRefusal, number>;
}

export interface Broker {
  start(options?: BrokerStartOptions): Promise<StartedBroker>;
  stop(): Promise<void>;
  stats(): BrokerStats;
  /** The broker's Prometheus metrics (fieldmesh_broker_tls_refused_total). */
  readonly registry: Registry;
  /** Re-reads the TLS certificate, key, CA and CRL now (done by itself when the CRL file changes). */
  reloadTls(): void;
}

export interface BrokerDeps {
  readonly logger?: Logger;
  /** How often the CRL file is polled for a change (default 1 s). */
  readonly crlPollMs?: number;
}

/** One accepted connection: the raw socket counts the bytes, the client id arrives with CONNECT. */
interface Connection {
  readonly socket: Socket;
  clientId?: string;
}

/** MQTT 3.1.1 CONNACK return codes [MQTT-3.2.2.3]. */
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

function equalInConstantTime(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

function listen(server: NetServer | HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

function closeServer(server: NetServer | HttpServer | TlsServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export function createBroker(config: BrokerConfig, deps: BrokerDeps = {}): Broker {
  const logger = (deps.logger ?? silentLogger).child({ component: 'broker' });
  const users = new Map<string, BrokerUser>(config.users.map((u) => [u.username, u]));
  const identities = new WeakMap<Client, Identity>();
  const connections = new Map<Duplex, Connection>();
  const closedPerClient = new Map<string, number>();
  const counters = {
    bytesIn: 0,
    bytesOut: 0,
    messagesIn: 0,
    rejectedAuth: 0,
    rejectedPublish: 0,
    rejectedSubscribe: 0,
    rejectedZonePublish: 0,
  };
  const zoneWriters = config.zones === undefined ? undefined : zoneWritersOf(config.zones);
  const aggregators = new Set(config.aggregators);
  /** The nodes whose refused zone publish was logged: once per node, the counter says how often. */
  const zoneRefusalLogged = new Set<string>();
  const tlsRefused = new Map<TlsRefusal, number>();
  const registry = new Registry();
  const tlsRefusedTotal = new Counter({
    name: 'fieldmesh_broker_tls_refused_total',
    help: 'TLS peers the embedded broker refused, by reason (expired, revoked, wrong-ca, tls-version, ...)',
    labelNames: ['reason'],
    registers: [registry],
  });
  new Gauge({
    name: 'fieldmesh_broker_clients',
    help: 'MQTT clients connected to the embedded broker now',
    registers: [registry],
    collect() {
      this.set(aedes?.connectedClients ?? 0);
    },
  });
  const refusedTotal = new Counter({
    name: 'fieldmesh_broker_refused_total',
    help: 'Connections (auth), publishes and subscriptions the embedded broker refused',
    labelNames: ['what'],
    registers: [registry],
  });
  const zonePublishRefusedTotal = new Counter({
    name: 'fieldmesh_broker_zone_publish_refused_total',
    help: "Publishes on a node's topic of zone Z refused because zone Z of its site in broker.yaml does not list the node",
    labelNames: ['site', 'zone'],
    registers: [registry],
  });
  /** The certificate identity of each connection that came over TLS with a client certificate. */
  const certificates = new WeakMap<Duplex, Identity>();
  const guards: TlsGuard[] = [];
  let aedes: Aedes | undefined;
  let tcp: NetServer | undefined;
  let http: HttpServer | undefined;
  let wss: WebSocketServer | undefined;
  let tlsServer: TlsServer | undefined;
  let httpsServer: HttpsServer | undefined;
  let wssSecure: WebSocketServer | undefined;
  let metricsServer: HttpServer | undefined;

  function countRefusal(reason: TlsRefusal): void {
    tlsRefused.set(reason, (tlsRefused.get(reason) ?? 0) + 1);
    tlsRefusedTotal.inc({ reason });
  }

  /** The identity a verified client certificate stands for: CN = node id, OU = site, or a hub / admin CN. */
  function identityOfCertificate(socket: TLSSocket): Identity | undefined {
    const tls = config.tls;
    if (tls === undefined || !tls.requireClientCert) return undefined;
    const { cn, ou } = peerIdentity(socket.getPeerCertificate());
    if (cn === undefined) return undefined;
    if (tls.adminIdentities.includes(cn)) return { kind: 'certificate', role: 'admin', cn };
    if (tls.hubIdentities.includes(cn)) return { kind: 'certificate', role: 'hub', cn };
    return { kind: 'certificate', role: 'node', cn, node: cn, ...(ou === undefined ? {} : { site: ou }) };
  }

  function track(stream: Duplex, socket: Socket): void {
    const conn: Connection = { socket };
    connections.set(stream, conn);
    socket.once('close', () => {
      connections.delete(stream);
      counters.bytesIn += socket.bytesRead;
      counters.bytesOut += socket.bytesWritten;
      if (conn.clientId !== undefined) closedPerClient.set(conn.clientId, (closedPerClient.get(conn.clientId) ?? 0) + socket.bytesRead);
    });
  }

  async function authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<void> {
    // On the TLS listener with client certificates, the certificate is the identity (Mosquitto's use_identity_as_username).
    const certified = certificates.get(client.conn as Duplex);
    if (certified !== undefined) {
      if (certified.kind === 'certificate' && certified.role === 'node' && !(isValidId(certified.site ?? '') && isValidId(certified.cn))) {
        throw authError(`certificate CN "${certified.cn}" OU "${certified.site ?? ''}" is not a node id and site`, NOT_AUTHORIZED);
      }
      identities.set(client, certified);
      return;
    }
    if (username === undefined || username === '') {
      if (config.allowAnonymous) {
        identities.set(client, { kind: 'anonymous' });
        return;
      }
      throw authError('this broker requires a username and password', NOT_AUTHORIZED);
    }
    const user = users.get(username);
    const plain = password?.toString('utf8') ?? '';
    const ok =
      user !== undefined &&
      (user.passwordHash !== undefined ? await verifyPassword(plain, user.passwordHash) : equalInConstantTime(plain, user.password ?? ''));
    if (!ok || user === undefined) throw authError('bad username or password', BAD_USERNAME_OR_PASSWORD);
    identities.set(client, { kind: 'user', user });
  }

  async function createAedes(): Promise<Aedes> {
    const instance = await Aedes.createBroker({
      authenticate(client, username, password, done) {
        authenticate(client, username, password).then(
          () => done(null, true),
          (err: AuthenticateError) => {
            counters.rejectedAuth++;
            refusedTotal.inc({ what: 'auth' });
            logger.warn({ clientId: client.id, username, reason: err.message }, 'connection refused');
            done(err, false);
          },
        );
      },
      authorizePublish(client, packet: PublishPacket, done) {
        // A null client is the broker itself ($SYS heartbeats, wills already authorized).
        if (client === null) return done(null);
        const identity = identities.get(client) ?? { kind: 'anonymous' };
        if (canPublish(identity, config.topicPrefix, packet.topic, zoneWriters, aggregators)) return done(null);
        counters.rejectedPublish++;
        refusedTotal.inc({ what: 'publish' });
        if (isZoneWriteRefused(identity, config.topicPrefix, packet.topic, zoneWriters)) {
          // [FM-ZONE-SIGN-6] A node with a valid identity writing the topic of a zone that does not list it (no zone
          // at all, or a zone of its site it is no member of): its frames never reach that zone's members.
          const [site = '', node = '', , zone = ''] = packet.topic.slice(config.topicPrefix.length + 1).split('/');
          counters.rejectedZonePublish++;
          zonePublishRefusedTotal.inc({ site, zone });
          if (!zoneRefusalLogged.has(`${site}/${node}/${zone}`)) {
            zoneRefusalLogged.add(`${site}/${node}/${zone}`);
            logger.warn(
              { clientId: client.id, site, node, zone, topic: packet.topic },
              `zone frames of ${site}/${node} for zone ${zone} refused: zone ${zone} of site ${site} in broker.yaml does not list it (logged once per node and zone)`,
            );
          }
        } else logger.warn({ clientId: client.id, topic: packet.topic }, 'publish refused by ACL');
        // With MQTT 3.1.1, Aedes closes the connection of a client whose publish is refused.
        done(new FieldmeshError('FM_BROKER_ACL_DENIED', `${client.id} may not publish to ${packet.topic}`));
      },
      authorizeSubscribe(client, subscription: Subscription, done) {
        const identity = identities.get(client) ?? { kind: 'anonymous' };
        if (canSubscribe(identity, config.topicPrefix, subscription.topic, aggregators)) return done(null, subscription);
        counters.rejectedSubscribe++;
        refusedTotal.inc({ what: 'subscribe' });
        logger.warn({ clientId: client.id, filter: subscription.topic }, 'subscription refused by ACL');
        // A null subscription makes Aedes answer 0x80 (failure) for this filter [MQTT-3.9.3].
        done(null, null);
      },
      // [FM-CONFIG-DIST] A node receives no other node's desired config, whatever it subscribed to.
      authorizeForward(client, packet) {
        const identity = identities.get(client) ?? { kind: 'anonymous' };
        return canReceive(identity, config.topicPrefix, packet.topic) ? packet : null;
      },
    });
    instance.on('client', (client) => {
      const conn = connections.get(client.conn as Duplex);
      if (conn) conn.clientId = client.id;
    });
    instance.on('publish', (_packet, client) => {
      if (client) counters.messagesIn++;
    });
    instance.on('clientError', (client, err) => logger.debug({ clientId: client.id, err: err.message }, 'client error'));
    instance.on('connectionError', (client, err) => logger.debug({ clientId: client?.id, err: err.message }, 'connection error'));
    return instance;
  }

  async function listenWithFallback(
    server: NetServer | HttpServer,
    what: string,
    host: string,
    port: number,
    fallback: boolean,
  ): Promise<number> {
    try {
      return await listen(server, host, port);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      if (!fallback) {
        throw new FieldmeshError('FM_PORT_IN_USE', `${what} port ${host}:${port} is already in use`, {
          cause: err,
          details: { host, port },
        });
      }
      const chosen = await listen(server, host, 0);
      logger.warn({ taken: port, chosen }, `${what} port ${port} is taken; listening on ${chosen} instead`);
      return chosen;
    }
  }

  return {
    async start(options: BrokerStartOptions = {}): Promise<StartedBroker> {
      if (aedes) throw new Error('broker already started');
      const anyoneFromOutside = !isLoopbackHost(config.listen.host) && config.users.length === 0 && config.allowAnonymous;
      if (!isLoopbackHost(config.listen.host) && config.users.length === 0 && !config.allowAnonymous) {
        throw new FieldmeshError(
          'FM_CONFIG_INVALID',
          `broker listens on ${config.listen.host} without users; add users or set allowAnonymous: true`,
        );
      }
      const fallback = options.fallbackToFreePort ?? true;
      const instance = await createAedes();
      aedes = instance;
      try {
        tcp = createNetServer((socket) => {
          track(socket, socket);
          instance.handle(socket);
        });
        const port = await listenWithFallback(tcp, 'MQTT', config.listen.host, config.listen.port, fallback);
        const started: {
          mqttUrl: string;
          port: number;
          wsUrl?: string;
          wsPort?: number;
          mqttsUrl?: string;
          tlsPort?: number;
          wssUrl?: string;
          wssPort?: number;
          metricsUrl?: string;
        } = {
          mqttUrl: `mqtt://${urlHost(config.listen.host)}:${port}`,
          port,
        };
        if (config.websocket.enabled) {
          http = createHttpServer((_req, res) => {
            res.writeHead(426, { 'content-type': 'text/plain' }).end('this endpoint speaks MQTT over WebSocket\n');
          });
          // Listen before the WebSocket server attaches: it re-emits the HTTP server's errors, and an
          // EADDRINUSE it re-emitted would be thrown at the event loop instead of falling back.
          const wsPort = await listenWithFallback(http, 'WebSocket', config.websocket.host, config.websocket.port, fallback);
          wss = new WebSocketServer({ server: http, path: config.websocket.path });
          wss.on('error', (err) => logger.warn({ err: err.message }, 'WebSocket server error'));
          wss.on('connection', (websocket, req: IncomingMessage) => {
            const stream = createWebSocketStream(websocket);
            track(stream, req.socket);
            instance.handle(stream, req);
          });
          started.wsPort = wsPort;
          started.wsUrl = `ws://${urlHost(config.websocket.host)}:${wsPort}${config.websocket.path}`;
        }
        if (config.tls !== undefined) {
          const tls = config.tls;
          const files = { ...tls, clientIdentities: undefined };
          const admitted = (socket: TLSSocket, guard: TlsGuard): Identity | undefined | false => {
            if (guard.admit(socket) !== undefined) return false;
            return identityOfCertificate(socket);
          };
          tlsServer = createTlsServer(readServerTlsOptions(files, 'tls'));
          const mqttGuard = guardTlsServer(tlsServer, {
            files,
            at: 'tls',
            logger,
            onRefused: countRefusal,
            ...(deps.crlPollMs === undefined ? {} : { crlPollMs: deps.crlPollMs }),
          });
          guards.push(mqttGuard);
          tlsServer.on('secureConnection', (socket: TLSSocket) => {
            const identity = admitted(socket, mqttGuard);
            if (identity === false) return;
            if (identity !== undefined) certificates.set(socket, identity);
            track(socket, socket);
            instance.handle(socket);
          });
          const tlsPort = await listenWithFallback(tlsServer, 'MQTT over TLS', tls.host, tls.port, fallback);
          started.tlsPort = tlsPort;
          started.mqttsUrl = `mqtts://${urlHost(tls.host)}:${tlsPort}`;
          if (config.websocket.enabled) {
            const secure = createHttpsServer(readServerTlsOptions(files, 'tls'), (_req, res) => {
              res.writeHead(426, { 'content-type': 'text/plain' }).end('this endpoint speaks MQTT over secure WebSocket\n');
            });
            httpsServer = secure;
            const wssGuard = guardTlsServer(secure, {
              files,
              at: 'tls (wss)',
              logger,
              onRefused: countRefusal,
              crlPollMs: deps.crlPollMs ?? 1000,
            });
            guards.push(wssGuard);
            const pending = new WeakMap<Socket, Identity>();
            secure.on('secureConnection', (socket: TLSSocket) => {
              const identity = admitted(socket, wssGuard);
              if (identity !== false && identity !== undefined) pending.set(socket, identity);
            });
            const wssPort = await listenWithFallback(secure, 'secure WebSocket', tls.host, tls.wsPort, fallback);
            wssSecure = new WebSocketServer({ server: secure, path: config.websocket.path });
            wssSecure.on('error', (err) => logger.warn({ err: err.message }, 'secure WebSocket server error'));
            wssSecure.on('connection', (websocket, req: IncomingMessage) => {
              const stream = createWebSocketStream(websocket);
              const identity = pending.get(req.socket);
              if (identity !== undefined) certificates.set(stream, identity);
              track(stream, req.socket);
              instance.handle(stream, req);
            });
            started.wssPort = wssPort;
            started.wssUrl = `wss://${urlHost(tls.host)}:${wssPort}${config.websocket.path}`;
          }
        }
        if (config.metrics !== undefined) {
          metricsServer = createHttpServer((req, res) => {
            if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
              res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /metrics\n');
              return;
            }
            registry.metrics().then(
              (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
              (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
            );
          });
          const metricsPort = await listenWithFallback(metricsServer, 'metrics', config.metrics.host, config.metrics.port, fallback);
          started.metricsUrl = `http://${urlHost(config.metrics.host)}:${metricsPort}/metrics`;
        }
        if (anyoneFromOutside)
          logger.warn({ host: config.listen.host }, 'anonymous clients are allowed from the network (allowAnonymous: true)');
        logger.info(
          {
            ...started,
            users: config.users.length,
            allowAnonymous: config.allowAnonymous,
            ...(zoneWriters === undefined ? {} : { zoneSites: [...zoneWriters.keys()] }),
          },
          'broker started',
        );
        return started;
      } catch (err) {
        await this.stop();
        throw err;
      }
    },

    async stop(): Promise<void> {
      const instance = aedes;
      aedes = undefined;
      for (const conn of connections.values()) conn.socket.destroy();
      wss?.close();
      wssSecure?.close();
      for (const guard of guards.splice(0)) guard.close();
      const closing: Promise<void>[] = [];
      if (tcp?.listening) closing.push(closeServer(tcp));
      if (http?.listening) closing.push(closeServer(http));
      if (tlsServer?.listening) closing.push(closeServer(tlsServer));
      if (httpsServer?.listening) closing.push(closeServer(httpsServer));
      if (metricsServer?.listening) closing.push(closeServer(metricsServer));
      metricsServer = undefined;
      tcp = undefined;
      http = undefined;
      wss = undefined;
      tlsServer = undefined;
      httpsServer = undefined;
      wssSecure = undefined;
      await Promise.all(closing);
      if (instance) await new Promise<void>((resolve) => instance.close(() => resolve()));
    },

    stats(): BrokerStats {
      let bytesIn = counters.bytesIn;
      let bytesOut = counters.bytesOut;
      const perClientBytesIn = new Map(closedPerClient);
      for (const conn of connections.values()) {
        bytesIn += conn.socket.bytesRead;
        bytesOut += conn.socket.bytesWritten;
        if (conn.clientId !== undefined)
          perClientBytesIn.set(conn.clientId, (perClientBytesIn.get(conn.clientId) ?? 0) + conn.socket.bytesRead);
      }
      return {
        clients: aedes?.connectedClients ?? 0,
        bytesIn,
        bytesOut,
        messagesIn: counters.messagesIn,
        perClientBytesIn,
        rejectedAuth: counters.rejectedAuth,
        rejectedPublish: counters.rejectedPublish,
        rejectedSubscribe: counters.rejectedSubscribe,
        rejectedZonePublish: counters.rejectedZonePublish,
        tlsRefused: new Map(tlsRefused),
      };
    },

    registry,

    reloadTls(): void {
      for (const guard of guards) guard.reload();
    },
  };
}
