// MqttTransport: the Transport port on mqtt.js, with our own jittered reconnect, wire byte counts and TLS sessions.

import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect, type IClientOptions, MqttClient } from 'mqtt';
import { backoffDelayMs, FieldmeshError, RECONNECT_BACKOFF, silentLogger, systemClock, type TimerHandle } from '../kit/index.js';
import { SubscriptionTable } from './subscription-table.js';
import { openTlsLink, type TlsLink, tlsTargetOf } from './tls-link.js';
import type { MqttTransportOptions, PublishOptions, QoS, TlsCredentials, Transport, TransportStats } from './transport.js';
import { TransportEmitter } from './typed-emitter.js';

/** mqtt.js default is 30 s; a dead link should be noticed well before the backoff ceiling. */
const CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_KEEPALIVE_S = 30;

interface PendingPublish {
  reject(err: Error): void;
}

/** One connection attempt: a fresh mqtt.js client, so no state leaks from a dead link into the next. */
interface Attempt {
  readonly client: MqttClient;
  readonly pending: Set<PendingPublish>;
  readonly meter: ByteMeter;
  connected: boolean;
  lastError?: Error;
  /**
   * QoS 1 publishes the broker accepts unacknowledged (MQTT 5 Receive Maximum, from CONNACK; Mosquitto
   * says 20). mqtt.js does not hold back to it, and a broker disconnects a client that exceeds it.
   */
  inflightLimit: number;
  inflight: number;
  readonly waiting: Array<() => void>;
  /** `sendWaiting` is running: a publish that settles inside it leaves the next one to its loop. */
  draining: boolean;
  /**
   * MQTT 5 with subscription identifiers (CONNACK's Subscription Identifiers Available, true when absent): each
   * SUBSCRIBE carries its filter's id and every PUBLISH the ids of the subscriptions it is for, so a broker that sends
   * one copy per matching subscription (Mosquitto does) still reaches each handler once.
   */
  subscriptionIds: boolean;
}

function unavailable(message: string, cause?: unknown): FieldmeshError {
  return new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', message, cause === undefined ? {} : { cause });
}

interface ByteMeter {
  bytesIn(): number;
  bytesOut(): number;
}

/**
 * Bytes that really cross the link. A TCP socket counts them itself (and keeps its counts once closed): the
 * plain link's socket, and under a TLS link the TCP socket the TLS socket runs on (`TlsLink.tcp`), never the
 * TLS socket, whose counters are cleartext. Other streams (WebSocket, wss:// included) are observed from here on:
 * 'data' for reads, a wrapped `write` for writes, so their counts are the MQTT bytes without the CONNECT, the
 * WebSocket framing or TLS.
 */
function meterStream(stream: Duplex | undefined): ByteMeter {
  if (stream instanceof Socket) return { bytesIn: () => stream.bytesRead, bytesOut: () => stream.bytesWritten };
  let bytesIn = 0;
  let bytesOut = 0;
  if (stream) {
    stream.on('data', (chunk: Buffer | string) => {
      bytesIn += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    });
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    (stream as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]) => {
      const chunk = args[0];
      if (typeof chunk === 'string') bytesOut += Buffer.byteLength(chunk);
      else if (chunk instanceof Uint8Array) bytesOut += chunk.length;
      return write(...args);
    };
  }
  return { bytesIn: () => bytesIn, bytesOut: () => bytesOut };
}

/** mqtts:// and wss:// links carry TLS (and so a client certificate). */
function isTlsUrl(url: string): boolean {
  return /^(mqtts|wss):\/\//i.test(url);
}

