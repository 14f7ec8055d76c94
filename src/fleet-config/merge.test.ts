// Property tests of the layered merge: the last layer setting a leaf wins, each list mode, $delete, and
// provenance exact for every leaf (the recorded file holds that value at that line and column).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { mergeLayers } from './merge.js';
import { formatPath, leaves, parseConfigFile, type Tree, toPlain } from './tree.js';
import type { ConfigRepoProblem, LayerName } from './types.js';

const LAYERS: readonly LayerName[] = ['fleet', 'zone', 'site', 'node'];
const FILES = ['fleet.yaml', 'zones/z.yaml', 'sites/s.yaml', 'nodes/n.yaml'];

type Plain = string | number | boolean | { [k: string]: Plain };

const scalar = fc.oneof(fc.stringMatching(/^v[a-z0-9]{0,6}$/), fc.integer({ min: -1000, max: 1000 }), fc.boolean());
const key = fc.constantFrom('a', 'b', 'c', 'd');
const { tree: plainTree } = fc.letrec<{ tree: Plain }>((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.dictionary(key, tie('tree'), { maxKeys: 3 })),
}));
const layerMap = fc.dictionary(key, plainTree, { maxKeys: 4 }).map((l) => JSON.parse(JSON.stringify(l)) as { [k: string]: Plain });

function parseLayer(text: string, i: number): Tree | undefined {
  const parsed = parseConfigFile(text, FILES[i] as string, LAYERS[i] as LayerName);
  assert.deepEqual(parsed.problems, []);
  return parsed.tree;
}

/** The reference: maps merge deeply, anything else replaces. */
function model(base: Plain | undefined, over: Plain): Plain {
  if (typeof over !== 'object' || typeof base !== 'object' || base === undefined) return typeof over === 'object' ? model({}, over) : over;
  const out: { [k: string]: Plain } = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = model(out[k], v);
  return out;
}

/** Whether `value` is a leaf of `obj` at `path` (a scalar or an empty map there). */
function leafAt(obj: Plain, path: readonly (string | number)[]): boolean {
  let cur: Plain | undefined = obj;
  for (const p of path) cur = typeof cur === 'object' ? cur[String(p)] : undefined;
  return cur !== undefined && (typeof cur !== 'object' || Object.keys(cur).length === 0);
}

/** The text at a provenance position starts with the value as YAML writes it. */
function assertPositioned(texts: readonly string[], at: { file: string; line: number; col: number }, value: unknown): void {
  const text = texts[FILES.indexOf(at.file)] as string;
  const line = text.split('\n')[at.line - 1] ?? '';
  const expected = typeof value === 'object' ? (Array.isArray(value) ? '[]' : '{}') : stringify(value).trim();
  assert.ok(
    line.slice(at.col - 1).startsWith(expected),
    `${at.file}:${at.line}:${at.col} holds ${JSON.stringify(line)}, expected ${expected}`,
  );
}

