// Zone datagrams (type 24): the envelope round-trips every zone frame, names the site and sender, costs a few
// bytes, and every bad envelope or cut is refused with a reason and the offset in the datagram (never a
// throw); the awareness and broker decoders refuse it, and it is told apart from awareness frames by its
// first two bytes. [FM-ZONE-FRAME-10]
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ManualClock } from '../../kit/index.js';
import { decodeAwarenessFrame, encodePulse } from '../awareness.js';
import { decodeWireFrame } from '../frames.js';
import { decodeZoneDatagram, encodeZoneDatagram, isZoneDatagram, ZONE_DATAGRAM_TYPE } from './zone-datagram.js';
import { encodeZoneFrame, type ZoneFrame } from './zone-frames.js';

const T0 = new ManualClock().now();

const FRAMES: ZoneFrame[] = [
  {
    type: 'detection',
    zone: 'north-ridge',
    epoch: 3,
    detection: { id: 'd-17', camera: 'north-1', node: 'edge-north-01', class: 'fire', confidence: 0.9137, time: T0 },
  },
  {
    type: 'vote',
    vote: {
      zone: 'north-ridge',
      epoch: 3,
      voter: 'edge-east-01',
      configHash: '0123456789abcdef',
      boot: 4,
      seq: 12,
      time: T0,
      ttlMs: 6_000,
      evidence: ['d-17', 'd-18'],
    },
  },
  { type: 'epoch', zone: 'north-ridge', epoch: 4, by: 'olga', reason: 'elect' },
  { type: 'held', zone: 'north-ridge', epoch: 4, keys: [1, 0xffffffff] },
];

test('zone datagram: every zone frame round-trips with its site and sender; the envelope costs 2 bytes plus the two ids', () => {
  for (const frame of FRAMES) {
    const bytes = encodeZoneFrame(frame);
    const datagram = encodeZoneDatagram('ranch', 'edge-east-01', bytes);
    assert.equal(datagram.length, bytes.length + 2 + 1 + 'ranch'.length + 1 + 'edge-east-01'.length);
    assert.ok(isZoneDatagram(datagram));
    const decoded = decodeZoneDatagram(datagram);
    assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
    assert.equal(decoded.datagram.site, 'ranch');
    assert.equal(decoded.datagram.sender, 'edge-east-01');
    assert.deepEqual(decoded.datagram.frame, frame);
    assert.deepEqual([...decoded.datagram.frameBytes], [...bytes]);
  }
});

test('zone datagram: bad envelopes are refused with their reason and offset in the datagram', () => {
  const frame = encodeZoneFrame(FRAMES[2] as ZoneFrame);
  const good = encodeZoneDatagram('ranch', 'n1', frame);
  const cases: [string, Uint8Array, string, number][] = [
    ['empty', new Uint8Array(0), 'truncated', 0],
    ['version 2', Uint8Array.of(0x20, ZONE_DATAGRAM_TYPE), 'version', 0],
    ['a zone frame without envelope', frame, 'malformed', 1],
    ['site is not an id', Uint8Array.of(0x10, 24, 1, 0x21, 2, 0x6e, 0x31, ...frame), 'malformed', 2],
    ['sender is not an id', Uint8Array.of(0x10, 24, 1, 0x72, 2, 0x4e, 0x31, ...frame), 'malformed', 4],
    ['no frame after the envelope', good.slice(0, good.length - frame.length), 'truncated', good.length - frame.length],
    ['frame cut short (the epoch reason missing)', good.slice(0, -1), 'truncated', good.length - 1],
    ['trailing byte', Uint8Array.of(...good, 0), 'malformed', good.length],
  ];
  for (const [what, bytes, reason, offset] of cases) {
    const d = decodeZoneDatagram(bytes);
    assert.equal(d.ok, false, what);
    if (d.ok) continue;
    assert.equal(d.error.reason, reason, `${what}: ${d.error.message}`);
    assert.equal(d.error.offset, offset, `${what}: ${d.error.message}`);
  }
  assert.throws(() => encodeZoneDatagram('Ranch!', 'n1', frame), RangeError);
  assert.throws(() => encodeZoneDatagram('ranch', '', frame), RangeError);
});

test('zone datagram: random bytes and every cut never throw', () => {
  const good = encodeZoneDatagram('ranch', 'edge-east-01', encodeZoneFrame(FRAMES[1] as ZoneFrame));
  for (let n = 0; n < good.length; n++) assert.equal(decodeZoneDatagram(good.slice(0, n)).ok, false, `cut at ${n}`);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const d = decodeZoneDatagram(Uint8Array.of(0x10, 24, ...bytes));
      return d.ok || typeof d.error.reason === 'string';
    }),
  );
});

test('zone datagram: apart from awareness frames by its first bytes; the awareness and broker decoders refuse it', () => {
  const datagram = encodeZoneDatagram('ranch', 'n1', encodeZoneFrame(FRAMES[0] as ZoneFrame));
  const pulse = encodePulse({ origin: 7, hops: 0, session: 1, seq: 1, entries: [], suspects: [] });
  assert.equal(isZoneDatagram(pulse), false);
  assert.equal(decodeAwarenessFrame(datagram).ok, false);
  assert.equal(decodeWireFrame(datagram).ok, false);
});
