// JSON renderings of frames, for `fieldmesh sub --json`, logs and interop. Not for the wire.

import type { DataFrame, Frame, RawDataFrame, SeriesDef, WireFrame } from './frames.js';
import type { SessionDecoder } from './session.js';

const ENTRY_KINDS = ['delta', 'int', 'f64', 'null'] as const;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** JSON cannot carry NaN or infinities; render them as the strings Prometheus uses. */
function jsonValue(v: number | null): number | string | null {
  if (v === null || Number.isFinite(v)) return v;
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

function renderPayload(payload: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(payload));
  } catch {
    let binary = '';
    for (const b of payload) binary += String.fromCharCode(b);
    return { base64: btoa(binary) };
  }
}

function renderSeries(s: SeriesDef): Record<string, unknown> {
  return { ...s, value: jsonValue(s.value), ...(s.time === undefined ? {} : { time: iso(s.time) }) };
}

/**
 * Renders a decoded frame as a plain JSON-able object. A data frame resolved by a session renders
 * series names and values; a raw one renders its coded entries.
 */
export function frameToJson(frame: Frame | WireFrame, session?: SessionDecoder): Record<string, unknown> {
  switch (frame.type) {
    case 'birth':
      return { ...frame, time: iso(frame.time), bootTime: iso(frame.bootTime), series: frame.series.map(renderSeries) };
    case 'data':
      if ('timeDelta' in frame) return renderRawData(frame);
      return renderData(frame, session);
    case 'event':
      return { ...frame, time: iso(frame.time), payload: renderPayload(frame.payload) };
    case 'hubState':
    case 'digest':
      return { ...frame, time: iso(frame.time) };
    case 'history':
      return {
        ...frame,
        oldestPending: frame.oldestPendingMs === null ? null : iso(frame.oldestPendingMs),
        repaired: frame.repaired.map((r) => ({ ...r, from: iso(r.fromMs), to: iso(r.toMs) })),
        series: frame.series.map((s) => ({ name: s.name, labels: s.labels, samples: s.samples.map(([t, v]) => [iso(t), jsonValue(v)]) })),
      };
    case 'backfill':
      return { ...frame, from: iso(frame.fromMs), to: iso(frame.toMs) };
    case 'query':
      return { ...frame, params: frame.params.map(([name, value]) => ({ name, value })) };
    case 'reply':
      // The body is compressed JSON; inflating it needs Node (zlib): show its size only.
      return { type: 'reply', requestId: frame.requestId, status: frame.status, bodyBytes: frame.body.length };
    case 'death':
    case 'rebirth':
    case 'ack':
      return { ...frame };
  }
}

function renderRawData(f: RawDataFrame): Record<string, unknown> {
  return {
    type: 'data',
    epoch: f.epoch,
    seq: f.seq,
    timeDeltaMs: f.timeDelta,
    entries: f.entries.map((e) => ({ alias: e.alias, kind: ENTRY_KINDS[e.kind], n: jsonValue(e.n), ageMs: e.ageMs })),
  };
}

function renderData(f: DataFrame, session?: SessionDecoder): Record<string, unknown> {
  return {
    type: 'data',
    epoch: f.epoch,
    seq: f.seq,
    time: iso(f.time),
    values: f.entries.map((e) => {
      const def = session?.series(e.alias);
      return { alias: e.alias, name: def?.name, labels: def?.labels, value: jsonValue(e.value), time: iso(e.time) };
    }),
  };
}
