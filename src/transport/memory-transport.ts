// MemoryTransport: an in-process broker and transport with MQTT semantics (wildcards, retained
// messages, wills, outages) for fast unit tests of logic that talks through the Transport port.

import { backoffDelayMs, FieldmeshError, RECONNECT_BACKOFF, silentLogger, systemClock, type TimerHandle } from '../kit/index.js';
import { SubscriptionTable } from './subscription-table.js';
import { isValidTopic, matchesFilter, sharedFilter } from './topic-filter.js';
import type { MqttTransportOptions, PublishOptions, QoS, Transport, TransportMessage, TransportStats, Will } from './transport.js';
import { TransportEmitter } from './typed-emitter.js';

/** What the broker needs from a connected memory transport. */
interface MemorySession {
  readonly clientId: string;
  readonly will: Will | undefined;
  readonly filters: Map<string, QoS>;
  /**
   * A message for the client, one copy whatever it matches, with the filters it is for (as MQTT 5 subscription
   * identifiers would say): the plain ones it matches and the shared ones whose turn this client had, or the one new
   * subscription a retained message is sent for.
   */
  deliver(message: TransportMessage, wireBytes: number, filters: readonly string[]): void;
  /** The broker cut the link (drop or stop). */
  lost(reason: string): void;
}

/** Size of an MQTT 3.1.1 PUBLISH packet on the wire, so byte budgets mean the same as on a real broker. */
export function publishPacketBytes(topic: string, payloadBytes: number, qos: QoS): number {
  const remaining = 2 + Buffer.byteLength(topic) + (qos > 0 ? 2 : 0) + payloadBytes;
  let lengthBytes = 1;
  for (let n = remaining; n >= 128; n = Math.floor(n / 128)) lengthBytes++;
  return 1 + lengthBytes + remaining;
}

/** An in-process MQTT-like broker. Delivery is asynchronous (next macrotask), as on a real link. */
export class MemoryBroker {
  private readonly sessions = new Map<string, MemorySession>();
  private readonly retained = new Map<string, TransportMessage>();
  /** Next member's turn per shared subscription. */
  private readonly shareTurns = new Map<string, number>();
  private up = true;

  /** True while the broker accepts connections. */
  get running(): boolean {
    return this.up;
  }

  /** Ids of the connected clients. */
  clients(): string[] {
    return [...this.sessions.keys()];
  }

  /** @internal Used by memory transports. Returns false when the broker is down. */
  attach(session: MemorySession): boolean {
    if (!this.up) return false;
    // [MQTT-3.1.4-2] A second client with the same id takes over: the old one is disconnected.
    const old = this.sessions.get(session.clientId);
    if (old) this.drop(old.clientId);
    this.sessions.set(session.clientId, session);
    return true;
  }

  /** @internal A clean disconnect: the will is discarded. */
  detach(session: MemorySession): void {
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
  }

  /** Cuts a client's link as a network failure would: its will is published, it will reconnect. */
  drop(clientId: string): void {
    const session = this.sessions.get(clientId);
    if (!session) return;
    this.sessions.delete(clientId);
    session.lost('dropped by broker');
    if (session.will) this.publish(session.will.topic, session.will.payload, session.will.retain);
  }

  /** @internal Publishes a message to every matching subscriber, storing it when retained. */
  publish(topic: string, payload: Uint8Array, retain: boolean): void {
    const copy = new Uint8Array(payload);
    if (retain) {
      // [MQTT-3.3.1-10] An empty retained message clears the retained one.
      if (copy.length === 0) this.retained.delete(topic);
      else this.retained.set(topic, { topic, payload: copy, retain: true });
    }
    /** Per client: the highest QoS of the filters the message is for, and those filters. */
    const to = new Map<MemorySession, { qos: QoS; filters: string[] }>();
    const add = (session: MemorySession, filter: string, qos: QoS): void => {
      const entry = to.get(session);
      if (entry === undefined) to.set(session, { qos, filters: [filter] });
      else {
        entry.filters.push(filter);
        if (qos > entry.qos) entry.qos = qos;
      }
    };
    /** Members of each shared subscription (group and filter) the topic matches. */
    const shares = new Map<string, { session: MemorySession; qos: QoS }[]>();
    for (const session of this.sessions.values()) {
      for (const [filter, qos] of session.filters) {
        if (!matchesFilter(filter, topic)) continue;
        if (sharedFilter(filter) !== undefined) shares.set(filter, [...(shares.get(filter) ?? []), { session, qos }]);
        else add(session, filter, qos);
      }
    }
    // [MQTT-4.8.2] Each message of a shared subscription goes to one of its members, here in turn.
    for (const [filter, members] of shares) {
      const turn = this.shareTurns.get(filter) ?? 0;
      this.shareTurns.set(filter, turn + 1);
      const { session, qos } = members[turn % members.length] as { session: MemorySession; qos: QoS };
      add(session, filter, qos);
    }
    // [MQTT-3.3.1-9] Live deliveries carry retain = false.
    for (const [session, { qos, filters }] of to)
      session.deliver({ topic, payload: copy, retain: false }, publishPacketBytes(topic, copy.length, qos), filters);
  }

  /** @internal Retained messages matching a new subscription (none for a shared one [MQTT-3.8.4-4]). */
  retainedFor(filter: string): TransportMessage[] {
    if (sharedFilter(filter) !== undefined) return [];
    return [...this.retained.values()].filter((m) => matchesFilter(filter, m.topic));
  }

