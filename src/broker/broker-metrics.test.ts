// The embedded broker's GET /metrics (broker.yaml metrics:): Prometheus text with the clients connected, the refused
// publishes and the TLS refusals by reason; anything but GET /metrics is a 404; no metrics block, no listener.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { connect, type MqttClient } from 'mqtt';
import { createFleetCerts, type FleetCerts } from '../../test/kit/fleet-certs.js';
import { waitFor } from '../../test/kit/wait.js';
import { type Broker, createBroker, type StartedBroker } from './broker.js';
import { brokerConfigSchema } from './broker-config.js';

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\d+)$`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

describe('broker metrics endpoint', () => {
  let certs: FleetCerts;
  let broker: Broker;
  let started: StartedBroker;

  before(async () => {
    certs = await createFleetCerts();
    broker = createBroker(
      brokerConfigSchema.parse({
        listen: { host: '127.0.0.1', port: 0 },
        websocket: { enabled: false },
        tls: { port: 0, cert: certs.server.certFile, key: certs.server.keyFile, ca: certs.caFile, crl: certs.crlFile },
        metrics: { port: 0 },
      }),
    );
    started = await broker.start({ fallbackToFreePort: false });
  });
  after(async () => {
    await broker?.stop();
    certs?.cleanup();
  });

  function client(cert: { certPem: string; keyPem: string }, clientId: string): MqttClient {
    return connect(started.mqttsUrl as string, {
      cert: cert.certPem,
      key: cert.keyPem,
      ca: certs.ca.certificate.toString('pem'),
      servername: 'localhost',
      clientId,
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
  }

  test('broker metrics: GET /metrics counts clients, refused publishes and TLS refusals by reason', async () => {
    const url = started.metricsUrl as string;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const n1 = client(certs.n1, 'n1');
    await once(n1 as never, 'connect');
    assert.equal(await metric(url, 'fieldmesh_broker_clients'), 1);
    // Another node's topic: refused by the ACL, the connection closed.
    const closed = once(n1 as never, 'close');
    n1.publish('fieldmesh/farm/n2/data', 'forged', { qos: 1 });
    await closed;
    n1.end(true);
    assert.equal(await metric(url, 'fieldmesh_broker_refused_total{what="publish"}'), 1);
    const revoked = client(certs.revoked, 'stolen');
    await Promise.race([once(revoked as never, 'error'), once(revoked as never, 'close')]).catch(() => {});
    revoked.end(true);
    await waitFor(async () => (await metric(url, 'fieldmesh_broker_tls_refused_total{reason="revoked"}')) === 1, {
      what: 'the revoked certificate counted',
    });
    const other = await fetch(url.replace(/\/metrics$/, '/'));
    assert.equal(other.status, 404);
  });

  test('broker metrics: no metrics block, no metrics listener', async () => {
    const plain = createBroker(brokerConfigSchema.parse({ listen: { host: '127.0.0.1', port: 0 }, websocket: { enabled: false } }));
    try {
      assert.equal((await plain.start({ fallbackToFreePort: false })).metricsUrl, undefined);
    } finally {
      await plain.stop();
    }
  });
});
