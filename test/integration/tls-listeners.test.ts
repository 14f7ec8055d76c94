// mTLS on the listeners that leave loopback, with certificates of a fleet CA made by src/pki: a hub and a node
// connect to the embedded broker's TLS listener with their certificates (samples flow end to end), the hub serves
// HTTPS with HSTS and a node its API over HTTPS requiring the hub's certificate, and every case of the
// bad-certificate matrix is refused by both, logged with its reason and counted. (The broker's own matrix:
// src/broker/broker-tls.test.ts.)

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Agent, agentConfigSchema, type CollectorContext, createAgent } from '../../src/agent/index.js';
import { type Broker, brokerConfigSchema, createBroker } from '../../src/broker/index.js';
import { createHub, type Hub, hubConfigSchema } from '../../src/hub/index.js';
import { feederCollector } from '../kit/feeder-collector.js';
import { type CertFiles, createFleetCerts, type FleetCerts } from '../kit/fleet-certs.js';
import { warningLogger } from '../kit/recording-logger.js';
import { waitFor } from '../kit/wait.js';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTPS GET with a client certificate; rejects when the TLS session does not carry an answer. */
function get(url: string, certs: FleetCerts, cert: CertFiles | undefined, extra: Record<string, unknown> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: certs.ca.certificate.toString('pem'),
        servername: 'localhost',
        agent: false,
        ...(cert === undefined ? {} : { cert: cert.certPem, key: cert.keyPem }),
        ...extra,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const collector = feederCollector();

describe('mTLS: hub and node over TLS with fleet certificates', () => {
  let certs: FleetCerts;
  let broker: Broker;
  let hub: Hub;
  let agent: Agent;
  let dataDir: string;
  let hubUrl: string;
  let nodeUrl: string;
  const hubLogger = warningLogger();
  const nodeLogger = warningLogger();

  before(async () => {
    certs = await createFleetCerts();
    dataDir = mkdtempSync(join(tmpdir(), 'fm-tls-it-'));
    broker = createBroker(
      brokerConfigSchema.parse({
        listen: { host: '127.0.0.1', port: 0 },
        websocket: { enabled: false },
        tls: { port: 0, cert: certs.server.certFile, key: certs.server.keyFile, ca: certs.caFile, crl: certs.crlFile },
      }),
    );
    const started = await broker.start({ fallbackToFreePort: false });
    // The broker's certificate names localhost only: the clients dial it by that name.
    const mqttsUrl = `mqtts://localhost:${started.tlsPort}`;
    const serverTls = { cert: certs.server.certFile, key: certs.server.keyFile, ca: certs.caFile, crl: certs.crlFile };
    hub = createHub(
      hubConfigSchema.parse({
        dataDir,
        storage: { path: join(dataDir, 'hub.db') },
        mqtt: { url: mqttsUrl, clientId: 'hub', ca: certs.caFile, cert: certs.hub.certFile, key: certs.hub.keyFile },
        http: { host: '127.0.0.1', port: 0, tls: { ...serverTls, requireClientCert: true } },
      }),
      { logger: hubLogger },
    );
    hubUrl = (await hub.start({ fallbackToFreePort: false })).httpUrl;
    agent = createAgent(
      agentConfigSchema.parse({
        dataDir,
        node: { id: 'n1', site: 'farm' },
        mqtt: { url: mqttsUrl, ca: certs.caFile, cert: certs.n1.certFile, key: certs.n1.keyFile },
        http: { host: '127.0.0.1', port: 0, tls: { ...serverTls, requireClientCert: true, clientIdentities: ['hub'] } },
        publish: { tick: '200ms', heartbeat: '1s' },
        critical: [{ match: 'tank_level' }],
      }),
      { epoch: 1, collectors: [collector], logger: nodeLogger, fallbackToFreePort: false },
    );
    nodeUrl = (await agent.start()).httpUrl as string;
  });
  after(async () => {
    await agent?.stop();
    await hub?.stop();
    await broker?.stop();
    certs?.cleanup();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  test('mTLS: a node and the hub reach the broker with their certificates and samples flow end to end', async () => {
    await waitFor(() => hub.fleet.get('farm', 'n1')?.state === 'online', { what: 'n1 online at the hub over TLS', timeoutMs: 15_000 });
    const ctx = collector.ctx as CollectorContext;
    await ctx.record([{ name: 'tank_level', labels: {}, value: 42, time: ctx.clock.now() }]);
    await waitFor(
      async () => {
        const answer = await get(`${hubUrl}/api/v1/nodes/farm/n1`, certs, certs.hub);
        return answer.status === 200 && answer.body.includes('tank_level');
      },
      { what: 'the sample at the hub', timeoutMs: 15_000 },
    );
  });

  test('mTLS: the hub answers over HTTPS with HSTS, and the node API answers the hub certificate', async () => {
    assert.match(hubUrl, /^https:\/\//);
    assert.match(nodeUrl, /^https:\/\//);
    const hubAnswer = await get(`${hubUrl}/healthz`, certs, certs.n1);
    assert.equal(hubAnswer.status, 200);
    assert.equal(hubAnswer.headers['strict-transport-security'], 'max-age=31536000');
    const nodeAnswer = await get(`${nodeUrl}/healthz`, certs, certs.hub);
    assert.equal(nodeAnswer.status, 200);
    assert.equal(nodeAnswer.headers['strict-transport-security'], 'max-age=31536000');
  });

  const matrix: { name: string; cert: (c: FleetCerts) => CertFiles | undefined; reason: string; extra?: Record<string, unknown> }[] = [
    { name: 'expired', cert: (c) => c.expired, reason: 'expired' },
    { name: 'not yet valid', cert: (c) => c.notYetValid, reason: 'not-yet-valid' },
    { name: 'wrong CA', cert: (c) => c.wrongCa, reason: 'wrong-ca' },
    { name: 'revoked', cert: (c) => c.revoked, reason: 'revoked' },
    { name: 'self-signed', cert: (c) => c.selfSigned, reason: 'self-signed' },
    { name: 'wrong key usage', cert: (c) => c.wrongKeyUsage, reason: 'wrong-key-usage' },
    { name: 'no certificate', cert: () => undefined, reason: 'no-certificate' },
    {
      name: 'TLS 1.1',
      cert: (c) => c.hub,
      reason: 'tls-version',
      extra: { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
    },
  ];
  const listeners = [
    {
      name: 'hub HTTPS',
      url: () => hubUrl,
      logger: hubLogger,
      metric: 'fieldmesh_hub_tls_refused_total',
      metrics: () => `${hubUrl}/metrics`,
    },
    {
      name: 'node API',
      url: () => nodeUrl,
      logger: nodeLogger,
      metric: 'fieldmesh_agent_tls_refused_total',
      metrics: () => `${nodeUrl}/metrics`,
    },
  ];
  async function refusedCount(l: (typeof listeners)[number], reason: string): Promise<number> {
    const answer = await get(l.metrics(), certs, certs.hub);
    const m = new RegExp(`${l.metric}\\{reason="${reason}"[^}]*\\} (\\d+)`).exec(answer.body);
    return m === null ? 0 : Number(m[1]);
  }
  for (const l of listeners) {
    for (const row of matrix) {
      test(`mTLS: the ${l.name} refuses ${row.name} with reason ${row.reason}, logged and counted`, async () => {
        const before = await refusedCount(l, row.reason);
        const warningsBefore = l.logger.warnings.length;
        await assert.rejects(get(`${l.url()}/healthz`, certs, row.cert(certs), row.extra ?? {}));
        await waitFor(async () => (await refusedCount(l, row.reason)) === before + 1, { what: `${row.reason} counted` });
        assert.ok(
          l.logger.warnings
            .slice(warningsBefore)
            .some((w) => w.obj.reason === row.reason && w.msg.startsWith(`TLS peer refused (${row.reason})`)),
          `a warning with reason ${row.reason}`,
        );
      });
    }
  }

  test('mTLS: the node API requiring the hub refuses another node certificate (other-node)', async () => {
    const l = listeners[1] as (typeof listeners)[number];
    const before = await refusedCount(l, 'other-node');
    await assert.rejects(get(`${nodeUrl}/healthz`, certs, certs.n2));
    await waitFor(async () => (await refusedCount(l, 'other-node')) === before + 1, { what: 'other-node counted' });
  });

  test('mTLS: a client refuses a hub whose certificate does not name the host it dialled', async () => {
    await assert.rejects(get(`${hubUrl}/healthz`, certs, certs.n1, { servername: undefined }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
      return true;
    });
  });
});
