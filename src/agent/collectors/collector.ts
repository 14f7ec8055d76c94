// The collector port: every source of samples and events (scrape, push, MQTT, host, simulators)
// implements `Collector` in one file and is listed in ./registry.ts.

import type { FastifyInstance } from 'fastify';
import type { Clock, Logger } from '../../kit/index.js';
import type { EventPriority, SeriesType } from '../../protocol/index.js';

/** One measurement. `name` follows Prometheus naming; `time` is wall-clock ms. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly time: number;
  readonly type?: SeriesType;
  /** Base unit (volts, amperes, watts, percent, bytes, seconds, celsius, ratio) when known. */
  readonly unit?: string;
}

/** A discrete fact (a fire detection, an alarm); events are never dropped. */
export interface AgentEvent {
  /** Producer's id for deduplication; the agent assigns one when absent. */
  readonly id?: string;
  readonly kind: string;
  readonly priority: EventPriority;
  readonly time: number;
  /** JSON-able detail. */
  readonly payload: unknown;
}

/** Why a collector refused input; counted in fieldmesh_collector_rejected_total{collector,reason}. */
export type RejectReason = 'unauthorized' | 'too-large' | 'invalid' | 'scrape-failed' | 'decode-failed';

export interface NodeIdentity {
  readonly site: string;
  readonly zone: string;
  readonly node: string;
}

/** What the agent hands every collector at start. */
export interface CollectorContext {
  readonly identity: NodeIdentity;
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * The agent's HTTP server, for push collectors to add routes before it listens. Undefined when
   * the agent runs without HTTP (in-process demo nodes).
   */
  readonly http: FastifyInstance | undefined;
  /** Records samples. Resolves once they are accepted; push endpoints answer only after that. */
  record(samples: readonly Sample[]): Promise<void>;
  /** Records an event. Resolves once accepted. */
  emit(event: AgentEvent): Promise<void>;
  /** Counts refused input by reason. */
  reject(reason: RejectReason): void;
}

export interface Collector {
  /** The config `type`, e.g. "prometheus". */
  readonly kind: string;
  /** Unique per agent: the config `name`, or kind plus index. */
  readonly name: string;
  start(ctx: CollectorContext): Promise<void>;
  stop(): Promise<void>;
}
