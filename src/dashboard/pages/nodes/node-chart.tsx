// One uPlot chart of a series over a time range, from the hub's store or the node's own, with live
// values appended from the feed while the range ends now. uPlot lives in this (lazily loaded) chunk.

import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { withTargetLabels } from '../../../protocol/prometheus/target-labels.js';
import { ApiError, api, seg } from '../../api.js';
import { formatNumber, formatUnit } from '../../format.js';
import { onNodeMessage } from '../../store.js';
import type { NodeValueView } from '../../types.js';

export const RANGES = [
  { id: '15m', seconds: 15 * 60 },
  { id: '1h', seconds: 3600 },
  { id: '6h', seconds: 6 * 3600 },
  { id: '24h', seconds: 24 * 3600 },
  { id: '7d', seconds: 7 * 86400 },
  { id: '30d', seconds: 30 * 86400 },
] as const;
export type RangeId = (typeof RANGES)[number]['id'];

/** About this many points per chart: enough for any screen, light on a slow link. */
const TARGET_POINTS = 600;
const OFFLINE_TEXT = 'node offline: its own history is unreachable until it reconnects';

export interface SeriesRef {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly unit: string;
}

export type Source = 'hub' | 'node';

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

export function selector(name: string, labels: Readonly<Record<string, string>>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? name : `${name}{${parts.join(',')}}`;
}

type Matrix = Array<{ metric: Record<string, string>; values: Array<[number, string]> }>;

function describeNodeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 409 || err.status === 503) return OFFLINE_TEXT;
    if (err.status === 504) return 'the node did not answer in time (slow or lossy link); try a shorter range';
    if (err.status === 404) return `the node's own store cannot be queried through this hub: ${err.message}`;
    return err.message;
  }
  return String(err);
}

/** Aligns several series on the union of their timestamps (uPlot wants one x array). */
function align(matrix: Matrix): uPlot.AlignedData {
  const xs = new Set<number>();
  for (const s of matrix) for (const [t] of s.values) xs.add(t);
  const x = [...xs].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const ys = matrix.map((s) => {
    const y: Array<number | null> = new Array(x.length).fill(null);
    for (const [t, v] of s.values) y[index.get(t) as number] = Number(v);
    return y;
  });
  return [x, ...ys] as uPlot.AlignedData;
}

