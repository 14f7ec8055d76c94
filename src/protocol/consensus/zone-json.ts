// The JSON rendering of zone frames ([FM-ZONE-FRAME-3..8]), for `fieldmesh sub --json` and debugging, never
// for the wire: times as RFC 3339, like the other frames' renderings (docs/protocol.md §9).

import type { ZoneFrame } from './zone-frames.js';

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** A zone frame as JSON: every field of the frame, times as RFC 3339. */
export function zoneFrameToJson(frame: ZoneFrame): Record<string, unknown> {
  switch (frame.type) {
    case 'detection':
      return { ...frame, detection: { ...frame.detection, time: iso(frame.detection.time) } };
    case 'vote':
      return { ...frame, vote: { ...frame.vote, time: iso(frame.vote.time) } };
    case 'pumpState':
      return {
        ...frame,
        since: iso(frame.since),
        ...(frame.leaseUntil === undefined ? {} : { leaseUntil: iso(frame.leaseUntil) }),
      };
    case 'command':
      return { ...frame, time: iso(frame.time) };
    case 'epoch':
    case 'held':
      return { ...frame };
  }
}
