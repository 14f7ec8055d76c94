// The Transport of a node configured without a broker (mqtt.enabled: false): it never connects, so what waits
// for a connection waits (the durable outbox keeps its rows on disk), and a publish is refused.

import { FieldmeshError } from '../kit/index.js';
import { isValidFilter } from './topic-filter.js';
import type { Subscription, Transport } from './transport.js';

export function createNoBrokerTransport(): Transport {
  return {
    connected: false,
    start() {},
    publish: async () => {
      throw new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', 'no broker is configured (mqtt.enabled: false)');
    },
    // Nothing ever arrives; a subscription has no broker to wait for.
    subscribe(filter: string): Subscription {
      if (!isValidFilter(filter)) throw new FieldmeshError('FM_TRANSPORT_REFUSED', `invalid topic filter "${filter}"`);
      return { filter, ready: Promise.resolve(), unsubscribe() {} };
    },
    on() {},
    off() {},
    stats: () => ({ bytesOut: 0, bytesIn: 0, connects: 0, messagesOut: 0, messagesIn: 0, handlerErrors: 0 }),
    close: async () => {},
  };
}
