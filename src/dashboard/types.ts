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

// ---- zones: the hub's zone API (src/hub/api/zones; docs/console.md#zones), as the console reads it ----

/** A zone in `GET /api/v1/zones` and in the live feed's `zone` messages. Times ISO, durations seconds. */
export interface ZoneSummary {
  readonly zone: string;
  readonly site: string | null;
  readonly epoch: number;
  readonly voters: number;
  readonly votersOnline: number;
  readonly majorityNeeded: number;
  readonly majorityVisible: boolean;
  /** The hub's own evaluation of the zone's detections (for display; nodes decide). */
  readonly fire: boolean;
  readonly detectionsInWindow: number;
  readonly pumps: number;
  readonly pumpsRunning: number;
  readonly lastDecisionAt: string | null;
  readonly overlaps: readonly string[];
  readonly activates: readonly string[];
}

export type ZoneVoterState = 'online' | 'stale' | 'offline' | 'unknown';
export type PumpStateName = 'running' | 'stopped' | 'estop' | 'fault' | 'unknown';
export type PumpActionName = 'start' | 'stop' | 'estop' | 'clear' | 'test';

export interface ZoneVoterInfo {
  readonly node: string;
  readonly state: ZoneVoterState;
  readonly lastHeard: string | null;
  readonly voting: boolean;
  readonly lastVote: { readonly at: string; readonly epoch: number; readonly seq: number; readonly evidence: readonly string[] } | null;
}

export interface ZoneDetectionInfo {
  readonly id: string;
  readonly camera: string;
  readonly node: string;
  readonly class: string;
  readonly confidence: number;
  readonly time: string;
  readonly box?: readonly [number, number, number, number];
}

export interface ZoneEvaluationInfo {
  readonly at: string;
  readonly fire: boolean;
  readonly missing: readonly string[];
  readonly evidence: {
    readonly detections: readonly string[];
    readonly cameras: ReadonlyArray<{
      readonly camera: string;
      readonly node: string;
      readonly weight: number;
      readonly confidence: number;
    }>;
    readonly distinctCameras: number;
    readonly distinctNodes: number;
    readonly score: number;
  };
}

export interface ZonePolicyInfo {
  readonly windowSeconds: number;
  readonly classes: readonly string[];
  readonly minConfidence: number;
  readonly minCameras: number;
  readonly minNodes: number;
  readonly threshold: number;
  readonly cooldownSeconds: number;
  readonly activates: readonly string[];
  readonly isolatedFallback: boolean;
}

export interface ZoneDecisionInfo {
  readonly at: string;
  readonly node: string;
  readonly kind: string;
  readonly epoch: number;
  readonly cause?: string;
  readonly reason?: string;
  readonly detections?: readonly string[];
  readonly votes?: ReadonlyArray<{ readonly voter: string; readonly seq: number; readonly time: string }>;
  readonly pumps?: readonly string[];
}

export interface ZonePumpInfo {
  readonly pump: string;
  readonly owner: string;
  readonly state: PumpStateName;
  readonly cause: string | null;
  readonly since: string | null;
  /** As of the answer; the console adds the time since while the pump runs. */
  readonly runtimeSeconds: number;
  readonly maxRuntimeSeconds: number;
  readonly atMaxRuntime: 'stop' | 'alert';
  readonly overRuntime: boolean;
  readonly lastStart: { readonly at: string; readonly cause: string; readonly by: string } | null;
  readonly lastStop: { readonly at: string; readonly reason: string; readonly by: string } | null;
}

export interface ZoneAlertInfo {
  readonly name: string;
  readonly state: string;
  readonly severity: string;
  readonly activeAt: string | null;
  readonly summary: string;
}

/** `GET /api/v1/zones/:zone`: the summary with its voters, cameras, evidence, decisions, pumps and alerts. */
export interface HubZoneView extends Omit<ZoneSummary, 'voters' | 'pumps'> {
  readonly voters: readonly ZoneVoterInfo[];
  readonly cameras: ReadonlyArray<{
    readonly camera: string;
    readonly node: string;
    readonly weight: number;
    readonly lastDetection: string | null;
  }>;
  readonly detections: readonly ZoneDetectionInfo[];
  readonly evaluation: ZoneEvaluationInfo | null;
  readonly policy: ZonePolicyInfo;
  readonly decisions: readonly ZoneDecisionInfo[];
  readonly pumps: readonly ZonePumpInfo[];
  readonly alerts: readonly ZoneAlertInfo[];
}

/** `GET /api/v1/zones/:zone/history?range=24h`: each pump's runs and the detections, for the chart. */
export interface ZoneHistoryInfo {
  readonly zone: string;
  readonly start: string;
  readonly end: string;
  readonly pumps: ReadonlyArray<{
    readonly pump: string;
    readonly runs: ReadonlyArray<{
      readonly start: string;
      readonly end: string | null;
      readonly cause: string;
      readonly by: string;
      readonly stopReason: string | null;
    }>;
  }>;
  readonly detections: ReadonlyArray<{
    readonly time: string;
    readonly camera: string;
    readonly node: string;
    readonly confidence: number;
  }>;
}
