// hub.yaml `zones:`: exactly node.yaml's zone list (zonesSchema, list or the seed's mapping), plus an
// optional `site:` per zone for display and for finding its voters in the fleet. [FM-HUB-ZONE-1] The
// configuration repository's consensus zones reach the hub in the same shape (src/hub/config-repo/).

import { z } from 'zod';
import { ID_PATTERN } from '../../kit/index.js';
import { type ConfiguredZone, type DefinitionSource, zonesSchema } from '../../protocol/index.js';

/** A zone the hub watches: the nodes' configuration of it, and the site it belongs to (null: any). */
export interface HubZone extends ConfiguredZone {
  readonly site: string | null;
  /** Where the hub took it from (absent: hub.yaml). */
  readonly source?: DefinitionSource;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The zones of hub.yaml: each entry as node.yaml has it (same checks, same messages, same paths), and
 * `site` (a site id) taken off before the zone schema sees it.
 */
export const hubZonesSchema = z.unknown().transform((value, ctx): HubZone[] => {
  if (value === undefined || value === null) return [];
  const sites = new Map<string, string>();
  const strip = (at: PropertyKey, entry: unknown): unknown => {
    if (!isPlainObject(entry) || !('site' in entry)) return entry;
    const { site, ...rest } = entry;
    if (typeof site !== 'string' || !ID_PATTERN.test(site)) {
      ctx.addIssue({ code: 'custom', path: [at, 'site'], message: "a site id must be lowercase letters, digits, '-' or '_' (at most 63)" });
    } else {
      const id = typeof rest.id === 'string' ? rest.id : typeof at === 'string' ? at : undefined;
      if (id !== undefined) sites.set(id, site);
    }
    return rest;
  };
  let stripped: unknown = value;
  if (Array.isArray(value)) stripped = value.map((v, i) => strip(i, v));
  else if (isPlainObject(value)) stripped = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strip(k, v)]));
  const parsed = zonesSchema.safeParse(stripped);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    return z.NEVER;
  }
  return parsed.data.map((zone) => ({ ...zone, site: sites.get(zone.id) ?? null }));
});
