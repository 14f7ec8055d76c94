// The deterministic evaluator: a zone's detections to "fire or not, and why", the same on every node and
// on the hub; and which zones a confirmed fire activates. [FM-ZONE-EVAL-1..6] in docs/consensus.md.

import type { Detection, Evidence, ZoneCamera, ZoneConfig, ZoneEvaluation } from './types.js';
import { SCORE_TOLERANCE } from './zone-config.js';

/**
 * At most this many detection ids in an evaluation's evidence (a vote carries at most 32 too). The
 * detection that gave each counted camera its confidence is always kept (cameras in id order); the rest
 * are filled in ascending id order; the list is sorted. [FM-ZONE-EVAL-4]
 */
export const MAX_EVIDENCE_DETECTIONS = 32;

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Whether one detection counts for a zone at `now`: its camera is one of the zone's and it came from that
 * camera's node, its class is one the policy names, its confidence is within 0..1 and at least the
 * policy's, and its time is inside the window, `now - windowMs < time <= now + maxClockSkewMs`. [FM-ZONE-EVAL-1]
 */
export function isCountedDetection(zone: ZoneConfig, detection: Detection, now: number): boolean {
  return counts(
    zone,
    detection,
    now,
    zone.cameras.find((c) => c.id === detection.camera),
  );
}

function counts(zone: ZoneConfig, detection: Detection, now: number, camera: ZoneCamera | undefined): boolean {
  const p = zone.policy;
  const d = detection;
  return (
    camera !== undefined &&
    typeof d.id === 'string' &&
    d.node === camera.node &&
    p.classes.includes(d.class) &&
    typeof d.confidence === 'number' &&
    d.confidence >= p.minConfidence &&
    d.confidence >= 0 &&
    d.confidence <= 1 &&
    typeof d.time === 'number' &&
    d.time > now - p.windowMs &&
    d.time <= now + p.maxClockSkewMs
  );
}

/**
 * Over the detections `accept` keeps: per camera its highest confidence and the smallest id among the
 * detections that gave it, and every kept id. A function of the set: order and duplicates do not matter.
 */
function bestPerCamera(
  detections: Iterable<Detection>,
  accept: (d: Detection) => boolean,
): { best: Map<string, { confidence: number; id: string }>; ids: Set<string> } {
  const best = new Map<string, { confidence: number; id: string }>();
  const ids = new Set<string>();
  for (const d of detections) {
    if (!accept(d)) continue;
    ids.add(d.id);
    const b = best.get(d.camera);
    if (b === undefined || d.confidence > b.confidence || (d.confidence === b.confidence && d.id < b.id)) {
      best.set(d.camera, { confidence: d.confidence, id: d.id });
    }
  }
  return { best, ids };
}

/** A score for people: floored to 3 decimals, so it never reads as reaching a threshold it missed. */
function formatScore(n: number): string {
  return String(Math.floor(n * 1000 + SCORE_TOLERANCE) / 1000);
}

/**
 * Evaluates a zone over the detections held at `now`. The answer depends only on the set of detections
 * counted (order and duplicates do not matter): per counted camera its highest confidence in the window;
 * score = sum of weight x that confidence, added in camera id order so every node gets the same float;
 * fire iff distinct cameras >= minCameras, distinct nodes >= minNodes and score >= threshold. [FM-ZONE-EVAL-2,3]
 */
export function evaluateZone(zone: ZoneConfig, detections: Iterable<Detection>, now: number): ZoneEvaluation {
  const p = zone.policy;
  const cameras = new Map(zone.cameras.map((c) => [c.id, c]));
  const { best, ids } = bestPerCamera(detections, (d) => counts(zone, d, now, cameras.get(d.camera)));
  const counted = [...best.keys()].sort(compareStrings);
  const nodes = new Set<string>();
  let score = 0;
  const cameraEvidence = counted.map((id) => {
    const camera = cameras.get(id) as ZoneCamera;
    const confidence = (best.get(id) as { confidence: number }).confidence;
    nodes.add(camera.node);
    score += camera.weight * confidence;
    return { camera: id, node: camera.node, weight: camera.weight, confidence };
  });

  const missing: string[] = [];
  if (counted.length < p.minCameras) missing.push(`${counted.length} of ${p.minCameras} cameras`);
  if (nodes.size < p.minNodes) missing.push(`${nodes.size} of ${p.minNodes} nodes`);
  if (score < p.threshold - SCORE_TOLERANCE) missing.push(`score ${formatScore(score)} of ${p.threshold}`);

  const evidence: Evidence = {
    detections: cappedEvidence(
      counted.map((c) => (best.get(c) as { id: string }).id),
      ids,
    ),
    cameras: cameraEvidence,
    distinctCameras: counted.length,
    distinctNodes: nodes.size,
    score,
  };
  return { zone: zone.id, at: now, fire: missing.length === 0, missing, evidence };
}

