// The collector port: every source of samples and events (scrape, push, MQTT, host, simulators)
// implements `Collector` in one file and is listed in ./registry.ts.

import type { FastifyInstance } from 'fastify';
import type { Clock, Logger } from '../../kit/index.js';
import type { EventPriority, Sample } from '../../protocol/index.js';

/** One measurement, the one sample shape of protocol/sample.ts. */
export type { Sample };

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

/**
 * Why a collector refused input; counted in fieldmesh_collector_rejected_total{collector,reason}.
 * `unsupported-encoding`: a Content-Encoding other than identity or gzip; `out-of-bounds`: a push
 * answered with a partial write because some of its samples fell outside the store's window.
 */
export type RejectReason =
  | 'unauthorized'
  | 'too-large'
  | 'invalid'
  | 'unsupported-encoding'
  | 'out-of-bounds'
  | 'scrape-failed'
  | 'decode-failed';

/**
 * Why `record` refused a sample (counted in fieldmesh_samples_rejected_total{collector,reason}):
 * older than the store's retention, or further ahead of the node's clock than SAMPLE_FUTURE_LIMIT_MS.
 */
export type SampleRefusal = 'too-old' | 'too-new';

/** The times the store keeps at one moment, ms since the epoch, both ends included. */
export interface SampleWindow {
  readonly oldestMs: number;
  readonly newestMs: number;
}

/** What `record` did with a batch: it stored every sample it did not refuse. */
export interface RecordOutcome {
  /** The refused samples by their index in the batch, ascending. */
  readonly refused: ReadonlyArray<{ readonly index: number; readonly reason: SampleRefusal }>;
  /** The window the batch was held to. */
  readonly window: SampleWindow;
}

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
  /**
   * Records samples. Resolves once the kept ones are durable; push endpoints answer only after that.
   * Samples outside the store's window are refused (counted and logged by the agent, never stored
   * nor forwarded); the outcome names them, so that a push can tell its client.
   */
  record(samples: readonly Sample[]): Promise<RecordOutcome>;
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
