// The embedded broker's TLS listener against real certificates of a fleet CA made with src/pki: a node's certificate
// is its identity (CN node, OU site) under the node ACL, the hub's CN gets the hub role, and every case of the
// bad-certificate matrix is refused, logged with its reason and counted in fieldmesh_broker_tls_refused_total.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { type CertFiles, createFleetCerts, type FleetCerts } from '../../test/kit/fleet-certs.js';
import { warningLogger } from '../../test/kit/recording-logger.js';
import { waitFor } from '../../test/kit/wait.js';
import type { TlsRefusal } from '../platform/index.js';
import { type Broker, createBroker, type StartedBroker } from './broker.js';
import { brokerConfigSchema } from './broker-config.js';

/** Connects over TLS and resolves on CONNACK; rejects with why the session did not open. */
async function mqttsClient(url: string, certs: FleetCerts, cert: CertFiles | undefined, extra: IClientOptions = {}): Promise<MqttClient> {
  // mqtt.js hands wss:// its TLS options through wsOptions (the servername included).
  const tls = {
    ca: certs.ca.certificate.toString('pem'),
    servername: 'localhost',
    ...(cert === undefined ? {} : { cert: cert.certPem, key: cert.keyPem }),
    ...extra,
  };
  const c = connect(url, { reconnectPeriod: 0, protocolVersion: 4, connectTimeout: 5000, ...tls, wsOptions: tls as never });
  try {
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
      c.once('close', () => reject(new Error('closed before CONNACK')));
    });
    return c;
  } catch (err) {
    c.end(true);
    throw err;
  }
}

describe('broker over TLS with fleet certificates', () => {
  let certs: FleetCerts;
  let broker: Broker;
  let started: StartedBroker;
  const logger = warningLogger();

  before(async () => {
    certs = await createFleetCerts();
    const crl = join(certs.dir, 'broker-crl.pem');
    copyFileSync(certs.crlFile, crl);
    const config = brokerConfigSchema.parse({
      listen: { host: '127.0.0.1', port: 0 },
      websocket: { enabled: true, port: 0 },
      tls: { host: '127.0.0.1', port: 0, wsPort: 0, cert: certs.server.certFile, key: certs.server.keyFile, ca: certs.caFile, crl },
    });
    broker = createBroker(config, { logger, crlPollMs: 100 });
    started = await broker.start({ fallbackToFreePort: false });
  });
  after(async () => {
    await broker?.stop();
    certs?.cleanup();
  });

  function refused(reason: TlsRefusal): number {
    return broker.stats().tlsRefused.get(reason) ?? 0;
  }

  test('broker over TLS: a node certificate connects as its node and publishes under its own prefix', async () => {
    const hub = await mqttsClient(started.mqttsUrl as string, certs, certs.hub, { clientId: 'hub' });
    const n1 = await mqttsClient(started.mqttsUrl as string, certs, certs.n1, { clientId: 'n1' });
    try {
      const got: string[] = [];
      hub.on('message', (topic) => got.push(topic));
      await hub.subscribeAsync('fieldmesh/#');
      await n1.publishAsync('fieldmesh/farm/n1/data', 'x', { qos: 1 });
      await waitFor(() => got.includes('fieldmesh/farm/n1/data'));
      // The hub's CN has the hub role: it writes commands anywhere.
      await hub.publishAsync('fieldmesh/farm/n1/cmd/rebirth', 'x', { qos: 1 });
    } finally {
      n1.end(true);
      hub.end(true);
    }
  });

  test('broker over TLS: a certificate of another node cannot publish under that node (refused by the ACL)', async () => {
    const before = broker.stats().rejectedPublish;
    const n2 = await mqttsClient(started.mqttsUrl as string, certs, certs.n2, { clientId: 'n2' });
    try {
      const closed = once(n2 as never, 'close');
      n2.publish('fieldmesh/farm/n1/data', 'forged', { qos: 1 });
      await closed;
      assert.equal(broker.stats().rejectedPublish, before + 1);
      assert.ok(logger.warnings.some((w) => w.msg === 'publish refused by ACL' && w.obj.topic === 'fieldmesh/farm/n1/data'));
    } finally {
      n2.end(true);
    }
  });

  const matrix: { name: string; cert: (c: FleetCerts) => CertFiles | undefined; reason: TlsRefusal; tls?: IClientOptions }[] = [
    { name: 'expired', cert: (c) => c.expired, reason: 'expired' },
    { name: 'not yet valid', cert: (c) => c.notYetValid, reason: 'not-yet-valid' },
    { name: 'wrong CA', cert: (c) => c.wrongCa, reason: 'wrong-ca' },
    { name: 'revoked', cert: (c) => c.revoked, reason: 'revoked' },
    { name: 'self-signed', cert: (c) => c.selfSigned, reason: 'self-signed' },
    { name: 'wrong key usage (serverAuth only)', cert: (c) => c.wrongKeyUsage, reason: 'wrong-key-usage' },
    { name: 'no certificate', cert: () => undefined, reason: 'no-certificate' },
    {
      name: 'TLS 1.1',
      cert: (c) => c.n1,
      reason: 'tls-version',
      tls: { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as IClientOptions,
    },
  ];
  for (const [i, row] of matrix.entries()) {
    for (const over of ['mqtts', 'wss'] as const) {
      test(`broker over TLS: ${row.name} is refused on ${over} with reason ${row.reason}, logged and counted`, async () => {
        const countBefore = refused(row.reason);
        const warningsBefore = logger.warnings.length;
        const url = over === 'mqtts' ? (started.mqttsUrl as string) : (started.wssUrl as string);
        await assert.rejects(mqttsClient(url, certs, row.cert(certs), { clientId: `bad-${i}-${over}`, ...(row.tls ?? {}) }));
        await waitFor(() => refused(row.reason) === countBefore + 1).catch((err) => {
          throw new Error(`${err.message}: ${JSON.stringify(logger.warnings.slice(warningsBefore))}`);
        });
        const warning = logger.warnings.slice(warningsBefore).find((w) => w.obj.reason === row.reason);
        assert.ok(warning, `a warning with reason ${row.reason}: ${JSON.stringify(logger.warnings.slice(warningsBefore))}`);
        assert.match(warning.msg, new RegExp(`TLS peer refused \\(${row.reason}\\)`));
        const text = await broker.registry.metrics();
        assert.match(text, new RegExp(`fieldmesh_broker_tls_refused_total\\{reason="${row.reason}"\\} ${countBefore + 1}`));
      });
    }
  }

  test('broker over TLS: a client refuses a broker whose certificate does not name the host it dialled', async () => {
    const url = started.mqttsUrl as string;
    await assert.rejects(mqttsClient(url, certs, certs.n1, { servername: undefined as never }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
      return true;
    });
  });

  test('broker over TLS: a certificate revoked while the broker runs is refused once the CRL file changes', async () => {
    const n2 = await mqttsClient(started.mqttsUrl as string, certs, certs.n2, { clientId: 'n2-before' });
    n2.end(true);
    await certs.ca.revoke('n2', 'keyCompromise');
    const countBefore = refused('revoked');
    copyFileSync(certs.crlFile, join(certs.dir, 'broker-crl.pem'));
    await waitFor(async () => {
      try {
        const c = await mqttsClient(started.mqttsUrl as string, certs, certs.n2, { clientId: 'n2-after' });
        c.end(true);
        return false;
      } catch {
        return refused('revoked') > countBefore;
      }
    }).catch((err) => {
      throw new Error(`${err.message}: ${JSON.stringify(logger.warnings.slice(-3))}`);
    });
  });
});
