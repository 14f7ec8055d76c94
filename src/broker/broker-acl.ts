// Topic ACL of the embedded broker: a node publishes only as itself; hub and admin go anywhere.

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

/** Channels of other nodes a node may follow, so the awareness plane works node to node. */
const FOLLOWED_CHANNELS = new Set(['data', 'birth', 'death', 'aware', 'zone']);
const ID_OR_PLUS = /^(\+|[a-z0-9][a-z0-9_-]{0,62})$/;

function isUnder(filterOrTopic: string, root: string): boolean {
  return filterOrTopic === `${root}/#` || filterOrTopic.startsWith(`${root}/`);
}

/** A node user may publish only under `<prefix>/<its site>/<its node>/` (its will included). */
export function canPublish(identity: Identity, prefix: string, topic: string): boolean {
  const bound = nodeOf(identity);
  if (bound === undefined) return true;
  const { site, node } = bound;
  return topic.startsWith(`${prefix}/${site}/${node}/`);
}

/**
 * A node user may subscribe to its own commands (`<prefix>/<site>/<node>/cmd/...`), the hub's
 * topics (`<prefix>/_hub/...`) and the data, birth and death channels of any node
 * (`<prefix>/+/+/data` or with concrete ids). Everything else is refused.
 */
export function canSubscribe(identity: Identity, prefix: string, filter: string): boolean {
  const bound = nodeOf(identity);
  if (bound === undefined) return true;
  const { site, node } = bound;
  if (isUnder(filter, `${prefix}/${site}/${node}/cmd`)) return true;
  if (isUnder(filter, `${prefix}/_hub`)) return true;
  if (!filter.startsWith(`${prefix}/`)) return false;
  const levels = filter.slice(prefix.length + 1).split('/');
  return (
    levels.length === 3 &&
    ID_OR_PLUS.test(levels[0] as string) &&
    ID_OR_PLUS.test(levels[1] as string) &&
    FOLLOWED_CHANNELS.has(levels[2] as string)
  );
}

/**
 * The hub's per-node topics under `_hub/`: a node's desired config [FM-CONFIG-DIST], its assignment [FM-ASSIGN-1]
 * and the answer to its certificate request [FM-CERT-4].
 */
const PER_NODE_HUB_ROOTS = ['config', 'assign', 'cert'] as const;

/**
 * [FM-CONFIG-DIST] [FM-ASSIGN-1] Whether a message on `topic` may reach this client: a node user receives the
 * desired config (`<prefix>/_hub/config/<site>/<node>`) and the assignment (`<prefix>/_hub/assign/<site>/<node>`)
 * of its own node only, whatever filter it subscribed with (`_hub/#` stays grantable for the hub's other topics).
 */
export function canReceive(identity: Identity, prefix: string, topic: string): boolean {
  const bound = nodeOf(identity);
  if (bound === undefined) return true;
  for (const level of PER_NODE_HUB_ROOTS) {
    const root = `${prefix}/_hub/${level}/`;
    if (topic.startsWith(root)) return topic === `${root}${bound.site}/${bound.node}`;
  }
  return true;
}
