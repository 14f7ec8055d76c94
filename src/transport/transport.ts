// The transport port: a publish/subscribe link to an MQTT broker that survives outages.
// Agent, hub and CLI talk to the broker only through this interface.

import type { BackoffOptions, Clock, Logger } from '../kit/index.js';

export type QoS = 0 | 1;

export interface TransportMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly retain: boolean;
}

/**
 * Receives the messages of one subscription, synchronously, in the order they arrived. A handler that throws (or
 * returns a promise that rejects) is logged and counted (`TransportStats.handlerErrors`); the other handlers of the
 * message still get it.
 */
export type MessageHandler = (message: TransportMessage) => void;

export interface SubscribeOptions {
  /**
   * The highest QoS the broker delivers with (default 1). Handlers of one filter share one broker subscription, at
   * the highest QoS any of them asks.
   */
  readonly qos?: QoS;
}

/** One handler's subscription to one filter (the habit of nats.js: `subscribe` returns it, `unsubscribe` ends it). */
export interface Subscription {
  readonly filter: string;
  /**
   * Settles once the broker answered the SUBSCRIBE that covers this handler: at once when the link is up, else on
   * the next connection (before `connected` fires). Rejects with FM_TRANSPORT_REFUSED when the broker refuses the
   * filter; resolves when the subscription ends first (unsubscribed, transport closed) or there is no broker.
   */
  readonly ready: Promise<void>;
  /**
   * Stops delivery to this handler at once (a message being dispatched does not reach it any more). The last
   * handler of a filter unsubscribes it at the broker. Idempotent.
   */
  unsubscribe(): void;
}

export interface PublishOptions {
  readonly qos: QoS;
  readonly retain?: boolean;
}

/** The message the broker publishes for us when the link dies without a clean disconnect. */
export interface Will {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: QoS;
  readonly retain: boolean;
}

export interface TransportStats {
  /**
   * Bytes sent / received on the link since start, every connection summed. Over plain TCP and TLS these are the
   * bytes that cross the wire (TCP payload: MQTT framing, and over TLS the records, handshakes and alerts too).
   * Over WebSocket (ws://, wss://) they are the MQTT bytes the stream carried after the CONNECT, without the
   * WebSocket framing or TLS. The memory transport counts the size its MQTT packets would have.
   */
  readonly bytesOut: number;
  readonly bytesIn: number;
  readonly connects: number;
  readonly messagesOut: number;
  readonly messagesIn: number;
  /** Handlers that threw or rejected (each failure once); the other handlers of those messages still got them. */
  readonly handlerErrors?: number;
  /**
   * Connections whose TLS handshake resumed the session of an earlier one (no certificates exchanged). Present only
   * on a TLS (mqtts://) link.
   */
  readonly tlsResumed?: number;
}

/** PEM client credentials of a TLS link. */
export interface TlsCredentials {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
}

export interface TransportEvents {
  connected: [];
  disconnected: [reason: string];
}

export interface Transport {
  /** True while a session with the broker is up. */
  readonly connected: boolean;
  /**
   * Starts connecting; after a failure or a lost link it retries with jittered exponential backoff
   * (1 s to 60 s, x2) until `close`. Subscriptions are restored on every reconnect.
   */
  start(): void;
  /**
   * Publishes. With QoS 1 it resolves on the broker's PUBACK, which is NOT durability: the durable
   * plane tracks (node, boot, seq) end to end. Rejects when the link is down.
   */
  publish(topic: string, payload: Uint8Array, options: PublishOptions): Promise<void>;
  /**
   * Delivers to `handler` every message whose topic matches `filter` ([MQTT-4.7]: `+` one level, `#` the rest), from
   * now until `unsubscribe`. Handlers of one filter share one broker subscription, counted: the first subscribes at
   * the broker, a later one subscribes again (the broker re-sends the filter's retained messages, with
   * `retain: true`, to every handler of it), the last one leaving unsubscribes. Subscriptions are restored on every
   * reconnect, before `connected` fires. A message matching several filters reaches each of their handlers once
   * (over MQTT 5 the broker's copies are told apart by subscription identifiers). Throws FM_TRANSPORT_REFUSED for
   * an invalid filter.
   */
  subscribe(filter: string, handler: MessageHandler, options?: SubscribeOptions): Subscription;
  on<E extends keyof TransportEvents>(event: E, listener: (...args: TransportEvents[E]) => void): void;
  off<E extends keyof TransportEvents>(event: E, listener: (...args: TransportEvents[E]) => void): void;
  stats(): TransportStats;
  /**
   * New TLS credentials (a renewed client certificate, [FM-CERT-6]) for every connection from now on. A link that is
   * up is closed cleanly (no will) and opened again at once with them; a link that is down uses them at its next
   * attempt. QoS 1 publishes not acknowledged yet are rejected, as on any lost link (the durable outbox resends).
   * Absent: the transport has no TLS (memory, no broker).
   */
  renewCredentials?(credentials: TlsCredentials): void;
  /**
   * Closes the link. `graceful` (the default) disconnects cleanly, so the broker discards the will;
   * `graceful: false` drops the socket as a crash would, so the broker publishes the will.
   */
  close(options?: { graceful?: boolean }): Promise<void>;
}

export interface MqttTransportOptions {
  /** mqtt://, mqtts://, ws:// or wss:// URL. */
  readonly url: string;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  readonly will?: Will;
  readonly keepaliveS?: number;
  /**
   * MQTT version: 5 (with topic aliases), 4 (3.1.1), or 'auto' (default): 5, falling back to 3.1.1
   * for good when the broker refuses it.
   */
  readonly protocolVersion?: 4 | 5 | 'auto';
  /** PEM text for TLS: CA to trust, and client certificate and key for mutual TLS. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly backoff?: BackoffOptions;
  readonly clock?: Clock;
  readonly logger?: Logger;
}
