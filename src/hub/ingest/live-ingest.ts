// Live ingest: births, data, deaths and heartbeats into the fleet state; the samples they carry into history; the
// rebirth requests the fleet state asks for; the registry of nodes kept in storage. The hub's soft state: every
// hub process that serves the console runs one (docs/scale-out.md).

import { type Clock, describeError, type Logger } from '../../kit/index.js';
import { commandTopic, encodeRebirth, type SeriesDef, type WireFrame, withTargetLabels } from '../../protocol/index.js';
import type { Transport } from '../../transport/index.js';
import { type FleetEvent, type FleetState, type FrameOutcome, type FrameSource, type NodeRecord, nodeKey } from '../fleet/fleet-state.js';
import type { HubCounters, HubMetrics } from '../hub-metrics.js';
import { type CoverageSpan, ledgerSeries } from '../ledger/coverage.js';
import type { HubStorage, SampleInput, SeriesIdentity, StoredNode } from '../storage/storage.js';
import type { WriteQueue } from './write-queue.js';

/** Recent sample ages kept for p50/p99 in stats(). */
const SAMPLE_AGE_RING_SIZE = 10_000;

export interface LiveIngestOptions {
  readonly prefix: string;
  readonly fleet: FleetState;
  readonly storage: HubStorage;
  readonly writes: WriteQueue;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: HubMetrics;
  readonly counters: HubCounters;
  readonly transport: () => Transport | undefined;
  /** Fleet events (state changes and new values), after the registry noted the nodes that changed. */
  readonly onFleetEvents: (events: readonly FleetEvent[], stateChanged: boolean) => void;
  /** Whether the samples of live frames go to storage (false when history frames alone feed it). */
  readonly storeSamples: boolean;
  /** A birth the fleet state applied. */
  readonly onBirth: (site: string, node: string, zone: string) => void;
}

/** A live series as storage and the ledger name it, for one node in one zone. */
interface StoredNames {
  readonly site: string;
  readonly node: string;
  readonly zone: string;
  readonly series: SeriesIdentity;
  readonly ledger: string;
}

export class LiveIngest {
  private readonly dirty = new Set<string>();
  private readonly names = new WeakMap<SeriesDef, StoredNames>();
  private readonly ages: number[] = [];
  private ageNext = 0;

  constructor(private readonly o: LiveIngestOptions) {}

  /** Applies a birth, data, death or heartbeat frame (or an event frame's liveness) and stores its samples. */
  apply(source: FrameSource, frame: WireFrame): FrameOutcome {
    const { fleet, clock } = this.o;
    const outcome = fleet.applyFrame(source, frame, clock.now());
    if (!outcome.ignored) this.dirty.add(nodeKey(source.site, source.node));
    this.requestRebirth(outcome);
    if (frame.type === 'birth' && outcome.applied) this.o.onBirth(source.site, source.node, frame.zone);
    for (const age of outcome.sampleAgesMs ?? []) this.recordSampleAge(age);
    if (outcome.samples.length > 0 && this.o.storeSamples) this.store(outcome);
    this.fleetEvents(outcome.events);
    return outcome;
  }

  /** Nodes silent too long go stale, then offline. */
  sweep(): void {
    this.fleetEvents(this.o.fleet.sweep(this.o.clock.now()));
  }

  /** Writes the registry entries of the nodes that changed since the last call. */
  persist(): void {
    if (this.dirty.size === 0) return;
    const records = [...this.dirty].map((k) => this.o.fleet.getByKey(k)).filter((r) => r !== undefined);
    this.dirty.clear();
    this.o.writes.enqueue('node registry update', async () => {
      const { storage } = this.o;
      // One transaction for the batch where the store has it (PostgreSQL: one fenced statement per 800 nodes, not one each).
      if (storage.upsertNodes !== undefined) await storage.upsertNodes(records.map(storedNode));
      else for (const r of records) await storage.upsertNode(storedNode(r));
    });
  }

  /** Receive time minus sample time of recent samples, ms. */
  sampleAges(): number[] {
    return [...this.ages];
  }

