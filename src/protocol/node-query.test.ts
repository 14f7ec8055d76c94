// Query and reply frames: round trips, refusal (never a throw) of truncated or corrupt bytes, the
// extended type header and the body bound. [FM-FRAME-1] [FM-QUERY-1] [FM-QUERY-2]
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeWireFrame, encodeQuery, encodeReply, FrameType, MAX_FRAME_BYTES, PROTOCOL_VERSION } from './frames.js';
import {
  MAX_QUERY_PARAMS,
  MAX_REPLY_BODY_BYTES,
  NODE_QUERY_KINDS,
  type QueryFrame,
  REPLY_STATUSES,
  type ReplyFrame,
} from './node-query.js';

const idArb = fc.string({ minLength: 1, maxLength: 16 });
const queryArb: fc.Arbitrary<QueryFrame> = fc.record({
  type: fc.constant('query' as const),
  requestId: idArb,
  kind: fc.constantFrom(...NODE_QUERY_KINDS),
  timeoutMs: fc.integer({ min: 0, max: 600_000 }),
  params: fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 200 })), { maxLength: 8 }),
});
const replyArb: fc.Arbitrary<ReplyFrame> = fc.record({
  type: fc.constant('reply' as const),
  requestId: idArb,
  status: fc.constantFrom(...REPLY_STATUSES),
  body: fc.uint8Array({ maxLength: 2_000 }),
});

/** Plain-object copy: fast-check builds null-prototype records. */
const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (_k, v) => (v instanceof Uint8Array ? [...v] : v)));

test('node query: a query request decodes to exactly what was encoded', () => {
  fc.assert(
    fc.property(queryArb, (query) => {
      const decoded = decodeWireFrame(encodeQuery(query));
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      assert.deepEqual(plain(decoded.frame), plain(query));
    }),
  );
});

test('node query: a reply decodes to exactly what was encoded, body bytes included', () => {
  fc.assert(
    fc.property(replyArb, (reply) => {
      const decoded = decodeWireFrame(encodeReply(reply));
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      assert.ok(decoded.frame.type === 'reply');
      assert.deepEqual([...decoded.frame.body], [...reply.body]);
      assert.deepEqual(plain(decoded.frame), plain(reply));
    }),
  );
});

test('node query: every truncation of a query or a reply is refused as truncated or malformed, never thrown', () => {
  fc.assert(
    fc.property(fc.oneof(queryArb.map(encodeQuery), replyArb.map(encodeReply)), fc.nat(), (bytes, cut) => {
      const at = cut % bytes.length;
      const result = decodeWireFrame(bytes.subarray(0, at));
      assert.equal(result.ok, false);
      if (!result.ok) {
        assert.ok(['truncated', 'malformed'].includes(result.error.reason), result.error.message);
        assert.ok(result.error.offset >= 0 && result.error.offset <= at);
      }
    }),
  );
});

test('node query: random bytes behind a query or reply header are refused with a reason and offset, never thrown', () => {
  const heads = [FrameType.query, FrameType.reply].map((t) => [(PROTOCOL_VERSION << 4) | 0, t]);
  fc.assert(
    fc.property(fc.constantFrom(...heads), fc.uint8Array({ maxLength: 200 }), (head, tail) => {
      const bytes = new Uint8Array([...head, ...tail]);
      const result = decodeWireFrame(bytes);
      if (!result.ok) {
        assert.ok(['truncated', 'malformed'].includes(result.error.reason));
        assert.ok(result.error.offset >= 0 && result.error.offset <= bytes.length);
        assert.match(result.error.code, /^FM_FRAME_/);
      }
    }),
    { numRuns: 5000 },
  );
});

test('node query: the type goes as nibble 0 plus a varint; an extended type below 16 or unknown is malformed', () => {
  const bytes = encodeQuery({ requestId: 'r1', kind: 'ping', timeoutMs: 5_000, params: [['nonce', 'n1']] });
  assert.deepEqual([...bytes.subarray(0, 2)], [PROTOCOL_VERSION << 4, 16]);
  for (const type of [3, 15, 99]) {
    const result = decodeWireFrame(new Uint8Array([PROTOCOL_VERSION << 4, type, ...bytes.subarray(2)]));
    assert.equal(!result.ok && result.error.reason, 'malformed', `extended type ${type}`);
  }
  // A non-minimal varint type (16 as two bytes) is malformed too, as every varint.
  const padded = decodeWireFrame(new Uint8Array([PROTOCOL_VERSION << 4, 0x90, 0x00, ...bytes.subarray(2)]));
  assert.equal(!padded.ok && padded.error.reason, 'malformed');
});

test('node query: empty ids, unknown kinds and statuses, too many parameters are malformed at their byte', () => {
  const emptyId = decodeWireFrame(new Uint8Array([PROTOCOL_VERSION << 4, 16, 0, 0, 0, 0]));
  assert.equal(!emptyId.ok && emptyId.error.reason, 'malformed');
  assert.equal(!emptyId.ok && emptyId.error.offset, 2);
  const badKind = decodeWireFrame(new Uint8Array([PROTOCOL_VERSION << 4, 16, 1, 0x61, 7, 0, 0]));
  assert.equal(!badKind.ok && badKind.error.reason, 'malformed');
  assert.equal(!badKind.ok && badKind.error.offset, 4);
  const badStatus = decodeWireFrame(new Uint8Array([PROTOCOL_VERSION << 4, 17, 1, 0x61, 2, 0]));
  assert.equal(!badStatus.ok && badStatus.error.reason, 'malformed');
  const manyParams = decodeWireFrame(new Uint8Array([PROTOCOL_VERSION << 4, 16, 1, 0x61, 0, 0, MAX_QUERY_PARAMS + 1]));
  assert.equal(!manyParams.ok && manyParams.error.reason, 'malformed');
  assert.throws(() => encodeQuery({ requestId: '', kind: 'ping', timeoutMs: 0, params: [] }), RangeError);
});

test('node query: a reply body is bounded so the frame fits; a larger one is refused by encoder and decoder', () => {
  const largest = encodeReply({ requestId: 'x'.repeat(64), status: 'ok', body: new Uint8Array(MAX_REPLY_BODY_BYTES) });
  assert.ok(largest.length <= MAX_FRAME_BYTES, `${largest.length} bytes`);
  assert.ok(decodeWireFrame(largest).ok);
  assert.throws(() => encodeReply({ requestId: 'r', status: 'ok', body: new Uint8Array(MAX_REPLY_BODY_BYTES + 1) }), RangeError);
  // A frame announcing a larger body is malformed even when the bytes are all there.
  const head = [PROTOCOL_VERSION << 4, 17, 1, 0x72, 0];
  const len = MAX_REPLY_BODY_BYTES + 1;
  const varint = [(len & 0x7f) | 0x80, ((len >> 7) & 0x7f) | 0x80, len >> 14];
  const result = decodeWireFrame(new Uint8Array([...head, ...varint, ...new Uint8Array(len)]));
  assert.equal(!result.ok && result.error.reason, 'malformed');
});
