// The built-in alerts from the seeds, each one a rule like those of rule files, tunable or disabled in
// hub.yaml (`alerts.builtins`): NodeDown (a node offline for 2 min), SiteOffline (every node of a site
// silent for 5 min: one alert per site, resolved as soon as any node is back), LowSOC (battery_soc
// below 20 % for 5 min), BacklogAge (a node's oldest unsent outbox row older than 1 h), and the zones'
// ConsensusTimeout (detections waiting for a decision for 60 s), PumpRuntime (a pump past its envelope's
// maxRuntime, 20 min by default: the seed's 1200 s) and QuorumLost (no visible majority for 1 min).

import type { AlertRule, AlertSample, EvaluationContext, Template } from './alert.js';
import type { SeriesSource } from './alert-expr.js';
import type { AlertNode, AlertZone, FleetView } from './fleet-series.js';
import { createExpressionRule, uniqueId } from './rule-file.js';
import { compileTemplate } from './template.js';

/** The group built-in rules are listed under. */
export const BUILTIN_GROUP = 'fieldmesh-builtin';

export interface BuiltinsConfig {
  readonly nodeDown: { readonly enabled: boolean; readonly for: number; readonly severity: string };
  readonly siteOffline: { readonly enabled: boolean; readonly for: number; readonly severity: string };
  readonly lowSoc: {
    readonly enabled: boolean;
    readonly metric: string;
    readonly threshold: number;
    readonly for: number;
    readonly severity: string;
  };
  readonly backlogAge: { readonly enabled: boolean; readonly maxAge: number; readonly severity: string };
  readonly consensusTimeout?: { readonly enabled: boolean; readonly for: number; readonly severity: string };
  readonly pumpRuntime?: { readonly enabled: boolean; readonly for: number; readonly severity: string };
  readonly quorumLost?: { readonly enabled: boolean; readonly for: number; readonly severity: string };
  /** A node certificate of the hub's fleet CA that expires within `before` (the seed's 90 days). */
  readonly certificateExpiring?: { readonly enabled: boolean; readonly before: number; readonly severity: string };
  /** The same within 14 days (or expired already). */
  readonly certificateExpiringSoon?: { readonly enabled: boolean; readonly before: number; readonly severity: string };
  /** A scale-out hub's workers behind: messages not stored yet above `maxPending`. */
  readonly queueLag?: { readonly enabled: boolean; readonly maxPending: number; readonly for: number; readonly severity: string };
  /** A copy of the replicated stream offline or not current. */
  readonly queueReplicaBehind?: { readonly enabled: boolean; readonly for: number; readonly severity: string };
}

function templates(entries: Record<string, string>): Array<readonly [string, Template]> {
  return Object.entries(entries).map(([k, v]) => [k, compileTemplate(v)] as const);
}

function fleetRule(
  id: string,
  name: string,
  forMs: number,
  severity: string,
  annotations: Record<string, string>,
  expr: string,
  evaluate: (nowMs: number, context: EvaluationContext) => AlertSample[],
): AlertRule {
  return {
    id,
    group: BUILTIN_GROUP,
    file: 'builtin',
    name,
    forMs,
    intervalMs: undefined,
    labels: templates({ severity }),
    annotations: templates(annotations),
    source: { expr, builtin: true, evaluate: async (nowMs, context) => evaluate(nowMs, context) },
  };
}

function nodeLabels(n: AlertNode): Record<string, string> {
  return { site: n.site, zone: n.zone, node: n.node };
}

