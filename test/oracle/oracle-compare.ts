// Asks Prometheus and fieldmesh the same query and compares the answers point by point: same result type, same label
// sets (order-insensitive, except sort()/sort_desc() whose order is defined), values within a relative 1e-9 (NaN equal
// to NaN, infinities equal), same timestamps. Where Prometheus answers an error fieldmesh must answer one too; where
// fieldmesh refuses a query Prometheus answers, the refusal must name what is not supported.

export type Answer =
  | { readonly ok: true; readonly data: { resultType: string; result: unknown } }
  | { readonly ok: false; readonly status: number; readonly errorType: string; readonly error: string };

export type Verdict =
  | { readonly kind: 'agree' }
  | { readonly kind: 'refused'; readonly why: string }
  | { readonly kind: 'mismatch'; readonly diff: string };

export type Params = Readonly<Record<string, string>>;

export async function answerOf(status: number, body: string): Promise<Answer> {
  let json: {
    status?: string;
    data?: { resultType: string; result: unknown };
    errorType?: string;
    error?: string;
    message?: string;
    code?: string;
  };
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, status, errorType: 'unparsable', error: body.slice(0, 200) };
  }
  if (json.status === 'success' && json.data !== undefined) return { ok: true, data: json.data };
  return {
    ok: false,
    status,
    errorType: json.errorType ?? json.code ?? 'unknown',
    error: json.error ?? json.message ?? body.slice(0, 200),
  };
}

function num(s: string): number {
  return s === 'NaN' ? Number.NaN : s === '+Inf' || s === 'Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s);
}

export function sameValue(a: string, b: string): boolean {
  if (a === b) return true;
  const x = num(a);
  const y = num(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y);
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y;
  const d = Math.abs(x - y);
  return d <= 1e-9 * Math.max(Math.abs(x), Math.abs(y)) || d <= 1e-12;
}

function key(metric: Record<string, string>): string {
  return JSON.stringify(Object.entries(metric).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

type Point = [number, string];
interface Row {
  metric: Record<string, string>;
  value?: Point;
  values?: Point[];
}

function pointsDiff(where: string, p: Point[], f: Point[]): string | undefined {
  const pm = new Map(p.map(([t, v]) => [t, v]));
  const fm = new Map(f.map(([t, v]) => [t, v]));
  for (const [t, v] of pm) {
    const w = fm.get(t);
    if (w === undefined) return `${where} at ${t}: prometheus ${v}, fieldmesh no point`;
    if (!sameValue(v, w)) return `${where} at ${t}: prometheus ${v}, fieldmesh ${w}`;
  }
  for (const [t, w] of fm) if (!pm.has(t)) return `${where} at ${t}: prometheus no point, fieldmesh ${w}`;
  return undefined;
}

export function compareAnswers(query: string, prom: Answer, fm: Answer): Verdict {
  if (!prom.ok) {
    if (!fm.ok) return { kind: 'agree' };
    return { kind: 'mismatch', diff: `prometheus answers an error (${prom.errorType}: ${prom.error}), fieldmesh a ${fm.data.resultType}` };
  }
  if (!fm.ok) {
    if (/ is not supported| are not supported/.test(fm.error)) return { kind: 'refused', why: fm.error };
    return { kind: 'mismatch', diff: `fieldmesh answers an error (${fm.errorType}: ${fm.error}), prometheus a ${prom.data.resultType}` };
  }
  if (prom.data.resultType !== fm.data.resultType) {
    return { kind: 'mismatch', diff: `result type: prometheus ${prom.data.resultType}, fieldmesh ${fm.data.resultType}` };
  }
  if (prom.data.resultType === 'scalar' || prom.data.resultType === 'string') {
    const [pt, pv] = prom.data.result as Point;
    const [ft, fv] = fm.data.result as Point;
    if (pt !== ft || (prom.data.resultType === 'string' ? pv !== fv : !sameValue(pv, fv))) {
      return { kind: 'mismatch', diff: `${prom.data.resultType}: prometheus [${pt}, ${pv}], fieldmesh [${ft}, ${fv}]` };
    }
    return { kind: 'agree' };
  }
  const p = prom.data.result as Row[];
  const f = fm.data.result as Row[];
  const pk = new Map(p.map((r) => [key(r.metric), r]));
  const fk = new Map(f.map((r) => [key(r.metric), r]));
  if (pk.size !== p.length || fk.size !== f.length) {
    if (fk.size !== f.length) return { kind: 'mismatch', diff: 'fieldmesh answers two series with one label set' };
  }
  for (const [k, r] of pk) {
    const o = fk.get(k);
    if (o === undefined)
      return {
        kind: 'mismatch',
        diff: `series ${k}: prometheus has it, fieldmesh not (fieldmesh: ${[...fk.keys()].slice(0, 3).join(' ')})`,
      };
    const d = pointsDiff(`series ${k}`, r.value ? [r.value] : (r.values ?? []), o.value ? [o.value] : (o.values ?? []));
    if (d !== undefined) return { kind: 'mismatch', diff: d };
  }
  for (const k of fk.keys()) if (!pk.has(k)) return { kind: 'mismatch', diff: `series ${k}: fieldmesh has it, prometheus not` };
  if (/^\s*sort(_desc)?\(/.test(query) && prom.data.resultType === 'vector') {
    const pv = p.map((r) => r.value?.[1] ?? '');
    const fv = f.map((r) => r.value?.[1] ?? '');
    if (pv.some((v, i) => !sameValue(v, fv[i] ?? '')))
      return { kind: 'mismatch', diff: `order: prometheus ${pv.join(',')}, fieldmesh ${fv.join(',')}` };
  }
  return { kind: 'agree' };
}
