// Prometheus remote write 1.0: the WriteRequest message (TimeSeries, Label, Sample, MetricMetadata) to and from
// protobuf bytes with protobufjs' wire Reader and Writer, and the snappy block format around it (snappyjs).
// Written from the remote write 1.0 specification and Prometheus' prompb/types.proto and remote.proto field numbers.

import protobuf from 'protobufjs/minimal.js';
import snappy from 'snappyjs';

/**
 * Prometheus' stale marker: a NaN with this bit pattern (0x7ff0000000000002) says the series went away at that
 * time. Carried here as `value: null`; an ordinary NaN stays NaN.
 */
export const STALE_NAN_HEX = '7ff0000000000002';
/** Little-endian bytes of the stale NaN, as a double field carries them. */
const STALE_NAN_LE = [0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f] as const;

/** The headers every remote write 1.0 request carries. */
export const REMOTE_WRITE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-encoding': 'snappy',
  'content-type': 'application/x-protobuf',
  'x-prometheus-remote-write-version': '0.1.0',
});

/** One sample of a series: `value` null is Prometheus' stale marker. */
export interface RemoteSample {
  /** ms since the Unix epoch. */
  readonly timestampMs: number;
  readonly value: number | null;
}

/** One series of a WriteRequest: its labels (`__name__` among them) and its samples in ascending time. */
export interface RemoteSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly samples: readonly RemoteSample[];
}

export type RemoteMetricType = 'unknown' | 'counter' | 'gauge' | 'histogram' | 'gaugehistogram' | 'summary' | 'info' | 'stateset';
const METRIC_TYPES: readonly RemoteMetricType[] = [
  'unknown',
  'counter',
  'gauge',
  'histogram',
  'gaugehistogram',
  'summary',
  'info',
  'stateset',
];

export interface RemoteMetadata {
  readonly type: RemoteMetricType;
  readonly metricFamilyName: string;
  readonly help: string;
  readonly unit: string;
}

export interface WriteRequest {
  readonly timeseries: readonly RemoteSeries[];
  readonly metadata?: readonly RemoteMetadata[];
}

/** What a decoded request held that fieldmesh does not store (native histograms, exemplars): counted, not refused. */
export interface DecodedWriteRequest extends WriteRequest {
  readonly metadata: readonly RemoteMetadata[];
  readonly histograms: number;
  readonly exemplars: number;
}

/** A body that is not a remote write 1.0 request; the message says what and where. */
export class RemoteWriteDecodeError extends Error {
  constructor(
    message: string,
    /** Where it went wrong: `snappy` (the compressed body) or `protobuf` (the uncompressed message). */
    readonly layer: 'snappy' | 'protobuf',
    /** Byte offset in that layer's bytes, when known. */
    readonly offset?: number,
  ) {
    super(message);
    this.name = 'RemoteWriteDecodeError';
  }
}

/**
 * Label pairs in the order the specification asks: sorted by name (byte order), so `__name__` comes first among
 * names that start with letters (`_` sorts before `a`-`z` and after `A`-`Z`, as in Prometheus' own labels.Labels).
 */
export function sortedLabelPairs(labels: Readonly<Record<string, string>>): Array<[string, string]> {
  const names = Object.keys(labels).sort(compareBytes);
  return names.map((n) => [n, labels[n] as string]);
}

function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The protobuf bytes of a WriteRequest (uncompressed). Series' labels are written sorted. */
export function encodeWriteRequestProto(request: WriteRequest): Uint8Array {
  const w = protobuf.Writer.create();
  for (const series of request.timeseries) {
    w.uint32((1 << 3) | 2).fork();
    for (const [name, value] of sortedLabelPairs(series.labels)) {
      w.uint32((1 << 3) | 2).fork();
      w.uint32((1 << 3) | 2).string(name);
      w.uint32((2 << 3) | 2).string(value);
      w.ldelim();
    }
    for (const s of series.samples) {
      w.uint32((2 << 3) | 2).fork();
      if (s.value === null) {
        // The stale NaN's exact bits (a JavaScript NaN would lose its payload): low word first, little-endian.
        w.uint32((1 << 3) | 1)
          .fixed32(0x00000002)
          .fixed32(0x7ff00000);
      } else {
        w.uint32((1 << 3) | 1).double(s.value);
      }
      w.uint32((2 << 3) | 0).int64(s.timestampMs);
      w.ldelim();
    }
    w.ldelim();
  }
  for (const m of request.metadata ?? []) {
    w.uint32((3 << 3) | 2).fork();
    w.uint32((1 << 3) | 0).int32(Math.max(0, METRIC_TYPES.indexOf(m.type)));
    w.uint32((2 << 3) | 2).string(m.metricFamilyName);
    w.uint32((4 << 3) | 2).string(m.help);
    w.uint32((5 << 3) | 2).string(m.unit);
    w.ldelim();
  }
  return w.finish();
}

