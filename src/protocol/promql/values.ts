// The values a PromQL expression evaluates to, and label-set helpers shared by the evaluator's parts.

/** A series' labels, `__name__` among them. */
export type Labels = Readonly<Record<string, string>>;

/** One element of an instant vector. */
export interface Sample {
  readonly metric: Labels;
  readonly value: number;
}

/** One series of a range vector: [ms, value] ascending, no staleness markers. */
export interface RangeSeries {
  readonly metric: Labels;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

export type Value =
  | { readonly type: 'scalar'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'vector'; readonly samples: readonly Sample[] }
  | { readonly type: 'matrix'; readonly series: readonly RangeSeries[] };

// Label sets are immutable once made, so their keys and name-less copies are cached per object: a
// range query meets the same series at every step.
const keys = new WeakMap<Labels, string>();
const nameless = new WeakMap<Labels, Labels>();

/** A stable identity of a label set (order-independent). */
export function labelsKey(labels: Labels): string {
  let key = keys.get(labels);
  if (key === undefined) {
    key = Object.keys(labels)
      .sort()
      .map((k) => `${k}\xff${labels[k]}`)
      .join('\xfe');
    keys.set(labels, key);
  }
  return key;
}

/** The labels without `__name__` (the same object for the same input). */
export function dropName(labels: Labels): Labels {
  if (!('__name__' in labels)) return labels;
  let out = nameless.get(labels);
  if (out === undefined) {
    const { __name__: _, ...rest } = labels;
    out = rest;
    nameless.set(labels, out);
  }
  return out;
}

/** Compares label sets as Prometheus orders series: by sorted label pairs. */
export function compareLabels(a: Labels, b: Labels): number {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    const x = ka[i] as string;
    const y = kb[i] as string;
    if (x !== y) return x < y ? -1 : 1;
    const vx = a[x] as string;
    const vy = b[y] as string;
    if (vx !== vy) return vx < vy ? -1 : 1;
  }
  return ka.length - kb.length;
}

/** Labels with empty values removed (an empty label is no label). */
export function withoutEmpty(labels: Record<string, string>): Labels {
  for (const [k, v] of Object.entries(labels)) if (v === '') delete labels[k];
  return labels;
}