/** The enabled built-ins, with ids "builtin/<Name>". */
export function createBuiltinRules(config: BuiltinsConfig, fleet: FleetView, source: SeriesSource, taken: Set<string>): AlertRule[] {
  const rules: AlertRule[] = [];
  if (config.nodeDown.enabled) {
    rules.push(
      fleetRule(
        uniqueId('builtin/NodeDown', taken),
        'NodeDown',
        config.nodeDown.for,
        config.nodeDown.severity,
        {
          summary: 'Node {{ $labels.site }}/{{ $labels.node }} is offline',
          description:
            'The hub has had no session with node {{ $labels.node }} (site {{ $labels.site }}, zone {{ $labels.zone }}) for {{ $value | humanizeDuration }}: its link died or it said goodbye.',
        },
        'fleet: node state is offline',
        (nowMs, { watchingSince }) =>
          fleet
            .nodes()
            .filter((n) => n.state === 'offline')
            .map((n) => ({
              labels: nodeLabels(n),
              value: Math.max(0, nowMs - n.lastChanged) / 1_000,
              activeSince: Math.max(n.lastChanged, watchingSince),
            })),
      ),
    );
  }
  if (config.siteOffline.enabled) {
    rules.push(
      fleetRule(
        uniqueId('builtin/SiteOffline', taken),
        'SiteOffline',
        config.siteOffline.for,
        config.siteOffline.severity,
        {
          summary: 'Site {{ $labels.site }} is offline',
          description: 'No node of site {{ $labels.site }} has been heard for {{ $value | humanizeDuration }}.',
        },
        'fleet: no node of the site is online',
        (nowMs, { watchingSince }) => {
          const sites = new Map<string, AlertNode[]>();
          for (const n of fleet.nodes()) sites.set(n.site, [...(sites.get(n.site) ?? []), n]);
          const out: AlertSample[] = [];
          for (const [site, nodes] of sites) {
            if (nodes.some((n) => n.state === 'online')) continue;
            // The site went silent when its last node was last heard.
            const silentSince = Math.max(...nodes.map((n) => n.lastHeard ?? n.lastChanged));
            out.push({
              labels: { site },
              value: Math.max(0, nowMs - silentSince) / 1_000,
              activeSince: Math.max(silentSince, watchingSince),
            });
          }
          return out;
        },
      ),
    );
  }
  if (config.lowSoc.enabled) {
    const { metric, threshold } = config.lowSoc;
    rules.push(
      createExpressionRule(
        {
          group: BUILTIN_GROUP,
          file: 'builtin',
          name: 'LowSOC',
          expr: `${metric} < ${threshold}`,
          forMs: config.lowSoc.for,
          intervalMs: undefined,
          labels: templates({ severity: config.lowSoc.severity }),
          annotations: templates({
            summary: 'Battery low at {{ $labels.site }}/{{ $labels.node }}',
            description: `State of charge is {{ printf "%.1f" $value }} %, below ${threshold} %.`,
          }),
        },
        uniqueId('builtin/LowSOC', taken),
        source,
        true,
      ),
    );
  }
  if (config.backlogAge.enabled) {
    const maxAgeMs = config.backlogAge.maxAge;
    rules.push(
      fleetRule(
        uniqueId('builtin/BacklogAge', taken),
        'BacklogAge',
        0,
        config.backlogAge.severity,
        {
          summary: 'Node {{ $labels.site }}/{{ $labels.node }} has not delivered its data for a long time',
          description:
            'The oldest row of its outbox backlog is {{ $value | humanizeDuration }} old; the hub is missing that data until it arrives.',
        },
        `fleet: oldest outbox backlog row older than ${maxAgeMs / 1_000} s`,
        (nowMs) => {
          const out: AlertSample[] = [];
          for (const n of fleet.nodes()) {
            const b = fleet.backlog(n.site, n.node);
            if (b === undefined || b.pendingRows === 0 || b.oldestPendingMs === null) continue;
            const ageMs = nowMs - b.oldestPendingMs;
            if (ageMs > maxAgeMs) out.push({ labels: nodeLabels(n), value: ageMs / 1_000, activeSince: b.oldestPendingMs + maxAgeMs });
          }
          return out;
        },
      ),
    );
  }
  rules.push(...createZoneRules(config, fleet, taken));
  for (const [name, c] of [
    ['CertificateExpiring', config.certificateExpiring],
    ['CertificateExpiringSoon', config.certificateExpiringSoon],
  ] as const) {
    if (c?.enabled === true) rules.push(certificateRule(name, c.before, c.severity, fleet, taken));
  }
  rules.push(...queueRules(config, fleet, taken));
  return rules;
}

/** [docs/scale-out.md "Alerts"] The queue of a scale-out hub: workers behind, a stream copy missing. One alert each, no labels. */
function queueRules(config: BuiltinsConfig, fleet: FleetView, taken: Set<string>): AlertRule[] {
  const rules: AlertRule[] = [];
  const lag = config.queueLag;
  if (lag?.enabled === true) {
    rules.push(
      fleetRule(
        uniqueId('builtin/QueueLagHigh', taken),
        'QueueLagHigh',
        lag.for,
        lag.severity,
        {
          summary: 'The hub workers are behind: {{ $value }} frames not stored yet',
          description: `More than ${lag.maxPending} messages of the frame stream wait for a worker or its ack; nodes hold their data until it is stored. Add workers, or look at PostgreSQL (docs/scale-out.md).`,
        },
        `queue: consumer pending + ack pending > ${lag.maxPending}`,
        () => {
          const q = fleet.queue?.();
          const waiting = q === undefined ? 0 : q.consumerPending + q.consumerAckPending;
          return waiting > lag.maxPending ? [{ labels: {}, value: waiting }] : [];
        },
      ),
    );
  }
  const replica = config.queueReplicaBehind;
  if (replica?.enabled === true) {
    rules.push(
      fleetRule(
        uniqueId('builtin/QueueReplicaBehind', taken),
        'QueueReplicaBehind',
        replica.for,
        replica.severity,
        {
          summary: '{{ $value }} copies of the hub frame stream are offline or behind',
          description:
            'A NATS server holding a copy of the stream is down or not caught up: one more failure and the stream stops taking frames (nodes keep theirs and resend).',
        },
        'queue: stream replicas offline or not current > 0',
        () => {
          const behind = fleet.queue?.()?.replicasBehind ?? 0;
          return behind > 0 ? [{ labels: {}, value: behind }] : [];
        },
      ),
    );
  }
  return rules;
}

/**
 * [docs/pki.md "Expiry alerts"] A node's newest valid certificate expires within `beforeMs`: fires at once (the
 * condition is already "less than N days left"), with the seconds left as its value, resolved by a renewal.
 */
