// The configuration repository read from files: which layout it is (a plain folder, or the seed's pair of
// `fleet-config/` and `site-config-<site>/` trees), its layers parsed into positioned trees, its nodes'
// identities, its consensus zones, its sites' metadata and its alert rule files. Reading files is the
// only I/O here (`readConfigRepoFiles`); `parseConfigRepo` works on a map of path -> text, so a caller
// that reads a git commit's tree (or a test) needs no checkout.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FieldmeshError, ID_PATTERN } from '../kit/index.js';
import { type MapTree, parseConfigFile, type ScalarTree, type Tree } from './tree.js';
import type { AlertRuleFile, ConfigRepoProblem, LayerName, Provenance, SiteMetadata } from './types.js';

/** The layout of a repository: `plain` (fleet.yaml, zones/, sites/, nodes/, alerts/) or the seed's `pair`. */
export type ConfigRepoLayout = 'plain' | 'pair';

/** One layer file: its path in the repository and its tree (undefined when empty or unparseable). */
export interface LayerFile {
  readonly layer: LayerName;
  readonly file: string;
  readonly tree: MapTree | undefined;
}

/** A node file that gives its identity. */
export interface NodeEntry {
  readonly id: string;
  readonly site: string;
  readonly zone: string;
  readonly file: LayerFile;
}

/** A consensus zone defined by `consensus:` in a zone file (the id is the file name). */
export interface ConsensusZoneEntry {
  readonly id: string;
  readonly file: string;
  /** Where `consensus:` is written: the provenance of the zone's `id`. */
  readonly at: Provenance;
  readonly tree: MapTree;
  /** In the pair layout, the site whose repository defines the zone (undefined: the fleet's). */
  readonly site?: string;
}

/** A configuration repository, read and parsed; `problems` holds what was wrong with its files as files. */
export interface ConfigRepo {
  /** What the repository was read from (a directory, or a label given by the caller). */
  readonly root: string;
  readonly layout: ConfigRepoLayout;
  readonly fleet: readonly LayerFile[];
  /** Zone layers by zone id: the fleet's file first, then a site's (pair layout), each with its site or undefined. */
  readonly zones: ReadonlyMap<string, readonly { readonly site?: string; readonly file: LayerFile }[]>;
  readonly sites: ReadonlyMap<string, LayerFile>;
  readonly siteMetadata: readonly SiteMetadata[];
  readonly nodes: ReadonlyMap<string, NodeEntry>;
  readonly consensusZones: readonly ConsensusZoneEntry[];
  readonly alertFiles: readonly AlertRuleFile[];
  readonly problems: readonly ConfigRepoProblem[];
}

/** Keys of a site file that describe the site for the hub rather than configure its nodes. */
export const SITE_METADATA_KEYS = ['name', 'lat', 'lon', 'address'] as const;

const YAML_FILE = /^([^/]+)\.ya?ml$/;

/** Lists every file under `dir` (relative paths with `/`), skipping dot-directories (.git). */
function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith('.')) continue;
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...listFiles(dir, rel));
    else if (entry.isFile() && /\.ya?ml$/.test(entry.name)) out.push(rel);
  }
  return out;
}

/**
 * Reads every YAML file of a repository folder (a plain folder or a git working tree). Throws
 * FieldmeshError FM_FLEET_CONFIG_UNREADABLE when the folder or a file cannot be read.
 */
export function readConfigRepoFiles(dir: string): Map<string, string> {
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    const files = new Map<string, string>();
    for (const rel of listFiles(dir)) files.set(rel, readFileSync(join(dir, rel), 'utf8'));
    return files;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as Error).message;
    throw new FieldmeshError('FM_FLEET_CONFIG_UNREADABLE', `${dir}: ${why}`, { cause: err, details: { dir } });
  }
}

/** Reads and parses the repository in `dir`; see `parseConfigRepo`. */
export function loadConfigRepo(dir: string): ConfigRepo {
  return parseConfigRepo(readConfigRepoFiles(dir), dir);
}

