// The MQTT topic namespace: <prefix>/<site>/<node>/<channel>, commands under .../cmd/<verb>,
// and the hub's own topics under <prefix>/_hub/. [FM-TOPIC-1..4] in docs/protocol.md.

import { FieldmeshError, isValidId } from '../kit/index.js';

export const DEFAULT_TOPIC_PREFIX = 'fieldmesh';
export type NodeChannel = 'birth' | 'death' | 'data' | 'event' | 'history' | 'aware' | 'reply' | 'csr';
export const NODE_CHANNELS: readonly NodeChannel[] = ['birth', 'death', 'data', 'event', 'history', 'aware', 'reply', 'csr'];
/**
 * [FM-ZONE-LINK] The level under a node that holds its zone frames (detections, votes, epochs, pump states, commands),
 * one topic per zone: `<prefix>/<site>/<node>/zone/<zone>`.
 */
export const ZONE_LEVEL = 'zone';
export type NodeCommand = 'rebirth' | 'ack' | 'backfill' | 'query';
/** [FM-TOPIC-4] `alerts`: the alert engine's notifications (Alertmanager's webhook JSON, QoS 1). */
export type HubChannel = 'state' | 'digest' | 'aware' | 'alerts';
/** The level that holds the hub's topics; ids start with a letter or digit, so it cannot clash. */
export const HUB_LEVEL = '_hub';

export type ParsedTopic =
  | { readonly kind: 'node'; readonly site: string; readonly node: string; readonly channel: NodeChannel }
  | { readonly kind: 'cmd'; readonly site: string; readonly node: string; readonly command: string }
  | { readonly kind: 'zone'; readonly site: string; readonly node: string; readonly zone: string }
  | { readonly kind: 'hub'; readonly channel: HubChannel };

/** [FM-TOPIC-1] A prefix is one or more non-empty levels without wildcards. */
export function assertTopicPrefix(prefix: string): string {
  if (prefix === '' || prefix.split('/').some((level) => level === '' || /[+#\0]/.test(level))) {
    throw new FieldmeshError('FM_TOPIC_INVALID', `topic prefix "${prefix}" must be non-empty levels without + or #`);
  }
  return prefix;
}

export function nodeTopic(prefix: string, site: string, node: string, channel: NodeChannel): string {
  return `${prefix}/${site}/${node}/${channel}`;
}

/** [FM-ZONE-LINK] Where `node` publishes the frames of zone `zone` (and its certificate, retained); `+` for wildcards. */
export function zoneTopic(prefix: string, site: string, node: string, zone: string): string {
  return `${prefix}/${site}/${node}/${ZONE_LEVEL}/${zone}`;
}

/** [FM-ZONE-LINK] Every zone frame of a site (`+` for every site): `<prefix>/<site>/+/zone/+`. */
export function zoneSubscription(prefix: string, site = '+'): string {
  return zoneTopic(prefix, site, '+', '+');
}

export function commandTopic(prefix: string, site: string, node: string, command: NodeCommand): string {
  return `${prefix}/${site}/${node}/cmd/${command}`;
}

export function hubTopic(prefix: string, channel: HubChannel): string {
  return `${prefix}/${HUB_LEVEL}/${channel}`;
}

/**
 * [FM-CONFIG-DIST] Where the hub publishes one node's desired config, retained, QoS 1; the node subscribes to its
 * own only (the embedded broker's ACL lets a node read no other node's).
 */
export function hubConfigTopic(prefix: string, site: string, node: string): string {
  return `${prefix}/${HUB_LEVEL}/config/${site}/${node}`;
}

/** Parses a topic under `prefix`; undefined when it is not a fieldmesh topic. */
export function parseTopic(prefix: string, topic: string): ParsedTopic | undefined {
  if (!topic.startsWith(`${prefix}/`)) return undefined;
  const levels = topic.slice(prefix.length + 1).split('/');
  if (levels.length === 2 && levels[0] === HUB_LEVEL) {
    const channel = levels[1];
    const known = channel === 'state' || channel === 'digest' || channel === 'aware' || channel === 'alerts';
    return known ? { kind: 'hub', channel } : undefined;
  }
  // [FM-AWARE-5] A zone's awareness digest: <prefix>/_hub/aware/<zone>.
  if (levels.length === 3 && levels[0] === HUB_LEVEL && levels[1] === 'aware' && isValidId(levels[2] ?? '')) {
    return { kind: 'hub', channel: 'aware' };
  }
  const [site, node, third, fourth] = levels;
  if (site === undefined || node === undefined || third === undefined || !isValidId(site) || !isValidId(node)) return undefined;
  if (levels.length === 3 && (NODE_CHANNELS as readonly string[]).includes(third)) {
    return { kind: 'node', site, node, channel: third as NodeChannel };
  }
  if (levels.length === 4 && third === ZONE_LEVEL && fourth !== undefined && isValidId(fourth)) {
    return { kind: 'zone', site, node, zone: fourth };
  }
  if (levels.length === 4 && third === 'cmd' && fourth !== undefined && fourth !== '') {
    return { kind: 'cmd', site, node, command: fourth };
  }
  return undefined;
}
