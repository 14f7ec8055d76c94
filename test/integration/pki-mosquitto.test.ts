// The fleet CA against a real Mosquitto started with the listener and ACL `fieldmesh pki mosquitto-conf` writes: a
// good node certificate connects; revoked, expired, not-yet-valid, wrong-CA, self-signed and wrong-key-usage ones are
// refused at the TLS handshake, each with its TLS alert; the ACL lets a node write only its own topics and read only
// its own commands, config, the hub state and its digest (a topic-by-identity table, checked with a control message
// that must arrive after any forbidden one would have); a CRL signed while the broker runs takes effect on SIGHUP.

import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { main } from '../../src/cli/main.js';
import { ManualClock } from '../../src/kit/index.js';
import { DAY_MS, openFleetCa, x509 } from '../../src/pki/index.js';
import { createTestCa, issueTo, type KeyAndCert, selfSignedNode, signWithCaKey, type TestCa } from '../../src/pki/pki-test-kit.js';
import { commandTopic, hubAssignTopic, hubConfigTopic, hubTopic, nodeTopic, zoneTopic } from '../../src/protocol/index.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const P = 'fieldmesh';

interface Env {
  fleet: TestCa;
  stranger: TestCa;
  out: string;
  port: number;
  mosquitto: MosquittoInstance;
  caPem: string;
  certs: Record<
    'hub' | 'edge01' | 'edge02' | 'stolen' | 'expired' | 'future' | 'wrongCa' | 'selfSigned' | 'serverOnly' | 'later',
    KeyAndCert
  >;
}

let env: Env | undefined;
const clients: MqttClient[] = [];

before(async () => {
  const clock = new ManualClock(Date.now());
  const fleet = await createTestCa({ clock, fleet: 'ranch-fleet' });
  const stranger = await createTestCa({ clock, fleet: 'ranch-fleet' });
  const out = mkdtempSync(join(tmpdir(), 'fieldmesh-pki-mosquitto-'));
  try {
    // Mosquitto started as root reads the ACL, the CRL and its key after it drops to the mosquitto user.
    chmodSync(out, 0o755);
    const { ca, dir } = fleet;
    const broker = await ca.issue('broker', { site: 'hq', sans: ['localhost', '127.0.0.1'], outDir: out });
    chmodSync(broker.keyFile, 0o644);
    const nodes = join(out, 'nodes');
    const certs: Env['certs'] = {
      hub: await issueTo(ca, 'hub', 'hq', join(nodes, 'hub')),
      edge01: await issueTo(ca, 'edge-01', 'ranch', join(nodes, 'edge-01')),
      edge02: await issueTo(ca, 'edge-02', 'ranch', join(nodes, 'edge-02')),
      later: await issueTo(ca, 'edge-03', 'ranch', join(nodes, 'edge-03')),
      stolen: await issueTo(ca, 'edge-09', 'ranch', join(nodes, 'edge-09')),
      // Issued 40 days ago for 10 days; and valid from 3 days on only.
      expired: await issueTo(
        openFleetCa({ dir, clock: new ManualClock(clock.now() - 40 * DAY_MS) }),
        'edge-04',
        'ranch',
        join(nodes, 'e4'),
        10,
      ),
      future: await issueTo(openFleetCa({ dir, clock: new ManualClock(clock.now() + 3 * DAY_MS) }), 'edge-05', 'ranch', join(nodes, 'e5')),
      wrongCa: await issueTo(stranger.ca, 'edge-01', 'ranch', join(nodes, 'stranger')),
      selfSigned: await selfSignedNode({ node: 'edge-01', site: 'ranch', fleet: 'ranch-fleet', nowMs: clock.now() }),
      serverOnly: await signWithCaKey(ca, {
        node: 'edge-06',
        site: 'ranch',
        nowMs: clock.now(),
        extensions: [
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        ],
      }),
    };
    await ca.revoke('edge-09', 'keyCompromise');
    const port = await freePort();
    const io = { out: () => {}, err: (s: string) => assert.fail(s) };
    const code = await main(
      [
        'pki',
        'mosquitto-conf',
        '--dir',
        dir,
        '--fleet',
        'ranch/edge-01,ranch/edge-02,ranch/edge-03,ranch/edge-04,ranch/edge-05,ranch/edge-06,ranch/edge-09',
        '--out',
        out,
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
      ],
      io,
    );
    assert.equal(code, 0);
    const mosquitto = await startMosquitto({ extraConfig: [`include_dir ${out}`] });
    env = { fleet, stranger, out, port, mosquitto, caPem: readFileSync(fleet.ca.caFile, 'utf8'), certs };
  } catch (err) {
    fleet.cleanup();
    stranger.cleanup();
    rmSync(out, { recursive: true, force: true });
    throw err;
  }
});