/** A WriteRequest as a remote write body: protobuf, then snappy's block format (not the framed format). */
export function encodeWriteRequest(request: WriteRequest): Uint8Array {
  return snappyCompress(encodeWriteRequestProto(request));
}

export function snappyCompress(bytes: Uint8Array): Uint8Array {
  return snappy.compress(bytes);
}

/** Uncompresses a snappy block; refuses a body whose declared length exceeds `maxBytes`. */
export function snappyUncompress(body: Uint8Array, maxBytes: number): Uint8Array {
  // The block starts with the uncompressed length as a varint: read it first to name a bad one by offset.
  let length = 0;
  let i = 0;
  for (let shift = 0; ; shift += 7, i++) {
    if (i >= body.length || i >= 5)
      throw new RemoteWriteDecodeError(
        `invalid snappy block: no uncompressed length varint at byte ${Math.min(i, body.length)} (is the body snappy block format, Content-Encoding: snappy?)`,
        'snappy',
        Math.min(i, body.length),
      );
    const b = body[i] as number;
    length += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) break;
  }
  if (length > maxBytes)
    throw new RemoteWriteDecodeError(`snappy block declares ${length} bytes uncompressed, more than the limit of ${maxBytes}`, 'snappy', 0);
  let out: Uint8Array;
  try {
    out = snappy.uncompress(body, maxBytes);
  } catch (err) {
    throw new RemoteWriteDecodeError(
      `invalid snappy block after the ${i + 1}-byte length header (declares ${length} bytes uncompressed, ${body.length} bytes given): ${(err as Error).message}`,
      'snappy',
      i + 1,
    );
  }
  return out;
}

/** Decodes an uncompressed WriteRequest; throws RemoteWriteDecodeError naming the byte offset and the field. */
export function decodeWriteRequestProto(bytes: Uint8Array): DecodedWriteRequest {
  const r = protobuf.Reader.create(bytes);
  const timeseries: RemoteSeries[] = [];
  const metadata: RemoteMetadata[] = [];
  let histograms = 0;
  let exemplars = 0;
  let at = 0;
  let field = 'WriteRequest';
  try {
    while (r.pos < r.len) {
      at = r.pos;
      const tag = r.uint32();
      const no = tag >>> 3;
      if (no === 1 && (tag & 7) === 2) {
        field = `timeseries[${timeseries.length}]`;
        const end = r.uint32() + r.pos;
        checkEnd(r, end, field);
        const labels: Record<string, string> = {};
        const samples: RemoteSample[] = [];
        while (r.pos < end) {
          at = r.pos;
          const t = r.uint32();
          const n = t >>> 3;
          if (n === 1 && (t & 7) === 2) {
            const lend = r.uint32() + r.pos;
            checkEnd(r, lend, `${field}.labels`);
            let name = '';
            let value = '';
            while (r.pos < lend) {
              const lt = r.uint32();
              if (lt >>> 3 === 1 && (lt & 7) === 2) name = r.string();
              else if (lt >>> 3 === 2 && (lt & 7) === 2) value = r.string();
              else r.skipType(lt & 7);
            }
            labels[name] = value;
          } else if (n === 2 && (t & 7) === 2) {
            const send = r.uint32() + r.pos;
            checkEnd(r, send, `${field}.samples`);
            let value: number | null = 0;
            let ts = 0;
            while (r.pos < send) {
              const st = r.uint32();
              if (st >>> 3 === 1 && (st & 7) === 1) {
                value = isStaleNaNAt(r.buf, r.pos) ? null : r.double();
                if (value === null) r.skip(8);
              } else if (st >>> 3 === 2 && (st & 7) === 0) {
                const v = r.int64() as unknown as number | { toNumber(): number };
                ts = typeof v === 'number' ? v : v.toNumber();
              } else r.skipType(st & 7);
            }
            samples.push({ timestampMs: ts, value });
          } else if (n === 3 && (t & 7) === 2) {
            exemplars++;
            r.skipType(2);
          } else if (n === 4 && (t & 7) === 2) {
            histograms++;
            r.skipType(2);
          } else r.skipType(t & 7);
        }
        if (r.pos !== end) throw new Error(`${field} overruns its length`);
        timeseries.push({ labels, samples });
      } else if (no === 3 && (tag & 7) === 2) {
        field = `metadata[${metadata.length}]`;
        const end = r.uint32() + r.pos;
        checkEnd(r, end, field);
        let type: RemoteMetricType = 'unknown';
        let metricFamilyName = '';
        let help = '';
        let unit = '';
        while (r.pos < end) {
          const t = r.uint32();
          const n = t >>> 3;
          if (n === 1 && (t & 7) === 0) type = METRIC_TYPES[r.int32()] ?? 'unknown';
          else if (n === 2 && (t & 7) === 2) metricFamilyName = r.string();
          else if (n === 4 && (t & 7) === 2) help = r.string();
          else if (n === 5 && (t & 7) === 2) unit = r.string();
          else r.skipType(t & 7);
        }
        metadata.push({ type, metricFamilyName, help, unit });
      } else {
        field = `field ${no}`;
        r.skipType(tag & 7);
      }
    }
  } catch (err) {
    if (err instanceof RemoteWriteDecodeError) throw err;
    throw new RemoteWriteDecodeError(
      `invalid protobuf WriteRequest at byte ${at} (in ${field}): ${(err as Error).message}`,
      'protobuf',
      at,
    );
  }
  return { timeseries, metadata, histograms, exemplars };
}

