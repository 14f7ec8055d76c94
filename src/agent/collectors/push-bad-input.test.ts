// Bad input on the push endpoints (InfluxDB line protocol on /write and /api/v2/write, JSON on
// /events): a corpus derived from the InfluxDB line-protocol reference and RFC 8259, each case with
// the answer it must get (a 4xx with a stable code naming the line or element), the counter reason
// it must bump, and nothing recorded. Add a row to extend it. Good inputs close to the bad ones
// must still pass.
// calendar: the collectors and the test context (which holds samples to the store window) read a manual clock; the dates are relative to it or are parser input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { type ErrorCode, ManualClock } from '../../kit/index.js';
import type { RejectReason } from './collector.js';
import { createHttpPushCollector, httpPushCollectorSchema } from './http-push.js';
import { createInfluxCollector, influxCollectorSchema } from './influx.js';
import { createTestContext } from './test-context.js';

const TOKEN = 'tok';
const MAX_BODY = 4096;
/** Now, to the whole second (the precision=s cases need an integer), on the collectors' manual clock. */
const NOW_MS = Math.floor(Date.now() / 1000) * 1000;
/** NOW_MS written in RFC 3339 with a +01:00 offset: the wall time an hour ahead of UTC. */
const NOW_PLUS_ONE_HOUR = `${new Date(NOW_MS + 3_600_000).toISOString().slice(0, 19)}+01:00`;
const NOW_S = NOW_MS / 1000;
const NOW_NS = BigInt(NOW_MS) * 1_000_000n;

interface BadInput {
  /** `line`: sent to /write and /api/v2/write; `json`: sent to /events. */
  readonly to: 'line' | 'json';
  readonly what: string;
  readonly body: string | Buffer;
  /** Query string after `?` (line protocol: besides db/org/bucket). */
  readonly query?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Leave out the Authorization header. */
  readonly noAuth?: boolean;
  readonly status: number;
  readonly code: ErrorCode;
  readonly reason: RejectReason;
  /** What the message must say: the line and column, or the element's path. */
  readonly says: RegExp;
}

const bytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
const digits400 = `1${'0'.repeat(399)}`;

const LINE = 'FM_LINE_PROTOCOL_INVALID';
const JSON_INVALID = 'FM_PUSH_INVALID';