test('fleet-config merge: maps merge deeply and the last layer setting a leaf wins, with exact provenance', () => {
  fc.assert(
    fc.property(fc.array(layerMap, { minLength: 1, maxLength: 4 }), (layers) => {
      const texts = layers.map((l) => (Object.keys(l).length === 0 ? '' : stringify(l)));
      const trees = texts.map(parseLayer).filter((t): t is Tree => t !== undefined);
      const problems: ConfigRepoProblem[] = [];
      const merged = mergeLayers(trees, problems);
      assert.deepEqual(problems, []);
      const expected = layers.reduce<Plain>((acc, l) => model(acc, l), {});
      if (merged === undefined) return assert.deepEqual(expected, {});
      assert.deepEqual(toPlain(merged), expected);
      for (const leaf of leaves(merged)) {
        if (leaf.path.length === 0) continue;
        // The layer recorded is the last one holding this leaf; its file holds the value there.
        const last = layers.map((l, i) => (leafAt(l, leaf.path) ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
        assert.equal(leaf.at.file, FILES[last], `${formatPath(leaf.path)}`);
        assert.equal(leaf.at.layer, LAYERS[last]);
        assertPositioned(texts, leaf.at, toPlain(leaf.tree));
      }
    }),
    { numRuns: 300 },
  );
});

interface Item {
  name: string;
  v: number;
}
type ListLayer = { mode: 'replace' | 'append' | 'merge'; items: Item[]; deletes: string[] };

const itemName = fc.constantFrom('x', 'y', 'z', 'w');
const listLayer: fc.Arbitrary<ListLayer> = fc
  .record({
    mode: fc.constantFrom('replace', 'append', 'merge'),
    items: fc.uniqueArray(fc.record({ name: itemName, v: fc.integer({ min: 0, max: 99 }) }), { selector: (i) => i.name, maxLength: 4 }),
    deletes: fc.uniqueArray(itemName, { maxLength: 2 }),
  })
  .map((l) => ({ ...l, items: l.items.map((i) => ({ name: i.name, v: i.v })) }))
  .map((l) =>
    l.mode === 'merge' ? { ...l, deletes: l.deletes.filter((d) => !l.items.some((i) => i.name === d)) } : { ...l, deletes: [] },
  );

function listText(l: ListLayer): string {
  const lines = [`collectors: !${l.mode}`];
  if (l.items.length === 0 && l.deletes.length === 0) return `collectors: !${l.mode} []\n`;
  for (const i of l.items) lines.push(`  - name: ${i.name}`, `    v: ${i.v}`);
  for (const d of l.deletes) lines.push(`  - {name: ${d}, $delete: true}`);
  return `${lines.join('\n')}\n`;
}

/** The reference of the list modes: replace, append, merge by name with $delete. */
function listModel(layers: readonly ListLayer[]): { item: Item; layer: number }[] {
  let out: { item: Item; layer: number }[] = [];
  layers.forEach((l, layer) => {
    const own = l.items.map((item) => ({ item, layer }));
    if (l.mode === 'replace') out = own;
    else if (l.mode === 'append') out = [...out, ...own];
    else {
      out = out.filter((e) => !l.deletes.includes(e.item.name));
      for (const e of own) {
        const i = out.findIndex((o) => o.item.name === e.item.name);
        if (i >= 0) out[i] = e;
        else out.push(e);
      }
    }
  });
  return out;
}

test('fleet-config merge: !replace, !append and !merge (by name, with $delete) follow the model, each item with its file', () => {
  fc.assert(
    fc.property(fc.array(listLayer, { minLength: 1, maxLength: 4 }), (layers) => {
      // Append needs unique names across layers to stay a valid collectors list; the merge itself does not care.
      const texts = layers.map(listText);
      const trees = texts.map(parseLayer).filter((t): t is Tree => t !== undefined);
      const problems: ConfigRepoProblem[] = [];
      const merged = mergeLayers(trees, problems) as Tree;
      assert.deepEqual(problems, []);
      const expected = listModel(layers);
      assert.deepEqual(
        (toPlain(merged) as { collectors: Item[] }).collectors,
        expected.map((e) => e.item),
      );
      const byPath = new Map(leaves(merged).map((l) => [formatPath(l.path), l]));
      expected.forEach((e, i) => {
        for (const k of ['name', 'v'] as const) {
          const leaf = byPath.get(`collectors[${i}].${k}`);
          assert.ok(leaf !== undefined);
          assert.equal(leaf.at.file, FILES[e.layer]);
          assertPositioned(texts, leaf.at, e.item[k]);
        }
      });
      if (expected.length === 0) assert.equal(byPath.get('collectors')?.at.file, FILES[layers.length - 1]);
    }),
    { numRuns: 300 },
  );
});

test('fleet-config merge: a !merge item without its identity key is refused with file, line and path', () => {
  const base = parseLayer('collectors:\n  - name: host\n    type: host\n', 0) as Tree;
  const over = parseLayer('collectors: !merge\n  - type: mqtt\n', 1) as Tree;
  const problems: ConfigRepoProblem[] = [];
  mergeLayers([base, over], problems);
  assert.deepEqual(
    problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.path}: ${p.message}`),
    ['zones/z.yaml:2:5: collectors[0]: an item of a !merge list needs its name (this item has none); add name: to it'],
  );
});

test('fleet-config merge: $delete outside a !merge list, and !merge on a list without identity, are refused', () => {
  const problems: ConfigRepoProblem[] = [];
  mergeLayers(
    [parseLayer('collectors: !append\n  - {name: host, $delete: true}\nstore:\n  rollups: !merge\n    - {resolution: 5m}\n', 0) as Tree],
    problems,
  );
  assert.deepEqual(
    problems.map((p) => `${p.file}:${p.line}: ${p.path}`),
    ['fleet.yaml:2: collectors[0]', 'fleet.yaml:5: store.rollups'],
  );
  assert.match(problems[0]?.message ?? '', /\$delete works only in a !merge list/);
  assert.match(problems[1]?.message ?? '', /!merge needs items with an identity key/);
});