after(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
  if (env === undefined) return;
  await env.mosquitto.stop();
  env.fleet.cleanup();
  env.stranger.cleanup();
  rmSync(env.out, { recursive: true, force: true });
});

function options(name: string, kc: KeyAndCert) {
  const e = env as Env;
  return {
    key: kc.keyPem,
    cert: kc.certPem,
    ca: e.caPem,
    clientId: name,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    protocolVersion: 4 as const,
  };
}

/** Connects with a certificate; the client is closed after the file's tests. */
async function connect(name: string, kc: KeyAndCert): Promise<MqttClient> {
  const e = env as Env;
  const client = mqtt.connect(`mqtts://127.0.0.1:${e.port}`, options(name, kc));
  clients.push(client);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error(`${name}: the connection closed before CONNACK`)));
  });
  return client;
}

/** Tries a certificate that must be refused: resolves with the TLS error the client saw; fails if it connected. */
async function refusal(name: string, kc: KeyAndCert): Promise<string> {
  const e = env as Env;
  const client = mqtt.connect(`mqtts://127.0.0.1:${e.port}`, options(name, kc));
  try {
    return await new Promise<string>((resolve, reject) => {
      client.once('connect', () => reject(new Error(`${name}: connected, but its certificate must be refused`)));
      client.once('error', (err: Error) => resolve((err as Error & { code?: string }).code ?? err.message));
      client.once('close', () => resolve('closed'));
    });
  } finally {
    await client.endAsync(true).catch(() => {});
  }
}

test('pki mosquitto: a node with a certificate of the fleet CA connects, its CN as its user name', async () => {
  const e = env as Env;
  const client = await connect('good-edge-01', e.certs.edge01);
  assert.equal(client.connected, true);
  await waitFor(() => /New client connected from 127\.0\.0\.1:\d+ as good-edge-01 \(.*u'edge-01'\)/.test(e.mosquitto.log()), {
    what: "Mosquitto's log naming the user edge-01",
  });
  await client.endAsync();
});

