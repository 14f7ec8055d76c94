// What the hub takes from the repository besides the nodes' configs: each site's metadata (sites/<site>.yaml
// or site-config-<site>/site.yaml: name, lat, lon, address) and each consensus zone (zones/<zone>.yaml
// `consensus:`) in the shape the hub watches, with the site it belongs to. docs/config-as-code.md "What the
// hub takes from the repository".

import { FieldmeshError } from '../kit/index.js';
import { type ConfiguredZone, zonesSchema } from '../protocol/index.js';
import type { ConfigRepo, ConsensusZoneEntry } from './repo.js';
import { toPlain } from './tree.js';
import type { SiteMetadata } from './types.js';

/** A consensus zone of the repository as the hub watches it (its HubZone): the zone and its site (null: more than one, or none known). */
export interface FleetConsensusZone extends ConfiguredZone {
  readonly site: string | null;
}

export interface FleetSitesAndZones {
  /** Every site with a site file, in file order. */
  readonly sites: readonly SiteMetadata[];
  /** Every consensus zone, in file order (the fleet's zone files, then the sites'). */
  readonly zones: readonly FleetConsensusZone[];
}

/**
 * The site a zone belongs to: the site whose repository defines it (pair layout), else the one site of its
 * voters (of every node it names when no voter is known); null when they are in several sites or unknown.
 */
function siteOfZone(repo: ConfigRepo, entry: ConsensusZoneEntry, zone: ConfiguredZone): string | null {
  if (entry.site !== undefined) return entry.site;
  const sitesOf = (nodes: readonly string[]) => new Set(nodes.flatMap((n) => repo.nodes.get(n)?.site ?? []));
  let sites = sitesOf(zone.voters);
  if (sites.size === 0) sites = sitesOf([...zone.cameras.map((c) => c.node), ...zone.pumps.map((p) => p.node)]);
  return sites.size === 1 ? ([...sites][0] as string) : null;
}

/**
 * The repository's sites and consensus zones for the hub, from a repository that validates (the hub calls
 * it only for a revision it accepted). Throws FieldmeshError FM_FLEET_CONFIG_INVALID when its zones do not
 * parse (validate the repository first: `validateConfigRepo` reports the same problems with their files).
 */
export function fleetSitesAndZones(repo: ConfigRepo): FleetSitesAndZones {
  const raw = Object.fromEntries(repo.consensusZones.map((z) => [z.id, toPlain(z.tree)]));
  const parsed = zonesSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`);
    throw new FieldmeshError('FM_FLEET_CONFIG_INVALID', `${repo.root}: the consensus zones do not parse: ${problems.join('; ')}`, {
      details: { root: repo.root, problems },
    });
  }
  const entries = new Map(repo.consensusZones.map((z) => [z.id, z]));
  const zones = parsed.data.map((zone) => ({ ...zone, site: siteOfZone(repo, entries.get(zone.id) as ConsensusZoneEntry, zone) }));
  return { sites: repo.siteMetadata.map((s) => ({ ...s })), zones };
}
