// Actuation authorised twice, end to end with real `fieldmesh node` processes (the built binary), every node with
// `zoneSecurity.signing: required` and a certificate of one fleet CA made in the test: three voters of zone north
// (v1 and v2 with its cameras, v3 driving its pump) and an intruder x1 holding a VALID fleet certificate of zone
// south. Over UDP multicast (no broker) the intruder, a script with the protocol encoders and its own key, forges
// votes as v1 and as itself, signed and unsigned, and a self-signed certificate with v1's name: the pump does not
// start, the owner's /api/v1/zones/north and /metrics show each refusal; then the voters' fire starts it. Over MQTT
// through the embedded broker's TLS listener (certificate identities): without broker.yaml zones the owner alone
// refuses the intruder's frames; with them the broker refuses x1, a voter of south, on north's topic
// (`<prefix>/<site>/x1/zone/north`: the ACL is per zone) and x9, whose valid certificate no zone lists, counting
// both for north; x1's vote for north on its own south topic passes the broker and every receiver refuses it
// (`other-zone`); the voters' fire starts the pump. docs/consensus.md "Authorised twice".
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect, type MqttClient } from 'mqtt';
import type { ZoneStatus } from '../../src/agent/zones/zone-engine.js';
import { createZoneSigner, type ZoneSigner } from '../../src/agent/zones/zone-signing.js';
import { type Broker, brokerConfigSchema, createBroker } from '../../src/broker/index.js';
import { x509 } from '../../src/pki/index.js';
import { createTestCa, issueTo, type KeyAndCert, selfSignedNode, type TestCa } from '../../src/pki/pki-test-kit.js';
import {
  type ConfiguredZone,
  encodeZoneCertificate,
  encodeZoneDatagram,
  encodeZoneFrame,
  zoneConfigHash,
  zonesSchema,
} from '../../src/protocol/index.js';
import { createUdpLink } from '../../src/transport/index.js';
import { type FieldmeshProcess, fieldmeshKilledAfter } from '../kit/fieldmesh-process.js';
import { nodeMetric } from '../kit/node-api.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const start = fieldmeshKilledAfter();
const SITE = 'ranch';
const PUSH_TOKEN = 'zones-signed-push-token';
const VOTERS = ['v1', 'v2', 'v3'];
/** At least this many rounds of forged frames (100 ms apart) refused before the fire. */
const ROUNDS = 20;

const ZONES = [
  {
    id: 'north',
    voters: VOTERS,
    cameras: [
      { id: 'cam-1', node: 'v1' },
      { id: 'cam-2', node: 'v2' },
    ],
    pumps: [{ id: 'p1', node: 'v3', driver: { type: 'sim' } }],
    policy: { window: '60s', minCameras: 2, minNodes: 2, threshold: 1, voteTtl: '3s' },
  },
  { id: 'south', voters: ['x1'], cameras: [{ id: 'cam-x', node: 'x1' }], policy: { minCameras: 1, minNodes: 1, threshold: 0.5 } },
];
const NORTH = zonesSchema.parse(ZONES)[0] as ConfiguredZone;

let testCa: TestCa;
let dir: string;
const certs = new Map<string, KeyAndCert>();
const pkiDir = (node: string) => join(dir, 'pki', node);

before(async () => {
  testCa = await createTestCa();
  dir = mkdtempSync(join(tmpdir(), 'fm-e2e-zones-signed-'));
  for (const node of [...VOTERS, 'x1', 'x9']) certs.set(node, await issueTo(testCa.ca, node, SITE, pkiDir(node)));
  certs.set('broker', await issueTo(testCa.ca, 'broker', 'hq', pkiDir('broker')));
});

