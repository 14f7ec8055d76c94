// The node's config version: a short stable hash of its effective (parsed, defaulted) configuration,
// carried in births so an operator sees which nodes run which configuration. [FM-FRAME-5]

import { createHash } from 'node:crypto';

/** Hex characters kept: 48 bits, ample to tell a fleet's configurations apart. */
const CONFIG_VERSION_HEX = 12;

/** The same configuration gives the same hash whatever its key order; any changed value changes it. */
export function configVersionOf(config: unknown): string {
  return createHash('sha256').update(stableJson(config)).digest('hex').slice(0, CONFIG_VERSION_HEX);
}

/** JSON with object keys sorted at every level; undefined members left out, as JSON.stringify does. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : stableJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
