// Durations as Prometheus writes them in rule files: "5m", "1h30m", "2d", "1w", "500ms", "0"
// (prometheus/common model.ParseDuration: units y, w, d, h, m, s, ms, largest first, integers only).

const UNITS_MS: ReadonlyArray<readonly [string, number]> = [
  ['y', 365 * 86_400_000],
  ['w', 7 * 86_400_000],
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
];

const DURATION_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Milliseconds of a Prometheus duration; undefined when it is not one. */
export function parsePromDurationMs(text: string): number | undefined {
  if (text === '0') return 0;
  if (text === '') return undefined;
  const m = DURATION_RE.exec(text);
  if (m === null) return undefined;
  let ms = 0;
  UNITS_MS.forEach(([, size], i) => {
    const n = m[i + 1];
    if (n !== undefined) ms += Number(n) * size;
  });
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** Renders ms as Prometheus does ("1h30m", "5m", "0s"). */
export function formatPromDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of UNITS_MS) {
    if (unit === 'y' || unit === 'w') continue;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
