// The subscriptions of one transport: handlers per filter, one broker subscription per filter (counted), restored
// on reconnect, and the dispatch of each incoming message to the handlers of the filters it was delivered for.

import { FieldmeshError, type Logger } from '../kit/index.js';
import { isValidFilter, matchesFilter } from './topic-filter.js';
import type { MessageHandler, QoS, Subscription, Transport, TransportMessage } from './transport.js';

/** What the table asks of the link. */
export interface BrokerSubscriber {
  /**
   * Sends one SUBSCRIBE of `filter` (with subscription identifier `id` where the link supports them); resolves on
   * the SUBACK. Undefined when the link is down: the filter goes out with the others at the next connect.
   */
  subscribe(filter: string, qos: QoS, id: number): Promise<void> | undefined;
  /** Sends an UNSUBSCRIBE of `filter` when the link is up; a link that is down has nothing to undo. */
  unsubscribe(filter: string): void;
}

interface HandlerEntry {
  readonly handler: MessageHandler;
  active: boolean;
  /** Settles `ready`; undefined once settled. */
  settle: ((err?: unknown) => void) | undefined;
}

interface FilterEntry {
  readonly filter: string;
  /** MQTT 5 subscription identifier, unique per filter entry (1 to 268,435,455 [MQTT-3.8.2.1.2]). */
  readonly id: number;
  qos: QoS;
  readonly handlers: HandlerEntry[];
}

const MAX_SUBSCRIPTION_ID = 268_435_455;

function refused(filter: string): FieldmeshError {
  return new FieldmeshError('FM_TRANSPORT_REFUSED', `invalid topic filter "${filter}"`);
}

export class SubscriptionTable {
  private readonly byFilter = new Map<string, FilterEntry>();
  private readonly byId = new Map<number, FilterEntry>();
  private nextId = 1;
  private closed = false;
  /** Handlers that threw or rejected. */
  handlerErrors = 0;

  constructor(
    private readonly broker: BrokerSubscriber,
    private readonly logger: Logger,
  ) {}

  /** The filters to subscribe on a new connection, with their QoS and identifier. */
  filters(): { filter: string; qos: QoS; id: number }[] {
    return [...this.byFilter.values()].map(({ filter, qos, id }) => ({ filter, qos, id }));
  }

  /** The Transport port's `subscribe`. */
  readonly subscribe: Transport['subscribe'] = (filter, handler, options) => this.add(filter, handler, options?.qos ?? 1);

  add(filter: string, handler: MessageHandler, qos: QoS): Subscription {
    if (!isValidFilter(filter)) throw refused(filter);
    const entry: HandlerEntry = { handler, active: true, settle: undefined };
    const ready = new Promise<void>((resolve, reject) => {
      entry.settle = (err?: unknown) => {
        entry.settle = undefined;
        if (err === undefined) resolve();
        else reject(err);
      };
    });
    // Nobody has to await `ready`: a refusal is logged below, never an unhandled rejection.
    ready.catch(() => {});
    const f = this.entryOf(filter, qos);
    f.handlers.push(entry);
    if (this.closed) entry.settle?.();
    else this.send(f);
    return {
      filter,
      ready,
      unsubscribe: () => {
        if (!entry.active) return;
        entry.active = false;
        entry.settle?.();
        const at = f.handlers.indexOf(entry);
        if (at >= 0) f.handlers.splice(at, 1);
        if (f.handlers.length === 0 && this.byFilter.get(filter) === f) {
          this.byFilter.delete(filter);
          this.byId.delete(f.id);
          this.broker.unsubscribe(filter);
        }
      },
    };
  }

  /** After a connection's SUBSCRIBE of `filter` was answered: settles the handlers that waited for it. */
  granted(filter: string, err?: unknown): void {
    const f = this.byFilter.get(filter);
    if (f === undefined) return;
    if (err !== undefined) this.logger.warn({ filter, err: String(err) }, 'the broker refused a subscription');
    for (const h of f.handlers) h.settle?.(err);
  }

  /**
   * Hands `message` to the handlers of the filters it was delivered for: `filters` when the link says which (the
   * memory broker), else those of its MQTT 5 subscription identifiers, else every filter its topic matches (over MQTT
   * 3.1.1 a message matching a shared and a plain filter of one client reaches the handlers of both, whichever the
   * broker sent it for).
   */
  dispatch(message: TransportMessage, by: { readonly ids?: readonly number[]; readonly filters?: readonly string[] }): void {
    let targets: FilterEntry[];
    if (by.filters !== undefined) {
      targets = by.filters.flatMap((filter) => this.byFilter.get(filter) ?? []);
    } else if (by.ids !== undefined && by.ids.length > 0) {
      targets = [];
      for (const id of by.ids) {
        const f = this.byId.get(id);
        if (f !== undefined && !targets.includes(f)) targets.push(f);
      }
    } else {
      targets = [...this.byFilter.values()].filter((f) => matchesFilter(f.filter, message.topic));
    }
    for (const f of targets) {
      for (const h of [...f.handlers]) if (h.active) this.call(h, f.filter, message);
    }
  }

  /** The transport closed: nothing waits for a SUBACK any more. */
  close(): void {
    this.closed = true;
    for (const f of this.byFilter.values()) for (const h of f.handlers) h.settle?.();
  }

  private entryOf(filter: string, qos: QoS): FilterEntry {
    let f = this.byFilter.get(filter);
    if (f === undefined) {
      f = { filter, id: this.nextId, qos, handlers: [] };
      this.nextId = this.nextId >= MAX_SUBSCRIPTION_ID ? 1 : this.nextId + 1;
      this.byFilter.set(filter, f);
      this.byId.set(f.id, f);
    } else if (qos > f.qos) {
      f.qos = qos;
    }
    return f;
  }

  /** Subscribes (again) at the broker; the SUBACK settles every handler still waiting, the new one included. */
  private send(f: FilterEntry): void {
    const sent = this.broker.subscribe(f.filter, f.qos, f.id);
    sent?.then(
      () => this.granted(f.filter),
      (err: unknown) => this.granted(f.filter, err),
    );
  }

  private call(h: HandlerEntry, filter: string, message: TransportMessage): void {
    const failed = (err: unknown): void => {
      this.handlerErrors++;
      this.logger.error(
        { filter, topic: message.topic, err: err instanceof Error ? err.message : String(err) },
        'a message handler failed',
      );
    };
    try {
      const result: unknown = h.handler(message);
      if (result instanceof Promise) result.catch(failed);
    } catch (err) {
      failed(err);
    }
  }
}
