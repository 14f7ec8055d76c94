// A node's effective configuration from the repository: its layers merged (fleet, zone, site, node), its
// consensus zones added, the result validated by agentConfigSchema with every problem mapped back to the
// file that set the offending value, each leaf's provenance, and the content address (configHash).
// `validateConfigRepo` runs it for every node and checks what spans nodes (zones naming unknown nodes,
// alert rule files).

import type { z } from 'zod';
import { agentConfigSchema } from '../agent/index.js';
import { FieldmeshError, resolveSecretFiles } from '../kit/index.js';
import { configHashOf, zonesSchema } from '../protocol/index.js';
import { checkAlertRuleFile } from './alert-files.js';
import { mergeLayers } from './merge.js';
import { at, type ConfigRepo, type ConsensusZoneEntry, type LayerFile, type NodeEntry, SITE_METADATA_KEYS } from './repo.js';
import { formatPath, leaves, type MapTree, type Tree, toPlain, withoutKeys } from './tree.js';
import type { AlertRuleFile, ConfigRepoProblem, Provenance, RenderedNode } from './types.js';

/** Checks one alert rule file; the CLI passes the hub's own loader, the default checks the shape. */
export type AlertFileValidator = (file: AlertRuleFile) => readonly ConfigRepoProblem[];

export interface ValidateOptions {
  readonly validateAlertFile?: AlertFileValidator;
}

export interface ConfigRepoValidation {
  /** Every problem of the repository, each once, sorted by file, line and column. */
  readonly problems: readonly ConfigRepoProblem[];
  /** Every node, rendered (valid or not), sorted by id. */
  readonly nodes: readonly RenderedNode[];
}