  /** Stops accepting connections and drops every client (no wills: the broker itself went away). */
  stop(): void {
    this.up = false;
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) s.lost('broker stopped');
  }

  /** Accepts connections again; clients come back on their own backoff schedule. */
  start(): void {
    this.up = true;
  }
}

export type MemoryTransportOptions = Pick<MqttTransportOptions, 'clientId' | 'will' | 'backoff' | 'clock' | 'logger'>;

function unavailable(message: string): FieldmeshError {
  return new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', message);
}

/** Wire size of a CONNECT without credentials plus its CONNACK; enough for budgets to grow honestly. */
function connectBytes(clientId: string, will: Will | undefined): number {
  const willBytes = will ? 4 + Buffer.byteLength(will.topic) + will.payload.length : 0;
  return 2 + 10 + 2 + Buffer.byteLength(clientId) + willBytes;
}

export function createMemoryTransport(broker: MemoryBroker, options: MemoryTransportOptions): Transport {
  const clock = options.clock ?? systemClock;
  const backoff = options.backoff ?? RECONNECT_BACKOFF;
  const events = new TransportEmitter();
  const table = new SubscriptionTable(
    {
      subscribe(filter, qos) {
        const s = session;
        if (!s) return undefined;
        s.filters.set(filter, qos);
        counters.bytesOut += 7 + Buffer.byteLength(filter);
        counters.bytesIn += 5;
        deliverRetained(s, filter, qos);
        return Promise.resolve();
      },
      unsubscribe(filter) {
        const s = session;
        if (!s) return;
        s.filters.delete(filter);
        counters.bytesOut += 6 + Buffer.byteLength(filter);
        counters.bytesIn += 4;
      },
    },
    (options.logger ?? silentLogger).child({ component: 'memory-transport', clientId: options.clientId }),
  );
  const counters = { bytesIn: 0, bytesOut: 0, connects: 0, messagesIn: 0, messagesOut: 0 };
  let session: MemorySession | undefined;
  let failures = 0;
  let timer: TimerHandle | undefined;
  let started = false;
  let closed = false;

  function scheduleReconnect(): void {
    if (closed || timer !== undefined) return;
    const delay = backoffDelayMs(failures, backoff);
    failures++;
    timer = clock.setTimeout(() => {
      timer = undefined;
      open();
    }, delay);
  }

  function deliverRetained(s: MemorySession, filter: string, qos: QoS): void {
    for (const m of broker.retainedFor(filter)) s.deliver({ ...m }, publishPacketBytes(m.topic, m.payload.length, qos), [filter]);
  }

  function open(): void {
    if (closed) return;
    const s: MemorySession = {
      clientId: options.clientId,
      will: options.will,
      filters: new Map(),
      deliver(message, wireBytes, filters) {
        setImmediate(() => {
          if (session !== s) return;
          counters.bytesIn += wireBytes;
          counters.messagesIn++;
          table.dispatch(message, { filters });
        });
      },
      lost(reason) {
        if (session !== s) return;
        session = undefined;
        setImmediate(() => events.emit('disconnected', reason));
        scheduleReconnect();
      },
    };
    if (!broker.attach(s)) {
      scheduleReconnect();
      return;
    }
    session = s;
    failures = 0;
    counters.connects++;
    counters.bytesOut += connectBytes(options.clientId, options.will);
    counters.bytesIn += 4;
    // Subscriptions are restored before `connected` fires, as the MQTT transport does.
    for (const { filter, qos } of table.filters()) {
      s.filters.set(filter, qos);
      deliverRetained(s, filter, qos);
      table.granted(filter);
    }
    setImmediate(() => {
      if (session === s) events.emit('connected');
    });
  }

  return {
    get connected() {
      return session !== undefined;
    },

    start() {
      if (started || closed) return;
      started = true;
      // Connect asynchronously, as a socket would, so listeners attached after start() see `connected`.
      setImmediate(open);
    },

    async publish(topic: string, payload: Uint8Array, opts: PublishOptions): Promise<void> {
      if (!session) throw unavailable(`memory transport ${options.clientId} is not connected; cannot publish to ${topic}`);
      if (!isValidTopic(topic)) throw new FieldmeshError('FM_TOPIC_INVALID', `cannot publish to "${topic}"`);
      counters.bytesOut += publishPacketBytes(topic, payload.length, opts.qos);
      if (opts.qos > 0) counters.bytesIn += 4;
      counters.messagesOut++;
      broker.publish(topic, payload, opts.retain ?? false);
    },

    subscribe: table.subscribe,

    on: (event, listener) => events.on(event, listener),
    off: (event, listener) => events.off(event, listener),

    stats(): TransportStats {
      return { ...counters, handlerErrors: table.handlerErrors };
    },

    async close(closeOptions: { graceful?: boolean } = {}): Promise<void> {
      if (closed) return;
      closed = true;
      table.close();
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      const s = session;
      if (!s) return;
      if (closeOptions.graceful ?? true) {
        session = undefined;
        counters.bytesOut += 2;
        broker.detach(s);
        events.emit('disconnected', 'closed');
      } else {
        // The session's `lost` sees closed = true and does not reconnect.
        broker.drop(s.clientId);
      }
    },
  };
}
