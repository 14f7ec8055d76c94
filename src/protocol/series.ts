// One series identity and its textual forms, for agent, hub and console alike: a series is its metric name and its
// labels; labels are compared and stored in sorted order, so equal label sets give equal strings.

/** What names a series everywhere: the metric name and its labels (never `__name__`). */
export interface SeriesName {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** The labels with their keys sorted, without the keys in `omit`. */
export function sortedLabels(labels: Readonly<Record<string, string>>, omit: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) if (!omit.includes(k)) out[k] = labels[k] as string;
  return out;
}

/** The labels as stored (agent store, outbox, hub storage): JSON of the sorted labels. */
export function labelsJson(labels: Readonly<Record<string, string>>, omit: readonly string[] = []): string {
  return JSON.stringify(sortedLabels(labels, omit));
}

/** A map key of a series: its name and its stored labels. */
export function seriesKey(s: SeriesName): string {
  return `${s.name}${labelsJson(s.labels)}`;
}

/** Prometheus' text form, `name{k="v",...}` with sorted labels (just `name` without any): for messages and the ledger. */
export function seriesText(s: SeriesName, omit: readonly string[] = []): string {
  const pairs = Object.entries(sortedLabels(s.labels, omit)).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return pairs.length === 0 ? s.name : `${s.name}{${pairs.join(',')}}`;
}