/** `file:line:col: path: message`, the one line every tool prints for a problem. */
export function formatProblem(p: ConfigRepoProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.path}: ${p.message}`;
}

/** SHA-256 (hex) of the canonical JSON (sorted keys) of a config: the protocol's configHashOf, which hub and node share. [FM-CONFIG-DIST] */
export function hashConfig(config: unknown): string {
  return configHashOf(config);
}

/** The layers of one node, in merge order, with what each layer may not configure taken out. */
export function nodeLayers(repo: ConfigRepo, node: NodeEntry): LayerFile[] {
  const zoneFiles = (repo.zones.get(node.zone) ?? []).filter((z) => z.site === undefined || z.site === node.site).map((z) => z.file);
  const site = repo.sites.get(node.site);
  return [...repo.fleet, ...zoneFiles, ...(site === undefined ? [] : [site]), node.file];
}

function layerTree(file: LayerFile): MapTree | undefined {
  if (file.tree === undefined) return undefined;
  const drop: string[] = ['zones', 'consensus'];
  if (file.layer !== 'node') drop.push('node');
  if (file.layer === 'site') drop.push(...SITE_METADATA_KEYS);
  return withoutKeys(file.tree, drop);
}

/** The node ids a consensus zone names (voters, the seed's nodes, cameras' and pumps' nodes), with where. */
function zoneNodeRefs(zone: ConsensusZoneEntry): { node: string; tree: Tree; path: (string | number)[] }[] {
  const out: { node: string; tree: Tree; path: (string | number)[] }[] = [];
  for (const key of ['voters', 'nodes']) {
    const list = zone.tree.entries.get(key);
    if (list?.kind !== 'list') continue;
    list.items.forEach((t, i) => {
      if (t.kind === 'scalar' && typeof t.value === 'string') out.push({ node: t.value, tree: t, path: [key, i] });
    });
  }
  for (const key of ['cameras', 'pumps']) {
    const list = zone.tree.entries.get(key);
    if (list?.kind !== 'list') continue;
    list.items.forEach((item, i) => {
      const t = item.kind === 'map' ? item.entries.get('node') : undefined;
      if (t?.kind === 'scalar' && typeof t.value === 'string') out.push({ node: t.value, tree: t, path: [key, i, 'node'] });
    });
  }
  return out;
}

function zoneRefs(zone: ConsensusZoneEntry): string[] {
  const plain = toPlain(zone.tree) as { overlaps?: unknown; overlap?: unknown; policy?: { activates?: unknown } };
  const lists = [plain.overlaps, plain.overlap, plain.policy?.activates];
  return lists.flatMap((l) => (Array.isArray(l) ? l.filter((x): x is string => typeof x === 'string') : []));
}

/**
 * The consensus zones a node carries: every zone that names it, the zones that activate those, and the
 * zones those refer to (overlaps, activates), so its zones: list is complete. Sorted by id.
 */
export function zonesOfNode(repo: ConfigRepo, nodeId: string): ConsensusZoneEntry[] {
  const byId = new Map(repo.consensusZones.map((z) => [z.id, z]));
  const set = new Set(repo.consensusZones.filter((z) => zoneNodeRefs(z).some((r) => r.node === nodeId)).map((z) => z.id));
  const activates = (z: ConsensusZoneEntry): string[] => {
    const a = (toPlain(z.tree) as { policy?: { activates?: unknown } }).policy?.activates;
    return Array.isArray(a) ? a.filter((x): x is string => typeof x === 'string') : [];
  };
  let grew = true;
  while (grew) {
    grew = false;
    for (const z of repo.consensusZones) {
      const add = set.has(z.id)
        ? zoneRefs(z).filter((ref) => byId.has(ref) && !set.has(ref))
        : activates(z).some((a) => set.has(a))
          ? [z.id]
          : [];
      for (const id of add) set.add(id);
      if (add.length > 0) grew = true;
    }
  }
  return [...set].sort().map((id) => byId.get(id) as ConsensusZoneEntry);
}

/** A consensus zone as a list item of `zones:`: its id (at `consensus:`) and its settings. */
function zoneItem(zone: ConsensusZoneEntry): MapTree {
  const entries = new Map<string, Tree>([['id', { kind: 'scalar', value: zone.id, at: zone.at }], ...zone.tree.entries]);
  const keys = new Map<string, Provenance>([['id', zone.at], ...zone.tree.keys]);
  return { kind: 'map', entries, keys, at: zone.tree.at };
}

/** Every container's (map, list) provenance by path, to place problems about a whole section. */
function containers(tree: Tree, path: (string | number)[] = [], out = new Map<string, Provenance>()): Map<string, Provenance> {
  if (tree.kind === 'scalar') return out;
  out.set(formatPath(path), tree.at);
  if (tree.kind === 'list') {
    for (const [i, t] of tree.items.entries()) containers(t, [...path, i], out);
  } else for (const [k, v] of tree.entries) containers(v, [...path, k], out);
  return out;
}

/** Every map key's position by the path it leads to. */
function keyPositions(tree: Tree, path: (string | number)[] = [], out = new Map<string, Provenance>()): Map<string, Provenance> {
  if (tree.kind === 'list') for (const [i, t] of tree.items.entries()) keyPositions(t, [...path, i], out);
  if (tree.kind !== 'map') return out;
  for (const [k, v] of tree.entries) {
    const at = tree.keys.get(k);
    if (at !== undefined) out.set(formatPath([...path, k]), at);
    keyPositions(v, [...path, k], out);
  }
  return out;
}

interface Locator {
  leaf: Map<string, Provenance>;
  /** Where each key is written, for problems about a key itself (unknown keys). */
  key: Map<string, Provenance>;
  container: Map<string, Provenance>;
  fallback: Provenance;
}

/** Where to report a problem about `path`: the leaf that holds it, else the first leaf below, else the section, else the node file. */
function locate(loc: Locator, path: readonly PropertyKey[]): Provenance {
  const parts = path.map((p) => (typeof p === 'number' ? p : String(p)));
  const key = formatPath(parts);
  const exact = loc.leaf.get(key) ?? loc.container.get(key);
  if (exact !== undefined) return exact;
  if (key === '(root)') return loc.fallback;
  for (const [k, p] of loc.leaf) if (k.startsWith(`${key}.`) || k.startsWith(`${key}[`)) return p;
  // A missing key: the node file, at the section when the node file wrote it.
  for (let n = parts.length - 1; n > 0; n--) {
    const section = loc.container.get(formatPath(parts.slice(0, n)));
    if (section !== undefined && section.file === loc.fallback.file) return section;
  }
  return loc.fallback;
}

function issueProblems(
  issues: readonly z.core.$ZodIssue[],
  loc: Locator,
  node: string | undefined,
  prefix: (string | number)[] = [],
): ConfigRepoProblem[] {
  const of = node === undefined ? {} : { node };
  const out: ConfigRepoProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as (string | number)[])];
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) {
        const where = loc.key.get(formatPath([...path, k])) ?? locate(loc, [...path, k]);
        out.push({
          kind: 'unknown-key',
          file: where.file,
          line: where.line,
          col: where.col,
          path: formatPath([...path, k]),
          message: 'unknown key',
          ...of,
        });
      }
      continue;
    }
    const where = locate(loc, path);
    out.push({ kind: 'schema', file: where.file, line: where.line, col: where.col, path: formatPath(path), message: issue.message, ...of });
  }
  return out;
}

/**
 * Renders one node of the repository: its effective config (merged layers plus its consensus zones),
 * the zod-parsed form when valid, every leaf's provenance, the config hash and its own problems. Throws
 * FM_FLEET_CONFIG_NODE_UNKNOWN when no node file defines `nodeId`.
 */
export function renderNode(repo: ConfigRepo, nodeId: string): RenderedNode {
  const node = repo.nodes.get(nodeId);
  if (node === undefined) {
    const known = [...repo.nodes.keys()].sort();
    throw new FieldmeshError(
      'FM_FLEET_CONFIG_NODE_UNKNOWN',
      `no node "${nodeId}" in ${repo.root} (nodes: ${known.length > 0 ? known.join(', ') : 'none'})`,
      { details: { node: nodeId } },
    );
  }
  const problems: ConfigRepoProblem[] = [];
  const layers = nodeLayers(repo, node)
    .map(layerTree)
    .filter((t): t is MapTree => t !== undefined);
  let merged = mergeLayers(layers, problems) as MapTree;
  const zones = zonesOfNode(repo, nodeId);
  if (zones.length > 0) {
    const items = zones.map(zoneItem);
    const zonesTree: Tree = { kind: 'list', items, mode: 'replace', at: items[0]?.at as Provenance };
    merged = mergeLayers(
      [
        merged,
        { kind: 'map', entries: new Map([['zones', zonesTree]]), keys: new Map([['zones', zones[0]?.at as Provenance]]), at: merged.at },
      ],
      problems,
    ) as MapTree;
  }
  for (const p of problems) Object.assign(p, { node: nodeId });
  // The node's identity first, as a node.yaml starts; the hash does not depend on key order.
  const identity = merged.entries.get('node');
  if (identity !== undefined)
    merged = { ...merged, entries: new Map([['node', identity], ...[...merged.entries].filter(([k]) => k !== 'node')]) };
  const config = toPlain(merged) as Record<string, unknown>;
  const provenance: Record<string, Provenance> = {};
  const leaf = new Map<string, Provenance>();
  for (const l of leaves(merged)) {
    const key = formatPath(l.path);
    provenance[key] = l.at;
    leaf.set(key, l.at);
  }
  const loc: Locator = {
    leaf,
    key: keyPositions(merged),
    container: containers(merged),
    fallback: { layer: 'node', file: node.file.file, line: 1, col: 1 },
  };
  let parsed: RenderedNode['parsed'];
  // A secret's `_file` key names a file on the node, which reads it when it applies the config: here it is
  // only checked (a path, and not beside the value itself) and left out of what the schema sees.
  const secretFiles = resolveSecretFiles(config);
  for (const p of secretFiles.problems) {
    const where = locate(loc, p.path);
    problems.push({
      kind: 'schema',
      file: where.file,
      line: where.line,
      col: where.col,
      path: formatPath(p.path),
      message: p.message,
      node: nodeId,
    });
  }
  const result = agentConfigSchema.safeParse(secretFiles.value);
  if (result.success) parsed = result.data;
  else problems.push(...issueProblems(result.error.issues, loc, nodeId));
  return {
    nodeId,
    site: node.site,
    zone: node.zone,
    config,
    parsed: problems.length === 0 ? parsed : undefined,
    provenance,
    configHash: hashConfig(config),
    problems,
  };
}

/** Renders every node of the repository, sorted by id: what `diff`, `plan` and the hub's distribution start from. */
export function renderAllNodes(repo: ConfigRepo): RenderedNode[] {
  return [...repo.nodes.keys()].sort().map((id) => renderNode(repo, id));
}

/** The repository-wide checks of the consensus zones: each zone's schema, and every node it names exists. */
function checkConsensusZones(repo: ConfigRepo): ConfigRepoProblem[] {
  const problems: ConfigRepoProblem[] = [];
  for (const zone of repo.consensusZones) {
    for (const ref of zoneNodeRefs(zone)) {
      if (!repo.nodes.has(ref.node)) {
        problems.push(
          at(
            'zone',
            ref.tree,
            formatPath(['consensus', ...ref.path]),
            `zone "${zone.id}" names node "${ref.node}", which no nodes/${ref.node}.yaml defines`,
          ),
        );
      }
    }
  }
  const all: Record<string, unknown> = {};
  for (const zone of repo.consensusZones) all[zone.id] = toPlain(zone.tree);
  const result = zonesSchema.safeParse(all);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const [id, ...rest] = issue.path as (string | number)[];
      const zone = repo.consensusZones.find((z) => z.id === id);
      if (zone === undefined) continue;
      const loc: Locator = {
        leaf: new Map(leaves(zone.tree, ['consensus']).map((l) => [formatPath(l.path), l.at])),
        key: keyPositions(zone.tree, ['consensus']),
        container: containers(zone.tree, ['consensus']),
        fallback: zone.at,
      };
      for (const p of issueProblems([{ ...issue, path: rest } as z.core.$ZodIssue], loc, undefined, ['consensus'])) {
        problems.push({ ...p, kind: p.kind === 'unknown-key' ? 'unknown-key' : 'zone' });
      }
    }
  }
  return problems;
}

function problemKey(p: ConfigRepoProblem): string {
  return `${p.file}:${p.line}:${p.col}:${p.message}`;
}

/**
 * Validates the whole repository and renders every node: file problems, identities, duplicates,
 * consensus zones, alert rule files and every node's merged config. Never stops at the first problem.
 */
export function validateConfigRepo(repo: ConfigRepo, options: ValidateOptions = {}): ConfigRepoValidation {
  const nodes = renderAllNodes(repo);
  const validateAlertFile = options.validateAlertFile ?? checkAlertRuleFile;
  const all = [
    ...repo.problems,
    ...checkConsensusZones(repo),
    ...repo.alertFiles.flatMap((f) => validateAlertFile(f)),
    ...nodes.flatMap((n) => n.problems),
  ];
  const seen = new Set<string>();
  const problems = all.filter((p) => {
    const key = problemKey(p);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  problems.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col));
  return { problems, nodes };
}

/**
 * Validates the repository and returns every node rendered, or throws FieldmeshError
 * FM_FLEET_CONFIG_INVALID listing every problem (details.problems): what a caller that must never
 * distribute an invalid commit (the hub, a node reconciling from its own clone) uses.
 */
export function renderValidConfigRepo(repo: ConfigRepo, options: ValidateOptions = {}): readonly RenderedNode[] {
  const { problems, nodes } = validateConfigRepo(repo, options);
  if (problems.length > 0) {
    throw new FieldmeshError('FM_FLEET_CONFIG_INVALID', problems.map(formatProblem).join('\n'), { details: { root: repo.root, problems } });
  }
  return nodes;
}
