// The sites map: status pins on an equirectangular projection fitted to the sites, a graticule, the
// Natural Earth land outline (a lazily loaded chunk of this bundle: no tile server, works air-gapped)
// and, when configured, the operator's site-plan image under the pins.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { HEALTH_WORD, reasonText } from '../../components/ui.js';
import { HEALTH_RANK, type SiteRow } from '../../derive.js';
import { siteHref } from '../../router.js';
import type { ConsoleInfo } from '../../types.js';

const W = 1000;
/** Share of the span added on each side so edge pins and labels stay inside. */
const PAD = 0.14;
/** A lone site, or sites a few metres apart, still get a readable frame (degrees). */
const MIN_SPAN_DEG = 0.01;
const NICE_STEPS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30];
/** The map's height on screen, px: as wide as its column, this tall, whatever the sites' shape. */
const HEIGHT_MIN_PX = 280;
const HEIGHT_MAX_PX = 440;
/** Pins get a name label up to this many sites (beyond: on hover and focus). */
const LABEL_MAX_SITES = 40;

let outline: { land: string; borders: string } | undefined;
let landStep = 0.1;

/** The land and country-border paths, loaded once, after the first paint (they are not needed for it). */
function useOutline(): { land: string; borders: string } | undefined {
  const [, set] = useState(0);
  useEffect(() => {
    if (outline !== undefined) return;
    import('virtual:land-110m').then(
      (m) => {
        outline = { land: m.LAND_PATH, borders: m.BORDERS_PATH };
        landStep = m.LAND_STEP_DEG;
        set(1);
      },
      // Without it the map still has its graticule and pins.
      () => {},
    );
  }, []);
  return outline;
}

interface Frame {
  readonly h: number;
  readonly x: (lon: number) => number;
  readonly y: (lat: number) => number;
  readonly lon: readonly [number, number];
  readonly lat: readonly [number, number];
  readonly matrix: string;
}

function fit(points: ReadonlyArray<readonly [number, number]>, h: number): Frame {
  const lats = points.map((p) => p[0]);
  const lons = points.map((p) => p[1]);
  let [s, n, w, e] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  if (n - s < MIN_SPAN_DEG) [s, n] = [(s + n) / 2 - MIN_SPAN_DEG / 2, (s + n) / 2 + MIN_SPAN_DEG / 2];
  if (e - w < MIN_SPAN_DEG) [w, e] = [(w + e) / 2 - MIN_SPAN_DEG / 2, (w + e) / 2 + MIN_SPAN_DEG / 2];
  const latC = (s + n) / 2;
  const lonC = (w + e) / 2;
  const k = Math.cos((latC * Math.PI) / 180);
  const pw = (e - w) * k * (1 + 2 * PAD);
  const ph = (n - s) * (1 + 2 * PAD);
  const scale = Math.min(W / pw, h / ph);
  const x = (lon: number) => W / 2 + (lon - lonC) * k * scale;
  const y = (lat: number) => h / 2 - (lat - latC) * scale;
  const halfLon = W / 2 / (k * scale);
  const halfLat = h / 2 / scale;
  const matrix = `matrix(${k * scale * landStep} 0 0 ${scale * landStep} ${W / 2 - lonC * k * scale} ${h / 2 + latC * scale})`;
  return { h, x, y, lon: [lonC - halfLon, lonC + halfLon], lat: [latC - halfLat, latC + halfLat], matrix };
}

function niceStep(span: number): number {
  return NICE_STEPS.find((st) => span / st <= 7) ?? 30;
}

function degrees(v: number, step: number, pos: string, neg: string): string {
  const digits = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)));
  return `${Math.abs(v).toFixed(digits)}°${v >= 0 ? pos : neg}`;
}

function Graticule({ f }: { f: Frame }) {
  const lines = [];
  const lonStep = niceStep(f.lon[1] - f.lon[0]);
  const latStep = niceStep(f.lat[1] - f.lat[0]);
  for (let v = Math.ceil(f.lon[0] / lonStep) * lonStep; v <= f.lon[1]; v += lonStep) {
    const x = f.x(v);
    lines.push(<line key={`x${v}`} x1={x} x2={x} y1={0} y2={f.h} />);
    lines.push(
      <text key={`tx${v}`} x={x + 4} y={f.h - 6} class="grat-label">
        {degrees(v, lonStep, 'E', 'W')}
      </text>,
    );
  }
  for (let v = Math.ceil(f.lat[0] / latStep) * latStep; v <= f.lat[1]; v += latStep) {
    const y = f.y(v);
    lines.push(<line key={`y${v}`} x1={0} x2={W} y1={y} y2={y} />);
    lines.push(
      <text key={`ty${v}`} x={4} y={y - 4} class="grat-label">
        {degrees(v, latStep, 'N', 'S')}
      </text>,
    );
  }
  return <g class="graticule">{lines}</g>;
}

type LabelSide = 'right' | 'left' | 'above' | 'below' | 'none';
/** Rough text metrics of the 12-unit label font, enough to keep labels from covering each other. */
const CHAR_W = 6.8;
const LABEL_H = 14;

