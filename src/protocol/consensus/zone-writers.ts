// [FM-ZONE-SIGN-6] Who may write a zone's topic (`<prefix>/<site>/<node>/zone/<zone>`): the nodes the zone lists, and
// the owners of the pumps a fire in it activates (they count its votes). The broker checks it, the agent publishes
// its certificate on those topics only: one rule, so the two cannot drift.

import type { ZoneConfig } from './types.js';

/** The nodes that may write `zone`'s topic; `site` is the zones of its site (for `policy.activates`). */
export function zoneWriters(
  zone: Pick<ZoneConfig, 'voters' | 'cameras' | 'pumps' | 'policy'>,
  site: readonly Pick<ZoneConfig, 'id' | 'pumps'>[],
): Set<string> {
  const nodes = new Set<string>(zone.voters);
  for (const camera of zone.cameras) nodes.add(camera.node);
  for (const pump of zone.pumps) nodes.add(pump.node);
  for (const other of site) {
    if (!zone.policy.activates.includes(other.id)) continue;
    for (const pump of other.pumps) nodes.add(pump.node);
  }
  return nodes;
}
