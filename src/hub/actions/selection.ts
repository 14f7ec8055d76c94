// Which nodes a bulk action's selector picks: validation of the selector as posted (FM_REQUEST_INVALID
// naming the field) and the AND of its criteria over the fleet, including the "site/node" glob.

import { FieldmeshError } from '../../kit/index.js';
import { type ActionSelector, NODE_STATES, type NodeStateName } from '../../protocol/index.js';

/** A node as selection sees it. */
export interface SelectableNode {
  readonly site: string;
  readonly node: string;
  readonly zone: string;
  readonly state: NodeStateName;
}

/** A list criterion longer than this is a mistake (the fleet has far fewer sites or zones). */
const MAX_LIST_ENTRIES = 10_000;
const MAX_GLOB_LENGTH = 200;
const SELECTOR_FIELDS = ['sites', 'zones', 'nodes', 'states', 'match', 'all'];

function invalid(message: string): FieldmeshError {
  return new FieldmeshError('FM_REQUEST_INVALID', message);
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_LIST_ENTRIES)
    throw invalid(`field "selector.${field}": expected a non-empty array of strings`);
  return value.map((v, i) => {
    if (typeof v !== 'string' || v.trim() === '') throw invalid(`field "selector.${field}[${i}]": expected a non-empty string`);
    return v.trim();
  });
}

/**
 * A glob over "site/node" as a RegExp: `*` is any run of characters but "/", `?` one such character,
 * `[abc]`, `[a-z]` and `[!abc]` one of (or none of) a set. The pattern must have exactly one "/", so
 * it always says which sites and which nodes (a lone "*" before the "/" means every site).
 */
export function globToRegExp(glob: string): RegExp {
  if (glob.length === 0 || glob.length > MAX_GLOB_LENGTH)
    throw invalid(`field "selector.match": expected a glob of 1 to ${MAX_GLOB_LENGTH} characters`);
  if (glob.split('/').length !== 2)
    throw invalid(
      `field "selector.match": a glob over "site/node" with exactly one "/", e.g. "farm-*/bess-0?", got ${JSON.stringify(glob)}`,
    );
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      const body = end < 0 ? '' : glob.slice(i + 1, end);
      const negated = body.startsWith('!') || body.startsWith('^');
      const set = negated ? body.slice(1) : body;
      if (end < 0 || !/^[a-z0-9_-]+$/i.test(set) || /^-|-$/.test(set))
        throw invalid(`field "selector.match": "[" at ${i} must start a set like [abc], [a-z] or [!0-3] closed by "]"`);
      re += negated ? `[^/${set}]` : `[${set}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`${re}$`);
}

/** Validates a posted selector; throws FM_REQUEST_INVALID naming the field. */
export function parseSelector(body: unknown): ActionSelector {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('field "selector": expected an object like {"sites": ["farm-1"], "states": ["online"]} or {"all": true}');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b))
    if (!SELECTOR_FIELDS.includes(k)) throw invalid(`field "selector.${k}" is unknown; a selector has ${SELECTOR_FIELDS.join(', ')}`);
  const out: { -readonly [K in keyof ActionSelector]: ActionSelector[K] } = {};
  if (b.sites !== undefined) out.sites = stringList(b.sites, 'sites');
  if (b.zones !== undefined) out.zones = stringList(b.zones, 'zones');
  if (b.nodes !== undefined) {
    out.nodes = stringList(b.nodes, 'nodes');
    out.nodes.forEach((n, i) => {
      if (n.split('/').length !== 2 || n.startsWith('/') || n.endsWith('/'))
        throw invalid(`field "selector.nodes[${i}]": expected "site/node", got ${JSON.stringify(n)}`);
    });
  }
  if (b.states !== undefined) {
    const states = stringList(b.states, 'states');
    for (const s of states)
      if (!(NODE_STATES as readonly string[]).includes(s))
        throw invalid(`field "selector.states": expected some of ${NODE_STATES.join(', ')}, got ${JSON.stringify(s)}`);
    out.states = states as NodeStateName[];
  }
  if (b.match !== undefined) {
    if (typeof b.match !== 'string') throw invalid('field "selector.match": expected a glob string like "farm-*/bess-0?"');
    globToRegExp(b.match);
    out.match = b.match;
  }
  if (b.all !== undefined) {
    if (typeof b.all !== 'boolean') throw invalid('field "selector.all": expected true or false');
    out.all = b.all;
  }
  const criteria = ['sites', 'zones', 'nodes', 'states', 'match'].filter((k) => (out as Record<string, unknown>)[k] !== undefined);
  if (criteria.length === 0 && out.all !== true)
    throw invalid('select at least one criterion (sites, zones, nodes, states, match), or send "all": true to act on every node');
  return out;
}

/** The nodes that meet every criterion of a validated selector, in the given order. */
export function selectNodes<N extends SelectableNode>(nodes: readonly N[], selector: ActionSelector): N[] {
  const sites = selector.sites === undefined ? undefined : new Set(selector.sites);
  const zones = selector.zones === undefined ? undefined : new Set(selector.zones);
  const names = selector.nodes === undefined ? undefined : new Set(selector.nodes);
  const states = selector.states === undefined ? undefined : new Set<string>(selector.states);
  const glob = selector.match === undefined ? undefined : globToRegExp(selector.match);
  return nodes.filter(
    (n) =>
      (sites === undefined || sites.has(n.site)) &&
      (zones === undefined || zones.has(n.zone)) &&
      (names === undefined || names.has(`${n.site}/${n.node}`)) &&
      (states === undefined || states.has(n.state)) &&
      (glob === undefined || glob.test(`${n.site}/${n.node}`)),
  );
}