function certificateRule(name: string, beforeMs: number, severity: string, fleet: FleetView, taken: Set<string>): AlertRule {
  const days = Math.round(beforeMs / 86_400_000);
  return fleetRule(
    uniqueId(`builtin/${name}`, taken),
    name,
    0,
    severity,
    {
      summary: `The certificate of node {{ $labels.site }}/{{ $labels.node }} expires in less than ${days} days`,
      description:
        'Certificate {{ $labels.serial }} of node {{ $labels.node }} (site {{ $labels.site }}) has {{ $value | humanizeDuration }} left (negative: expired). The node renews it over the fleet transport at pki.renewAt of its validity: check that it is connected and that the hub signs (docs/pki.md).',
    },
    `pki: node certificate expires within ${beforeMs / 1_000} s`,
    (nowMs) =>
      (fleet.certificates?.() ?? [])
        .filter((c) => c.notAfter - nowMs < beforeMs)
        .map((c) => ({
          labels: { site: c.site, node: c.node, serial: c.serial },
          value: (c.notAfter - nowMs) / 1_000,
          activeSince: c.notAfter - beforeMs,
        })),
  );
}

function zoneLabels(z: AlertZone): Record<string, string> {
  return { site: z.site, zone: z.zone };
}

/** ConsensusTimeout, PumpRuntime and QuorumLost over the hub's zone monitor (none without zones). */
function createZoneRules(config: BuiltinsConfig, fleet: FleetView, taken: Set<string>): AlertRule[] {
  const zones = () => fleet.zones?.() ?? [];
  const rules: AlertRule[] = [];
  const { consensusTimeout, pumpRuntime, quorumLost } = config;
  if (consensusTimeout?.enabled === true) {
    rules.push(
      fleetRule(
        uniqueId('builtin/ConsensusTimeout', taken),
        'ConsensusTimeout',
        // The seed's `consensus_pending_duration > 60` with no `for`: the condition itself is "pending longer
        // than for", so a fire decided in seconds never shows as a pending alert.
        0,
        consensusTimeout.severity,
        {
          summary: 'Zone {{ $labels.zone }} has had detections without a decision for {{ $value | humanizeDuration }}',
          description:
            'Detections of zone {{ $labels.zone }} (site {{ $labels.site }}) have waited {{ $value | humanizeDuration }} without a majority decision or a running pump: the cameras disagree, or the voters cannot reach each other.',
        },
        'zones: detections pending without a majority decision or a running pump',
        (nowMs, { watchingSince }) =>
          zones()
            .filter((z) => z.consensusPendingSince !== undefined && nowMs - z.consensusPendingSince > consensusTimeout.for)
            .map((z) => ({
              labels: zoneLabels(z),
              value: Math.max(0, nowMs - (z.consensusPendingSince as number)) / 1_000,
              activeSince: Math.max((z.consensusPendingSince as number) + consensusTimeout.for, watchingSince),
            })),
      ),
    );
  }
  if (pumpRuntime?.enabled === true) {
    rules.push(
      fleetRule(
        uniqueId('builtin/PumpRuntime', taken),
        'PumpRuntime',
        pumpRuntime.for,
        pumpRuntime.severity,
        {
          summary: 'Pump {{ $labels.pump }} of zone {{ $labels.zone }} has run {{ $value | humanizeDuration }}, past its limit',
          description:
            'Pump {{ $labels.pump }} (node {{ $labels.node }}, zone {{ $labels.zone }}, site {{ $labels.site }}) has run {{ $value | humanizeDuration }}, longer than its envelope maxRuntime.',
        },
        "zones: a pump's runtime is past its envelope's maxRuntime",
        (nowMs) => {
          const out: AlertSample[] = [];
          for (const z of zones()) {
            for (const p of z.pumps) {
              if (!p.running || p.runtimeSeconds <= p.maxRuntimeSeconds) continue;
              out.push({
                labels: { ...zoneLabels(z), pump: p.pump, node: p.node },
                value: p.runtimeSeconds,
                activeSince: nowMs - (p.runtimeSeconds - p.maxRuntimeSeconds) * 1_000,
              });
            }
          }
          return out;
        },
      ),
    );
  }
  if (quorumLost?.enabled === true) {
    rules.push(
      fleetRule(
        uniqueId('builtin/QuorumLost', taken),
        'QuorumLost',
        quorumLost.for,
        quorumLost.severity,
        {
          summary: 'Zone {{ $labels.zone }} has no visible majority',
          description:
            'Fewer than a majority of the configured voters of zone {{ $labels.zone }} (site {{ $labels.site }}) have been online at the hub for {{ $value | humanizeDuration }}: the zone may not be able to decide.',
        },
        'zones: fewer than floor(n/2)+1 configured voters online at the hub',
        (nowMs, { watchingSince }) =>
          zones()
            .filter((z) => !z.majorityVisible && z.voters > 0)
            .map((z) => {
              const since = Math.max(z.quorumLostSince ?? watchingSince, watchingSince);
              return { labels: zoneLabels(z), value: Math.max(0, nowMs - since) / 1_000, activeSince: since };
            }),
      ),
    );
  }
  return rules;
}
