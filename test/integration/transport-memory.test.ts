// Runs the Transport contract against the in-process MemoryBroker.

import { createMemoryTransport, MemoryBroker } from '../../src/transport/index.js';
import { runTransportContract, TEST_BACKOFF } from './transport.contract.js';

runTransportContract('memory', async () => {
  const broker = new MemoryBroker();
  return {
    create: (o) => createMemoryTransport(broker, { clientId: o.clientId, ...(o.will ? { will: o.will } : {}), backoff: TEST_BACKOFF }),
    async restartBroker() {
      broker.stop();
      broker.start();
    },
    async teardown() {
      broker.stop();
    },
  };
});