function checkEnd(r: protobuf.Reader, end: number, field: string): void {
  if (end > r.len)
    throw new RemoteWriteDecodeError(
      `invalid protobuf WriteRequest: ${field} claims ${end - r.pos} bytes at byte ${r.pos}, past the end (${r.len})`,
      'protobuf',
      r.pos,
    );
}

function isStaleNaNAt(buf: Uint8Array, pos: number): boolean {
  for (let i = 0; i < 8; i++) if (buf[pos + i] !== STALE_NAN_LE[i]) return false;
  return true;
}

/** Decodes a remote write body (snappy block of a protobuf WriteRequest). */
export function decodeWriteRequest(body: Uint8Array, maxUncompressedBytes: number): DecodedWriteRequest {
  return decodeWriteRequestProto(snappyUncompress(body, maxUncompressedBytes));
}

/** A decoded request as samples: `__name__` becomes the name, the stale marker NaN; or the first series at fault. */
export function writeRequestSamples(
  request: WriteRequest,
):
  | { ok: true; samples: Array<{ name: string; labels: Record<string, string>; value: number; time: number }>; seriesOfSample: number[] }
  | { ok: false; message: string; series: number } {
  const samples: Array<{ name: string; labels: Record<string, string>; value: number; time: number }> = [];
  const seriesOfSample: number[] = [];
  for (let i = 0; i < request.timeseries.length; i++) {
    const series = request.timeseries[i] as RemoteSeries;
    const { __name__: name, ...labels } = series.labels as Record<string, string>;
    if (name === undefined || name === '') {
      const text = JSON.stringify(series.labels);
      return {
        ok: false,
        message: `timeseries[${i}] has no __name__ label (labels ${text.length > 200 ? `${text.slice(0, 200)}...` : text})`,
        series: i,
      };
    }
    for (const [k, v] of Object.entries(labels)) if (v === '') delete labels[k];
    for (const s of series.samples) {
      if (!Number.isSafeInteger(s.timestampMs))
        return {
          ok: false,
          message: `timeseries[${i}] (${name}) has a sample time ${s.timestampMs} that is not ms since the epoch`,
          series: i,
        };
      samples.push({ name, labels, value: s.value ?? Number.NaN, time: s.timestampMs });
      seriesOfSample.push(i);
    }
  }
  return { ok: true, samples, seriesOfSample };
}