function css(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

const LINE_VARS = ['--chart-1', '--chart-2', '--chart-3', '--chart-4'];

export function NodeChart(props: {
  site: string;
  node: string;
  zone: string;
  series: SeriesRef;
  range: RangeId;
  source: Source;
  onAskNode?: () => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = useRef<uPlot.AlignedData | null>(null);
  const [status, setStatus] = useState<{ kind: 'loading' | 'ok' | 'empty' | 'error'; text?: string }>({ kind: 'loading' });
  const { site, node, zone, series, range, source } = props;
  const unit = formatUnit(series.unit);

  useEffect(() => {
    let cancelled = false;
    const seconds = RANGES.find((r) => r.id === range)?.seconds ?? 3600;
    const end = Math.ceil(Date.now() / 1000);
    const start = end - seconds;
    const step = Math.max(1, Math.ceil(seconds / TARGET_POINTS));
    // The hub labels a series with site, node and zone, its own labels of those names moved to exported_*;
    // zone stays open, so the chart of a node that moved zones shows both.
    const { zone: _zone, ...atHub } = withTargetLabels(series.labels, { site, node, zone });
    const labels = source === 'hub' ? atHub : series.labels;
    const q = `query=${encodeURIComponent(selector(series.name, labels))}&start=${start}&end=${end}&step=${step}`;
    const url = source === 'hub' ? `/api/v1/query_range?${q}` : `/api/v1/nodes/${seg(site)}/${seg(node)}/query_range?${q}`;
    setStatus({ kind: 'loading' });
    api.get<{ data: { result: Matrix } }>(url).then(
      (r) => {
        if (cancelled) return;
        const matrix = r.data?.result ?? [];
        if (matrix.length === 0 || matrix.every((m) => m.values.length === 0)) {
          setStatus({ kind: 'empty' });
          data.current = null;
          plot.current?.destroy();
          plot.current = null;
          return;
        }
        data.current = align(matrix);
        draw(matrix.length, start, end);
        setStatus({ kind: 'ok' });
      },
      (err: unknown) => {
        if (cancelled) return;
        setStatus({ kind: 'error', text: source === 'node' ? describeNodeError(err) : String((err as Error).message ?? err) });
      },
    );

    const draw = (lines: number, from: number, to: number) => {
      const el = box.current;
      if (el === null || data.current === null) return;
      plot.current?.destroy();
      const axis = css('--muted', '#888');
      const grid = css('--grid', 'rgba(128,128,128,.15)');
      const opts: uPlot.Options = {
        width: Math.max(200, el.clientWidth),
        height: 180,
        legend: { show: lines > 1 },
        cursor: { drag: { x: true, y: false } },
        scales: { x: { time: true, min: from, max: to } },
        series: [
          {},
          ...Array.from({ length: lines }, (_, i) => ({
            label: lines > 1 ? `#${i + 1}` : series.name,
            stroke: css(LINE_VARS[i % LINE_VARS.length] as string, '#2a7'),
            width: 1.5,
            spanGaps: false,
            // Sparse series (reported by exception, or a young node) need their points drawn to be seen at all.
            points: { show: (data.current?.[0]?.length ?? 0) < 60, size: 5 },
            value: (_u: uPlot, v: number | null) => (v === null ? '–' : `${formatNumber(v)} ${unit}`),
          })),
        ],
        axes: [
          { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
          {
            stroke: axis,
            grid: { stroke: grid, width: 1 },
            ticks: { stroke: grid },
            size: 56,
            values: (_u, vals) => vals.map((v) => formatNumber(v)),
          },
        ],
      };
      plot.current = new uPlot(opts, data.current, el);
    };

    // Live values: append while the chart's range ends now (the hub's store only; the node's is on demand).
    const off = onNodeMessage((n) => {
      if (n.site !== site || n.node !== node || source !== 'hub' || data.current === null || plot.current === null) return;
      const v = n.values?.find((x: NodeValueView) => x.name === series.name && sameLabels(x.labels, series.labels));
      if (v === undefined || typeof v.value !== 'number') return;
      const t = Date.parse(v.time) / 1000;
      const d = data.current as unknown as number[][];
      const xs = d[0] as number[];
      if (xs.length > 0 && t <= (xs[xs.length - 1] as number)) return;
      xs.push(t);
      (d[1] as number[]).push(v.value);
      for (let i = 2; i < d.length; i++) (d[i] as Array<number | null>).push(null as unknown as number);
      const seconds = RANGES.find((r) => r.id === range)?.seconds ?? 3600;
      plot.current.setScale('x', { min: t - seconds, max: Math.max(t, Date.now() / 1000) });
      plot.current.setData(data.current, false);
    });

    const ro = new ResizeObserver(() => {
      const el = box.current;
      if (el !== null && plot.current !== null) plot.current.setSize({ width: Math.max(200, el.clientWidth), height: 180 });
    });
    if (box.current !== null) ro.observe(box.current);
    return () => {
      cancelled = true;
      off();
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [site, node, series.name, JSON.stringify(series.labels), range, source]);

  return (
    <figure class="chart" data-testid="chart" data-series={series.name} data-source={source} data-status={status.kind}>
      <figcaption>
        <strong>{series.name}</strong>
        {Object.keys(series.labels).length > 0 && (
          <span class="muted">
            {' '}
            {Object.entries(series.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(', ')}
          </span>
        )}
        {unit !== '' && <span class="muted"> · {unit}</span>}
        <span class="muted"> · {source === 'hub' ? "hub's store" : "node's own store"}</span>
      </figcaption>
      <div ref={box} class="chart-box" />
      {status.kind === 'loading' && <p class="chart-note muted">Loading…</p>}
      {status.kind === 'empty' && (
        <p class="chart-note muted">
          No samples in this range {source === 'hub' ? 'at the hub' : 'in the node’s store'}.
          {source === 'hub' && props.onAskNode !== undefined && (
            <>
              {' '}
              <button type="button" class="link" onClick={props.onAskNode}>
                Ask the node’s own store
              </button>
            </>
          )}
        </p>
      )}
      {status.kind === 'error' && (
        <p class="chart-note error-line" role="alert" data-testid="chart-error">
          <span aria-hidden="true">✕ </span>
          {status.text}
        </p>
      )}
    </figure>
  );
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
