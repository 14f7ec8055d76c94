// The API shapes the console reads: the protocol's (src/protocol/api.ts), and the console's own reading
// of the few answers the protocol does not declare (auth, silences, rules, audit, ping).

import type {
  ActionName,
  ActionPreview,
  ActionSelector,
  ActionTargetStatus,
  ActionView,
  AlertView,
  ConsoleView,
  EventView,
  HealthReason,
  LiveAlertMessage,
  LiveSnapshot,
  NodeValueView,
  NodeView,
  OverviewView,
  SiteDetailView,
  SiteHealth,
  SiteView,
} from '../protocol/api.js';
import type { NodeStateName } from '../protocol/frames.js';

export type {
  ActionName,
  ActionPreview,
  ActionSelector,
  ActionTargetStatus,
  EventView,
  HealthReason,
  LiveAlertMessage,
  LiveSnapshot,
  NodeStateName,
  NodeValueView,
  SiteDetailView,
};

export type Health = SiteHealth;
export type SiteInfo = SiteView;
export type NodeInfo = NodeView;
export type OverviewInfo = Omit<OverviewView, 'worstSites' | 'title'> & { readonly title?: string };
export type ConsoleInfo = ConsoleView;
export type AlertInfo = AlertView;
export type ActionInfo = ActionView;
export type AlertState = AlertView['state'];

export interface SilenceMatcherInfo {
  readonly name: string;
  readonly value: string;
  readonly isRegex: boolean;
  readonly isEqual?: boolean;
}

export interface SilenceInfo {
  readonly id: string;
  readonly status: { readonly state: 'active' | 'pending' | 'expired' };
  readonly matchers: readonly SilenceMatcherInfo[];
  readonly startsAt: string;
  readonly endsAt: string;
  readonly createdBy: string;
  readonly comment: string;
}

export interface RuleInfo {
  readonly name: string;
  readonly query: string;
  readonly duration: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly health: string;
  readonly lastError?: string;
  readonly state: 'firing' | 'pending' | 'inactive';
  readonly lastEvaluation?: string;
  readonly id?: string;
}

export interface RuleGroupInfo {
  readonly name: string;
  readonly file: string;
  readonly rules: readonly RuleInfo[];
}

export interface MeInfo {
  readonly user: string | null;
  readonly role: 'viewer' | 'operator' | 'admin';
  readonly kind: string;
  readonly demo: boolean;
  readonly reason?: string;
  readonly csrfToken?: string;
}

export interface AuditEntry {
  readonly id: number;
  readonly time: string;
  readonly actor: string | null;
  readonly actorKind: string;
  readonly role: string | null;
  readonly method: string;
  readonly route: string;
  readonly target: string | null;
  readonly status: number;
  readonly result: string;
  readonly ip: string | null;
}

export interface PingResult {
  readonly rttMs: number;
  readonly epoch?: number | null;
  readonly agentVersion?: string | null;
  readonly uptimeMs?: number | null;
}

// ---- zones: the hub's zone API (src/hub/api/zones; docs/console.md#zones), one definition in protocol ----

export type {
  DecisionView as ZoneDecisionInfo,
  DetectionView as ZoneDetectionInfo,
  EvaluationView as ZoneEvaluationInfo,
  HubPumpState as PumpStateName,
  HubZoneView,
  PolicyView as ZonePolicyInfo,
  PumpView as ZonePumpInfo,
  VoterState as ZoneVoterState,
  VoterView as ZoneVoterInfo,
  ZoneAlertView as ZoneAlertInfo,
  ZoneHistoryView as ZoneHistoryInfo,
  ZoneSummary,
} from '../protocol/zone-api.js';
export type PumpActionName = 'start' | 'stop' | 'estop' | 'clear' | 'test';
