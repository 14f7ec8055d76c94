// One identity table, two brokers: which certificate identity may publish and read which topic, run against the
// embedded broker's TLS listener (the certificate is the identity) and a real Mosquitto with the listener and ACL
// of `fieldmesh pki mosquitto-conf`, asserting the same answer on both for every row. A publish or delivery that
// must not happen is checked with a control message sent after it on the same connection, never with a sleep.

import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { digestTopic } from '../../src/awareness/index.js';
import { type Broker, brokerConfigSchema, createBroker } from '../../src/broker/index.js';
import { main } from '../../src/cli/main.js';
import { commandTopic, hubAssignTopic, hubCertTopic, hubConfigTopic, hubTopic, nodeTopic, zoneTopic } from '../../src/protocol/index.js';
import { type CertFiles, createFleetCerts, type FleetCerts } from '../kit/fleet-certs.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const P = 'fieldmesh';
const SITE = 'farm';
/** The awareness zones of the two nodes, given to mosquitto-conf as farm/n1/z1 and farm/n2/z2. */
const ZONE = { n1: 'z1', n2: 'z2' } as const;

type Broker2 = 'embedded' | 'mosquitto';

/**
 * One row: a topic and whether n1 (farm) may publish on it / receive it. `embedded` is set only where the embedded
 * broker answers otherwise because it does not know the fleet's layout (a node's awareness zone, whether it is a
 * member of a consensus zone), which the Mosquitto ACL is generated from.
 */
interface Row {
  readonly what: string;
  readonly topic: string;
  readonly allowed: boolean;
  readonly embedded?: boolean;
}

const PUBLISH: readonly Row[] = [
  { what: 'own data', topic: nodeTopic(P, SITE, 'n1', 'data'), allowed: true },
  { what: 'own birth', topic: nodeTopic(P, SITE, 'n1', 'birth'), allowed: true },
  { what: 'own death', topic: nodeTopic(P, SITE, 'n1', 'death'), allowed: true },
  { what: 'own event', topic: nodeTopic(P, SITE, 'n1', 'event'), allowed: true },
  { what: 'own zone frames of zone north', topic: zoneTopic(P, SITE, 'n1', 'north'), allowed: true },
  { what: 'the zone level without a zone (the old topic)', topic: `${P}/${SITE}/n1/zone`, allowed: false },
  { what: 'below an own zone topic', topic: `${zoneTopic(P, SITE, 'n1', 'north')}/extra`, allowed: false },
  { what: 'own aware frames', topic: nodeTopic(P, SITE, 'n1', 'aware'), allowed: true },
  { what: 'own csr', topic: nodeTopic(P, SITE, 'n1', 'csr'), allowed: true },
  { what: 'below an own channel', topic: `${nodeTopic(P, SITE, 'n1', 'data')}/extra`, allowed: false },
  { what: 'a command to itself', topic: commandTopic(P, SITE, 'n1', 'ack'), allowed: false },
  { what: "another node's data", topic: nodeTopic(P, SITE, 'n2', 'data'), allowed: false },
  { what: "another node's zone frames (a vote)", topic: zoneTopic(P, SITE, 'n2', 'north'), allowed: false },
  { what: "another node's csr", topic: nodeTopic(P, SITE, 'n2', 'csr'), allowed: false },
  { what: 'a command to another node', topic: commandTopic(P, SITE, 'n2', 'rebirth'), allowed: false },
  { what: 'its node id on another site', topic: nodeTopic(P, 'valley', 'n1', 'data'), allowed: false },
  { what: 'the hub state', topic: hubTopic(P, 'state'), allowed: false },
  { what: "its zone's awareness digest", topic: digestTopic(P, ZONE.n1), allowed: false },
  { what: 'its own desired config', topic: hubConfigTopic(P, SITE, 'n1'), allowed: false },
  { what: 'its own certificate answer', topic: hubCertTopic(P, SITE, 'n1'), allowed: false },
];

