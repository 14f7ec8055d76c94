// What the zone engine sends and hears (zone frames, as objects: encoding is the link's business) and the
// ports it needs: the link and the store of epochs. [FM-ZONE-ENGINE]

import type { Detection } from '../../protocol/consensus/types.js';
import type { ZoneFrame } from '../../protocol/consensus/zone-frames.js';

/**
 * The engine speaks zone frames (protocol/consensus/zone-frames.ts): every frame names its zone and
 * carries the sender's epoch of it, so every node adopts the highest epoch it hears of (fencing spreads
 * with the traffic). [FM-ZONE-ENGINE-1]
 */
export type ZoneMessage = ZoneFrame;

/** The zone of a message. */
export function messageZone(m: ZoneMessage): string {
  return m.type === 'vote' ? m.vote.zone : m.zone;
}

/** The epoch a message carries. */
export function messageEpoch(m: ZoneMessage): number {
  return m.type === 'vote' ? m.vote.epoch : m.epoch;
}

/** FNV-1a of a detection's origin and id: the 4 bytes a `held` frame spends per acknowledged detection. */
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