after(() => {
  testCa?.cleanup();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Starts the three voters with `link` (their node.yaml's link lines); answers their processes and API URLs. */
async function startVoters(name: string, link: string[]): Promise<{ procs: FieldmeshProcess[]; url: (id: string) => string }> {
  const procs: FieldmeshProcess[] = [];
  const urls = new Map<string, string>();
  try {
    for (const id of VOTERS) {
      const path = join(dir, `${name}-${id}.yaml`);
      writeFileSync(
        path,
        [
          `node: {id: ${id}, site: ${SITE}}`,
          ...link.map((l) => l.replaceAll('<node>', id)),
          `dataDir: ${join(dir, name)}`,
          'http: {port: 0}',
          'publish: {tick: 200ms, heartbeat: 1s}',
          `collectors: [{type: http_push, token: ${PUSH_TOKEN}}]`,
          `zoneSecurity: {signing: required, ca: ${join(pkiDir(id), 'ca.crt')}, crl: ${testCa.ca.crlFile}, cert: ${join(pkiDir(id), `${id}.crt`)}, key: ${join(pkiDir(id), `${id}.key`)}}`,
          `zones: ${JSON.stringify(ZONES)}`,
          '',
        ].join('\n'),
      );
      procs.push(start(['node', '--config', path]));
    }
    await Promise.all(
      procs.map(async (p, i) => urls.set(VOTERS[i] as string, (await p.waitForOutput(/HTTP (http:\/\/\S+)/))[1] as string)),
    );
  } catch (err) {
    for (const p of procs) p.kill('SIGKILL');
    throw err;
  }
  return { procs, url: (id) => urls.get(id) as string };
}

async function zoneStatus(url: string): Promise<ZoneStatus> {
  const res = await fetch(`${url}/api/v1/zones/north`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { data: ZoneStatus }).data;
}

async function detect(url: string, camera: string): Promise<void> {
  const res = await fetch(`${url}/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${PUSH_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'detection', camera, class: 'fire', confidence: 0.9 }),
  });
  assert.equal(res.status, 200, await res.text());
}

const pumpRunning = async (url: string) => (await zoneStatus(url)).pumps.find((p) => p.id === 'p1')?.running === true;

function signerOf(kc: KeyAndCert, name: string): Promise<ZoneSigner> {
  return createZoneSigner({ keyPem: kc.keyPem, certPem: kc.certPem, keyFile: `${name}.key` });
}

const der = (pem: string) => new Uint8Array(new x509.X509Certificate(pem).rawData);

/** A vote for north as `voter`, with the zone's real configuration hash (nothing secret), epoch 0, live now. */
function forgedVote(voter: string, seq: number): Uint8Array {
  return encodeZoneFrame({
    type: 'vote',
    vote: {
      zone: 'north',
      epoch: 0,
      voter,
      configHash: zoneConfigHash(NORTH),
      boot: 9,
      seq,
      time: Date.now(),
      ttlMs: 3_000,
      evidence: ['forged-1', 'forged-2'],
    },
  });
}

/** The fire: both cameras, then the pump on v3 running on a majority of real voters; answers the owner's status. */
async function fire(url: (id: string) => string): Promise<ZoneStatus> {
  const t0 = Date.now();
  await detect(url('v1'), 'cam-1');
  await detect(url('v2'), 'cam-2');
  const started = await waitFor(
    async () => {
      const s = await zoneStatus(url('v3'));
      return s.pumps.find((p) => p.id === 'p1')?.running === true ? s : undefined;
    },
    { timeoutMs: 20_000, what: 'p1 running on v3' },
  );
  const majority = started.decisions.find((d) => d.kind === 'majority');
  assert.ok(majority !== undefined, JSON.stringify(started.decisions));
  for (const v of majority.votes ?? []) assert.ok(VOTERS.includes(v.voter) && v.boot !== 9, JSON.stringify(majority.votes));
  console.log(`# fire to pump start: ${Date.now() - t0} ms`);
  return started;
}

test('e2e zones signed over UDP: an intruder with a valid certificate of another zone starts nothing; the voters do', async () => {
  const port = await freePort();
  const group = `239.255.72.${(port % 200) + 20}`;
  const voters = await startVoters('udp', [
    'mqtt: {enabled: false}',
    `awareness: {transport: udp, udp: {port: ${port}, interface: 127.0.0.1, group: ${group}}}`,
  ]);
  const intruder = await createUdpLink({ group, port, interfaceAddress: '127.0.0.1' });
  try {
    const owner = voters.url('v3');
    const x1 = certs.get('x1') as KeyAndCert;
    const x1Signer = await signerOf(x1, 'x1');
    const fake = await selfSignedNode({ node: 'v1', site: SITE, fleet: testCa.ca.fleet, nowMs: Date.now() });
    const fakeSigner = await signerOf(fake, 'fake-v1');
    // Round after round until the owner has refused ROUNDS of each (its group membership takes a moment at start).
    let seq = 0;
    let sent = 0;
    const refused = await waitFor(
      async () => {
        seq++;
        // Its certificates: its own, valid, as itself; the same claimed as v1's; a self-signed one in v1's name.
        intruder.send(encodeZoneDatagram(SITE, 'x1', encodeZoneCertificate(der(x1.certPem))));
        intruder.send(encodeZoneDatagram(SITE, 'v1', encodeZoneCertificate(der(x1.certPem))));
        intruder.send(encodeZoneDatagram(SITE, 'v1', encodeZoneCertificate(der(fake.certPem))));
        for (const voter of ['v1', 'v2']) {
          intruder.send(encodeZoneDatagram(SITE, voter, forgedVote(voter, seq)));
          intruder.send(encodeZoneDatagram(SITE, voter, await x1Signer.sign(forgedVote(voter, seq))));
        }
        intruder.send(encodeZoneDatagram(SITE, 'v1', await fakeSigner.sign(forgedVote('v1', seq + 10_000))));
        intruder.send(encodeZoneDatagram(SITE, 'x1', await x1Signer.sign(forgedVote('x1', seq))));
        sent += 6; // votes; the three certificates of the round aside
        const r = (await zoneStatus(owner)).refusals;
        return (r.unsigned ?? 0) >= 2 * ROUNDS && (r['wrong-identity'] ?? 0) >= 3 * ROUNDS && (r['unknown-certificate'] ?? 0) >= ROUNDS
          ? r
          : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'every kind of forged frame refused at the pump owner' },
    );
    console.log(`# udp: ${sent} forged votes sent in ${seq} rounds, refusals at the owner: ${JSON.stringify(refused)}`);
    assert.equal(await pumpRunning(owner), false, 'the intruder started nothing');
    assert.equal(await nodeMetric(owner, 'fieldmesh_pump_starts_total', 'pump="p1"'), undefined);
    assert.ok(((await nodeMetric(owner, 'fieldmesh_zone_votes_refused_total', 'reason="unsigned"')) ?? 0) >= 2 * ROUNDS);
    assert.ok(((await nodeMetric(owner, 'fieldmesh_zone_votes_refused_total', 'reason="wrong-identity"')) ?? 0) >= 3 * ROUNDS);
    assert.ok(((await nodeMetric(owner, 'fieldmesh_zone_frames_rejected_total', 'link="udp",reason="unsigned"')) ?? 0) >= 2 * ROUNDS);
    // A refused certificate is judged once per key id; one relayed under another name is refused each time.
    assert.equal(await nodeMetric(owner, 'fieldmesh_zone_certificate_refused_total', 'reason="self-signed"'), 1);
    assert.ok(((await nodeMetric(owner, 'fieldmesh_zone_certificate_refused_total', 'reason="other-node"')) ?? 0) >= 1);

    const started = await fire(voters.url);
    assert.equal(started.pumps.find((p) => p.id === 'p1')?.cause, 'majority');
    assert.equal(await nodeMetric(owner, 'fieldmesh_pump_starts_total', 'pump="p1",cause="majority"'), 1);
  } finally {
    await intruder.close();
    for (const p of voters.procs) p.kill('SIGTERM');
  }
  for (const p of voters.procs) assert.equal(await p.exited(), 0, p.stderr());
});

test("e2e zones signed over MQTT: without broker zones the owner refuses another zone's node; with them the broker refuses its writes of north's topic and a node no zone lists, the owner a frame on another zone's topic", async () => {
  const tlsPort = await freePort();
  const ca = join(pkiDir('broker'), 'ca.crt');
  const brokerWith = (zones: boolean): Broker =>
    createBroker(
      brokerConfigSchema.parse({
        listen: { host: '127.0.0.1', port: 0 },
        websocket: { enabled: false },
        tls: {
          port: tlsPort,
          cert: join(pkiDir('broker'), 'broker.crt'),
          key: join(pkiDir('broker'), 'broker.key'),
          ca,
          crl: testCa.ca.crlFile,
        },
        ...(zones ? { zones: { [SITE]: ZONES } } : {}),
      }),
    );
  let broker = brokerWith(false);
  await broker.start({ fallbackToFreePort: false });
  const mqttUrl = `mqtts://localhost:${tlsPort}`;
  const clients: MqttClient[] = [];
  let voters: { procs: FieldmeshProcess[]; url: (id: string) => string } | undefined;
  const intruderClient = async (node: string, clientId: string): Promise<MqttClient> => {
    const kc = certs.get(node) as KeyAndCert;
    const c = connect(mqttUrl, {
      cert: kc.certPem,
      key: kc.keyPem,
      ca: testCa.ca.certificatePem,
      clientId,
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    c.on('error', () => {});
    clients.push(c);
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
    });
    return c;
  };
  try {
    voters = await startVoters(
      'mqtt',
      [`mqtt: {url: '${mqttUrl}', ca: ${ca}, cert: <pkidir>/<node>.crt, key: <pkidir>/<node>.key}`].map((l) =>
        l.replaceAll('<pkidir>', join(dir, 'pki', '<node>')),
      ),
    );
    const owner = voters.url('v3');
    await waitFor(async () => (await nodeMetric(owner, 'fieldmesh_agent_broker_connected')) === 1, {
      timeoutMs: 15_000,
      what: 'v3 on the broker',
    });

    // Without zones at the broker: the intruder's frames reach the owner, which refuses them.
    const x1Signer = await signerOf(certs.get('x1') as KeyAndCert, 'x1');
    const open = await intruderClient('x1', 'x1-open');
    const topic = `fieldmesh/${SITE}/x1/zone/north`;
    await open.publishAsync(topic, Buffer.from(encodeZoneCertificate(der((certs.get('x1') as KeyAndCert).certPem))), {
      qos: 1,
      retain: true,
    });
    let seq = 0;
    const refused = await waitFor(
      async () => {
        seq++;
        await open.publishAsync(topic, Buffer.from(forgedVote('v1', seq)), { qos: 1 });
        await open.publishAsync(topic, Buffer.from(await x1Signer.sign(forgedVote('v1', seq))), { qos: 1 });
        await open.publishAsync(topic, Buffer.from(await x1Signer.sign(forgedVote('x1', seq))), { qos: 1 });
        const r = (await zoneStatus(owner)).refusals;
        return (r.unsigned ?? 0) >= ROUNDS && (r['wrong-identity'] ?? 0) >= 2 * ROUNDS ? r : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: "the owner refusing the intruder's frames" },
    );
    console.log(`# mqtt without broker zones: ${3 * seq} forged votes in ${seq} rounds, refusals at the owner: ${JSON.stringify(refused)}`);
    assert.equal(await pumpRunning(owner), false);
    open.end(true);
    await broker.stop();

    // With zones at the broker (same port: the nodes reconnect by themselves): refused there, counted.
    broker = brokerWith(true);
    await broker.start({ fallbackToFreePort: false });
    await waitFor(async () => (await nodeMetric(owner, 'fieldmesh_agent_broker_connected')) === 1, {
      timeoutMs: 20_000,
      what: 'v3 back on the broker',
    });
    // x1 is a voter of south: the broker lets it write the topic of south only (the ACL is per zone). Its vote for
    // north on north's topic is refused there, counted for north; the connection closes (MQTT 3.1.1).
    const member = await intruderClient('x1', 'x1-member');
    const memberClosed = new Promise<void>((resolve) => member.once('close', () => resolve()));
    member.publish(topic, Buffer.from(await x1Signer.sign(forgedVote('v1', 500))), { qos: 1 });
    await memberClosed;
    assert.equal(broker.stats().rejectedZonePublish, 1);
    assert.match(await broker.registry.metrics(), /^fieldmesh_broker_zone_publish_refused_total\{site="ranch",zone="north"\} 1$/m);
    // On its own topic of south the broker lets it write; a vote for north there is refused by every receiver.
    const rejectedOtherZone = async (): Promise<number> =>
      (await nodeMetric(owner, 'fieldmesh_zone_frames_rejected_total', 'link="mqtt",reason="other-zone"')) ?? 0;
    assert.equal(await rejectedOtherZone(), 0);
    const south = await intruderClient('x1', 'x1-south');
    await south.publishAsync(`fieldmesh/${SITE}/x1/zone/south`, Buffer.from(await x1Signer.sign(forgedVote('v1', 501))), { qos: 1 });
    await waitFor(async () => (await rejectedOtherZone()) === 1, { what: "x1's vote for north on south's topic refused at the owner" });
    // x9 holds a valid certificate of the fleet and site, and no zone lists it: refused at the broker, counted.
    const x9 = await intruderClient('x9', 'x9');
    const x9Signer = await signerOf(certs.get('x9') as KeyAndCert, 'x9');
    const closed = new Promise<void>((resolve) => x9.once('close', () => resolve()));
    x9.publish(`fieldmesh/${SITE}/x9/zone/north`, Buffer.from(await x9Signer.sign(forgedVote('v1', 502))), { qos: 1 });
    await closed;
    assert.equal(broker.stats().rejectedZonePublish, 2);
    const metrics = await broker.registry.metrics();
    assert.match(metrics, /^fieldmesh_broker_zone_publish_refused_total\{site="ranch",zone="north"\} 2$/m);
    const refusedBehindBroker = (await zoneStatus(owner)).refusals;

    const started = await fire(voters.url);
    assert.equal(started.pumps.find((p) => p.id === 'p1')?.cause, 'majority');
    assert.deepEqual((await zoneStatus(owner)).refusals, refusedBehindBroker, 'nothing of x1 on north nor of x9 reached the owner');
    assert.equal(broker.stats().rejectedZonePublish, 2, "the voters' own zone frames passed the broker");
    assert.equal(await rejectedOtherZone(), 1, 'and were each on their own zone topic');
  } finally {
    for (const c of clients) c.end(true);
    for (const p of voters?.procs ?? []) p.kill('SIGTERM');
    for (const p of voters?.procs ?? []) await p.exited();
    await broker.stop();
  }
});