const RECEIVE: readonly Row[] = [
  { what: 'its rebirth command', topic: commandTopic(P, SITE, 'n1', 'rebirth'), allowed: true },
  { what: 'its query command', topic: commandTopic(P, SITE, 'n1', 'query'), allowed: true },
  { what: 'the hub state', topic: hubTopic(P, 'state'), allowed: true },
  { what: 'its desired config', topic: hubConfigTopic(P, SITE, 'n1'), allowed: true },
  { what: 'its assignment', topic: hubAssignTopic(P, SITE, 'n1'), allowed: true },
  { what: 'its certificate answer', topic: hubCertTopic(P, SITE, 'n1'), allowed: true },
  { what: "its zone's awareness digest", topic: digestTopic(P, ZONE.n1), allowed: true },
  { what: "another zone's awareness digest", topic: digestTopic(P, ZONE.n2), allowed: false, embedded: true },
  { what: "the fleet's awareness digest (it runs zone-only)", topic: digestTopic(P), allowed: false, embedded: true },
  {
    what: "another node's zone frames (not a consensus zone member)",
    topic: zoneTopic(P, SITE, 'n2', 'north'),
    allowed: false,
    embedded: true,
  },
  { what: 'a command to another node', topic: commandTopic(P, SITE, 'n2', 'rebirth'), allowed: false },
  { what: "another node's desired config", topic: hubConfigTopic(P, SITE, 'n2'), allowed: false },
  { what: "another node's assignment", topic: hubAssignTopic(P, SITE, 'n2'), allowed: false },
  { what: "another node's certificate answer", topic: hubCertTopic(P, SITE, 'n2'), allowed: false },
  { what: "another node's data", topic: nodeTopic(P, SITE, 'n2', 'data'), allowed: false },
  { what: "another node's birth", topic: nodeTopic(P, SITE, 'n2', 'birth'), allowed: false },
  { what: "another site's node data", topic: nodeTopic(P, 'valley', 'v1', 'data'), allowed: false },
  { what: "the hub's fleet digest", topic: hubTopic(P, 'digest'), allowed: false },
  { what: "the hub's alerts", topic: hubTopic(P, 'alerts'), allowed: false },
];

function expected(row: Row, broker: Broker2): boolean {
  return broker === 'embedded' && row.embedded !== undefined ? row.embedded : row.allowed;
}

interface Target {
  readonly url: string;
}

let certs: FleetCerts;
let out: string;
let embedded: Broker;
let mosquitto: MosquittoInstance;
const targets = {} as Record<Broker2, Target>;
const clients: MqttClient[] = [];

before(async () => {
  certs = await createFleetCerts();
  out = mkdtempSync(join(tmpdir(), 'fm-identity-table-'));
  // Mosquitto started as root reads these after it drops privileges.
  chmodSync(out, 0o755);
  const brokerKey = join(out, 'broker.key');
  const brokerCert = join(out, 'broker.crt');
  copyFileSync(certs.server.keyFile, brokerKey);
  copyFileSync(certs.server.certFile, brokerCert);
  chmodSync(brokerKey, 0o644);
  const port = await freePort();
  const code = await main(
    [
      ...['pki', 'mosquitto-conf', '--dir', certs.dir, '--fleet', `${SITE}/n1/${ZONE.n1},${SITE}/n2/${ZONE.n2}`, '--out', out],
      ...['--port', String(port), '--bind', '127.0.0.1'],
    ],
    { out: () => {}, err: (s: string) => assert.fail(s) },
  );
  assert.equal(code, 0);
  mosquitto = await startMosquitto({ extraConfig: [`include_dir ${out}`] });
  targets.mosquitto = { url: `mqtts://127.0.0.1:${port}` };

  embedded = createBroker(
    brokerConfigSchema.parse({
      listen: { host: '127.0.0.1', port: 0 },
      websocket: { enabled: false },
      tls: { port: 0, cert: certs.server.certFile, key: certs.server.keyFile, ca: certs.caFile, crl: certs.crlFile },
    }),
  );
  const started = await embedded.start({ fallbackToFreePort: false });
  targets.embedded = { url: `mqtts://127.0.0.1:${started.tlsPort}` };
});

after(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
  await embedded?.stop();
  await mosquitto?.stop();
  certs?.cleanup();
  if (out !== undefined) rmSync(out, { recursive: true, force: true });
});

let serial = 0;

/** Connects to `broker` with a certificate (dialled by address, the broker's certificate names localhost). */
async function connect(broker: Broker2, cert: CertFiles, name: string): Promise<MqttClient> {
  const client = mqtt.connect(targets[broker].url, {
    key: cert.keyPem,
    cert: cert.certPem,
    ca: certs.ca.certificate.toString('pem'),
    servername: 'localhost',
    clientId: `${name}-${broker}-${serial++}`,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    protocolVersion: 4,
  });
  clients.push(client);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error(`${name} on ${broker}: closed before CONNACK`)));
  });
  return client;
}