/** InfluxDB line protocol reference: timestamps, numeric ranges, types, keys, escaping, encoding. */
// biome-ignore format: one case a line reads as a table
const LINE_CASES: BadInput[] = [
  // Timestamps: int64 in the request's precision; fieldmesh holds [1970, 2^52 ms].
  { to: 'line', what: 'a nanosecond timestamp with precision=s', body: `m v=1 ${NOW_NS}`, query: 'precision=s', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 7: .*after the year 144683.*precision ns/ },
  { to: 'line', what: 'a nanosecond timestamp with precision=ms', body: `m v=1 ${NOW_NS}`, query: 'precision=ms', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 7: .*precision ns/ },
  { to: 'line', what: 'a negative timestamp', body: 'm v=1 -1', query: 'precision=s', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 7: .*before 1970/ },
  { to: 'line', what: 'a timestamp past int64', body: `m v=1\nm v=2 9223372036854775808`, status: 400, code: LINE, reason: 'invalid', says: /^line 2, column 7: .*int64/ },
  { to: 'line', what: 'a 20-digit timestamp', body: 'm v=1 12345678901234567890', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 7: invalid timestamp/ },
  { to: 'line', what: 'a float timestamp', body: `m v=1 ${NOW_S}.5`, query: 'precision=s', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 7: invalid timestamp/ },
  { to: 'line', what: 'a timestamp in scientific notation', body: 'm v=1 1.7e18', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 7: invalid timestamp/ },
  { to: 'line', what: 'two timestamps', body: `m v=1 ${NOW_NS} ${NOW_NS}`, status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 7: invalid timestamp/ },
  // Floats are IEEE-754 64-bit; integers int64 (`i`); unsigned uint64 (`u`).
  { to: 'line', what: 'a float that overflows to +Infinity', body: 'm v=1e400', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: float 1e400 is out of range/ },
  { to: 'line', what: 'a float that overflows to -Infinity', body: 'm v=-1e400', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: float -1e400 is out of range/ },
  { to: 'line', what: 'a 400-digit float', body: `m v=${digits400}`, status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: float 1000.* is out of range/ },
  { to: 'line', what: 'a 400-digit integer', body: `m v=${digits400}i`, status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: .*int64 range/ },
  { to: 'line', what: 'an integer past int64', body: 'm v=9223372036854775808i', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: .*int64 range/ },
  { to: 'line', what: 'an unsigned past uint64', body: 'm v=18446744073709551616u', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: .*uint64 range/ },
  { to: 'line', what: 'a negative unsigned', body: 'm v=-1u', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: invalid field value "-1u"/ },
  { to: 'line', what: 'NaN', body: 'm v=NaN', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: invalid field value "NaN"/ },
  { to: 'line', what: 'Inf', body: 'm v=+Inf', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: invalid field value/ },
  { to: 'line', what: 'a hexadecimal number', body: 'm v=0x10', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: invalid field value "0x10"/ },
  { to: 'line', what: 'two decimal points', body: 'm v=1.2.3', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: invalid field value/ },
  { to: 'line', what: 'a misspelt boolean', body: 'm v=tru', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: invalid field value "tru"/ },
  // Keys: a tag or field once per line; one type per field and measurement in a batch (InfluxDB: "field type conflict").
  { to: 'line', what: 'the same tag twice in one line', body: 'm v=1\nm,host=a,host=b v=1', status: 400, code: LINE, reason: 'invalid', says: /^line 2, column 10: tag key "host" appears twice/ },
  { to: 'line', what: 'the same field twice in one line', body: 'm v=1,v=2', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 7: field key "v" appears twice/ },
  { to: 'line', what: 'a field as float then integer', body: 'm v=1\nm v=2i', status: 400, code: LINE, reason: 'invalid', says: /^line 2, column 5: field type conflict.*an integer here and a float on line 1/ },
  { to: 'line', what: 'a field as integer then unsigned', body: 'm v=1i\nm v=1u', status: 400, code: LINE, reason: 'invalid', says: /^line 2, column 5: field type conflict/ },
  { to: 'line', what: 'a field as string then boolean', body: 'm s="on"\n\nm s=true', status: 400, code: LINE, reason: 'invalid', says: /^line 3, column 5: field type conflict.*a boolean here and a string on line 1/ },
  { to: 'line', what: 'two tag keys that become one label', body: 'm,a-b=1,a_b=2 v=1', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 1: tag keys "a-b" and "a_b" both become label a_b/ },
  { to: 'line', what: 'two fields that become one series', body: 'm a.b=1,a_b=2', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 1: fields "a.b" and "a_b" both become series m_a_b/ },
  { to: 'line', what: 'a reserved label name', body: 'm,__name__=x v=1', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 1: tag key "__name__" is reserved/ },
  { to: 'line', what: 'an empty tag value', body: 'm,host= v=1', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 8: missing value of tag "host"/ },
  { to: 'line', what: 'no field', body: 'm,host=a', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 9: missing fields/ },
  { to: 'line', what: 'no measurement', body: ',host=a v=1', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 1: missing measurement/ },
  { to: 'line', what: 'an unescaped space in a tag value', body: 'm,host=a b v=1', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 11: missing '=' after field key "b"/ },
  { to: 'line', what: 'an unescaped comma in a field key', body: 'm a,b=1', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 4: missing '=' after field key "a"/ },
  { to: 'line', what: 'an unterminated string', body: 'm s="open', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: unterminated string/ },
  { to: 'line', what: 'a raw newline in a string field', body: 'm s="two\nlines"', status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: unterminated string/ },
  { to: 'line', what: 'a single-quoted string', body: "m s='x'", status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: invalid field value "'x'"/ },
  // Line protocol is UTF-8.
  { to: 'line', what: 'invalid UTF-8 in a tag value', body: bytes('m,host=', [0xff], ' v=1'), status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 8: invalid UTF-8 at byte 7$/ },
  { to: 'line', what: 'invalid UTF-8 in a string field on line 3', body: bytes('m v=1\nm v=2\nm s="caf', [0xe9], '"'), status: 400, code: LINE, reason: 'invalid', says: /^line 3, column 9: invalid UTF-8 at byte 20$/ },
  { to: 'line', what: 'invalid UTF-8 in a measurement after a valid é', body: bytes('é', [0xc0, 0xaf], ' v=1'), status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 2: invalid UTF-8 at byte 2$/ },
  { to: 'line', what: 'a UTF-8 encoded surrogate', body: bytes('m,t=', [0xed, 0xa0, 0x80], ' v=1'), status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: invalid UTF-8/ },
  { to: 'line', what: 'a code point past U+10FFFF', body: bytes('m,t=', [0xf4, 0x90, 0x80, 0x80], ' v=1'), status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 5: invalid UTF-8/ },
  { to: 'line', what: 'a truncated sequence at the end', body: bytes('m v=1 #', [0xe2, 0x82]), status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 8: invalid UTF-8 at byte 7$/ },
  { to: 'line', what: 'a UTF-16 body', body: Buffer.from('\ufeffm v=1', 'utf16le'), status: 400, code: LINE, reason: 'invalid', says: /^line 1, column 1: invalid UTF-8 at byte 0$/ },
  // Content-Encoding: gzip or nothing.
  { to: 'line', what: 'Content-Encoding br', body: 'm v=1', headers: { 'content-encoding': 'br' }, status: 415, code: 'FM_PUSH_ENCODING_UNSUPPORTED', reason: 'unsupported-encoding', says: /"br" is not supported/ },
  { to: 'line', what: 'Content-Encoding deflate', body: 'm v=1', headers: { 'content-encoding': 'deflate' }, status: 415, code: 'FM_PUSH_ENCODING_UNSUPPORTED', reason: 'unsupported-encoding', says: /"deflate"/ },
  { to: 'line', what: 'gzip then br', body: gzipSync('m v=1'), headers: { 'content-encoding': 'gzip, br' }, status: 415, code: 'FM_PUSH_ENCODING_UNSUPPORTED', reason: 'unsupported-encoding', says: /"gzip, br"/ },
  { to: 'line', what: 'gzip twice', body: gzipSync(gzipSync('m v=1')), headers: { 'content-encoding': 'gzip, gzip' }, status: 415, code: 'FM_PUSH_ENCODING_UNSUPPORTED', reason: 'unsupported-encoding', says: /"gzip, gzip"/ },
  { to: 'line', what: 'gzip announced, plain sent', body: 'm v=1', headers: { 'content-encoding': 'gzip' }, status: 400, code: LINE, reason: 'invalid', says: /gzip body could not be decompressed/ },
  { to: 'line', what: 'a gzip body that inflates past the limit', body: gzipSync('m v=1\n'.repeat(2 * MAX_BODY)), headers: { 'content-encoding': 'gzip' }, status: 413, code: 'FM_PUSH_TOO_LARGE', reason: 'too-large', says: /decompressed body is larger than 4096 bytes/ },
  { to: 'line', what: 'a body past the limit', body: 'm v=1\n'.repeat(MAX_BODY), status: 413, code: 'FM_PUSH_TOO_LARGE', reason: 'too-large', says: /body is larger than 4096 bytes/ },
  // Authentication: only what docs/collectors.md names; a token in the URL is not one of them.
  { to: 'line', what: 'the token as ?token=', body: 'm v=1', query: `token=${TOKEN}`, noAuth: true, status: 401, code: 'FM_PUSH_UNAUTHORIZED', reason: 'unauthorized', says: /missing token/ },
  { to: 'line', what: 'the token as ?p= with a wrong value', body: 'm v=1', query: 'u=x&p=nope', noAuth: true, status: 401, code: 'FM_PUSH_UNAUTHORIZED', reason: 'unauthorized', says: /wrong token/ },
];

