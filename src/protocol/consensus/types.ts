// Zone consensus: the shapes every voting node, every actuator and the hub agree on. The rules that use
// them are in evaluate.ts (detections to a decision), votes.ts (which votes count, the majority, epochs)
// and the actuator's envelope (agent/actuators). [FM-ZONE-1..n] in docs/consensus.md.

/** A detector's output as an event: one camera saw one class with some confidence at some time. */
export interface Detection {
  /** Unique per producing node (Frigate's event id, or one the agent assigns); receivers deduplicate on it. */
  readonly id: string;
  /** Camera id as configured in the zone's `cameras`. */
  readonly camera: string;
  /** The node whose detector produced it (the camera's configured node, or the detection does not count). */
  readonly node: string;
  /** Detector class: "fire", "smoke", ... A zone's policy names the classes that count. */
  readonly class: string;
  /** 0 to 1. */
  readonly confidence: number;
  /** When the frame was seen, wall-clock ms (the producing node's clock). */
  readonly time: number;
  /** Optional bounding box in the camera frame, [x, y, width, height], pixels or 0..1. */
  readonly box?: readonly [number, number, number, number];
}

/** A camera of a zone. */
export interface ZoneCamera {
  readonly id: string;
  /** The node that runs the camera's detector; a detection of this camera from another node is ignored. */
  readonly node: string;
  /**
   * Weight of the camera's confidence in the zone's score: the node's reliability times the camera's
   * overlap with the zone, 0 to 1 (1 when not configured).
   */
  readonly weight: number;
}

/** What a pump does when something it depends on goes away. */
export type PumpFallback = 'stop' | 'keep-running';

/** The safety envelope of one actuator, enforced by the node that drives it whatever others say. */
export interface PumpEnvelope {
  /** The longest a pump runs in one go; at the limit, `atMaxRuntime` happens. */
  readonly maxRuntimeMs: number;
  /** `stop`: the pump stops at the limit; `alert`: it keeps running and PumpRuntime fires. */
  readonly atMaxRuntime: 'stop' | 'alert';
  /** The shortest a pump rests between runs (protects the motor); a start within it waits or is refused. */
  readonly minOffMs: number;
  /** When the decision's lease lapses (its majority no longer renews it). */
  readonly onLeaseLapse: PumpFallback;
  /** When the node restarts (or was killed) while the pump ran: resume the run (and its runtime) or stop. */
  readonly onRestart: PumpFallback;
}

export interface ZonePump {
  readonly id: string;
  /** The node wired to the pump: the only node that drives it. */
  readonly node: string;
  readonly envelope: PumpEnvelope;
}

/**
 * Opt-in (off by default): a node cut off from its zone's majority may start its own pumps on strong
 * local evidence. Such actuations are labelled `isolated-fallback`, reported apart, and never counted
 * as majority decisions. [FM-ZONE-FALLBACK]
 */
export interface IsolatedFallback {
  readonly enabled: boolean;
  /** Distinct cameras of this node's own that must see fire. */
  readonly minCameras: number;
  /** Each of them at least this confident. */
  readonly minConfidence: number;
}

/** How a zone turns detections into a decision. */
export interface ZonePolicy {
  /** Detections older than this (before `now`) no longer count. */
  readonly windowMs: number;
  /** Detector classes that count (e.g. fire, smoke). */
  readonly classes: readonly string[];
  /** Detections below this confidence are ignored. */
  readonly minConfidence: number;
  /** Distinct cameras that must have seen a counted class in the window. */
  readonly minCameras: number;
  /** Distinct nodes whose cameras must be among them ("cross-node validation"). */
  readonly minNodes: number;
  /** Sum over cameras of weight x the camera's highest confidence in the window must reach this. */
  readonly threshold: number;
  /** After a decision lapses, no new one for this zone for this long. */
  readonly cooldownMs: number;
  /** Zones a confirmed fire here also activates (their pumps start on this zone's majority). */
  readonly activates: readonly string[];
  /** How long one vote holds: voters renew it while their evidence holds. */
  readonly voteTtlMs: number;
  /** The clock difference between nodes that votes and detections are allowed. */
  readonly maxClockSkewMs: number;
  readonly isolatedFallback: IsolatedFallback;
}

export interface ZoneConfig {
  readonly id: string;
  /** The configured voters: a majority is floor(n/2)+1 of these, never of those currently seen. */
  readonly voters: readonly string[];
  readonly cameras: readonly ZoneCamera[];
  readonly pumps: readonly ZonePump[];
  /** Zones that overlap this one (shown together; `policy.activates` says which a fire here starts). */
  readonly overlaps: readonly string[];
  readonly policy: ZonePolicy;
}

/** Why a zone's evaluator says what it says: enough for an operator, and for the same answer anywhere. */
export interface Evidence {
  /** Detection ids that counted, sorted. */
  readonly detections: readonly string[];
  /** Per counted camera: its node, weight and highest confidence in the window. */
  readonly cameras: readonly { readonly camera: string; readonly node: string; readonly weight: number; readonly confidence: number }[];
  readonly distinctCameras: number;
  readonly distinctNodes: number;
  /** Sum of weight x confidence over the counted cameras. */
  readonly score: number;
}

/** The evaluator's answer for one zone at one instant. */
export interface ZoneEvaluation {
  readonly zone: string;
  readonly at: number;
  readonly fire: boolean;
  /** What is missing when not (e.g. "1 of 2 nodes"), empty when fire. */
  readonly missing: readonly string[];
  readonly evidence: Evidence;
}

/**
 * A vote: "voter, in this epoch, under this zone configuration, asks for the zone's pumps to run, from
 * `time` for at most `ttlMs`". Voters renew votes while their evidence holds; a vote is never withdrawn,
 * it lapses. [FM-ZONE-VOTE]
 */
export interface Vote {
  readonly zone: string;
  readonly epoch: number;
  readonly voter: string;
  /** `zoneConfigHash` of the configuration the voter counts in; a vote under another one does not count. */
  readonly configHash: string;
  /** The voter's boot counter; with `seq`, orders a voter's votes (a replay or a reorder is refused). */
  readonly boot: number;
  readonly seq: number;
  /** When cast, the voter's clock. */
  readonly time: number;
  readonly ttlMs: number;
  /** Detection ids the voter's evaluator counted (at most 32), for the audit. */
  readonly evidence: readonly string[];
}

/** Why a vote did not count. Every one is counted by reason. */
export type VoteRefusal = 'not-a-voter' | 'forged' | 'config-mismatch' | 'stale-epoch' | 'expired' | 'future' | 'replayed' | 'malformed';

/** What starts a pump; every start and stop is recorded with its cause. */
export type ActuationCause = 'majority' | 'overlap' | 'isolated-fallback' | 'manual' | 'test';