/** Payloads received by `client`, as `topic payload`. */
function received(client: MqttClient): Set<string> {
  const got = new Set<string>();
  client.on('message', (topic, payload) => got.add(`${topic} ${payload.toString()}`));
  return got;
}

/**
 * Whether n1's publish on `topic` reaches the hub. n1 then sends a control message on its own data topic on the same
 * connection: a broker that dropped the probe delivers the control alone; the embedded broker closes a connection
 * whose publish it refuses (MQTT 3.1.1 cannot refuse one PUBLISH), so a close before the control also means refused.
 */
async function publishReaches(broker: Broker2, hubSeen: Set<string>, topic: string): Promise<boolean> {
  const n1 = await connect(broker, certs.n1, 'n1-writer');
  const probe = `probe-${serial++}`;
  const control = `control-${serial++}`;
  let closed = false;
  n1.once('close', () => {
    closed = true;
  });
  n1.publish(topic, probe, { qos: 1 });
  n1.publish(nodeTopic(P, SITE, 'n1', 'data'), control, { qos: 1 });
  await waitFor(() => closed || hubSeen.has(`${nodeTopic(P, SITE, 'n1', 'data')} ${control}`), {
    what: `the control after n1's publish on ${topic} (${broker}), or the connection closed`,
  });
  if (closed) {
    // Refused before it was routed; a control from a fresh connection proves nothing of it is still on its way.
    const again = await connect(broker, certs.n1, 'n1-control');
    const late = `control-${serial++}`;
    await again.publishAsync(nodeTopic(P, SITE, 'n1', 'data'), late, { qos: 1 });
    await waitFor(() => hubSeen.has(`${nodeTopic(P, SITE, 'n1', 'data')} ${late}`), { what: `the late control (${broker})` });
    await again.endAsync();
  } else {
    await n1.endAsync();
  }
  return hubSeen.has(`${topic} ${probe}`);
}

for (const broker of ['embedded', 'mosquitto'] as const) {
  describe(`identity table on the ${broker} broker`, () => {
    test(`identity table (${broker}): n1 publishes exactly its own channels`, async () => {
      const hub = await connect(broker, certs.hub, 'hub-observer');
      const hubSeen = received(hub);
      await hub.subscribeAsync(`${P}/#`, { qos: 1 });
      const answers: [string, boolean][] = [];
      for (const row of PUBLISH) answers.push([row.what, await publishReaches(broker, hubSeen, row.topic)]);
      assert.deepEqual(
        answers,
        PUBLISH.map((row) => [row.what, expected(row, broker)]),
      );
      await hub.endAsync();
    });

    test(`identity table (${broker}): n1 receives its commands, its config, the hub state and its zone's digest, nothing of another node`, async () => {
      const n1 = await connect(broker, certs.n1, 'n1-reader');
      const seen = received(n1);
      // One filter at a time: the embedded broker answers a refused one with SUBACK 0x80, which mqtt.js reports as an error.
      for (const row of RECEIVE) await n1.subscribeAsync(row.topic, { qos: 1 }).catch(() => {});
      const control = commandTopic(P, SITE, 'n1', 'ack');
      await n1.subscribeAsync(control, { qos: 1 });
      const hub = await connect(broker, certs.hub, 'hub-writer');
      const tag = `hub-${serial++}`;
      // QoS 1 from one connection: the broker forwards them to n1 in this order, the control last.
      for (const row of RECEIVE) await hub.publishAsync(row.topic, tag, { qos: 1 });
      await hub.publishAsync(control, tag, { qos: 1 });
      await waitFor(() => seen.has(`${control} ${tag}`), { what: `the control on ${control} (${broker})` });
      assert.deepEqual(
        RECEIVE.map((row) => [row.what, seen.has(`${row.topic} ${tag}`)]),
        RECEIVE.map((row) => [row.what, expected(row, broker)]),
      );
      await Promise.all([n1.endAsync(), hub.endAsync()]);
    });
  });
}

test('identity table: the two brokers differ only where the embedded broker cannot know the fleet layout', () => {
  const differing = [...PUBLISH, ...RECEIVE].filter((row) => row.embedded !== undefined && row.embedded !== row.allowed);
  assert.deepEqual(
    differing.map((row) => row.what),
    [
      "another zone's awareness digest",
      "the fleet's awareness digest (it runs zone-only)",
      "another node's zone frames (not a consensus zone member)",
    ],
  );
});
