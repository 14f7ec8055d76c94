// Topics of the awareness plane's MQTT path. [FM-AWARE-5]

import { HUB_LEVEL } from '../protocol/index.js';

/** Where a node publishes its awareness frames for the aggregator. */
export function awareTopic(prefix: string, site: string, node: string): string {
  return `${prefix}/${site}/${node}/aware`;
}

/** What the aggregator subscribes to. */
export function awareSubscription(prefix: string): string {
  return `${prefix}/+/+/aware`;
}

/** The aggregator's digest: the whole fleet's, or one zone's. */
export function digestTopic(prefix: string, zone?: string): string {
  return zone === undefined ? `${prefix}/${HUB_LEVEL}/aware` : `${prefix}/${HUB_LEVEL}/aware/${zone}`;
}
