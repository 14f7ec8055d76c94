// The hub's zone API shapes (docs/consensus.md "The hub's view"): a zone's summary for lists and the live
// feed, its full view, its history. Times are ISO strings, durations seconds. Read by the hub (src/hub/zones/),
// the console (src/dashboard/) and the CLI (src/cli/zone.ts): one definition, so the three cannot drift.

import type { DefinitionSource } from './api.js';

export interface ZoneSummary {
  readonly zone: string;
  readonly site: string | null;
  /** Where the hub took the zone from: hub.yaml `zones:`, or the configuration repository's zone file. */
  readonly source: DefinitionSource;
  readonly epoch: number;
  /** Configured voters. */
  readonly voters: number;
  /** Configured voters the hub holds online. */
  readonly votersOnline: number;
  readonly majorityNeeded: number;
  readonly majorityVisible: boolean;
  /** The hub's evaluator over the detections it holds, for display (the nodes decide). */
  readonly fire: boolean;
  readonly detectionsInWindow: number;
  readonly pumps: number;
  readonly pumpsRunning: number;
  /** The newest majority (or isolated-fallback) record. */
  readonly lastDecisionAt: string | null;
  readonly overlaps: readonly string[];
  readonly activates: readonly string[];
}

export type VoterState = 'online' | 'stale' | 'offline' | 'unknown';
export type HubPumpState = 'running' | 'stopped' | 'estop' | 'fault' | 'unknown';

export interface VoterView {
  readonly node: string;
  readonly state: VoterState;
  readonly lastHeard: string | null;
  /** Its last vote is of the zone's epoch and within its TTL. */
  readonly voting: boolean;
  /** `seq` is 0 when only the voter's `zone_vote` record is known (its frames were not heard). */
  readonly lastVote: { readonly at: string; readonly epoch: number; readonly seq: number; readonly evidence: readonly string[] } | null;
}

export interface CameraView {
  readonly camera: string;
  readonly node: string;
  readonly weight: number;
  readonly lastDetection: string | null;
}

export interface DetectionView {
  readonly id: string;
  readonly camera: string;
  readonly node: string;
  readonly class: string;
  readonly confidence: number;
  readonly time: string;
  readonly box?: readonly [number, number, number, number];
}

export interface EvaluationView {
  readonly at: string;
  readonly fire: boolean;
  readonly missing: readonly string[];
  readonly evidence: {
    readonly detections: readonly string[];
    readonly cameras: readonly { readonly camera: string; readonly node: string; readonly weight: number; readonly confidence: number }[];
    readonly distinctCameras: number;
    readonly distinctNodes: number;
    readonly score: number;
  };
}

export interface PolicyView {
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

export interface DecisionView {
  readonly at: string;
  readonly node: string;
  readonly kind: string;
  readonly epoch: number;
  readonly cause?: string;
  readonly reason?: string;
  readonly detections?: readonly string[];
  readonly votes?: readonly { readonly voter: string; readonly seq: number; readonly time: string }[];
  readonly pumps?: readonly string[];
}

export interface PumpView {
  readonly pump: string;
  readonly owner: string;
  readonly state: HubPumpState;
  readonly cause: string | null;
  readonly since: string | null;
  readonly runtimeSeconds: number;
  readonly maxRuntimeSeconds: number;
  readonly atMaxRuntime: 'stop' | 'alert';
  readonly overRuntime: boolean;
  readonly lastStart: { readonly at: string; readonly cause: string; readonly by: string } | null;
  readonly lastStop: { readonly at: string; readonly reason: string; readonly by: string } | null;
}

export interface ZoneAlertView {
  readonly name: string;
  readonly state: string;
  readonly severity: string;
  readonly activeAt: string | null;
  readonly summary: string;
}

export interface HubZoneView extends Omit<ZoneSummary, 'voters' | 'pumps'> {
  readonly voters: readonly VoterView[];
  readonly cameras: readonly CameraView[];
  /** Newest first, at most 50, within the last hour. */
  readonly detections: readonly DetectionView[];
  readonly evaluation: EvaluationView | null;
  readonly policy: PolicyView;
  /** Newest first, at most 50. */
  readonly decisions: readonly DecisionView[];
  readonly pumps: readonly PumpView[];
  /** Active alerts whose labels name this zone. */
  readonly alerts: readonly ZoneAlertView[];
}

export interface PumpRunView {
  readonly start: string;
  readonly end: string | null;
  readonly cause: string;
  readonly by: string;
  readonly stopReason: string | null;
}

export interface ZoneHistoryView {
  readonly zone: string;
  readonly start: string;
  readonly end: string;
  readonly pumps: readonly { readonly pump: string; readonly runs: readonly PumpRunView[] }[];
  readonly detections: readonly { readonly time: string; readonly camera: string; readonly node: string; readonly confidence: number }[];
}