/** RFC 8259: grammar, numbers (section 6), unique names (section 4), Unicode (sections 8.1, 8.2); and the body shape of docs/collectors.md. */
// biome-ignore format: one case a line reads as a table
const JSON_CASES: BadInput[] = [
  // Numbers: finite float64 only, no NaN, Infinity, leading zeros or plus signs.
  { to: 'json', what: 'a metric that overflows to +Infinity', body: '{"metrics":{"rtt":1e400}}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^metrics\.rtt: the number 1e400 is beyond the range of a 64-bit float$/ },
  { to: 'json', what: 'a metric that overflows to -Infinity', body: '[{"kind":"a"},{"metrics":{"rtt":-1e400}}]', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^\[1\]\.metrics\.rtt: the number -1e400/ },
  { to: 'json', what: 'a 400-digit metric', body: `{"metrics":{"rtt":${digits400}}}`, status: 400, code: JSON_INVALID, reason: 'invalid', says: /^metrics\.rtt: the number 100000000000…\(400 characters\)/ },
  { to: 'json', what: 'NaN', body: '{"metrics":{"rtt":NaN}}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid JSON/ },
  { to: 'json', what: 'Infinity', body: '{"metrics":{"rtt":Infinity}}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid JSON/ },
  { to: 'json', what: 'a leading zero', body: '{"metrics":{"rtt":01}}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid JSON/ },
  { to: 'json', what: 'a leading plus', body: '{"metrics":{"rtt":+1}}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid JSON/ },
  { to: 'json', what: 'a metric as a numeric string', body: '{"metrics":{"rtt":"0.03"}}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^metrics\.rtt: expected a number$/ },
  // Times: ms since the epoch or RFC 3339, from 1970 to what the store holds.
  { to: 'json', what: 'time 1e30', body: '{"metrics":{"rtt":1},"time":1e30}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^time: expected milliseconds .* \(got 1e\+30\)$/ },
  { to: 'json', what: 'time -1', body: '[{"kind":"a"},{"metrics":{"rtt":1},"time":-1}]', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^\[1\]\.time: expected milliseconds .* \(got -1\)$/ },
  { to: 'json', what: 'time 1e400', body: '{"kind":"a","time":1e400}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^time: the number 1e400/ },
  { to: 'json', what: 'an event time 1e30', body: '{"kind":"a","time":1e30}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^time: expected milliseconds/ },
  { to: 'json', what: 'an impossible date', body: '{"kind":"a","time":"2026-13-45T00:00:00Z"}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^time: expected milliseconds/ },
  { to: 'json', what: 'a time as a numeric string', body: `{"kind":"a","time":"${NOW_MS}"}`, status: 400, code: JSON_INVALID, reason: 'invalid', says: /^time: expected milliseconds/ },
  { to: 'json', what: 'a time before 1970', body: '{"kind":"a","time":"1969-12-31T23:59:59Z"}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^time: expected milliseconds/ },
  // Names must be unique (section 4: JSON.parse would silently keep the last).
  { to: 'json', what: 'the same label twice', body: '{"metrics":{"rtt":1},"labels":{"host":"a","host":"b"}}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^labels\.host: the name "host" appears twice in one object$/ },
  { to: 'json', what: 'the same metric twice', body: '[{"kind":"a"},{"metrics":{"rtt":1,"rtt":2}}]', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^\[1\]\.metrics\.rtt: the name "rtt" appears twice/ },
  { to: 'json', what: 'kind twice', body: '{"kind":"a","kind":"b"}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^kind: the name "kind" appears twice/ },
  { to: 'json', what: 'a name twice, one spelt with an escape', body: '{"kind":"a","labels":{"h":"x","\\u0068":"y"},"metrics":{"v":1}}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^labels\.h: the name "h" appears twice/ },
  { to: 'json', what: 'a name twice deep in an event payload', body: '{"kind":"a","detail":{"x":{"y":1,"y":2}}}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^detail\.x\.y: the name "y" appears twice/ },
  // Unicode: UTF-8 only (section 8.1), strings of scalar values (section 8.2).
  { to: 'json', what: 'invalid UTF-8 in a label value', body: bytes('{"metrics":{"v":1},"labels":{"host":"', [0xff], '"}}'), status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid UTF-8 at byte 37$/ },
  { to: 'json', what: 'invalid UTF-8 in a name', body: bytes('{"kind":"a","', [0xc3, 0x28], '":1}'), status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid UTF-8 at byte 13$/ },
  { to: 'json', what: 'an overlong slash', body: bytes('{"kind":"a', [0xc0, 0xaf], '"}'), status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid UTF-8 at byte 10$/ },
  { to: 'json', what: 'a UTF-8 encoded surrogate', body: bytes('{"kind":"', [0xed, 0xb0, 0x80], '"}'), status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid UTF-8 at byte 9$/ },
  { to: 'json', what: 'a UTF-16 body', body: Buffer.from('{"kind":"a"}', 'utf16le'), status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid UTF-8|^invalid JSON/ },
  { to: 'json', what: 'a lone high surrogate escape in a label', body: '{"metrics":{"v":1},"labels":{"host":"a\\ud800"}}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^labels\.host: the string holds an unpaired UTF-16 surrogate/ },
  { to: 'json', what: 'a lone low surrogate escape in kind', body: '[{"kind":"\\udc00x"}]', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^\[0\]\.kind: the string holds an unpaired/ },
  { to: 'json', what: 'a lone surrogate in a name', body: '{"kind":"a","\\ud83d":1}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^\["\\ud83d"\]: the string holds an unpaired/ },
  // Grammar.
  { to: 'json', what: 'a trailing comma', body: '{"kind":"a",}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid JSON/ },
  { to: 'json', what: 'single quotes', body: "{'kind':'a'}", status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid JSON/ },
  { to: 'json', what: 'a comment', body: '{"kind":"a"} // note', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid JSON/ },
  { to: 'json', what: 'two documents', body: '{"kind":"a"}{"kind":"b"}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid JSON/ },
  { to: 'json', what: 'an empty body', body: '', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid JSON/ },
  { to: 'json', what: 'a raw control character in a string', body: '{"kind":"a\tb"}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid JSON/ },
  { to: 'json', what: 'an unknown escape', body: '{"kind":"a\\x41"}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^invalid JSON/ },
  // Shape (docs/collectors.md#http_push).
  { to: 'json', what: 'a bare number', body: '42', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^\(root\): expected an object/ },
  { to: 'json', what: 'a label that is a number', body: '{"metrics":{"v":1},"labels":{"host":1}}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^labels\.host: expected a string$/ },
  { to: 'json', what: 'a reserved label name', body: '{"metrics":{"v":1},"labels":{"__name__":"x"}}', status: 400, code: JSON_INVALID, reason: 'invalid', says: /^labels\.__name__: expected a label name/ },
  // Encodings, size and authentication, as for line protocol.
  { to: 'json', what: 'Content-Encoding br', body: '{"kind":"a"}', headers: { 'content-encoding': 'br' }, status: 415, code: 'FM_PUSH_ENCODING_UNSUPPORTED', reason: 'unsupported-encoding', says: /"br" is not supported/ },
  { to: 'json', what: 'Content-Encoding zstd', body: '{"kind":"a"}', headers: { 'content-encoding': 'zstd' }, status: 415, code: 'FM_PUSH_ENCODING_UNSUPPORTED', reason: 'unsupported-encoding', says: /"zstd"/ },
  { to: 'json', what: 'gzip announced, plain sent', body: '{"kind":"a"}', headers: { 'content-encoding': 'gzip' }, status: 400, code: JSON_INVALID, reason: 'invalid', says: /gzip body could not be decompressed/ },
  { to: 'json', what: 'a gzip body that inflates past the limit', body: gzipSync(JSON.stringify({ kind: 'a', pad: 'x'.repeat(2 * MAX_BODY) })), headers: { 'content-encoding': 'gzip' }, status: 413, code: 'FM_PUSH_TOO_LARGE', reason: 'too-large', says: /decompressed body is larger/ },
  { to: 'json', what: 'the token as ?token=', body: '{"kind":"a"}', query: `token=${TOKEN}`, noAuth: true, status: 401, code: 'FM_PUSH_UNAUTHORIZED', reason: 'unauthorized', says: /missing "Authorization: Bearer <token>"/ },
];

/** Close to the bad ones, and fine. */
interface GoodInput {
  readonly to: 'line' | 'json';
  readonly what: string;
  readonly body: string | Buffer;
  readonly query?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** How many samples it records. */
  readonly samples: number;
}

// biome-ignore format: one case a line reads as a table
const GOOD: GoodInput[] = [
  { to: 'line', what: 'escapes in every position', body: `my\\ m\\,x,t\\ k=v\\=1\\,2 f\\=k=1,s="a \\"q\\" \\\\" ${NOW_NS}`, samples: 1 },
  { to: 'line', what: 'floats in every form of the reference', body: 'm a=1,b=1.,c=.5,d=1.e+78,e=-1.234456E+78,f=-0,g=1e-400', samples: 7 },
  { to: 'line', what: 'integer and unsigned extremes', body: 'm a=-9223372036854775808i,b=9223372036854775807i,c=18446744073709551615u,d=0u', samples: 4 },
  { to: 'line', what: 'the same field with one type across lines and measurements', body: 'm v=1\nm v=2.5\nn v=1i\nn v=2i', samples: 4 },
  { to: 'line', what: 'UTF-8 in names and values', body: 'wärme,ort=Zürich température=21.5,note="😀"', samples: 1 },
  { to: 'line', what: 'a seconds timestamp with precision=s', body: `m v=1 ${NOW_S}`, query: 'precision=s', samples: 1 },
  { to: 'line', what: 'Content-Encoding identity', body: 'm v=1', headers: { 'content-encoding': 'identity' }, samples: 1 },
  { to: 'line', what: 'Content-Encoding x-gzip', body: gzipSync('m v=1'), headers: { 'content-encoding': 'x-gzip' }, samples: 1 },
  { to: 'json', what: 'a byte-order mark (RFC 8259 section 8.1 lets a parser ignore it)', body: bytes([0xef, 0xbb, 0xbf], '{"metrics":{"v":1}}'), samples: 1 },
  { to: 'json', what: 'a surrogate pair escape', body: '{"metrics":{"v":1},"labels":{"mood":"\\ud83d\\ude00"}}', samples: 1 },
  { to: 'json', what: 'underflow to zero and negative zero', body: '{"metrics":{"a":1e-400,"b":-0}}', samples: 2 },
  { to: 'json', what: 'the same name in different objects', body: '[{"metrics":{"v":1},"labels":{"h":"a"}},{"metrics":{"v":2},"labels":{"h":"b"}}]', samples: 2 },
  { to: 'json', what: 'an RFC 3339 time with an offset', body: `{"metrics":{"v":1},"time":"${NOW_PLUS_ONE_HOUR}"}`, samples: 1 },
  { to: 'json', what: 'a gzip body', body: gzipSync('{"metrics":{"v":1}}'), headers: { 'content-encoding': 'gzip' }, samples: 1 },
];

async function setup() {
  const http = Fastify();
  const ctx = createTestContext({ http, clock: new ManualClock(NOW_MS) });
  await createInfluxCollector(influxCollectorSchema.parse({ type: 'influx', token: TOKEN, max_body_bytes: MAX_BODY }), 0).start(ctx);
  await createHttpPushCollector(httpPushCollectorSchema.parse({ type: 'http_push', token: TOKEN, max_body_bytes: MAX_BODY }), 0).start(ctx);
  /** Sends one case to each endpoint of its kind; yields the URL and the answer. */
  async function* sendEverywhere(c: GoodInput | BadInput) {
    const q = c.query === undefined ? '' : `&${c.query}`;
    const urls = c.to === 'json' ? [`/events?x=1${q}`] : [`/write?db=telegraf${q}`, `/api/v2/write?org=o&bucket=b${q}`];
    for (const url of urls) {
      const auth = 'noAuth' in c && c.noAuth ? {} : { authorization: `Bearer ${TOKEN}` };
      yield {
        url,
        res: await http.inject({ method: 'POST', url, payload: c.body, headers: { ...auth, 'content-type': 'text/plain', ...c.headers } }),
      };
    }
  }
  return { ctx, sendEverywhere };
}

test('push bad input: every case of the corpus gets its 4xx, code and message naming the line or element; its reason is counted; nothing is recorded', async () => {
  const { ctx, sendEverywhere } = await setup();
  for (const c of [...LINE_CASES, ...JSON_CASES]) {
    let before = ctx.rejections.length;
    for await (const { url, res } of sendEverywhere(c)) {
      const where = `${c.what} (${url})`;
      assert.equal(res.statusCode, c.status, `${where}: ${res.body}`);
      const body = res.json();
      assert.equal(body.code, c.code, where);
      assert.match(body.message, c.says, where);
      assert.deepEqual(ctx.rejections.slice(before), [c.reason], where);
      before = ctx.rejections.length;
      if (c.to === 'line') assert.equal(body.error, body.message, `${where}: InfluxDB clients read "error"`);
    }
  }
  assert.equal(ctx.samples.length + ctx.events.length + ctx.refusedSamples.length, 0, 'nothing of a refused body is recorded');
  assert.ok(LINE_CASES.length + JSON_CASES.length > 90, 'the corpus covers more than the cases of the issue');
});

test('push bad input: good inputs close to the bad ones are accepted', async () => {
  const { ctx, sendEverywhere } = await setup();
  for (const c of GOOD) {
    let before = ctx.samples.length;
    for await (const { url, res } of sendEverywhere(c)) {
      assert.ok(res.statusCode === 204 || res.statusCode === 200, `${c.what} (${url}): ${res.statusCode} ${res.body}`);
      assert.equal(ctx.samples.length - before, c.samples, c.what);
      before = ctx.samples.length;
    }
  }
  assert.deepEqual(ctx.rejections, []);
  const escaped = ctx.samples.find((s) => s.name === 'my_m_x_f_k');
  assert.deepEqual(escaped?.labels, { t_k: 'v=1,2' }, 'escapes undone, then names cleaned');
  assert.ok(ctx.samples.some((s) => s.labels.mood === '😀'));
});
