// The labels a series carries once a collecting server has attached its own (the hub's site, node and
// zone), the way Prometheus attaches target labels to scraped series with honor_labels: false.

/** Prometheus' prefix for a series' own label that clashes with a target label (model.ExportedLabelPrefix). */
export const EXPORTED_LABEL_PREFIX = 'exported_';

/**
 * The series' own labels with the target's set over them. An own label the target also sets keeps its
 * value under `exported_<name>` (`exported_exported_<name>` when that is taken, and so on), as
 * Prometheus' scrape loop does; an own label with an empty value counts as absent, as in Prometheus.
 * Clashes are renamed shortest name first, so the outcome does not depend on the order of `target`.
 */
export function withTargetLabels(own: Readonly<Record<string, string>>, target: Readonly<Record<string, string>>): Record<string, string> {
  const labels: Record<string, string> = { ...own, ...target };
  const clashes = Object.keys(target)
    .filter((name) => (own[name] ?? '') !== '')
    .sort()
    .sort((a, b) => a.length - b.length);
  for (const name of clashes) {
    let exported = name;
    do exported = `${EXPORTED_LABEL_PREFIX}${exported}`;
    while ((labels[exported] ?? '') !== '');
    labels[exported] = own[name] as string;
  }
  return labels;
}

/**
 * A series' own labels back from `withTargetLabels(own, target)` given the target's label names, for
 * asking the node that holds the series: the target's labels go, and the last `exported_` label of each
 * name's chain takes the name back. A series that had an `exported_<name>` label of its own but no
 * `<name>` cannot be told apart from one that had `<name>`, in Prometheus too; it comes back as `<name>`.
 */
export function withoutTargetLabels(labels: Readonly<Record<string, string>>, targetNames: readonly string[]): Record<string, string> {
  const own: Record<string, string> = { ...labels };
  for (const name of targetNames) delete own[name];
  for (const name of targetNames) {
    let last: string | undefined;
    for (let key = `${EXPORTED_LABEL_PREFIX}${name}`; (own[key] ?? '') !== ''; key = `${EXPORTED_LABEL_PREFIX}${key}`) last = key;
    if (last === undefined) continue;
    own[name] = own[last] as string;
    delete own[last];
  }
  return own;
}
