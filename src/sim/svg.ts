// Line charts as hand-written SVG for the simulator's report: axes, ticks, grid, legend, no dependency.

/** One line: points (x, y); a null y breaks the line (no data there). */
export interface ChartSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number | null])[];
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
  readonly width?: number;
  readonly height?: number;
  /** 'auto' picks log when the largest values of the lines differ by more than 100 times. */
  readonly yScale?: 'linear' | 'log' | 'auto';
  readonly yMin?: number;
  readonly yMax?: number;
  readonly formatY?: (value: number) => string;
  readonly formatX?: (value: number) => string;
  /** A dashed horizontal line, e.g. a goal, labelled in the legend. */
  readonly reference?: { readonly y: number; readonly label: string };
}

/** Okabe-Ito colours: distinguishable with the common colour-vision deficiencies. */
export const CHART_COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'] as const;

const REFERENCE_COLOUR = '#888888';
const MARGIN = { top: 44, bottom: 52, left: 76 } as const;
/** Legend swatch and gap before the text; text width estimated at 7 px per character of 12 px text. */
const LEGEND_SWATCH = 44;
const CHAR_PX = 7;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`);
}

/** Compact number text: 1.5k, 2M, 0.25. */
export function formatTick(value: number): string {
  const abs = Math.abs(value);
  const trim = (x: number) => String(Number(x.toPrecision(3)));
  if (abs >= 1e9) return `${trim(value / 1e9)}G`;
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e3) return `${trim(value / 1e3)}k`;
  return trim(value);
}

/** About `count` round ticks (steps of 1, 2 or 5 times a power of ten) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const fmt = (n: number) => Number(n.toFixed(2)).toString();
/** Math.min/max without spreading, so long series cannot overflow the stack. */
const lowest = (values: readonly number[], empty: number) => (values.length === 0 ? empty : values.reduce((a, b) => (b < a ? b : a)));
const highest = (values: readonly number[], empty: number) => (values.length === 0 ? empty : values.reduce((a, b) => (b > a ? b : a)));

/** A line chart as a standalone SVG document. */
export function renderLineChart(options: LineChartOptions): string {
  const width = options.width ?? 760;
  const height = options.height ?? 360;
  const labels = [...options.series.map((x) => x.name), ...(options.reference === undefined ? [] : [options.reference.label])];
  const right = Math.max(150, LEGEND_SWATCH + 12 + CHAR_PX * labels.reduce((n, l) => Math.max(n, l.length), 0));
  const plotW = Math.max(120, width - MARGIN.left - right);
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const formatY = options.formatY ?? formatTick;
  const formatX = options.formatX ?? formatTick;

  const defined = options.series.flatMap((s) =>
    s.points.filter((p): p is readonly [number, number] => p[1] !== null && Number.isFinite(p[1])),
  );
  const xs = defined.map((p) => p[0]);
  const ys = defined.map((p) => p[1]);
  const xMin = lowest(xs, 0);
  let xMax = highest(xs, 1);
  if (xMax <= xMin) xMax = xMin + 1;

  const peaks = options.series.map((s) => highest(s.points.map((p) => p[1] ?? 0).filter(Number.isFinite), 0)).filter((v) => v > 0);
  const positives = ys.filter((v) => v > 0);
  const log =
    options.yScale === 'log' ||
    (options.yScale !== 'linear' && peaks.length > 1 && highest(peaks, 1) / lowest(peaks, 1) > 100 && positives.length > 0);

  let yLo: number;
  let yHi: number;
  let yTicks: number[];
  if (log) {
    const lo = options.yMin ?? lowest(positives, 1);
    const hi = options.yMax ?? highest(positives, 10);
    yLo = Math.floor(Math.log10(lo));
    yHi = Math.max(yLo + 1, Math.ceil(Math.log10(hi)));
    yTicks = Array.from({ length: yHi - yLo + 1 }, (_, i) => 10 ** (yLo + i));
  } else {
    const dataMin = lowest(ys, 0);
    const dataMax = highest(ys, 1);
    const lo = options.yMin ?? Math.min(0, dataMin);
    let hi = options.yMax ?? dataMax;
    if (hi <= lo) hi = lo + 1;
    yTicks = niceTicks(lo, hi);
    yLo = Math.min(lo, yTicks[0] ?? lo);
    yHi = Math.max(hi, yTicks[yTicks.length - 1] ?? hi);
  }

  const sx = (x: number) => MARGIN.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const sy = (y: number) => {
    const v = log ? Math.log10(Math.max(y, 10 ** yLo)) : y;
    const t = (v - yLo) / (yHi - yLo);
    return MARGIN.top + plotH - Math.min(1, Math.max(0, t)) * plotH;
  };

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
  );
  out.push(`<title>${escapeXml(options.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${MARGIN.left}" y="24" font-size="15" font-weight="600" fill="#222222">${escapeXml(options.title)}</text>`);

  // Grid and y ticks.
  out.push('<g stroke="#e4e4e4" stroke-width="1">');
  for (const t of yTicks) out.push(`<line x1="${MARGIN.left}" y1="${fmt(sy(t))}" x2="${MARGIN.left + plotW}" y2="${fmt(sy(t))}"/>`);
  out.push('</g>');
  out.push('<g fill="#444444" text-anchor="end">');
  for (const t of yTicks) out.push(`<text x="${MARGIN.left - 8}" y="${fmt(sy(t) + 4)}">${escapeXml(formatY(t))}</text>`);
  out.push('</g>');

  // X ticks.
  const xTicks = niceTicks(xMin, xMax, 8);
  out.push('<g fill="#444444" text-anchor="middle">');
  for (const t of xTicks) {
    out.push(`<line x1="${fmt(sx(t))}" y1="${MARGIN.top + plotH}" x2="${fmt(sx(t))}" y2="${MARGIN.top + plotH + 5}" stroke="#444444"/>`);
    out.push(`<text x="${fmt(sx(t))}" y="${MARGIN.top + plotH + 19}">${escapeXml(formatX(t))}</text>`);
  }
  out.push('</g>');

  // Axes and labels.
  out.push(
    `<path d="M${MARGIN.left} ${MARGIN.top} V${MARGIN.top + plotH} H${MARGIN.left + plotW}" fill="none" stroke="#444444" stroke-width="1"/>`,
  );
  out.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 10}" text-anchor="middle" fill="#222222">${escapeXml(options.xLabel)}</text>`,
  );
  const yLabelX = 16;
  const yLabelY = MARGIN.top + plotH / 2;
  out.push(
    `<text x="${yLabelX}" y="${yLabelY}" text-anchor="middle" fill="#222222" transform="rotate(-90 ${yLabelX} ${yLabelY})">${escapeXml(options.yLabel + (log ? ' (log scale)' : ''))}</text>`,
  );

  if (options.reference !== undefined) {
    const y = fmt(sy(options.reference.y));
    out.push(
      `<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="${REFERENCE_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    );
  }

  // Lines, broken at null values; a lone point is drawn as a dot.
  options.series.forEach((s, i) => {
    const colour = CHART_COLOURS[i % CHART_COLOURS.length] as string;
    const runs: (readonly [number, number])[][] = [[]];
    for (const [x, y] of s.points) {
      if (y === null || !Number.isFinite(y)) {
        if ((runs[runs.length - 1] as unknown[]).length > 0) runs.push([]);
      } else (runs[runs.length - 1] as (readonly [number, number])[]).push([x, y]);
    }
    out.push(`<g stroke="${colour}" fill="${colour}">`);
    for (const run of runs) {
      if (run.length === 1) {
        const [x, y] = run[0] as readonly [number, number];
        out.push(`<circle cx="${fmt(sx(x))}" cy="${fmt(sy(y))}" r="2.5" stroke="none"/>`);
      } else if (run.length > 1) {
        out.push(
          `<polyline fill="none" stroke-width="2" stroke-linejoin="round" points="${run.map(([x, y]) => `${fmt(sx(x))},${fmt(sy(y))}`).join(' ')}"/>`,
        );
      }
    }
    out.push('</g>');
  });

  // Legend in the right margin.
  const legendX = MARGIN.left + plotW + 16;
  out.push('<g fill="#222222">');
  options.series.forEach((s, i) => {
    const colour = CHART_COLOURS[i % CHART_COLOURS.length] as string;
    const y = MARGIN.top + 8 + i * 20;
    out.push(`<line x1="${legendX}" y1="${y}" x2="${legendX + 22}" y2="${y}" stroke="${colour}" stroke-width="3"/>`);
    out.push(`<text x="${legendX + 28}" y="${y + 4}">${escapeXml(s.name)}</text>`);
  });
  if (options.reference !== undefined) {
    const y = MARGIN.top + 8 + options.series.length * 20;
    out.push(
      `<line x1="${legendX}" y1="${y}" x2="${legendX + 22}" y2="${y}" stroke="${REFERENCE_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    );
    out.push(`<text x="${legendX + 28}" y="${y + 4}">${escapeXml(options.reference.label)}</text>`);
  }
  out.push('</g>');
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
