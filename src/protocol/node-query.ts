// Remote queries of a node's own store, through the broker: the hub's query request (cmd/query) and the
// node's reply (.../reply). Raw data stays at the site; only answers travel. [FM-QUERY-1..5] in docs/protocol.md.

import { type ByteReader, type ByteWriter, FrameError } from './codec.js';

/**
 * What a query asks: a liveness ping, a Prometheus range query, the node's series list, or an operator's
 * zone command (`zone_command`: a pump action; `zone_elect`: a new epoch) for the node's zone runtime.
 * [FM-QUERY-6]
 */
export type NodeQueryKind = 'ping' | 'query_range' | 'series' | 'zone_command' | 'zone_elect' | 'command';
/**
 * In wire order (the kind is its index). `command` [FM-QUERY-7] carries a node command by name (`command`
 * parameter) with its arguments: new commands need no new kind, and a node that does not know a name
 * answers FM_COMMAND_UNSUPPORTED instead of dropping a frame it cannot decode.
 */
export const NODE_QUERY_KINDS: readonly NodeQueryKind[] = ['ping', 'query_range', 'series', 'zone_command', 'zone_elect', 'command'];

/** Longest request id, bytes of UTF-8. */
export const MAX_QUERY_ID_BYTES = 64;
/** Most parameters one request may carry. */
export const MAX_QUERY_PARAMS = 64;
const MAX_PARAM_NAME_BYTES = 64;
const MAX_PARAM_VALUE_BYTES = 4096;
/**
 * [FM-QUERY-3] Largest compressed reply body: what fits a frame ([FM-FRAME-2], 256 KiB) with room for
 * the header, the request id and the length prefixes.
 */
export const MAX_REPLY_BODY_BYTES = 256 * 1024 - 1024;

/** One Prometheus API parameter as name and value; a repeated name (`match[]`) appears once per value. */
export type QueryParam = readonly [name: string, value: string];

export interface QueryFrame {
  readonly type: 'query';
  /** Chosen by the hub, unique among its outstanding requests (1 to 64 bytes); the reply carries it back. */
  readonly requestId: string;
  readonly kind: NodeQueryKind;
  /**
   * How long the hub waits for the reply, ms (0: no limit given). A node drops a request that waited
   * longer than this in its queue: nobody is listening for the answer any more.
   */
  readonly timeoutMs: number;
  /** Prometheus HTTP API parameters (`query`, `start`, `end`, `step`, `match[]`...), or `nonce` for a ping. */
  readonly params: readonly QueryParam[];
}

/** `ok`: the body is the answer; `error`: the body is `{code, message}` (a FieldmeshError code). */
export type ReplyStatus = 'ok' | 'error';
export const REPLY_STATUSES: readonly ReplyStatus[] = ['ok', 'error'];

export interface ReplyFrame {
  readonly type: 'reply';
  /** The request's id. */
  readonly requestId: string;
  readonly status: ReplyStatus;
  /**
   * UTF-8 JSON compressed with raw DEFLATE (RFC 1951), at most MAX_REPLY_BODY_BYTES. The protocol area
   * never inflates it (no Node built-ins here): the node deflates, the hub inflates.
   */
  readonly body: Uint8Array;
}

/** Writes a query request's body (after the header). [FM-QUERY-1] Throws RangeError for what a receiver would refuse. */
export function writeQuery(w: ByteWriter, f: Omit<QueryFrame, 'type'>): void {
  if (f.requestId === '') throw new RangeError('query request id is empty');
  if (f.params.length > MAX_QUERY_PARAMS) throw new RangeError(`${f.params.length} query parameters`);
  w.string(f.requestId).u8(NODE_QUERY_KINDS.indexOf(f.kind)).varint(f.timeoutMs).varint(f.params.length);
  for (const [name, value] of f.params) {
    if (name === '') throw new RangeError('query parameter name is empty');
    w.string(name).string(value);
  }
}

export function readQuery(r: ByteReader): QueryFrame {
  const requestId = readRequestId(r);
  const kindAt = r.offset;
  const kind = NODE_QUERY_KINDS[r.u8('query kind')];
  if (kind === undefined) throw new FrameError('malformed', 'unknown query kind', kindAt);
  const timeoutMs = r.varint('timeout');
  const countAt = r.offset;
  const count = r.varint('parameter count');
  if (count > MAX_QUERY_PARAMS) throw new FrameError('malformed', `query carries ${count} parameters`, countAt);
  const params: QueryParam[] = [];
  for (let i = 0; i < count; i++) {
    const nameAt = r.offset;
    const name = r.string('parameter name', MAX_PARAM_NAME_BYTES);
    if (name === '') throw new FrameError('malformed', 'query parameter name is empty', nameAt);
    params.push([name, r.string('parameter value', MAX_PARAM_VALUE_BYTES)]);
  }
  return { type: 'query', requestId, kind, timeoutMs, params };
}

/** Writes a reply's body (after the header). [FM-QUERY-2] */
export function writeReply(w: ByteWriter, f: Omit<ReplyFrame, 'type'>): void {
  if (f.requestId === '') throw new RangeError('reply request id is empty');
  if (f.body.length > MAX_REPLY_BODY_BYTES) throw new RangeError(`reply body of ${f.body.length} bytes exceeds ${MAX_REPLY_BODY_BYTES}`);
  w.string(f.requestId).u8(REPLY_STATUSES.indexOf(f.status)).bytes(f.body);
}

export function readReply(r: ByteReader): ReplyFrame {
  const requestId = readRequestId(r);
  const statusAt = r.offset;
  const status = REPLY_STATUSES[r.u8('reply status')];
  if (status === undefined) throw new FrameError('malformed', 'unknown reply status', statusAt);
  const body = r.bytes('reply body', MAX_REPLY_BODY_BYTES).slice();
  return { type: 'reply', requestId, status, body };
}

function readRequestId(r: ByteReader): string {
  const at = r.offset;
  const id = r.string('request id', MAX_QUERY_ID_BYTES);
  if (id === '') throw new FrameError('malformed', 'request id is empty', at);
  return id;
}
