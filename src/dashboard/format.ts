// Words for numbers and times: ages ("3 min ago"), durations ("12 min"), values with units, bytes.

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

/** "just now", "42 s ago", "3 min ago"; "never" for no time at all. */
export function formatAge(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return 'never';
  if (ms < 2000) return 'just now';
  return `${formatDuration(ms)} ago`;
}

const UNITS: Record<string, string> = {
  percent: '%',
  volts: 'V',
  amperes: 'A',
  watts: 'W',
  celsius: '°C',
  seconds: 's',
  bytes: 'B',
  hertz: 'Hz',
  ratio: '',
};

export function formatUnit(unit: string): string {
  return UNITS[unit] ?? unit;
}

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  const digits = a >= 100 ? 1 : a >= 10 ? 2 : 3;
  return String(Number(v.toFixed(digits)));
}

export function formatValue(value: number | string | null, unit: string): string {
  if (value === null) return '–';
  const u = formatUnit(unit);
  const text = typeof value === 'number' ? formatNumber(value) : value;
  return u === '' ? text : u === '%' ? `${text}%` : `${text} ${u}`;
}

export function formatBytes(b: number | null | undefined): string {
  if (b === null || b === undefined || !Number.isFinite(b)) return '–';
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(1)} KiB`;
  if (b < 1024 ** 3) return `${(b / 1024 ** 2).toFixed(1)} MiB`;
  return `${(b / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en');
}

/** Local wall-clock time, with the date when not today. */
export function formatTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const today = new Date().toDateString() === d.toDateString();
  const hm = d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return today ? hm : `${d.toLocaleDateString('en-CA')} ${hm}`;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
