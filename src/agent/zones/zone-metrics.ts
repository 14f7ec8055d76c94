// The zones' figures in the node's /metrics: read from the zone runtime at each scrape (frames by link
// and type, votes, refusals, majority, epoch, participation, pumps), plus the decision latency histogram
// the runtime feeds when a pump this node drives starts on a certificate. Names and meanings:
// docs/consensus.md#metrics.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ZoneRuntimeStats } from './zone-runtime.js';

type Row = readonly [labels: Record<string, string>, value: number];

/** A counter or gauge whose values are the runtime's, set at each scrape. */
function mirror(registry: Registry, kind: 'counter' | 'gauge', name: string, help: string, labelNames: string[], read: () => Row[]): void {
  function collect(this: Counter | Gauge): void {
    this.reset();
    for (const [labels, n] of read()) {
      if (this instanceof Counter) this.inc(labels, n);
      else this.set(labels, n);
    }
  }
  const options = { name, help, labelNames, registers: [registry], collect };
  if (kind === 'counter') new Counter(options);
  else new Gauge(options);
}

function byLink<K extends string>(by: Readonly<Record<string, Partial<Record<K, number>>>>, key: string): Row[] {
  return Object.entries(by).flatMap(([link, counts]) =>
    Object.entries(counts).map(([k, n]) => [{ link, [key]: k }, (n as number | undefined) ?? 0] as const),
  );
}

/** Decision latency buckets, seconds: the goal is 1 s p99 (issue 10). */
export const DECISION_LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10];

export interface ZoneMetrics {
  /** A pump this node drives started on a certificate, `ms` after the detection that completed the evidence. */
  decisionLatency(zone: string, pump: string, ms: number): void;
  /** A certificate heard on a zone link was refused (zone signing): revoked, self-signed, wrong-ca, expired, ... */
  certificateRefused(reason: string): void;
}

/**
 * Registers `fieldmesh_zone_*` and `fieldmesh_pump_*` on `registry`, read from `read()` at scrape time
 * (nothing is shown while it returns undefined, before the runtime starts).
 */
