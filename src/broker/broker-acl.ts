// Topic ACL of the embedded broker: a node publishes only as itself and reads only what the Mosquitto ACL of
// `fieldmesh pki mosquitto-conf` lets it read; hub and admin go anywhere.

import { HUB_LEVEL, NODE_CHANNELS, ZONE_LEVEL, type ZoneConfig, zoneWriters } from '../protocol/index.js';
import type { BrokerRole, BrokerUser } from './broker-config.js';

/**
 * Who a connection is: an anonymous client (only when allowed), a configured user, or the client certificate shown
 * on the TLS listener (CN = node id, OU = site; a CN of tls.hubIdentities / adminIdentities has that role).
 */
export type Identity =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'user'; readonly user: BrokerUser }
  | { readonly kind: 'certificate'; readonly role: BrokerRole; readonly cn: string; readonly site?: string; readonly node?: string };

/** The site and node a node identity is bound to; undefined for anonymous, hub and admin (who go anywhere). */
function nodeOf(identity: Identity): { site: string; node: string } | undefined {
  const bound = identity.kind === 'user' ? identity.user : identity.kind === 'certificate' ? identity : undefined;
  if (bound === undefined || bound.role !== 'node') return undefined;
  return { site: bound.site ?? '', node: bound.node ?? '' };
}

const ID_OR_PLUS = /^(\+|[a-z0-9][a-z0-9_-]{0,62})$/;
const ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

function isUnder(filterOrTopic: string, root: string): boolean {
  return filterOrTopic === `${root}/#` || filterOrTopic.startsWith(`${root}/`);
}

/**
 * The nodes that may write each zone's topic, by site then zone: every node the zone lists (voters, and the nodes of
 * its cameras and pumps, which the zone schema requires to be voters too) and the owners of the pumps of the zones
 * its `policy.activates` names (they count its votes). broker.yaml `zones`.
 */
export type ZoneWriters = ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<string>>>;

/** The zone writers of broker.yaml's `zones: {<site>: [<zone>, ...]}`. */
export function zoneWritersOf(zones: Readonly<Record<string, readonly ZoneConfig[]>>): ZoneWriters {
  const writers = new Map<string, Map<string, Set<string>>>();
  for (const [site, list] of Object.entries(zones)) {
    writers.set(site, new Map(list.map((zone) => [zone.id, zoneWriters(zone, list)])));
  }
  return writers;
}

/** The zone of `topic` when it is `<prefix>/<site>/<node>/zone/<zone>` of this node; else undefined. */
function ownZoneOf(bound: { site: string; node: string }, prefix: string, topic: string): string | undefined {
  const own = `${prefix}/${bound.site}/${bound.node}/${ZONE_LEVEL}/`;
  if (!topic.startsWith(own)) return undefined;
  const zone = topic.slice(own.length);
  return ID.test(zone) ? zone : undefined;
}

/**
 * [FM-ZONE-SIGN-6] Whether this publish is a node's write of its own topic of zone Z (`<prefix>/<site>/<node>/zone/<Z>`)
 * that zone Z of its site does not list it for (an unknown zone, or a site without zones in broker.yaml, lists
 * nobody). Always false without `writers` (no zones configured). The zone, for the refusal's counter, is `zoneOf`.
 */
export function isZoneWriteRefused(identity: Identity, prefix: string, topic: string, writers: ZoneWriters | undefined): boolean {
  const bound = nodeOf(identity);
  if (writers === undefined || bound === undefined) return false;
  const zone = ownZoneOf(bound, prefix, topic);
  if (zone === undefined) return false;
  return writers.get(bound.site)?.get(zone)?.has(bound.node) !== true;
}

/**
 * A node may publish only its own channels, `<prefix>/<its site>/<its node>/<channel>` (its will included), as the
 * Mosquitto ACL's `topic write` lines, and its zone topics `<prefix>/<site>/<node>/zone/<zone>`: not its own command
 * topics (the hub writes those) nor anything deeper; with `zoneWriters`, the topic of zone Z only when Z lists it.
 */