  private fleetEvents(events: readonly FleetEvent[]): void {
    let stateChanged = false;
    for (const e of events) {
      if (e.type === 'valuesChanged') continue;
      this.dirty.add(nodeKey(e.site, e.node));
      stateChanged = true;
    }
    this.o.onFleetEvents(events, stateChanged);
  }

  private store(outcome: FrameOutcome): void {
    const batch: SampleInput[] = [];
    const spans: CoverageSpan[] = [];
    for (const s of outcome.samples) {
      const named = this.storedNames(outcome, s.def);
      batch.push({ series: named.series, ts: s.time, value: s.value });
      spans.push({ series: named.ledger, times: [s.time], intervalMs: s.def.maxSilenceMs > 0 ? s.def.maxSilenceMs : undefined });
    }
    const { storage, writes, counters, metrics } = this.o;
    // Beside the write queue: the samples join the embedded hub's group commit, then their coverage is recorded.
    writes.alongside('sample batch', async () => {
      const n = await storage.appendSamples(batch);
      counters.samplesStored += n;
      metrics.samplesStored.inc(n);
      await storage.recordCoverage(outcome.site, outcome.node, spans);
    });
  }

  /**
   * A live series' storage identity and ledger name, made once per series of a birth and reused by every data frame
   * after it (the same object each time, so storage finds its series without building its key again).
   */
  private storedNames(outcome: FrameOutcome, def: SeriesDef): StoredNames {
    const known = this.names.get(def);
    if (known !== undefined && known.site === outcome.site && known.node === outcome.node && known.zone === outcome.zone) return known;
    const base = { site: outcome.site, node: outcome.node, zone: outcome.zone };
    const named: StoredNames = {
      ...base,
      series: { name: def.name, labels: withTargetLabels(def.labels, base), unit: def.unit, type: def.type },
      ledger: ledgerSeries(def.name, def.labels),
    };
    this.names.set(def, named);
    return named;
  }

  private requestRebirth(outcome: FrameOutcome): void {
    const request = outcome.rebirth;
    const transport = this.o.transport();
    if (request === undefined || transport === undefined) return;
    this.o.counters.rebirthsRequested++;
    this.o.metrics.requestRebirth(request.cause);
    this.o.logger.info({ site: outcome.site, node: outcome.node, cause: request.cause }, 'requesting rebirth');
    const { fleet } = this.o;
    // [FM-SESSION-5] No second request while this one waits for the broker (behind the hub's acks when it is behind).
    fleet.rebirthQueued(outcome.site, outcome.node);
    transport
      .publish(commandTopic(this.o.prefix, outcome.site, outcome.node, 'rebirth'), encodeRebirth({ reason: request.reason }), { qos: 1 })
      .then(
        () => fleet.rebirthSettled(outcome.site, outcome.node, true),
        (err: unknown) => {
          fleet.rebirthSettled(outcome.site, outcome.node, false);
          this.o.logger.warn({ err: describeError(err), site: outcome.site, node: outcome.node }, 'rebirth request not sent');
        },
      );
  }

  private recordSampleAge(ms: number): void {
    const age = Math.max(0, ms);
    this.o.metrics.sampleAge.observe(age / 1_000);
    if (this.ages.length < SAMPLE_AGE_RING_SIZE) this.ages.push(age);
    else this.ages[this.ageNext] = age;
    this.ageNext = (this.ageNext + 1) % SAMPLE_AGE_RING_SIZE;
  }
}

export function storedNode(r: Readonly<NodeRecord>): StoredNode {
  return {
    site: r.site,
    node: r.node,
    zone: r.zone,
    state: r.state,
    epoch: r.epoch,
    agentVersion: r.agentVersion,
    tickMs: r.tickMs,
    heartbeatMs: r.heartbeatMs,
    lastHeard: r.lastHeard,
    lastChanged: r.lastChanged,
    bootTime: r.bootTime,
    bootTimeHub: r.bootTimeHub,
    configVersion: r.configVersion,
  };
}
