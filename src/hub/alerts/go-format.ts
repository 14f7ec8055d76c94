// Numbers formatted as Go's fmt prints them, so alert annotations read as they would in Prometheus:
// `{{ $value }}` is Go's %v of a float64, `humanize` is %.4g with an SI prefix.

/**
 * Mantissa digits and decimal exponent of `v` (finite, non-zero) with `digits` significant digits
 * (undefined: shortest). An exact tie rounds half to even, as Go's strconv does (JavaScript rounds it up).
 */
function decompose(v: number, digits?: number): { mantissa: string; exp: number } {
  const x = Math.abs(v);
  const text = digits === undefined ? x.toExponential() : x.toExponential(digits - 1);
  const [mantissa, exp] = text.split('e') as [string, string];
  if (digits !== undefined && digits < 100) {
    const [full, fullExp] = x.toExponential(99).split('e') as [string, string];
    const all = full.replace('.', '');
    const kept = all.slice(0, digits);
    const tie = all[digits] === '5' && /^0*$/.test(all.slice(digits + 1));
    if (tie && Number(kept.at(-1)) % 2 === 0) {
      return { mantissa: kept.length > 1 ? `${kept[0]}.${kept.slice(1)}` : kept, exp: Number(fullExp) };
    }
  }
  return { mantissa, exp: Number(exp) };
}

function stripZeros(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

function goExponent(exp: number): string {
  return `e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

function special(v: number): string | undefined {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  return undefined;
}

/**
 * Go's `%v` (and `%g`) of a float64: the shortest digits that read back exactly, in exponent form
 * below 1e-4 and from 1e6 on (strconv uses precision 6 for that decision when printing shortest), so
 * 1234567 prints "1.234567e+06" as it does in a Prometheus annotation.
 */
export function formatGoFloat(v: number): string {
  const s = special(v);
  if (s !== undefined) return s;
  const { mantissa, exp } = decompose(v);
  const sign = v < 0 ? '-' : '';
  if (exp < -4 || exp >= 6) return `${sign}${mantissa}${goExponent(exp)}`;
  return String(v);
}

/** Go's `%.<precision>g`: `precision` significant digits, trailing zeros dropped. */
export function formatGoG(v: number, precision: number): string {
  const s = special(v);
  if (s !== undefined) return s;
  const p = Math.max(1, precision);
  const { mantissa, exp } = decompose(v, p);
  const sign = v < 0 ? '-' : '';
  if (exp < -4 || exp >= p) return `${sign}${stripZeros(mantissa)}${goExponent(exp)}`;
  return `${sign}${stripZeros(Math.abs(v).toFixed(Math.max(0, p - 1 - exp)))}`;
}

/** Go's `%.<precision>e`. */
export function formatGoE(v: number, precision: number): string {
  const s = special(v);
  if (s !== undefined) return s;
  const { mantissa, exp } = decompose(v, precision + 1);
  return `${v < 0 ? '-' : ''}${mantissa}${goExponent(exp)}`;
}

const BIG_PREFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
const SMALL_PREFIXES = ['', 'm', 'u', 'n', 'p', 'f', 'a', 'z', 'y'];

/** Prometheus' `humanize`: 1234567 -> "1.235M", 0.0012 -> "1.2m". */
export function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return formatGoG(v, 4);
  let x = v;
  if (Math.abs(x) >= 1) {
    let i = 0;
    while (Math.abs(x) >= 1000 && i < BIG_PREFIXES.length - 1) {
      x /= 1000;
      i++;
    }
    return `${formatGoG(x, 4)}${BIG_PREFIXES[i]}`;
  }
  let i = 0;
  while (Math.abs(x) < 1 && i < SMALL_PREFIXES.length - 1) {
    x *= 1000;
    i++;
  }
  return `${formatGoG(x, 4)}${SMALL_PREFIXES[i]}`;
}

/** Prometheus' `humanizeDuration` of seconds: 3725 -> "1h 2m 5s", 0.25 -> "250ms". */
export function humanizeDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return formatGoG(seconds, 4);
  if (seconds === 0) return '0s';
  const sign = seconds < 0 ? '-' : '';
  const v = Math.abs(seconds);
  if (v >= 1) {
    const whole = Math.trunc(v);
    const days = Math.trunc(whole / 86_400);
    const hours = Math.trunc(whole / 3_600) % 24;
    const minutes = Math.trunc(whole / 60) % 60;
    const secs = formatGoG(v % 60, 4);
    if (days !== 0) return `${sign}${days}d ${hours}h ${minutes}m ${secs}s`;
    if (hours !== 0) return `${sign}${hours}h ${minutes}m ${secs}s`;
    if (minutes !== 0) return `${sign}${minutes}m ${secs}s`;
    return `${sign}${secs}s`;
  }
  const prefixes = ['ms', 'us', 'ns', 'ps', 'fs', 'as', 'zs', 'ys'];
  let x = v;
  for (const prefix of prefixes) {
    x *= 1000;
    if (x >= 1) return `${sign}${formatGoG(x, 4)}${prefix}`;
  }
  return `${sign}${formatGoG(x, 4)}ys`;
}

/** Prometheus' `humanizePercentage`: 0.1234 -> "12.34%". */
export function humanizePercentage(ratio: number): string {
  return `${formatGoG(ratio * 100, 4)}%`;
}

/**
 * Go's `printf` for the verbs annotations use: %v %s %d %f %g %e with an optional precision
 * (`%.1f`), and %%. Returns undefined for a verb it does not know.
 */
export function goSprintf(format: string, args: readonly (string | number)[]): string | undefined {
  let out = '';
  let next = 0;
  const re = /%(?:%|(\.\d+)?([vsdfge]))/g;
  let last = 0;
  for (let m = re.exec(format); m !== null; m = re.exec(format)) {
    out += format.slice(last, m.index);
    last = m.index + m[0].length;
    if (m[0] === '%%') {
      out += '%';
      continue;
    }
    const arg = args[next++];
    if (arg === undefined) {
      out += `%!${m[2]}(MISSING)`;
      continue;
    }
    const precision = m[1] === undefined ? undefined : Number(m[1].slice(1));
    const num = typeof arg === 'number' ? arg : Number(arg);
    switch (m[2]) {
      case 'v':
      case 's':
        out += typeof arg === 'number' ? formatGoFloat(arg) : arg;
        break;
      case 'd':
        out += Number.isFinite(num) ? String(Math.trunc(num)) : formatGoFloat(num);
        break;
      case 'f':
        out += Number.isFinite(num) ? num.toFixed(precision ?? 6) : formatGoFloat(num);
        break;
      case 'g':
        out += precision === undefined ? formatGoFloat(num) : formatGoG(num, precision);
        break;
      case 'e':
        out += formatGoE(num, precision ?? 6);
        break;
    }
  }
  if (/%(?!%)/.test(format.replace(re, ''))) return undefined;
  return out + format.slice(last);
}