/** Places labels worst-first, each on the first side where it overlaps no pin and no earlier label. */
function placeLabels(pins: ReadonlyArray<{ site: string; x: number; y: number; text: string }>, h: number): Map<string, LabelSide> {
  const boxes: Array<[number, number, number, number]> = pins.map((p) => [p.x - 10, p.y - 10, p.x + 10, p.y + 10]);
  const out = new Map<string, LabelSide>();
  const hit = (b: [number, number, number, number]) =>
    b[0] < 0 || b[2] > W || b[1] < 0 || b[3] > h || boxes.some((o) => b[0] < o[2] && b[2] > o[0] && b[1] < o[3] && b[3] > o[1]);
  for (const p of pins) {
    const w = p.text.length * CHAR_W;
    const tries: Array<[LabelSide, [number, number, number, number]]> = [
      ['right', [p.x + 11, p.y - LABEL_H / 2, p.x + 13 + w, p.y + LABEL_H / 2]],
      ['left', [p.x - 13 - w, p.y - LABEL_H / 2, p.x - 11, p.y + LABEL_H / 2]],
      ['above', [p.x - w / 2, p.y - 12 - LABEL_H, p.x + w / 2, p.y - 12]],
      ['below', [p.x - w / 2, p.y + 12, p.x + w / 2, p.y + 12 + LABEL_H]],
    ];
    const ok = tries.find(([, b]) => !hit(b));
    out.set(p.site, ok?.[0] ?? 'none');
    if (ok !== undefined) boxes.push(ok[1]);
  }
  return out;
}

const LABEL_POS: Record<Exclude<LabelSide, 'none'>, { x: number; y: number; anchor: string }> = {
  right: { x: 12, y: 4, anchor: 'start' },
  left: { x: -12, y: 4, anchor: 'end' },
  above: { x: 0, y: -14, anchor: 'middle' },
  below: { x: 0, y: 24, anchor: 'middle' },
};

function Pin({ row, x, y, side }: { row: SiteRow; x: number; y: number; side: LabelSide }) {
  const pos = LABEL_POS[side === 'none' ? 'right' : side];
  const tip = `${row.name}: ${HEALTH_WORD[row.health]}, ${row.counts.online}/${row.total} nodes online${
    row.reasons.length > 0 ? ` (${row.reasons.map((r) => reasonText(r.text)).join('; ')})` : ''
  }`;
  const shape =
    row.health === 'green' ? (
      <circle r={6.5} />
    ) : row.health === 'warn' ? (
      <path d="M0 -9 L8.5 6 L-8.5 6 Z" />
    ) : (
      <path d="M0 -10 L10 0 L0 10 L-10 0 Z" />
    );
  return (
    <a
      href={siteHref(row.site)}
      class={`pin ${row.health}`}
      data-testid="map-pin"
      data-site={row.site}
      data-health={row.health}
      aria-label={tip}
    >
      <title>{tip}</title>
      <g transform={`translate(${x.toFixed(1)} ${y.toFixed(1)})`}>
        {shape}
        {row.health === 'error' && <path class="pin-mark" d="M-3 -3 L3 3 M3 -3 L-3 3" />}
        <text x={pos.x} y={pos.y} text-anchor={pos.anchor} class={side === 'none' ? 'pin-label hover-only' : 'pin-label'}>
          {row.name}
        </text>
      </g>
    </a>
  );
}

export function SiteMap({ rows, config }: { rows: readonly SiteRow[]; config: ConsoleInfo | null }) {
  const land = useOutline();
  const placed = rows.filter((r) => r.lat !== null && r.lon !== null);
  const bounds = config?.map?.bounds ?? null;
  const image = config?.map?.image ?? null;
  const box = useRef<HTMLDivElement>(null);
  const [widthPx, setWidthPx] = useState(1000);
  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const ro = new ResizeObserver(() => setWidthPx(Math.max(200, el.clientWidth)));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const heightPx = Math.min(HEIGHT_MAX_PX, Math.max(HEIGHT_MIN_PX, widthPx * 0.5));
  const h = Math.round((W * heightPx) / widthPx);
  const key = placed.map((r) => `${r.lat},${r.lon}`).join(';') + JSON.stringify(bounds);
  const frame = useMemo(() => {
    const pts: Array<readonly [number, number]> = placed.map((r) => [r.lat as number, r.lon as number] as const);
    if (bounds !== null) pts.push([bounds.south, bounds.west], [bounds.north, bounds.east]);
    return pts.length === 0 ? null : fit(pts, h);
  }, [key, land, h]);
  if (frame === null)
    return (
      <div class="map-empty" data-testid="map-empty" ref={box}>
        <p>
          <strong>No site has coordinates yet.</strong> Give sites a <code>lat</code> and <code>lon</code> in the hub's configuration to
          place them on the map. They are listed beside it meanwhile.
        </p>
      </div>
    );
  // Worst on top: a red pin is never hidden under a green one, and its label is placed first.
  const ordered = [...placed].sort((a, b) => HEALTH_RANK[a.health] - HEALTH_RANK[b.health]);
  const sides =
    placed.length <= LABEL_MAX_SITES
      ? placeLabels(
          [...ordered].reverse().map((r) => ({ site: r.site, x: frame.x(r.lon as number), y: frame.y(r.lat as number), text: r.name })),
          frame.h,
        )
      : new Map<string, LabelSide>();
  return (
    <div ref={box}>
      <svg class="map" viewBox={`0 0 ${W} ${frame.h}`} role="img" aria-label={`map of ${placed.length} sites`} data-testid="site-map">
        <rect class="sea" width={W} height={frame.h} />
        {land !== undefined && <path class="land" d={land.land} transform={frame.matrix} />}
        {land !== undefined && <path class="borders" d={land.borders} transform={frame.matrix} />}
        {image !== null && bounds !== null && (
          <image
            href={image}
            x={frame.x(bounds.west)}
            y={frame.y(bounds.north)}
            width={frame.x(bounds.east) - frame.x(bounds.west)}
            height={frame.y(bounds.south) - frame.y(bounds.north)}
            preserveAspectRatio="none"
            class="site-plan"
          />
        )}
        <Graticule f={frame} />
        {ordered.map((r) => (
          <Pin key={r.site} row={r} x={frame.x(r.lon as number)} y={frame.y(r.lat as number)} side={sides.get(r.site) ?? 'none'} />
        ))}
      </svg>
    </div>
  );
}
