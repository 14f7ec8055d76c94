// The zone datagram: a zone frame on a shared UDP segment, in an envelope that names the site and the
// sending node (extended frame type 24). A broker topic names the sender; a datagram has nothing but its
// bytes, so the envelope carries the sender's node id beside the frame. The id is claimed, not proven.
// Decoding never throws. [FM-ZONE-FRAME-10] in docs/protocol.md.

import { isValidId } from '../../kit/index.js';
import { ByteReader, ByteWriter, FrameError } from '../codec.js';
import { PROTOCOL_VERSION } from '../frames.js';
import { decodeZoneFrame, MAX_ZONE_FRAME_BYTES, type ZoneFrame } from './zone-frames.js';
import { MAX_ZONE_CERTIFICATE_BYTES, ZONE_SIGNATURE_OVERHEAD_BYTES, type ZoneFrameSignature } from './zone-signature.js';

/** [FM-ZONE-FRAME-10] The extended frame type of a zone datagram (0x10 then varint 24). */
export const ZONE_DATAGRAM_TYPE = 24;
/** Site and node ids are at most 63 bytes ([FM-TOPIC-2]). */
const MAX_ID_BYTES = 63;
/** The largest payload a zone datagram carries: a signed zone frame ([FM-ZONE-SIGN-1]), or a certificate. */
const MAX_PAYLOAD_BYTES = Math.max(MAX_ZONE_FRAME_BYTES + ZONE_SIGNATURE_OVERHEAD_BYTES, MAX_ZONE_CERTIFICATE_BYTES + 2);
/** The largest zone datagram: the largest payload and its envelope. */
export const MAX_ZONE_DATAGRAM_BYTES = MAX_PAYLOAD_BYTES + 2 + 2 * (1 + MAX_ID_BYTES);

export interface ZoneDatagram {
  /** The site of the sender: a receiver ignores other sites' datagrams on a shared segment. */
  readonly site: string;
  /** The sending node's id, as it claims it (UDP authenticates nobody). */
  readonly sender: string;
  readonly frame: ZoneFrame;
  /** The frame's own bytes, as carried (for counting by type without encoding again). */
  readonly frameBytes: Uint8Array;
  /** The frame's signature, when it came signed ([FM-ZONE-SIGN-1]); checking it is the receiver's. */
  readonly signature?: ZoneFrameSignature;
}

export type ZoneDatagramResult =
  | { readonly ok: true; readonly datagram: ZoneDatagram }
  | { readonly ok: false; readonly error: FrameError };

/**
 * Wraps an encoded zone frame (`encodeZoneFrame`) for the segment: `0x10`, varint 24, `site` string,
 * `sender` string, then the frame's bytes to the end of the datagram. Throws RangeError for an id that is
 * not a valid site or node id, so a datagram that leaves always decodes.
 */
export function encodeZoneDatagram(site: string, sender: string, frame: Uint8Array): Uint8Array {
  if (!isValidId(site)) throw new RangeError(`site "${site}" is not a valid id`);
  if (!isValidId(sender)) throw new RangeError(`sender "${sender}" is not a valid id`);
  if (frame.length > MAX_PAYLOAD_BYTES) throw new RangeError(`zone datagram payload of ${frame.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  const w = new ByteWriter(frame.length + 4 + site.length + sender.length);
  w.u8(PROTOCOL_VERSION << 4)
    .varint(ZONE_DATAGRAM_TYPE)
    .string(site)
    .string(sender);
  const head = w.finish();
  const out = new Uint8Array(head.length + frame.length);
  out.set(head);
  out.set(frame, head.length);
  return out;
}

/** Whether a datagram's first bytes name a zone datagram (the link's demultiplexer asks this; no decoding). */
export function isZoneDatagram(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === PROTOCOL_VERSION << 4 && bytes[1] === ZONE_DATAGRAM_TYPE;
}

function readId(r: ByteReader, what: string): string {
  const at = r.offset;
  const id = r.string(what, MAX_ID_BYTES);
  if (!isValidId(id)) throw new FrameError('malformed', `${what} "${id}" is not a valid id`, at);
  return id;
}

/**
 * Opens a zone datagram's envelope only: the site, the sender and the payload's bytes (a zone frame, signed or
 * not, or a certificate control frame [FM-ZONE-SIGN-3]). Never throws.
 */
export function openZoneDatagram(
  bytes: Uint8Array,
): { ok: true; site: string; sender: string; payload: Uint8Array; at: number } | { ok: false; error: FrameError } {
  try {
    if (bytes.length > MAX_ZONE_DATAGRAM_BYTES)
      throw new FrameError(
        'oversized',
        `zone datagram of ${bytes.length} bytes exceeds ${MAX_ZONE_DATAGRAM_BYTES}`,
        MAX_ZONE_DATAGRAM_BYTES,
      );
    const r = new ByteReader(bytes);
    const first = r.u8('frame header');
    if (first >> 4 !== PROTOCOL_VERSION)
      throw new FrameError('version', `protocol version ${first >> 4}, this build speaks ${PROTOCOL_VERSION}`, 0);
    if ((first & 0x0f) !== 0) throw new FrameError('malformed', `frame type ${first & 0x0f} is not a zone datagram`, 0);
    const typeAt = r.offset;
    const type = r.varint('frame type');
    if (type !== ZONE_DATAGRAM_TYPE) throw new FrameError('malformed', `frame type ${type} is not a zone datagram`, typeAt);
    const site = readId(r, 'site');
    const sender = readId(r, 'sender');
    const at = r.offset;
    const payload = bytes.subarray(at);
    if (payload.length === 0) throw new FrameError('truncated', 'no zone frame after the envelope', at);
    return { ok: true, site, sender, payload, at };
  } catch (err) {
    if (err instanceof FrameError) return { ok: false, error: err };
    return { ok: false, error: new FrameError('malformed', String(err), 0) };
  }
}

/**
 * Decodes a zone datagram: the envelope, then the zone frame it carries ([FM-ZONE-FRAME-1..8]). Never
 * throws; a bad envelope or frame comes back with its reason and byte offset (of the datagram).
 */
export function decodeZoneDatagram(bytes: Uint8Array): ZoneDatagramResult {
  const opened = openZoneDatagram(bytes);
  if (!opened.ok) return opened;
  const { site, sender, payload: frameBytes, at } = opened;
  const inner = decodeZoneFrame(frameBytes);
  if (!inner.ok) {
    const e = inner.error;
    return { ok: false, error: new FrameError(e.reason, `zone frame: ${e.message.replace(/ \(at byte \d+\)$/, '')}`, at + e.offset) };
  }
  return {
    ok: true,
    datagram: { site, sender, frame: inner.frame, frameBytes, ...(inner.signature === undefined ? {} : { signature: inner.signature }) },
  };
}
