// Runs the Transport contract against the embedded Aedes broker in-process on a free port.

import { brokerConfigSchema, createBroker } from '../../src/broker/index.js';
import { freePort } from '../kit/ports.js';
import { mqttTarget, runTransportContract } from './transport.contract.js';

runTransportContract('aedes', async () => {
  const port = await freePort();
  const broker = createBroker(brokerConfigSchema.parse({ listen: { port }, websocket: { enabled: false } }));
  await broker.start({ fallbackToFreePort: false });
  return mqttTarget(port, {
    async restartBroker() {
      await broker.stop();
      await broker.start({ fallbackToFreePort: false });
    },
    teardown: () => broker.stop(),
    // Aedes takes `$share/...` as a plain filter that nothing matches.
    sharedSubscriptions: false,
  });
});
