// The effective config as YAML with each leaf annotated by a trailing comment naming the file and line
// that set it (`retention: 14d # sites/ridge.yaml:4`), what `fieldmesh config render` prints.

import { Document, Pair, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { formatPath } from './tree.js';
import type { Provenance } from './types.js';

function build(value: unknown, path: (string | number)[], provenance: Readonly<Record<string, Provenance>>): Scalar | YAMLMap | YAMLSeq {
  const p = provenance[formatPath(path)];
  const comment = p === undefined ? undefined : ` ${p.file}:${p.line}`;
  if (Array.isArray(value)) {
    const seq = new YAMLSeq();
    value.forEach((v, i) => {
      seq.items.push(build(v, [...path, i], provenance));
    });
    if (value.length === 0) {
      seq.flow = true;
      if (comment !== undefined) seq.comment = comment;
    }
    return seq;
  }
  if (typeof value === 'object' && value !== null) {
    const map = new YAMLMap();
    const entries = Object.entries(value);
    for (const [k, v] of entries) map.items.push(new Pair(new Scalar(k), build(v, [...path, k], provenance)));
    if (entries.length === 0) {
      map.flow = true;
      if (comment !== undefined) map.comment = comment;
    }
    return map;
  }
  const scalar = new Scalar(value);
  if (comment !== undefined) scalar.comment = comment;
  return scalar;
}

/** YAML text of `config`, each leaf followed by `# file:line` from `provenance` (keyed by path). */
export function renderAnnotatedYaml(config: Readonly<Record<string, unknown>>, provenance: Readonly<Record<string, Provenance>>): string {
  const doc = new Document();
  doc.contents = build(config, [], provenance) as YAMLMap;
  return doc.toString({ lineWidth: 0 });
}