export function registerZoneMetrics(registry: Registry, read: () => ZoneRuntimeStats | undefined): ZoneMetrics {
  let cached: ZoneRuntimeStats | undefined;
  let fresh = false;
  const stats = (): ZoneRuntimeStats | undefined => {
    if (!fresh) {
      cached = read();
      fresh = true;
      setImmediate(() => {
        fresh = false;
      });
    }
    return cached;
  };
  const rows = (f: (s: ZoneRuntimeStats) => Row[]) => () => {
    const s = stats();
    return s === undefined ? [] : f(s);
  };
  const counter = (name: string, help: string, labels: string[], f: (s: ZoneRuntimeStats) => Row[]) =>
    mirror(registry, 'counter', name, help, labels, rows(f));
  const gauge = (name: string, help: string, labels: string[], f: (s: ZoneRuntimeStats) => Row[]) =>
    mirror(registry, 'gauge', name, help, labels, rows(f));

  counter(
    'fieldmesh_zone_frames_sent_total',
    'Zone frames handed to a link (mqtt: the broker; udp: the shared segment), by type.',
    ['link', 'type'],
    (s) => byLink(s.sent, 'type'),
  );
  counter(
    'fieldmesh_zone_frames_received_total',
    'Zone frames heard on a link and handed to the zone engine, by type (a frame heard on both links counts on each).',
    ['link', 'type'],
    (s) => byLink(s.received, 'type'),
  );
  counter(
    'fieldmesh_zone_frames_rejected_total',
    'Zone frames heard and dropped, by link and reason: malformed, truncated, oversized, version; on udp also other-site and own.',
    ['link', 'reason'],
    (s) => byLink(s.rejected, 'reason'),
  );
  counter(
    'fieldmesh_zone_frames_duplicate_total',
    'Zone frames dropped as already heard: a command id executed before, a pump state older than the one known.',
    ['link'],
    (s) => Object.entries(s.duplicates).map(([link, n]) => [{ link }, n] as const),
  );
  counter('fieldmesh_zone_votes_cast_total', 'Votes this node cast, renewals included (repeats of a live vote are not).', ['zone'], (s) =>
    s.zones.map((z) => [{ zone: z.zone }, z.votesCast] as const),
  );
  counter(
    'fieldmesh_zone_votes_refused_total',
    'Votes this pump owner refused, by reason (forged, stale-epoch, expired, replayed, config, ...).',
    ['zone', 'reason'],
    (s) => s.zones.flatMap((z) => Object.entries(z.refusals).map(([reason, n]) => [{ zone: z.zone, reason }, n] as const)),
  );
  gauge(
    'fieldmesh_zone_majority_held',
    '1 while a certificate (a majority of the configured voters) holds at this node, which counts the zone because it drives its pumps.',
    ['zone'],
    (s) => s.zones.flatMap((z) => (z.majorityHeld === undefined ? [] : [[{ zone: z.zone }, z.majorityHeld] as const])),
  );
  gauge('fieldmesh_zone_epoch', "The zone's epoch as this node knows it.", ['zone'], (s) =>
    s.zones.map((z) => [{ zone: z.zone }, z.epoch] as const),
  );
  gauge(
    'fieldmesh_zone_participation_ratio',
    "Fraction of the zone's configured voters heard within the last 5 ticks (this node counts itself).",
    ['zone'],
    (s) => s.zones.map((z) => [{ zone: z.zone }, z.participation] as const),
  );
  gauge('fieldmesh_pump_running', '1 while a pump this node drives runs.', ['zone', 'pump'], (s) =>
    s.pumps.map((p) => [{ zone: p.zone, pump: p.pump }, p.running ? 1 : 0] as const),
  );
  counter(
    'fieldmesh_pump_starts_total',
    'Starts of a pump this node drives, by cause (majority, overlap, isolated-fallback, manual, test).',
    ['zone', 'pump', 'cause'],
    (s) => s.pumps.flatMap((p) => Object.entries(p.starts).map(([cause, n]) => [{ zone: p.zone, pump: p.pump, cause }, n ?? 0] as const)),
  );
  counter(
    'fieldmesh_pump_stops_total',
    'Stops of a pump this node drives, by cause (manual, estop, max-runtime, lease-lapsed, epoch-superseded, test-done, restart, state-lost).',
    ['zone', 'pump', 'cause'],
    (s) => s.pumps.flatMap((p) => Object.entries(p.stops).map(([cause, n]) => [{ zone: p.zone, pump: p.pump, cause }, n ?? 0] as const)),
  );
  counter(
    'fieldmesh_pump_stale_epoch_refusals_total',
    'Demands and commands the pump envelope refused because their epoch was older than the newest it had seen.',
    ['zone', 'pump'],
    (s) => s.pumps.map((p) => [{ zone: p.zone, pump: p.pump }, p.staleEpochRefused] as const),
  );
  const latency = new Histogram({
    name: 'fieldmesh_zone_decision_latency_seconds',
    help: 'At the pump owner: from the detection that completed the evidence (its timestamp) to the start of the pump, by certificate.',
    labelNames: ['zone', 'pump'],
    buckets: DECISION_LATENCY_BUCKETS,
    registers: [registry],
  });
  const certificateRefused = new Counter({
    name: 'fieldmesh_zone_certificate_refused_total',
    help: 'Certificates heard on a zone link and refused (zoneSecurity.signing: required), by reason: revoked, self-signed, wrong-ca, expired, not-yet-valid, other-node, other-site, no-ca, ...',
    labelNames: ['reason'],
    registers: [registry],
  });
  return {
    decisionLatency: (zone, pump, ms) => latency.observe({ zone, pump }, ms / 1_000),
    certificateRefused: (reason) => certificateRefused.inc({ reason }),
  };
}
