#!/usr/bin/env node
// Builds the operator console (src/dashboard, Vite + Preact) into dist/console/, bundles the Natural
// Earth land outline as a lazily loaded chunk, and writes .gz and .br siblings of every asset for
// @fastify/static's preCompressed serving.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { feature, mesh } from 'topojson-client';
import { build } from 'vite';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist', 'console');
/** Files smaller than this gain nothing from compression (one TCP packet either way). */
const COMPRESS_MIN_BYTES = 256;
const LAND_MODULE = 'virtual:land-110m';
/** Coordinates rounded to this many degrees: 110m data is ~0.1 degree accurate anyway. */
const LAND_STEP_DEG = 0.1;

/**
 * Natural Earth 110m land (public domain, via world-atlas) as one SVG path in degrees (x = longitude,
 * y = -latitude), relative moves with coordinates in tenths of a degree: about 30 KB, 12 KB gzip.
 */
function readAtlas(name) {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', 'world-atlas', name), 'utf8'));
}

/** Lines (closed rings or open border lines) as one relative SVG path in steps of LAND_STEP_DEG. */
function toPath(lines, closed) {
  const q = (v) => Math.round(v / LAND_STEP_DEG);
  const parts = [];
  // After "z" the current point is the subpath's start; after an open line it is its end.
  let px = 0;
  let py = 0;
  for (const line of lines) {
    const pts = [];
    for (const [lon, lat] of line) {
      const p = [q(lon), q(-lat)];
      const last = pts.at(-1);
      if (last === undefined || last[0] !== p[0] || last[1] !== p[1]) pts.push(p);
    }
    if (pts.length < (closed ? 4 : 2)) continue;
    let d = `m${pts[0][0] - px} ${pts[0][1] - py}`;
    for (let i = 1; i < pts.length; i++) d += ` ${pts[i][0] - pts[i - 1][0]} ${pts[i][1] - pts[i - 1][1]}`;
    parts.push(closed ? `${d}z` : d);
    [px, py] = closed ? pts[0] : pts[pts.length - 1];
  }
  // Relative numbers joined without "l": after "m", further pairs are implicit relative line-tos.
  return parts.join('').replace(/ -/g, '-');
}

function landPath() {
  const topo = readAtlas('land-110m.json');
  const land = feature(topo, topo.objects.land);
  const polygons = land.type === 'FeatureCollection' ? land.features.flatMap((f) => polys(f.geometry)) : polys(land.geometry);
  return toPath(polygons.flat(), true);
}

/** Borders between countries only (arcs shared by two countries), not coastlines. */
function bordersPath() {
  const topo = readAtlas('countries-110m.json');
  const borders = mesh(topo, topo.objects.countries, (a, b) => a !== b);
  return toPath(borders.coordinates, false);
}

function polys(g) {
  if (g.type === 'Polygon') return [g.coordinates];
  if (g.type === 'MultiPolygon') return g.coordinates;
  return [];
}

function landPlugin() {
  return {
    name: 'fieldmesh-land',
    resolveId: (id) => (id === LAND_MODULE ? `\0${LAND_MODULE}` : null),
    load(id) {
      if (id !== `\0${LAND_MODULE}`) return null;
      return [
        '/** Natural Earth 110m land and country borders (public domain), tenths of a degree, y = -latitude. */',
        `export const LAND_STEP_DEG = ${LAND_STEP_DEG};`,
        `export const LAND_PATH = ${JSON.stringify(landPath())};`,
        `export const BORDERS_PATH = ${JSON.stringify(bordersPath())};`,
        '',
      ].join('\n');
    },
  };
}

function walk(dir, out = []) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) walk(path, out);
    else out.push(path);
  }
  return out;
}

/** Writes name.gz and name.br beside every compressible file; returns [file, raw, gzip, brotli] sizes. */
export function compressTree(dir) {
  const rows = [];
  for (const file of walk(dir)) {
    if (!/\.(js|css|html|svg|json|txt|map)$/.test(file)) continue;
    const raw = readFileSync(file);
    if (raw.length < COMPRESS_MIN_BYTES) continue;
    const gz = gzipSync(raw, { level: 9 });
    const br = brotliCompressSync(raw, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
    });
    writeFileSync(`${file}.gz`, gz);
    writeFileSync(`${file}.br`, br);
    rows.push([file.slice(dir.length + 1), raw.length, gz.length, br.length]);
  }
  return rows;
}

await build({
  configFile: false,
  root: join(ROOT, 'src', 'dashboard'),
  base: '/',
  logLevel: 'warn',
  plugins: [landPlugin()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: OUT,
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    modulePreload: { polyfill: false },
    // Inline nothing as data URLs: every asset is cached on its own hashed name.
    assetsInlineLimit: 0,
  },
});

const rows = compressTree(OUT);
const total = rows.reduce((a, r) => [a[0] + r[1], a[1] + r[2], a[2] + r[3]], [0, 0, 0]);
console.log(
  `console: dist/console, ${rows.length} files, ${(total[0] / 1024).toFixed(1)} KiB raw, ${(total[1] / 1024).toFixed(1)} KiB gzip, ${(total[2] / 1024).toFixed(1)} KiB brotli`,
);