/** The evidence ids: each camera's best first, then the others in id order, at most the cap; sorted. */
function cappedEvidence(bests: readonly string[], all: ReadonlySet<string>): string[] {
  if (all.size <= MAX_EVIDENCE_DETECTIONS) return [...all].sort(compareStrings);
  const kept = new Set(bests.slice(0, MAX_EVIDENCE_DETECTIONS));
  for (const id of [...all].sort(compareStrings)) {
    if (kept.size >= MAX_EVIDENCE_DETECTIONS) break;
    kept.add(id);
  }
  return [...kept].sort(compareStrings);
}

/** A zone started by other zones' fires (through their `policy.activates`). */
export interface ZoneActivation {
  readonly zone: string;
  /** The zones whose confirmed fire activates it, sorted. */
  readonly by: readonly string[];
}

/**
 * Which zones a confirmed fire activates through `policy.activates`, sorted by zone. Not transitive: a
 * zone activated by a neighbour activates nothing further (only its own confirmed fire would), so one
 * zone's evidence reaches only the zones it overlaps, never the whole site. "Confirmed" is the caller's
 * word: pass evaluations (the hub's display) or `{zone, fire}` from a held majority certificate (the
 * actuator). Zones not in `zones` are ignored. [FM-ZONE-EVAL-5]
 */
export function activatedZones(
  zones: readonly ZoneConfig[],
  evaluations: Iterable<Pick<ZoneEvaluation, 'zone' | 'fire'>>,
): readonly ZoneActivation[] {
  const byId = new Map(zones.map((z) => [z.id, z]));
  const firing = new Set<string>();
  for (const e of evaluations) if (e.fire && byId.has(e.zone)) firing.add(e.zone);
  const by = new Map<string, Set<string>>();
  for (const source of firing) {
    for (const target of (byId.get(source) as ZoneConfig).policy.activates) {
      if (target === source || !byId.has(target)) continue;
      const set = by.get(target) ?? new Set<string>();
      set.add(source);
      by.set(target, set);
    }
  }
  return [...by.keys()].sort(compareStrings).map((zone) => ({ zone, by: [...(by.get(zone) as Set<string>)].sort(compareStrings) }));
}

/** The isolated fallback's own evidence test for one node (whether its majority is out of sight is the caller's). */
export interface FallbackEvaluation {
  readonly zone: string;
  readonly node: string;
  readonly at: number;
  /** The zone's fallback is on and `node`'s own cameras give the strong evidence it asks for. */
  readonly fire: boolean;
  /** What is missing when not, in words. */
  readonly missing: readonly string[];
  /** The node's own cameras that saw it strongly enough, sorted. */
  readonly cameras: readonly string[];
  /** Their detection ids, sorted, capped as an evaluation's evidence is. */
  readonly detections: readonly string[];
}

/**
 * The opt-in isolated fallback's evidence for `node`: detections that count for the zone (the rules of
 * evaluateZone, the node check included, so another node claiming this node's camera counts for
 * nothing) from cameras configured on `node`, at least `isolatedFallback.minConfidence`, on at least
 * `isolatedFallback.minCameras` distinct cameras. Off unless the zone enables it. [FM-ZONE-EVAL-6]
 */
export function evaluateIsolatedFallback(zone: ZoneConfig, node: string, detections: Iterable<Detection>, now: number): FallbackEvaluation {
  const fb = zone.policy.isolatedFallback;
  const own = new Map(zone.cameras.filter((c) => c.node === node).map((c) => [c.id, c]));
  const { best, ids } = bestPerCamera(detections, (d) => {
    const camera = own.get(d.camera);
    return camera !== undefined && counts(zone, d, now, camera) && d.confidence >= fb.minConfidence;
  });
  const cameras = [...best.keys()].sort(compareStrings);
  const missing: string[] = [];
  if (!fb.enabled) missing.push('isolated fallback off');
  if (cameras.length < fb.minCameras) missing.push(`${cameras.length} of ${fb.minCameras} own cameras at ${fb.minConfidence}`);
  return {
    zone: zone.id,
    node,
    at: now,
    fire: missing.length === 0,
    missing,
    cameras,
    detections: cappedEvidence(
      cameras.map((c) => (best.get(c) as { id: string }).id),
      ids,
    ),
  };
}