export function canPublish(
  identity: Identity,
  prefix: string,
  topic: string,
  zoneWriters?: ZoneWriters,
  aggregators?: ReadonlySet<string>,
): boolean {
  const bound = nodeOf(identity);
  if (bound === undefined) return true;
  if (isAggregator(bound, aggregators) && isDigestTopic(prefix, topic)) return true;
  if (ownZoneOf(bound, prefix, topic) !== undefined) return !isZoneWriteRefused(identity, prefix, topic, zoneWriters);
  const own = `${prefix}/${bound.site}/${bound.node}/`;
  return topic.startsWith(own) && (NODE_CHANNELS as readonly string[]).includes(topic.slice(own.length));
}

/**
 * A node may subscribe to its own commands (`<prefix>/<site>/<node>/cmd/...`), the hub's topics (`<prefix>/_hub/...`,
 * what arrives filtered by canReceive) and the zone frames of its own site (`<prefix>/<site>/+/zone/+`, consensus
 * zones over the broker). Another node's data, birth, death and commands, and another site, are refused.
 */
export function canSubscribe(identity: Identity, prefix: string, filter: string, aggregators?: ReadonlySet<string>): boolean {
  const bound = nodeOf(identity);
  if (bound === undefined) return true;
  const { site, node } = bound;
  // An aggregator reads every node's awareness frames: `<prefix>/+/+/aware` or narrower.
  if (isAggregator(bound, aggregators)) {
    const levels = filter.startsWith(`${prefix}/`) ? filter.slice(prefix.length + 1).split('/') : [];
    if (levels.length === 3 && ID_OR_PLUS.test(levels[0] as string) && ID_OR_PLUS.test(levels[1] as string) && levels[2] === 'aware')
      return true;
  }
  if (isUnder(filter, `${prefix}/${site}/${node}/cmd`)) return true;
  if (filter === `${prefix}/${HUB_LEVEL}/#` || isUnder(filter, `${prefix}/${HUB_LEVEL}`)) return true;
  if (!filter.startsWith(`${prefix}/${site}/`)) return false;
  const levels = filter.slice(`${prefix}/${site}/`.length).split('/');
  return levels.length === 3 && ID_OR_PLUS.test(levels[0] as string) && levels[1] === ZONE_LEVEL && ID_OR_PLUS.test(levels[2] as string);
}

/** Whether broker.yaml's `aggregators` names this node (`site/node`). [FM-AWARE-5] */
function isAggregator(bound: { site: string; node: string }, aggregators: ReadonlySet<string> | undefined): boolean {
  return aggregators?.has(`${bound.site}/${bound.node}`) === true;
}

/** The awareness digests an aggregator writes: `<prefix>/_hub/aware` and `<prefix>/_hub/aware/<zone>`. */
function isDigestTopic(prefix: string, topic: string): boolean {
  const digest = `${prefix}/${HUB_LEVEL}/aware`;
  if (topic === digest) return true;
  return topic.startsWith(`${digest}/`) && /^[a-z0-9][a-z0-9_-]{0,62}$/.test(topic.slice(digest.length + 1));
}

/**
 * The hub's per-node topics under `_hub/`: a node's desired config [FM-CONFIG-DIST], its assignment [FM-ASSIGN-1]
 * and the answer to its certificate request [FM-CERT-4].
 */
const PER_NODE_HUB_ROOTS = ['config', 'assign', 'cert'] as const;

/**
 * [FM-CONFIG-DIST] [FM-ASSIGN-1] Whether a message on `topic` may reach this client, whatever filter it subscribed
 * with: of the hub's topics a node receives the hub state, the awareness digests (`_hub/aware`, `_hub/aware/<zone>`:
 * this broker does not know a node's zone, the Mosquitto ACL gives it its own zone's only) and the desired config,
 * assignment and certificate of its own node; the hub's alerts and anything else under `_hub/` stay with the hub.
 */
export function canReceive(identity: Identity, prefix: string, topic: string): boolean {
  const bound = nodeOf(identity);
  if (bound === undefined) return true;
  const hub = `${prefix}/${HUB_LEVEL}/`;
  if (!topic.startsWith(hub)) return true;
  const rest = topic.slice(hub.length);
  if (rest === 'state' || rest === 'aware') return true;
  const levels = rest.split('/');
  if (levels.length === 2 && levels[0] === 'aware') return true;
  for (const level of PER_NODE_HUB_ROOTS) {
    if (levels[0] === level) return rest === `${level}/${bound.site}/${bound.node}`;
  }
  return false;
}