/** The layout of a set of files: pair when it holds `fleet-config/` or `site-config-*` trees. */
export function detectLayout(paths: Iterable<string>): ConfigRepoLayout | undefined {
  let plain = false;
  for (const p of paths) {
    if (p.startsWith('fleet-config/') || /^site-config-[^/]+\//.test(p)) return 'pair';
    if (p === 'fleet.yaml' || p === 'fleet.yml' || /^(nodes|sites|zones|alerts)\//.test(p)) plain = true;
  }
  return plain ? 'plain' : undefined;
}

/**
 * Parses a repository given as path -> YAML text (paths relative to its root, with `/`). Throws
 * FM_FLEET_CONFIG_UNREADABLE when the files are no configuration repository at all; every other
 * problem (syntax, identity, duplicates, zones, alert files) is collected in `problems`.
 */
export function parseConfigRepo(files: ReadonlyMap<string, string>, root = '(repository)'): ConfigRepo {
  const layout = detectLayout(files.keys());
  if (layout === undefined) {
    throw new FieldmeshError(
      'FM_FLEET_CONFIG_UNREADABLE',
      `${root}: not a configuration repository: expected fleet.yaml, nodes/, sites/, zones/ or alerts/ (or fleet-config/ and site-config-<site>/ trees)`,
      { details: { dir: root } },
    );
  }
  const problems: ConfigRepoProblem[] = [];
  const fleet: LayerFile[] = [];
  const zones = new Map<string, { site?: string; file: LayerFile }[]>();
  const sites = new Map<string, LayerFile>();
  const siteMetadata: SiteMetadata[] = [];
  const nodes = new Map<string, NodeEntry>();
  const consensusZones: ConsensusZoneEntry[] = [];
  const alertFiles: AlertRuleFile[] = [];

  const read = (file: string, layer: LayerName): LayerFile => {
    const parsed = parseConfigFile(files.get(file) ?? '', file, layer);
    problems.push(...parsed.problems);
    let tree: MapTree | undefined;
    if (parsed.tree !== undefined) {
      if (parsed.tree.kind === 'map') tree = parsed.tree;
      else problems.push(at('syntax', parsed.tree, '(root)', 'expected a mapping of settings'));
    }
    return { layer, file, tree };
  };

  const fleetDir = layout === 'pair' ? 'fleet-config/' : '';
  for (const path of [...files.keys()].sort()) {
    if (!path.startsWith(fleetDir)) continue;
    const rel = path.slice(fleetDir.length);
    if (rel === 'fleet.yaml' || rel === 'fleet.yml') fleet.push(checkLayer(read(path, 'fleet'), problems));
    const [dirName, rest] = splitDir(rel);
    const name = rest === undefined ? undefined : YAML_FILE.exec(rest)?.[1];
    if (name === undefined) continue;
    if (dirName === 'zones') addZone(read(path, 'zone'), name, undefined);
    else if (dirName === 'alerts') alertFiles.push({ file: path, text: files.get(path) ?? '' });
    else if (layout === 'plain' && dirName === 'sites') addSite(read(path, 'site'), name);
    else if (layout === 'plain' && dirName === 'nodes') addNode(read(path, 'node'), name, undefined);
  }
  if (layout === 'pair') {
    for (const path of [...files.keys()].sort()) {
      const m = /^site-config-([^/]+)\/(.+)$/.exec(path);
      if (m === null) continue;
      const site = m[1] as string;
      const rel = m[2] as string;
      if (rel === 'site.yaml' || rel === 'site.yml') {
        if (!ID_PATTERN.test(site)) {
          problems.push({
            kind: 'site',
            file: path,
            line: 1,
            col: 1,
            path: '(root)',
            message: `"${site}" is no valid site id (lowercase letters, digits, '-' or '_')`,
          });
        }
        addSite(read(path, 'site'), site);
        continue;
      }
      const [dirName, rest] = splitDir(rel);
      const name = rest === undefined ? undefined : YAML_FILE.exec(rest)?.[1];
      if (name === undefined) continue;
      if (dirName === 'nodes') addNode(read(path, 'node'), name, site);
      else if (dirName === 'zones') addZone(read(path, 'zone'), name, site);
    }
  }

  function addZone(file: LayerFile, id: string, site: string | undefined): void {
    checkLayer(file, problems);
    const list = zones.get(id) ?? [];
    list.push(site === undefined ? { file } : { site, file });
    zones.set(id, list);
    const consensus = file.tree?.entries.get('consensus');
    if (consensus === undefined || file.tree === undefined) return;
    if (consensus.kind !== 'map') {
      problems.push(
        at('zone', consensus, 'consensus', 'expected a mapping: the consensus zone (voters, cameras, pumps, overlaps, policy)'),
      );
      return;
    }
    const keyAt = file.tree.keys.get('consensus') ?? consensus.at;
    const idTree = consensus.entries.get('id');
    if (idTree !== undefined) {
      problems.push(at('zone', idTree, 'consensus.id', `the file name gives the zone's id ("${id}"); drop id`));
      return;
    }
    const earlier = consensusZones.find((z) => z.id === id);
    if (earlier !== undefined) {
      problems.push(at('zone', consensus, 'consensus', `zone "${id}" is defined already in ${earlier.file}:${earlier.at.line}`));
      return;
    }
    consensusZones.push({ id, file: file.file, at: keyAt, tree: consensus, ...(site === undefined ? {} : { site }) });
  }

  function addSite(file: LayerFile, id: string): void {
    checkLayer(file, problems);
    if (sites.has(id)) {
      problems.push({ kind: 'site', file: file.file, line: 1, col: 1, path: '(root)', message: `site "${id}" has a file already` });
      return;
    }
    sites.set(id, file);
    siteMetadata.push(readSiteMetadata(file, id, problems));
  }

  function addNode(file: LayerFile, name: string, site: string | undefined): void {
    checkLayer(file, problems);
    const entry = readIdentity(file, name, site, problems);
    if (entry === undefined) return;
    const earlier = nodes.get(entry.id);
    if (earlier !== undefined) {
      const idAt = ((file.tree as MapTree).entries.get('node') as MapTree).entries.get('id') as Tree;
      problems.push(at('duplicate-node', idAt, 'node.id', `node "${entry.id}" is defined already in ${earlier.file.file}`));
      return;
    }
    nodes.set(entry.id, entry);
  }

  return { root, layout, fleet, zones, sites, siteMetadata, nodes, consensusZones, alertFiles, problems };
}

function splitDir(rel: string): [string, string | undefined] {
  const slash = rel.indexOf('/');
  return slash < 0 ? [rel, undefined] : [rel.slice(0, slash), rel.slice(slash + 1)];
}

export function at(kind: ConfigRepoProblem['kind'], tree: { at: Provenance }, path: string, message: string): ConfigRepoProblem {
  return { kind, file: tree.at.file, line: tree.at.line, col: tree.at.col, path, message };
}

/** Checks what no layer but the node's may hold: `node:` (identity) and `zones:` (consensus zones live in zones/). */
function checkLayer(file: LayerFile, problems: ConfigRepoProblem[]): LayerFile {
  const tree = file.tree;
  if (tree === undefined) return file;
  const nodeKey = tree.keys.get('node');
  if (file.layer !== 'node' && nodeKey !== undefined) {
    problems.push(at('identity', { at: nodeKey }, 'node', "a node's identity (node: {id, site, zone}) belongs in its own nodes/<id>.yaml"));
  }
  const zonesKey = tree.keys.get('zones');
  if (zonesKey !== undefined) {
    problems.push(
      at(
        'zone',
        { at: zonesKey },
        'zones',
        'consensus zones are defined in zones/<zone>.yaml under consensus:, and reach their nodes from there',
      ),
    );
  }
  if (file.layer !== 'zone' && tree.keys.has('consensus')) {
    problems.push(
      at('zone', { at: tree.keys.get('consensus') as Provenance }, 'consensus', 'consensus: belongs in a zone file, zones/<zone>.yaml'),
    );
  }
  return file;
}

function readSiteMetadata(file: LayerFile, id: string, problems: ConfigRepoProblem[]): SiteMetadata {
  const meta: { id: string; name?: string; lat?: number; lon?: number; address?: string } = { id };
  const tree = file.tree;
  if (tree === undefined) return meta;
  const scalar = (key: string): ScalarTree | undefined => {
    const t = tree.entries.get(key);
    if (t === undefined) return undefined;
    if (t.kind !== 'scalar') problems.push(at('site', t, key, 'expected a single value'));
    return t.kind === 'scalar' ? t : undefined;
  };
  for (const key of ['name', 'address'] as const) {
    const t = scalar(key);
    if (t === undefined) continue;
    if (typeof t.value === 'string' && t.value !== '') meta[key] = t.value;
    else problems.push(at('site', t, key, 'expected a non-empty string'));
  }
  for (const [key, limit] of [
    ['lat', 90],
    ['lon', 180],
  ] as const) {
    const t = scalar(key);
    if (t === undefined) continue;
    if (typeof t.value === 'number' && Math.abs(t.value) <= limit) meta[key] = t.value;
    else problems.push(at('site', t, key, `expected degrees between -${limit} and ${limit}`));
  }
  if ((meta.lat === undefined) !== (meta.lon === undefined) && (tree.entries.has('lat') || tree.entries.has('lon'))) {
    const given = tree.entries.get('lat') ?? (tree.entries.get('lon') as Tree);
    problems.push(at('site', given, meta.lat === undefined ? 'lat' : 'lon', 'give both lat and lon, or neither'));
  }
  return meta;
}

/** The node file's identity: `node: {id, site, zone}`, id equal to the file name (and site to its repository's). */
function readIdentity(file: LayerFile, name: string, site: string | undefined, problems: ConfigRepoProblem[]): NodeEntry | undefined {
  const start: Provenance = { layer: 'node', file: file.file, line: 1, col: 1 };
  const missing = (path: string, message: string, where: { at: Provenance } = { at: start }) => {
    problems.push(at('identity', where, path, message));
    return undefined;
  };
  if (file.tree === undefined) return missing('node', `a node file must give node: {id: ${name}, site, zone}`);
  const node = file.tree.entries.get('node');
  if (node === undefined) return missing('node', `a node file must give node: {id: ${name}, site, zone}`);
  if (node.kind !== 'map') return missing('node', 'expected node: {id, site, zone}', node);
  const value = (key: string): string | undefined => {
    const t = node.entries.get(key);
    if (t === undefined) {
      missing(`node.${key}`, `a node file must give node.${key}`, node);
      return undefined;
    }
    if (t.kind !== 'scalar' || typeof t.value !== 'string' || !ID_PATTERN.test(t.value)) {
      missing(`node.${key}`, `node.${key} must be lowercase letters, digits, '-' or '_' (at most 63)`, t);
      return undefined;
    }
    return t.value;
  };
  const id = value('id');
  const nodeSite = value('site');
  const zone = value('zone');
  if (id === undefined || nodeSite === undefined || zone === undefined) return undefined;
  if (id !== name)
    return missing(
      'node.id',
      `node.id is "${id}" and the file is ${name}.yaml: name the file after the node`,
      node.entries.get('id') as Tree,
    );
  if (site !== undefined && nodeSite !== site) {
    return missing(
      'node.site',
      `node.site is "${nodeSite}" in the repository of site "${site}" (site-config-${site})`,
      node.entries.get('site') as Tree,
    );
  }
  return { id, site: nodeSite, zone, file };
}
