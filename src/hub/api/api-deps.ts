// What the HTTP API needs from the hub; the composition root (hub.ts) provides it, tests build their own.

import type { Clock, Logger } from '../../kit/index.js';
import type { NodeCertificateState } from '../../protocol/index.js';
import type { SeriesSource } from '../../protocol/prometheus/index.js';
import type { ActionEngine } from '../actions/action-engine.js';
import type { CommandEngine } from '../actions/command-engine.js';
import type { AlertEngine } from '../alerts/alert-engine.js';
import type { RecordingRules } from '../alerts/recording-rules.js';
import type { HubAuth } from '../auth/index.js';
import type { ConfigReconciler } from '../config-repo/config-reconciler.js';
import type { FleetState } from '../fleet/fleet-state.js';
import type { SiteMonitor } from '../health/site-monitor.js';
import type { HubMetrics } from '../hub-metrics.js';
import type { BackfillRecord } from '../ledger/backfills.js';
import type { NodeBacklog } from '../ledger/completeness.js';
import type { NodeCommands } from '../node-commands.js';
import type { HubStorage } from '../storage/storage.js';
import type { HubZones } from '../zones/hub-zones.js';
import type { LiveFeed } from './live/live-feed.js';
import type { RegistrationsPort } from './registrations/registrations-routes.js';

export interface Readiness {
  readonly ready: boolean;
  /** Why not ready, e.g. "mqtt: not connected". */
  readonly reasons: readonly string[];
}

export interface HubApiDeps {
  readonly fleet: FleetState;
  readonly storage: HubStorage;
  readonly clock: Clock;
  readonly metrics: HubMetrics;
  readonly live: LiveFeed;
  readonly readiness: () => Readiness;
  readonly logger: Logger;
  /**
   * What /api/v1/query and /api/v1/query_range read: storage and the fleet's own series (`up`,
   * `fieldmesh_node_state`, ..., hub/alerts/fleet-series.ts). Absent: storage only.
   */
  readonly seriesSource?: SeriesSource;
  /** A node's last reported outbox backlog (absent: the node views show none). */
  readonly backlog?: (site: string, node: string) => NodeBacklog | undefined;
  /** Makes an operator's backfill request, remembered and sent to the node (absent: the route answers 503). */
  readonly requestBackfill?: (request: {
    readonly site: string;
    readonly node: string;
    readonly fromMs: number;
    readonly toMs: number;
    readonly selectors: readonly string[];
  }) => Promise<BackfillRecord>;
  /** Queries and pings of a node's own store through the broker (absent: the node query routes answer 503). */
  readonly nodeCommands?: NodeCommands;
  /** Users, roles, sessions and the audit log (absent: no login, every route open, as before). */
  readonly auth?: HubAuth;
  /** The alert engine (absent: /api/v1/alerts and /api/v1/rules answer empty, as Prometheus without rules). */
  readonly alerts?: AlertEngine;
  /** The rule files' recording rules, listed by /api/v1/rules with the alerting rules (absent: none). */
  readonly recordingRules?: Pick<RecordingRules, 'ruleHealth'>;
  /** Bulk actions with preview (absent: /api/v1/actions is not served). */
  readonly actions?: ActionEngine;
  /** Commands to any set of nodes and key reads (absent: /api/v1/commands and /api/v1/get are not served). */
  readonly commands?: CommandEngine;
  /** Sites with their health, overview and console setup (absent: built from the fleet, without hub.yaml's site facts). */
  readonly sites?: SiteMonitor;
  /** The zones of hub.yaml, their views and operators' commands (absent: /api/v1/zones is not served). */
  readonly zones?: HubZones;
  /** The configuration repository's reconciliation (absent: hub.yaml has no configRepo; /api/v1/config is not served). */
  readonly configRepo?: ConfigReconciler;
  /** Node registrations: list, approve, reject (absent: /api/v1/registrations is not served). */
  readonly registrations?: RegistrationsPort;
  /** The state of a node's certificate at the hub's fleet CA (absent without hub.yaml `pki`). */
  readonly certificate?: (site: string, node: string) => NodeCertificateState | null;
}
