// The pump history chart of a zone: one uPlot step lane per pump (high while it ran) and a lane of
// detections as points, over the chosen range, from GET /api/v1/zones/:zone/history.

import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { api, describeError, seg } from '../../api.js';
import { formatDuration, plural } from '../../format.js';
import type { ZoneHistoryInfo } from '../../types.js';
import { historyChartData, LANE_HIGH, laneBase, runTotals, type ZoneRangeId } from './zone-view.js';

const HEIGHT_PX = 60;
const LANE_VARS = ['--chart-1', '--chart-2', '--chart-3', '--chart-4'];

function css(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export function ZoneChart(props: { zone: string; range: ZoneRangeId; reloadKey: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [history, setHistory] = useState<ZoneHistoryInfo | null>(null);
  const [status, setStatus] = useState<{ kind: 'loading' | 'ok' | 'error'; text?: string }>({ kind: 'loading' });
  const { zone, range, reloadKey } = props;

  useEffect(() => {
    let cancelled = false;
    api.get<{ data: ZoneHistoryInfo }>(`/api/v1/zones/${seg(zone)}/history?range=${range}`).then(
      (r) => {
        if (cancelled) return;
        setHistory(r.data);
        setStatus({ kind: 'ok' });
      },
      (err: unknown) => {
        if (!cancelled) setStatus({ kind: 'error', text: describeError(err) });
      },
    );
    return () => {
      cancelled = true;
    };
  }, [zone, range, reloadKey]);

  useEffect(() => {
    const el = box.current;
    if (el === null || history === null) return;
    const d = historyChartData(history);
    const axis = css('--muted', '#888');
    const grid = css('--grid', 'rgba(128,128,128,.15)');
    const top = laneBase(Math.max(0, d.pumps.length - 1)) + LANE_HIGH + 0.5;
    const stepped = uPlot.paths.stepped?.({ align: 1 });
    const opts: uPlot.Options = {
      width: Math.max(240, el.clientWidth),
      height: Math.max(120, HEIGHT_PX * (d.pumps.length + 1)),
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, min: d.start, max: d.end }, y: { range: [-0.5, top] } },
      series: [
        {},
        ...d.pumps.map((p, i) => {
          const color = css(LANE_VARS[i % LANE_VARS.length] as string, '#2a7');
          return {
            label: p,
            stroke: color,
            fill: `${color}33`,
            // Each lane fills down to its own base, not to zero.
            fillTo: laneBase(i),
            width: 2,
            paths: stepped,
            points: { show: false },
          };
        }),
        {
          label: 'detections',
          stroke: css('--err', '#c33'),
          width: 0,
          paths: () => null,
          points: { show: true, size: 7, fill: css('--err', '#c33') },
        },
      ],
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        {
          stroke: axis,
          grid: { show: false },
          ticks: { show: false },
          size: 90,
          splits: () => d.ticks.map((t) => t.y),
          values: () => d.ticks.map((t) => t.label),
        },
      ],
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, [d.x, ...d.lanes, d.detections] as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => {
      if (plot.current !== null) plot.current.setSize({ width: Math.max(240, el.clientWidth), height: opts.height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [history]);

  const totals = history === null ? [] : runTotals(history);
  const detections = history?.detections.length ?? 0;
  return (
    <figure
      class="chart zone-chart"
      data-testid="pump-history"
      data-status={status.kind}
      data-runs={totals.reduce((n, t) => n + t.runs, 0)}
    >
      <figcaption>
        <strong>Pump runs</strong>
        <span class="muted">
          {' '}
          · {totals.map((t) => `${t.pump}: ${plural(t.runs, 'run')}, ${formatDuration(t.ms)}`).join(' · ') || 'no pump'}
          {' · '}
          {plural(detections, 'detection')} (red points)
        </span>
      </figcaption>
      <div ref={box} class="chart-box" />
      {status.kind === 'loading' && <p class="chart-note muted">Loading…</p>}
      {status.kind === 'error' && (
        <p class="chart-note error-line" role="alert" data-testid="chart-error">
          <span aria-hidden="true">✕ </span>
          {status.text}
        </p>
      )}
    </figure>
  );
}