test('pki mosquitto: revoked, expired, not-yet-valid, wrong-CA, self-signed and wrong-key-usage certificates are refused at the TLS handshake', async () => {
  const e = env as Env;
  const matrix: [string, KeyAndCert, string][] = [
    ['revoked', e.certs.stolen, 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED'],
    ['expired', e.certs.expired, 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED'],
    ['not-yet-valid', e.certs.future, 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'],
    ['wrong-ca', e.certs.wrongCa, 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'],
    ['self-signed', e.certs.selfSigned, 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'],
    ['wrong-key-usage', e.certs.serverOnly, 'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE'],
  ];
  const refused: string[] = [];
  for (const [what, kc, alert] of matrix) {
    const from = e.mosquitto.log().length;
    assert.equal(await refusal(`bad-${what}`, kc), alert, what);
    await waitFor(() => e.mosquitto.log().slice(from).includes('certificate verify failed'), {
      what: `Mosquitto logging the refusal of ${what}`,
    });
    assert.doesNotMatch(e.mosquitto.log().slice(from), /New client connected/, `${what}: no MQTT session began`);
    refused.push(what);
  }
  assert.equal(refused.length, matrix.length, 'refused 100 %');
});

/** Publishes `topics` from `from`, then a control message; returns the topics `observer` got before the control. */
async function deliveredBeforeControl(
  publisher: MqttClient,
  observer: MqttClient,
  topics: readonly string[],
  control: string,
): Promise<Set<string>> {
  const got = new Set<string>();
  const onMessage = (topic: string) => got.add(topic);
  observer.on('message', onMessage);
  try {
    // QoS 1 and one at a time: Mosquitto routes (or drops, by its ACL) each before it acknowledges it, so anything
    // allowed is queued to the observer ahead of the control message.
    for (const topic of topics) await publisher.publishAsync(topic, Buffer.from(`probe ${topic}`), { qos: 1 });
    await publisher.publishAsync(control, Buffer.from('control'), { qos: 1 });
    await waitFor(() => got.has(control), { what: `the control message on ${control}` });
    got.delete(control);
    return got;
  } finally {
    observer.off('message', onMessage);
  }
}

test('pki mosquitto ACL: a node writes only its own topics (a forged topic of another node, site or the hub is not delivered)', async () => {
  const e = env as Env;
  const hub = await connect('acl-hub-observer', e.certs.hub);
  await hub.subscribeAsync(`${P}/#`, { qos: 1 });
  const edge = await connect('acl-edge-01-writer', e.certs.edge01);
  const table: [string, boolean][] = [
    [nodeTopic(P, 'ranch', 'edge-01', 'data'), true],
    [nodeTopic(P, 'ranch', 'edge-01', 'birth'), true],
    [nodeTopic(P, 'ranch', 'edge-01', 'death'), true],
    [zoneTopic(P, 'ranch', 'edge-01', 'north'), true],
    [`${P}/ranch/edge-01/zone`, false],
    [nodeTopic(P, 'ranch', 'edge-02', 'data'), false],
    [zoneTopic(P, 'ranch', 'edge-02', 'north'), false],
    [nodeTopic(P, 'valley', 'edge-01', 'data'), false],
    [commandTopic(P, 'ranch', 'edge-02', 'rebirth'), false],
    [commandTopic(P, 'ranch', 'edge-01', 'ack'), false],
    [hubTopic(P, 'state'), false],
    [hubTopic(P, 'aware'), false],
    [hubConfigTopic(P, 'ranch', 'edge-01'), false],
  ];
  const delivered = await deliveredBeforeControl(
    edge,
    hub,
    table.map(([t]) => t),
    nodeTopic(P, 'ranch', 'edge-01', 'event'),
  );
  assert.deepEqual(
    table.map(([topic]) => [topic, delivered.has(topic)]),
    table,
    'each cell: delivered exactly when the ACL allows it',
  );
  await edge.endAsync();
  await hub.endAsync();
});

test('pki mosquitto ACL: a node reads its own commands and config, the hub state and digest, and nothing of another node', async () => {
  const e = env as Env;
  const edge = await connect('acl-edge-01-reader', e.certs.edge01);
  const hub = await connect('acl-hub-writer', e.certs.hub);
  const table: [string, boolean][] = [
    [commandTopic(P, 'ranch', 'edge-01', 'rebirth'), true],
    [hubConfigTopic(P, 'ranch', 'edge-01'), true],
    [hubAssignTopic(P, 'ranch', 'edge-01'), true],
    [hubTopic(P, 'state'), true],
    [hubTopic(P, 'aware'), true],
    [commandTopic(P, 'ranch', 'edge-02', 'rebirth'), false],
    [hubConfigTopic(P, 'ranch', 'edge-02'), false],
    [hubAssignTopic(P, 'ranch', 'edge-02'), false],
    [nodeTopic(P, 'ranch', 'edge-02', 'data'), false],
    [zoneTopic(P, 'ranch', 'edge-02', 'north'), false],
    [hubTopic(P, 'alerts'), false],
  ];
  const control = commandTopic(P, 'ranch', 'edge-01', 'ack');
  for (const [topic] of table) await edge.subscribeAsync(topic, { qos: 1 });
  await edge.subscribeAsync(control, { qos: 1 });
  const delivered = await deliveredBeforeControl(
    hub,
    edge,
    table.map(([t]) => t),
    control,
  );
  assert.deepEqual(
    table.map(([topic]) => [topic, delivered.has(topic)]),
    table,
  );
  // A wildcard subscription does not widen what arrives.
  const wide = await connect('acl-edge-02-wildcard', e.certs.edge02);
  await wide.subscribeAsync(`${P}/#`, { qos: 1 });
  await wide.subscribeAsync(commandTopic(P, 'ranch', 'edge-02', 'ack'), { qos: 1 });
  const widened = await deliveredBeforeControl(
    hub,
    wide,
    [nodeTopic(P, 'ranch', 'edge-01', 'data'), commandTopic(P, 'ranch', 'edge-01', 'query')],
    commandTopic(P, 'ranch', 'edge-02', 'ack'),
  );
  assert.deepEqual([...widened], []);
  await Promise.all([edge.endAsync(), hub.endAsync(), wide.endAsync()]);
});

test('pki mosquitto: a certificate revoked while the broker runs is refused once the new CRL is copied and Mosquitto reloads (SIGHUP)', async () => {
  const e = env as Env;
  const before = await connect('later-before', e.certs.later);
  await before.endAsync();
  await e.fleet.ca.revoke('edge-03', 'keyCompromise');
  copyFileSync(e.fleet.ca.crlFile, join(e.out, 'crl.pem'));
  // Mosquitto reads the CRL when it sets up the listener: the new file alone changes nothing yet.
  const stale = await connect('later-before-reload', e.certs.later);
  await stale.endAsync();
  const from = e.mosquitto.log().length;
  process.kill(e.mosquitto.pid, 'SIGHUP');
  await waitFor(() => e.mosquitto.log().slice(from).includes('Reloading config'), { what: 'Mosquitto reloading on SIGHUP' });
  assert.equal(await refusal('later-after', e.certs.later), 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED');
  // The others still connect.
  const still = await connect('edge-02-after-reload', e.certs.edge02);
  await still.endAsync();
});
