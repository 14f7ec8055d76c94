// The publisher: turns the critical set into births and data frames on the broker (the awareness
// plane), one data frame per tick at most, a heartbeat when nothing moved, a rebirth whenever asked.
// Events and history travel the durable plane (outbox/).

import { type Clock, describeError, type Logger, type TimerHandle } from '../kit/index.js';
import { encodeDeath, FIELDMESH_VERSION, type FrameRouter, type HubStateFrame, nodeTopic, SessionEncoder } from '../protocol/index.js';
import type { QoS, Subscription, Transport } from '../transport/index.js';
import type { AgentMetrics } from './agent-metrics.js';
import type { NodeIdentity } from './collectors/collector.js';
import type { CriticalSet } from './critical-set.js';

export interface PublisherOptions {
  readonly identity: NodeIdentity;
  readonly prefix: string;
  readonly epoch: number;
  /** When this boot started (ms since the Unix epoch) and the config hash: session facts every birth carries. [FM-FRAME-5] */
  readonly bootTime: number;
  readonly configVersion: string;
  readonly qos: QoS;
  readonly tickMs: number;
  readonly heartbeatMs: number;
  readonly transport: Transport;
  /** The process's frame router: the hub's rebirth requests and state come through it. */
  readonly router: FrameRouter;
  readonly critical: CriticalSet;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: AgentMetrics;
}

export type BirthCause = 'connect' | 'new-series' | 'rebirth-request' | 'hub-online';

export class Publisher {
  private readonly encoder: SessionEncoder;
  private birthCause: BirthCause | undefined;
  private lastFrameAt = Number.NEGATIVE_INFINITY;
  private timer: TimerHandle | undefined;
  private hubEpoch: number | undefined;
  private stopped = false;
  private subscriptions: Subscription[] = [];

  constructor(private readonly o: PublisherOptions) {
    this.encoder = new SessionEncoder(o.epoch);
  }

  /** Topic and payload of the death the broker publishes if this node's link dies. [FM-SESSION-4] */
  static will(identity: NodeIdentity, prefix: string, epoch: number) {
    return {
      topic: nodeTopic(prefix, identity.site, identity.node, 'death'),
      payload: encodeDeath({ epoch, reason: 'lost' }),
      qos: 1 as const,
      retain: false,
    };
  }

  start(): void {
    const { transport, router, identity } = this.o;
    transport.on('connected', this.onConnected);
    transport.on('disconnected', this.onDisconnected);
    this.subscriptions = [
      router.on(
        'cmd/rebirth',
        (frame) => {
          this.o.logger.debug({ reason: frame.reason }, 'rebirth requested');
          this.requestBirth('rebirth-request');
        },
        { site: identity.site, node: identity.node },
      ),
      router.on('hub/state', (frame, { message }) => this.onHubState(frame, message.retain)),
    ];
    if (transport.connected) this.onConnected();
    this.schedule();
  }

  /** Publishes a clean death (so receivers know this was planned) and stops ticking. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    const { transport, prefix, identity } = this.o;
    transport.off('connected', this.onConnected);
    transport.off('disconnected', this.onDisconnected);
    for (const s of this.subscriptions) s.unsubscribe();
    if (transport.connected) {
      const death = encodeDeath({ epoch: this.o.epoch, reason: 'shutdown' });
      await this.send('death', nodeTopic(prefix, identity.site, identity.node, 'death'), death).catch(() => {});
    }
  }

  /** Asks for a birth at the next opportunity (now, when connected). */
  requestBirth(cause: BirthCause): void {
    this.birthCause ??= cause;
    if (this.o.transport.connected) this.tick();
  }

  private readonly onConnected = (): void => {
    this.o.metrics.connected.set(1);
    this.o.metrics.connects.inc();
    this.birthCause = 'connect';
    this.tick();
  };

  private readonly onDisconnected = (): void => {
    this.o.metrics.connected.set(0);
  };

  private onHubState(frame: HubStateFrame, retained: boolean): void {
    if (!frame.online) return;
    // [FM-SESSION-5] A hub that came online after our birth has not seen it: announce again.
    // A retained state seen on subscribe describes a hub that was already up: it got our birth.
    const known = this.hubEpoch;
    this.hubEpoch = frame.epoch;
    if ((known !== undefined && known !== frame.epoch) || (known === undefined && !retained)) this.requestBirth('hub-online');
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimeout(() => {
      this.tick();
      this.schedule();
    }, this.o.tickMs);
  }

  /** One tick: a birth if needed, else the due entries or a heartbeat; then queued events. */
  tick(): void {
    const { transport, critical, clock } = this.o;
    this.o.metrics.localSeries.set(critical.localSeriesCount);
    this.o.metrics.criticalSeries.set(critical.criticalSeriesCount);
    if (!transport.connected || this.stopped) return;
    const now = clock.now();
    if (critical.birthNeeded) this.birthCause ??= 'new-series';
    if (this.birthCause !== undefined) {
      this.publishBirth(now, this.birthCause);
    } else {
      const entries = critical.due(now);
      if (entries.length > 0 || now - this.lastFrameAt >= this.o.heartbeatMs) {
        this.lastFrameAt = now;
        this.sendFrame('data', 'data', this.encoder.data(now, entries));
      }
    }
  }

  private publishBirth(now: number, cause: BirthCause): void {
    this.birthCause = undefined;
    this.lastFrameAt = now;
    const bytes = this.encoder.birth({
      time: now,
      zone: this.o.identity.zone,
      agentVersion: FIELDMESH_VERSION,
      tickMs: this.o.tickMs,
      heartbeatMs: this.o.heartbeatMs,
      series: this.o.critical.birthSeries(now),
      bootTime: this.o.bootTime,
      configVersion: this.o.configVersion,
    });
    this.o.metrics.births.inc({ cause });
    this.sendFrame('birth', 'birth', bytes);
  }

  private sendFrame(type: 'birth' | 'data', channel: 'birth' | 'data', bytes: Uint8Array): void {
    const { prefix, identity } = this.o;
    void this.send(type, nodeTopic(prefix, identity.site, identity.node, channel), bytes).catch(() => {});
  }

  private async send(type: string, topic: string, bytes: Uint8Array): Promise<void> {
    this.o.metrics.framesSent.inc({ type });
    this.o.metrics.frameBytesSent.inc({ type }, bytes.length);
    try {
      await this.o.transport.publish(topic, bytes, { qos: type === 'data' ? this.o.qos : 1 });
    } catch (err) {
      this.o.metrics.publishFailures.inc();
      this.o.logger.debug({ topic, err: describeError(err) }, 'publish failed');
      throw err;
    }
  }
}
