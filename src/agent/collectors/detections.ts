// Detector output as detection events: Frigate's `frigate/events` messages, the seed's score-per-topic
// messages (`frigate/<camera>/fire`), and pushed JSON all become one shape, an event of kind
// `detection` whose payload is a `Detection` (protocol/consensus/types.ts). Zones count them. [FM-ZONE-DETECT]

import type { Detection } from '../../protocol/consensus/types.js';
import type { AgentEvent } from './collector.js';

/** The event kind that carries a detection. */
export const DETECTION_KIND = 'detection';

const MAX_ID_BYTES = 128;
const MAX_NAME_BYTES = 64;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function name(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '' || v.length > MAX_NAME_BYTES)
    throw new DetectionShapeError(what, `expected a string of 1 to ${MAX_NAME_BYTES} characters`);
  return v;
}

/** A detection payload that cannot be used; `path` names the field at fault. */
export class DetectionShapeError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

function box(v: unknown): Detection['box'] {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length !== 4 || !v.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0))
    throw new DetectionShapeError('box', 'expected [x, y, width, height], four numbers of 0 or more');
  return [v[0], v[1], v[2], v[3]] as const;
}

/**
 * The detection in a pushed or relayed payload `{camera, class, confidence, time?, box?, id?}` of
 * `node`, seen at `time` unless it says when. Throws DetectionShapeError naming the field at fault.
 */
export function detectionOf(payload: unknown, node: string, time: number, id?: string): Detection {
  if (!isObject(payload)) throw new DetectionShapeError('(root)', 'expected an object');
  const confidence = payload.confidence;
  if (typeof confidence !== 'number' || !(confidence >= 0 && confidence <= 1))
    throw new DetectionShapeError('confidence', 'expected a number from 0 to 1');
  const at = payload.time === undefined ? time : payload.time;
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0)
    throw new DetectionShapeError('time', 'expected milliseconds since the epoch');
  const given = payload.id ?? id;
  if (given !== undefined && (typeof given !== 'string' || given === '' || given.length > MAX_ID_BYTES))
    throw new DetectionShapeError('id', `expected a string of 1 to ${MAX_ID_BYTES} characters`);
  const camera = name(payload.camera, 'camera');
  const cls = name(payload.class, 'class');
  const b = box(payload.box);
  return {
    id: (given as string | undefined) ?? `${node}:${camera}:${at}`,
    camera,
    node,
    class: cls,
    confidence,
    time: at,
    ...(b === undefined ? {} : { box: b }),
  };
}

/** The event that carries a detection: critical, so it is never dropped on its way to the hub. */
export function detectionEvent(d: Detection): AgentEvent {
  return { id: d.id, kind: DETECTION_KIND, priority: 'critical', time: d.time, payload: d };
}

/**
 * A detection from one of Frigate's `frigate/events` messages (docs.frigate.video/integrations/mqtt):
 * the tracked object in `after`, at its `frame_time` (seconds), `top_score` or `score` as the
 * confidence, the box converted from corners to [x, y, width, height]. Undefined for messages that are
 * no detection: an `end`, a false positive, or a label the zone does not ask about (`labels`).
 */
export function detectionOfFrigateEvent(message: unknown, node: string, labels: readonly string[]): Detection | undefined {
  if (!isObject(message)) throw new DetectionShapeError('(root)', 'expected a Frigate event object');
  if (message.type === 'end') return undefined;
  const after = message.after;
  if (!isObject(after)) throw new DetectionShapeError('after', 'expected the tracked object');
  if (after.false_positive === true) return undefined;
  const label = name(after.label, 'after.label');
  if (labels.length > 0 && !labels.includes(label)) return undefined;
  const seconds = typeof after.frame_time === 'number' ? after.frame_time : after.start_time;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0)
    throw new DetectionShapeError('after.frame_time', 'expected seconds since the epoch');
  const score = typeof after.score === 'number' ? after.score : after.top_score;
  let b: Detection['box'];
  if (Array.isArray(after.box) && after.box.length === 4 && after.box.every((n) => typeof n === 'number')) {
    const [x1, y1, x2, y2] = after.box as number[];
    b = [x1 as number, y1 as number, Math.max(0, (x2 as number) - (x1 as number)), Math.max(0, (y2 as number) - (y1 as number))];
  }
  const time = Math.round(seconds * 1000);
  // Frigate sends the same object id on every update: one detection per observed frame.
  const id = `frigate:${name(after.id, 'after.id')}:${time}`;
  return detectionOf({ camera: after.camera, class: label, confidence: score, time, id, box: b }, node, time);
}