export function createMqttTransport(options: MqttTransportOptions): Transport {
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? silentLogger).child({ component: 'mqtt-transport', clientId: options.clientId });
  const backoff = options.backoff ?? RECONNECT_BACKOFF;
  const events = new TransportEmitter();
  const table = new SubscriptionTable(
    {
      subscribe(filter, qos, id) {
        const a = attempt;
        return a?.connected ? subscribeOn(a, filter, qos, id) : undefined;
      },
      unsubscribe(filter) {
        const a = attempt;
        if (!a?.connected) return;
        a.client.unsubscribe(filter, (err?: Error) => {
          if (err) logger.debug({ filter, err: err.message }, 'unsubscribe failed');
        });
      },
    },
    logger,
  );
  const counters = { bytesIn: 0, bytesOut: 0, connects: 0, messagesIn: 0, messagesOut: 0 };
  let attempt: Attempt | undefined;
  /** Meters of every link so far; a few per outage, cheap to sum. Folded into `counters` on close. */
  const meters = new Set<ByteMeter>();
  let failures = 0;
  let timer: TimerHandle | undefined;
  let started = false;
  let closed = false;
  /** 'auto' tries MQTT 5 (topic aliases) and settles on 3.1.1 when the broker refuses it (Aedes does). */
  let protocolVersion: 4 | 5 = options.protocolVersion === 4 ? 4 : 5;
  /** Renewed client credentials, over the options' (renewCredentials). */
  let credentials: TlsCredentials | undefined;
  /** The link is being closed on purpose to use new credentials: reconnect at once, not after a backoff. */
  let renewing = false;
  /**
   * The last TLS session (TLS 1.3 ticket) the broker gave us, offered at the next connect to resume: about half
   * the bytes of a full handshake with the client certificate (docs/pki.md "What TLS costs on the link"). One
   * transport talks to one broker URL, so one session. Dropped with new credentials (a resumed session keeps
   * the identity it was made with) and after an attempt that failed before CONNACK.
   */
  let tlsSession: Buffer | undefined;
  let tlsResumed = 0;

  function clientOptions(): IClientOptions {
    const opts: IClientOptions = {
      clientId: options.clientId,
      protocolVersion,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      keepalive: options.keepaliveS ?? DEFAULT_KEEPALIVE_S,
      queueQoSZero: false,
      resubscribe: false,
    };
    if (protocolVersion === 5) {
      // A topic alias replaces a repeated topic with two bytes: with compact frames the topic is most of
      // what a data PUBLISH costs on the wire. Receiving aliases is declined to keep the decoder simple.
      opts.autoUseTopicAlias = true;
      opts.autoAssignTopicAlias = true;
      opts.properties = { topicAliasMaximum: 0 };
    }
    if (options.username !== undefined) opts.username = options.username;
    if (options.password !== undefined) opts.password = options.password;
    Object.assign(opts, tlsCredentials());
    if (options.will !== undefined) {
      opts.will = {
        topic: options.will.topic,
        payload: Buffer.from(options.will.payload),
        qos: options.will.qos,
        retain: options.will.retain,
      };
    }
    return opts;
  }

  let fallbackPending = false;

  function scheduleReconnect(): void {
    if (closed || timer !== undefined) return;
    if (renewing) {
      renewing = false;
      setImmediate(open);
      return;
    }
    if (fallbackPending) {
      // The refusal was about the protocol version, not the link: retry at once with 3.1.1. Not on the
      // injected clock: this is part of one connection attempt, not a backoff.
      fallbackPending = false;
      setImmediate(open);
      return;
    }
    const delay = backoffDelayMs(failures, backoff);
    failures++;
    logger.debug({ delayMs: delay, attempt: failures }, 'reconnecting after backoff');
    timer = clock.setTimeout(() => {
      timer = undefined;
      open();
    }, delay);
  }

  /** Every filter again on a new connection, one SUBSCRIBE each (a subscription identifier is per packet). */
  async function restoreSubscriptions(a: Attempt): Promise<void> {
    const results = await Promise.allSettled(
      table.filters().map(async ({ filter, qos, id }) => {
        try {
          await subscribeOn(a, filter, qos, id);
          table.granted(filter);
        } catch (err) {
          table.granted(filter, err);
          throw err;
        }
      }),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  function subscribeOn(a: Attempt, filter: string, qos: QoS, id: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const opts = a.subscriptionIds ? { qos, properties: { subscriptionIdentifier: id } } : { qos };
      a.client.subscribe({ [filter]: { qos } }, opts, (err, granted) => {
        // mqtt.js reports a refused filter (SUBACK 0x80) as an error carrying the SUBACK packet.
        const codes = (err as { packet?: { granted?: number[] } } | null)?.packet?.granted;
        const refused = codes ? (codes[0] ?? 0) >= 0x80 : (granted ?? []).some((g) => g.qos === 128);
        if (refused) return reject(new FieldmeshError('FM_TRANSPORT_REFUSED', `the broker refused subscription to ${filter}`));
        if (err) return reject(unavailable(`subscribe failed: ${err.message}`, err));
        resolve();
      });
    });
  }

  /**
   * The credentials of the next link: renewed ones, else the options'. Renewed ones only on a TLS URL: given a
   * cert and a key, mqtt.js turns mqtt:// into mqtts:// itself.
   */
  function tlsCredentials(): { ca?: string; cert?: string; key?: string } {
    const renewed = isTlsUrl(options.url) ? credentials : undefined;
    const ca = renewed?.ca ?? options.ca;
    const cert = renewed?.cert ?? options.cert;
    const key = renewed?.key ?? options.key;
    return { ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) };
  }

  function hasClientCertificate(): boolean {
    const { cert, key } = tlsCredentials();
    return cert !== undefined && key !== undefined;
  }

  /**
   * A TLS URL gets a TLS link of ours (mqtt.js's documented `new MqttClient(streamBuilder, options)`), so the
   * wire is counted under TLS and a session is resumed; anything else goes through mqtt.js's `connect`.
   */
  function createClient(): { client: MqttClient; tls?: TlsLink } {
    const opts = clientOptions();
    const target = tlsTargetOf(options.url, hasClientCertificate());
    if (target === undefined) return { client: connect(options.url, opts) };
    if (opts.username === undefined && target.username !== undefined) opts.username = target.username;
    if (opts.password === undefined && target.password !== undefined) opts.password = target.password;
    const holder: { link?: TlsLink } = {};
    const client = new MqttClient(() => {
      const link = openTlsLink({
        ...target,
        ...tlsCredentials(),
        ...(tlsSession === undefined ? {} : { session: tlsSession }),
        onSession: (session) => {
          if (holder.link === link) tlsSession = session;
        },
        onError: (err) => client.emit('error', err),
      });
      holder.link = link;
      return link.socket;
    }, opts);
    // mqtt.js's connect() adds the same: an error with no listener would throw.
    client.on('error', () => {});
    const link = holder.link;
    return link === undefined ? { client } : { client, tls: link };
  }

  function open(): void {
    if (closed) return;
    let client: MqttClient;
    let tls: TlsLink | undefined;
    try {
      ({ client, tls } = createClient());
    } catch (err) {
      logger.warn({ err: String(err) }, 'cannot create MQTT client');
      scheduleReconnect();
      return;
    }
    const a: Attempt = {
      client,
      pending: new Set(),
      meter: meterStream(tls?.tcp ?? (client as unknown as { stream?: Duplex }).stream),
      connected: false,
      inflightLimit: Number.POSITIVE_INFINITY,
      inflight: 0,
      waiting: [],
      draining: false,
      subscriptionIds: false,
    };
    attempt = a;
    meters.add(a.meter);
    client.on('close', () => {
      if (!meters.delete(a.meter)) return;
      counters.bytesIn += a.meter.bytesIn();
      counters.bytesOut += a.meter.bytesOut();
    });
    client.on('error', (err) => {
      a.lastError = err;
      // CONNACK "unacceptable protocol version" (3.1.1 code 1, MQTT 5 reason 0x84): speak 3.1.1 from now on.
      const code = (err as { code?: number }).code;
      if (!a.connected && protocolVersion === 5 && options.protocolVersion !== 5 && (code === 1 || code === 0x84)) {
        protocolVersion = 4;
        fallbackPending = true;
        logger.info({ url: options.url }, 'broker does not speak MQTT 5; using MQTT 3.1.1');
      }
      logger.debug({ err: err.message }, 'MQTT client error');
    });
    client.on('message', (topic, payload, packet) => {
      if (attempt !== a) return;
      counters.messagesIn++;
      const message = { topic, payload: new Uint8Array(payload.buffer, payload.byteOffset, payload.length), retain: packet.retain };
      const ids = packet.properties?.subscriptionIdentifier;
      table.dispatch(message, ids === undefined ? {} : { ids: Array.isArray(ids) ? ids : [ids] });
    });
    client.on('connect', (connack) => {
      if (attempt !== a || closed) return;
      a.connected = true;
      const resumed = tls?.socket.isSessionReused() === true;
      if (resumed) tlsResumed++;
      // [MQTT-3.2.2.3.3] Receive Maximum absent means 65,535.
      a.inflightLimit = protocolVersion === 5 ? (connack?.properties?.receiveMaximum ?? 65_535) : Number.POSITIVE_INFINITY;
      // [MQTT-3.2.2.3.12] Subscription Identifiers Available, absent means available.
      a.subscriptionIds = protocolVersion === 5 && connack?.properties?.subscriptionIdentifiersAvailable !== false;
      failures = 0;
      counters.connects++;
      logger.info(
        { url: options.url, ...(tls === undefined ? {} : { tls: resumed ? 'resumed' : 'full handshake' }) },
        'connected to MQTT broker',
      );
      restoreSubscriptions(a).then(
        () => {
          if (attempt === a && a.connected) events.emit('connected');
        },
        (err: unknown) => {
          logger.warn({ err: String(err) }, 'could not restore subscriptions');
          if (attempt === a && a.connected) events.emit('connected');
        },
      );
    });
    client.on('close', () => {
      if (attempt !== a) return;
      const wasConnected = a.connected;
      a.connected = false;
      attempt = undefined;
      const reason = a.lastError?.message ?? 'connection closed';
      for (const p of a.pending) p.reject(unavailable(`link to ${options.url} lost before the broker acknowledged`));
      a.pending.clear();
      client.end(true);
      if (wasConnected) {
        logger.warn({ reason }, 'disconnected from MQTT broker');
        events.emit('disconnected', reason);
      } else if (fallbackPending) {
        logger.debug({ reason }, 'retrying with MQTT 3.1.1');
      } else {
        // Whatever refused us (the broker restarted with new ticket keys, the certificate), start afresh.
        if (tls !== undefined) tlsSession = undefined;
        logger.debug({ reason }, 'connection attempt failed');
      }
      scheduleReconnect();
    });
  }

  /**
   * Sends what waits for a free slot of the broker's Receive Maximum, in order. A loop, not a call per settled
   * publish: on a closing client mqtt.js calls back at once, and a queue of tens of thousands (a hub far behind its
   * broker link) would recurse that deep and overflow the stack.
   */
  function sendWaiting(a: Attempt): void {
    if (a.draining) return;
    a.draining = true;
    try {
      while (a.inflight < a.inflightLimit) {
        const next = a.waiting.shift();
        if (next === undefined) break;
        next();
      }
    } finally {
      a.draining = false;
    }
  }

  return {
    get connected() {
      return attempt?.connected === true;
    },

    start() {
      if (started || closed) return;
      started = true;
      open();
    },

    publish(topic: string, payload: Uint8Array, opts: PublishOptions): Promise<void> {
      const a = attempt;
      if (!a?.connected) return Promise.reject(unavailable(`not connected to ${options.url}; cannot publish to ${topic}`));
      return new Promise((resolve, reject) => {
        const entry: PendingPublish = { reject };
        a.pending.add(entry);
        const send = () => {
          if (opts.qos > 0) a.inflight++;
          a.client.publish(
            topic,
            Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
            { qos: opts.qos, retain: opts.retain ?? false },
            (err) => {
              a.pending.delete(entry);
              if (opts.qos > 0) {
                a.inflight--;
                sendWaiting(a);
              }
              if (err) return reject(unavailable(`publish to ${topic} failed: ${err.message}`, err));
              counters.messagesOut++;
              resolve();
            },
          );
        };
        if (opts.qos > 0 && a.inflight >= a.inflightLimit) a.waiting.push(send);
        else send();
      });
    },

    subscribe: table.subscribe,

    on: (event, listener) => events.on(event, listener),
    off: (event, listener) => events.off(event, listener),

    renewCredentials(next: TlsCredentials): void {
      credentials = next;
      // A resumed session would present the old certificate's identity again.
      tlsSession = undefined;
      const a = attempt;
      // Over plain MQTT the client shows no certificate: nothing to reconnect for.
      if (closed || a === undefined || !a.connected || !isTlsUrl(options.url)) return;
      logger.info({ url: options.url }, 'reconnecting to use renewed TLS credentials');
      renewing = true;
      // A clean DISCONNECT: the broker discards the will, so the hub sees no death, only a new session.
      a.client.end(false);
    },

    stats(): TransportStats {
      let bytesIn = counters.bytesIn;
      let bytesOut = counters.bytesOut;
      for (const m of meters) {
        bytesIn += m.bytesIn();
        bytesOut += m.bytesOut();
      }
      return {
        ...counters,
        bytesIn,
        bytesOut,
        handlerErrors: table.handlerErrors,
        ...(tlsTargetOf(options.url, hasClientCertificate()) === undefined ? {} : { tlsResumed }),
      };
    },

    async close(closeOptions: { graceful?: boolean } = {}): Promise<void> {
      if (closed) return;
      closed = true;
      table.close();
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      const a = attempt;
      attempt = undefined;
      if (!a) return;
      const wasConnected = a.connected;
      a.connected = false;
      for (const p of a.pending) p.reject(unavailable('transport closed before the broker acknowledged'));
      a.pending.clear();
      const graceful = closeOptions.graceful ?? true;
      await new Promise<void>((resolve) => {
        if (graceful && wasConnected) {
          a.client.end(false, {}, () => resolve());
        } else {
          // Destroying the socket first guarantees no DISCONNECT goes out, so the broker fires the will.
          const stream = (a.client as unknown as { stream?: Duplex }).stream;
          stream?.destroy();
          a.client.end(true, {}, () => resolve());
        }
      });
      if (wasConnected) events.emit('disconnected', graceful ? 'closed' : 'dropped');
    },
  };
}
