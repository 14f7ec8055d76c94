// The live feed behind GET /api/v1/live: fans fleet events out to Server-Sent-Events clients, with a
// snapshot on connect (nodes, sites, alerts), node events on every state change, value changes at most
// once per second per node, an `event` message for every newly stored event, `alert`, `site` and
// `overview` messages from the hub, and a ping comment every 15 s so proxies keep the stream open.

import type { Clock, TimerHandle } from '../../../kit/index.js';
import type { AlertView, EventView, LiveSnapshot, SiteView } from '../../../protocol/index.js';
import type { FleetEvent } from '../../fleet/fleet-state.js';
import type { NodeView } from '../nodes/node-view.js';

/** A comment line every this often keeps idle proxies from closing the stream. */
export const LIVE_PING_INTERVAL_MS = 15_000;
/** Value changes of one node reach clients at most this often; state changes always go at once. */
export const LIVE_VALUE_THROTTLE_MS = 1_000;

export interface LiveClient {
  write(chunk: string): void;
  end(): void;
}

export interface LiveFeedOptions {
  readonly clock: Clock;
  /** Every node, with values. */
  readonly snapshot: () => NodeView[];
  /** One node, with values; undefined when unknown. */
  readonly nodeView: (site: string, node: string) => NodeView | undefined;
  /** Every site with its health, for the snapshot (absent: none). */
  readonly sites?: () => SiteView[];
  /** Pending and firing alerts, for the snapshot (absent: none). */
  readonly alerts?: () => AlertView[];
  readonly pingIntervalMs?: number;
  readonly valueThrottleMs?: number;
}

export class LiveFeed {
  private readonly clients = new Set<LiveClient>();
  private readonly lastSent = new Map<string, number>();
  private readonly pending = new Map<string, TimerHandle>();
  private pingTimer: TimerHandle | undefined;
  private nextId = 1;
  private readonly pingIntervalMs: number;
  private readonly valueThrottleMs: number;

  constructor(private readonly options: LiveFeedOptions) {
    this.pingIntervalMs = options.pingIntervalMs ?? LIVE_PING_INTERVAL_MS;
    this.valueThrottleMs = options.valueThrottleMs ?? LIVE_VALUE_THROTTLE_MS;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * Adds a client and sends it a snapshot; returns the function that removes it. A reconnecting client
   * (Last-Event-ID) gets a fresh snapshot too: the feed keeps no history to replay.
   */
  add(client: LiveClient): () => void {
    this.clients.add(client);
    const snapshot: LiveSnapshot = {
      nodes: this.options.snapshot(),
      sites: this.options.sites?.() ?? [],
      alerts: this.options.alerts?.() ?? [],
    };
    client.write(`retry: 2000\n\n${this.frame('snapshot', snapshot)}`);
    if (this.pingTimer === undefined) this.schedulePing();
    return () => this.remove(client);
  }

  /** Forwards a fleet event to every client (value changes throttled per node). */
  publish(event: FleetEvent): void {
    if (this.clients.size === 0) return;
    const key = `${event.site}/${event.node}`;
    if (event.type !== 'valuesChanged') {
      this.sendNode(key, event.site, event.node);
      return;
    }
    if (this.pending.has(key)) return;
    const now = this.options.clock.monotonic();
    const wait = (this.lastSent.get(key) ?? Number.NEGATIVE_INFINITY) + this.valueThrottleMs - now;
    if (wait <= 0) {
      this.sendNode(key, event.site, event.node);
      return;
    }
    this.pending.set(
      key,
      this.options.clock.setTimeout(() => {
        this.pending.delete(key);
        this.sendNode(key, event.site, event.node);
      }, wait),
    );
  }

  /** Sends a newly stored event to every client at once (events are never throttled). */
  publishEvent(event: EventView): void {
    if (this.clients.size === 0) return;
    this.broadcast(this.frame('event', event));
  }

  /**
   * Sends one message of the given event type to every client at once: `alert` (an AlertView on every
   * state change), `site` (a site's health when it changes), `action` (a bulk action's progress), `zone`
   * (`{type: 'zone', zone: ZoneSummary}` when a zone's summary changes), `config` (a configuration revision
   * accepted or refused, an apply run's progress: docs/hub.md "Configuration"), `registration` (`{type:
   * 'registration', registration: RegistrationView}` when a node asks to join or is approved or rejected).
   */
  publishMessage(type: 'alert' | 'site' | 'action' | 'overview' | 'zone' | 'config' | 'registration', data: unknown): void {
    if (this.clients.size === 0) return;
    this.broadcast(this.frame(type, data));
  }

  /** Ends every stream and clears timers (before the HTTP server closes). */
  close(): void {
    for (const c of [...this.clients]) {
      this.remove(c);
      c.end();
    }
  }

  private remove(client: LiveClient): void {
    if (!this.clients.delete(client) || this.clients.size > 0) return;
    if (this.pingTimer !== undefined) this.options.clock.clearTimeout(this.pingTimer);
    this.pingTimer = undefined;
    for (const t of this.pending.values()) this.options.clock.clearTimeout(t);
    this.pending.clear();
  }

  private sendNode(key: string, site: string, node: string): void {
    const timer = this.pending.get(key);
    if (timer !== undefined) this.options.clock.clearTimeout(timer);
    this.pending.delete(key);
    this.lastSent.set(key, this.options.clock.monotonic());
    const view = this.options.nodeView(site, node);
    if (view !== undefined) this.broadcast(this.frame('node', view));
  }

  private schedulePing(): void {
    this.pingTimer = this.options.clock.setTimeout(() => {
      this.broadcast(': ping\n\n');
      this.schedulePing();
    }, this.pingIntervalMs);
  }

  private broadcast(chunk: string): void {
    for (const c of this.clients) c.write(chunk);
  }

  private frame(event: string, data: unknown): string {
    return `id: ${this.nextId++}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  }
}
