// Runs the Transport contract against the in-process MemoryBroker.

import { createMemoryTransport, MemoryBroker } from '../../src/transport/index.js';
import { runTransportContract, TEST_BACKOFF, type TransportFactoryOptions } from './transport.contract.js';

runTransportContract('memory', async () => {
  const broker = new MemoryBroker();
  const create = (o: TransportFactoryOptions) =>
    createMemoryTransport(broker, { clientId: o.clientId, ...(o.will ? { will: o.will } : {}), backoff: TEST_BACKOFF });
  return {
    create,
    async createDroppable(o) {
      return { transport: create(o), drop: () => broker.drop(o.clientId) };
    },
    async restartBroker() {
      broker.stop();
      broker.start();
    },
    async teardown() {
      broker.stop();
    },
  };
});
