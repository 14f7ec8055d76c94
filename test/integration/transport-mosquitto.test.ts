// Runs the Transport contract against a real Mosquitto started on a free port.

import { startMosquitto } from '../kit/mosquitto.js';
import { mqttTarget, runTransportContract } from './transport.contract.js';

runTransportContract('mosquitto', async () => {
  const mosquitto = await startMosquitto();
  return mqttTarget(mosquitto.url, {
    restartBroker: () => mosquitto.restart(),
    teardown: () => mosquitto.stop(),
  });
});
