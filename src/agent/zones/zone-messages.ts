// What the zone engine sends and hears: its messages as objects, and the ports it needs (the link, the
// epoch store, the pumps it drives). Encoding for the radio is the link's business. [FM-ZONE-ENGINE]

import type { ActuationCause, Detection, Vote } from '../../protocol/consensus/types.js';
import type { PumpAction } from '../actuators/pump-controller.js';

/**
 * A message of one zone. Every message carries the zone and the sender's epoch of it, so every node
 * adopts the highest epoch it hears of (fencing spreads with the traffic). [FM-ZONE-ENGINE-1]
 */
export type ZoneMessage =
  /** A detection of a camera of the zone, from the node that runs the camera (re-sent until acknowledged). */
  | { readonly kind: 'detection'; readonly zone: string; readonly epoch: number; readonly detection: Detection }
  /**
   * Acknowledgements: 32-bit hashes (`detectionKey`) of the in-window detections of other nodes the sender
   * holds for the zone. Sent on the tick after the sender heard a detection (new or repeated), so it costs
   * nothing while no detection flows. [FM-ZONE-ENGINE-2]
   */
  | { readonly kind: 'held'; readonly zone: string; readonly epoch: number; readonly keys: readonly number[] }
  /** A voter's vote; `vote.zone` and `vote.epoch` are the zone and epoch. */
  | { readonly kind: 'vote'; readonly vote: Vote }
  /** The zone's epoch: after `elect`, and in answer to a message of an older epoch. */
  | { readonly kind: 'epoch'; readonly zone: string; readonly epoch: number }
  /** A pump owner's pump state, on change (for status views on other nodes). */
  | {
      readonly kind: 'pump-state';
      readonly zone: string;
      readonly epoch: number;
      readonly pump: string;
      readonly running: boolean;
      readonly cause: ActuationCause | null;
    }
  /** An operator's command to a pump, carried to its owner. */
  | {
      readonly kind: 'command';
      readonly zone: string;
      readonly epoch: number;
      readonly pump: string;
      readonly action: PumpAction;
      readonly by: string;
      readonly id: string;
    };

/** The zone of a message. */
export function messageZone(m: ZoneMessage): string {
  return m.kind === 'vote' ? m.vote.zone : m.zone;
}

/** The epoch a message carries. */
export function messageEpoch(m: ZoneMessage): number {
  return m.kind === 'vote' ? m.vote.epoch : m.epoch;
}

/** FNV-1a of a detection's origin and id: the 4 bytes a `held` message spends per acknowledged detection. */
export function detectionKey(d: Pick<Detection, 'node' | 'id'>): number {
  let h = 0x811c9dc5;
  const s = `${d.node}\0${d.id}`;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/**
 * The engine's link to the members of its zones: best effort and lossy. The link calls the engine's
 * `receive(message, sender)` with the sender's identity as the transport knows it (never a field of
 * the message), so a vote relayed or forged under another voter's name is refused.
 */
export interface ZoneLink {
  send(message: ZoneMessage): void;
}

/** Where the engine keeps each zone's epoch (and the counter's snapshot) across restarts. */
export interface ZoneStateStore {
  load(zone: string): StoredZoneState | undefined;
  save(zone: string, state: StoredZoneState): void;
}

export interface StoredZoneState {
  readonly epoch: number;
  /** The vote counter's snapshot (`ZoneVotes.snapshot()`), when this node counts the zone's votes. */
  readonly votes?: unknown;
}

/** An in-memory store (tests, the simulator: it survives a simulated restart when the runner keeps it). */
export class MemoryZoneStateStore implements ZoneStateStore {
  readonly #states = new Map<string, StoredZoneState>();
  load(zone: string): StoredZoneState | undefined {
    return this.#states.get(zone);
  }
  save(zone: string, state: StoredZoneState): void {
    this.#states.set(zone, structuredClone(state));
  }
}
