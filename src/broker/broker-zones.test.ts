// The embedded broker's zone ACL (broker.yaml zones): a node writes its topic of zone Z (`<prefix>/<site>/<node>/zone/<Z>`)
// only when zone Z lists it, the refusal counted in fieldmesh_broker_zone_publish_refused_total{site,zone} and logged
// once per node and zone; no zones, no change.
// [FM-ZONE-SIGN-6]

import assert from 'node:assert/strict';
import { type EventEmitter, once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { connect, type MqttClient } from 'mqtt';
import { createFleetCerts, type FleetCerts } from '../../test/kit/fleet-certs.js';
import { waitFor } from '../../test/kit/wait.js';
import type { Logger } from '../kit/index.js';
import { type Broker, createBroker, type StartedBroker } from './broker.js';
import { canPublish, type Identity, isZoneWriteRefused, zoneWritersOf } from './broker-acl.js';
import { brokerConfigSchema } from './broker-config.js';

const NORTH = {
  id: 'north',
  voters: ['v1', 'v2', 'v3'],
  cameras: [
    { id: 'cam-1', node: 'v1' },
    { id: 'cam-2', node: 'v2' },
  ],
  pumps: [{ id: 'p1', node: 'v3', driver: { type: 'sim' } }],
};
const SOUTH = { id: 'south', voters: ['s1', 's2'], policy: { minCameras: 1, minNodes: 1 }, cameras: [{ id: 'cam-s', node: 's1' }] };

const node = (site: string, id: string): Identity => ({
  kind: 'certificate',
  role: 'node',
  cn: id,
  node: id,
  site,
});

describe('broker zone ACL', () => {
  test('broker zone ACL: only a node a zone of its site lists writes its zone topic; its other channels are unchanged', () => {
    const config = brokerConfigSchema.parse({ zones: { farm: [NORTH, SOUTH] } });
    const writers = zoneWritersOf(config.zones ?? {});
    assert.deepEqual([...(writers.get('farm')?.get('north') ?? [])].sort(), ['v1', 'v2', 'v3']);
    assert.deepEqual([...(writers.get('farm')?.get('south') ?? [])].sort(), ['s1', 's2']);
    assert.equal(canPublish(node('farm', 'v1'), 'fm', 'fm/farm/v1/zone/north', writers), true);
    assert.equal(canPublish(node('farm', 'v3'), 'fm', 'fm/farm/v3/zone/north', writers), true, 'the pump owner');
    assert.equal(canPublish(node('farm', 's2'), 'fm', 'fm/farm/s2/zone/south', writers), true, 'a voter of south on south');
    assert.equal(canPublish(node('farm', 's2'), 'fm', 'fm/farm/s2/zone/north', writers), false, 'a voter of south on north');
    assert.equal(isZoneWriteRefused(node('farm', 's2'), 'fm', 'fm/farm/s2/zone/north', writers), true);
    assert.equal(canPublish(node('farm', 'v1'), 'fm', 'fm/farm/v1/zone/west', writers), false, 'a zone broker.yaml does not know');
    assert.equal(canPublish(node('farm', 'x9'), 'fm', 'fm/farm/x9/zone/north', writers), false, 'a node no zone lists');
    assert.equal(isZoneWriteRefused(node('farm', 'x9'), 'fm', 'fm/farm/x9/zone/north', writers), true);
    assert.equal(canPublish(node('farm', 'x9'), 'fm', 'fm/farm/x9/data', writers), true, 'its data still goes');
    assert.equal(canPublish(node('ranch', 'v1'), 'fm', 'fm/ranch/v1/zone/north', writers), false, 'v1 of a site without zones');
    assert.equal(canPublish(node('farm', 'x9'), 'fm', 'fm/farm/x9/zone/north'), true, 'no zones configured: any zone topic of its own');
    assert.equal(isZoneWriteRefused(node('farm', 'x9'), 'fm', 'fm/farm/x9/zone/north', undefined), false);
    assert.equal(canPublish(node('farm', 'v1'), 'fm', 'fm/farm/v1/zone', writers), false, 'the zone level without a zone');
    assert.equal(canPublish(node('farm', 'v1'), 'fm', 'fm/farm/v1/zone/north/x', writers), false, 'below a zone topic');
    assert.equal(canPublish(node('farm', 'v1'), 'fm', 'fm/farm/v2/zone/north', writers), false, "another node's zone topic");
    const hub: Identity = { kind: 'certificate', role: 'hub', cn: 'hub' };
    assert.equal(canPublish(hub, 'fm', 'fm/farm/x9/zone/north', writers), true, 'the hub goes anywhere');
  });

  test('broker zone ACL: the pump owner of a zone a fire in another activates writes that other zone too', () => {
    const east = {
      id: 'east',
      voters: ['e1'],
      policy: { minCameras: 1, minNodes: 1 },
      cameras: [{ id: 'cam-e', node: 'e1' }],
      pumps: [{ id: 'pe', node: 'e1', driver: { type: 'sim' } }],
    };
    const west = {
      id: 'west',
      voters: ['w1'],
      overlaps: ['east'],
      policy: { minCameras: 1, minNodes: 1, activates: ['east'] },
      cameras: [{ id: 'cam-w', node: 'w1' }],
    };
    const config = brokerConfigSchema.parse({ zones: { farm: [east, west] } });
    const writers = zoneWritersOf(config.zones ?? {});
    assert.deepEqual([...(writers.get('farm')?.get('west') ?? [])].sort(), ['e1', 'w1'], "east's pump owner counts west's votes");
    assert.equal(canPublish(node('farm', 'w1'), 'fm', 'fm/farm/w1/zone/east', writers), false, 'not the other way round');
  });

  test('broker zone ACL: broker.yaml zones are checked as node.yaml zones, with the path of each problem', () => {
    const bad = brokerConfigSchema.safeParse({
      zones: { farm: [{ ...NORTH, pumps: [{ id: 'p1', node: 'x9', driver: { type: 'sim' } }] }] },
    });
    assert.equal(bad.success, false);
    const issue = bad.error?.issues.find((i) => i.path.join('.') === 'zones.farm.0.pumps.0.node');
    assert.match(issue?.message ?? '', /"x9" is not a voter of zone "north"/);
    assert.equal(brokerConfigSchema.safeParse({ zones: { 'Not A Site': [NORTH] } }).success, false);
  });
});

describe('broker zone ACL over TLS identities', () => {
  let broker: Broker;
  let started: StartedBroker;
  const warnings: string[] = [];
  const clients: MqttClient[] = [];
  let certs: FleetCerts;

  const logger: Logger = {
    debug() {},
    info() {},
    warn(_obj, msg) {
      warnings.push(msg ?? '');
    },
    error() {},
    child: () => logger,
  };

  before(async () => {
    certs = await createFleetCerts();
    // n1 and n2 of site farm: the zone lists n1 only.
    const zone = { id: 'north', voters: ['n1'], policy: { minCameras: 1, minNodes: 1 }, cameras: [{ id: 'cam-1', node: 'n1' }] };
    broker = createBroker(
      brokerConfigSchema.parse({
        listen: { host: '127.0.0.1', port: 0 },
        websocket: { enabled: false },
        tls: { port: 0, cert: certs.server.certFile, key: certs.server.keyFile, ca: certs.caFile, crl: certs.crlFile },
        metrics: { port: 0 },
        zones: { farm: [zone] },
      }),
      { logger },
    );
    started = await broker.start({ fallbackToFreePort: false });
  });
  after(async () => {
    for (const c of clients) c.end(true);
    await broker?.stop();
    certs?.cleanup();
  });

  async function open(cert: { certPem: string; keyPem: string }, clientId: string): Promise<MqttClient> {
    const c = connect(started.mqttsUrl as string, {
      cert: cert.certPem,
      key: cert.keyPem,
      ca: certs.ca.certificate.toString('pem'),
      servername: 'localhost',
      clientId,
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    clients.push(c);
    await once(c as unknown as EventEmitter, 'connect');
    return c;
  }

  async function zoneMetric(): Promise<number> {
    const text = await (await fetch(started.metricsUrl as string)).text();
    const m = /^fieldmesh_broker_zone_publish_refused_total\{site="farm",zone="north"\} (\d+)$/m.exec(text);
    return m === null ? 0 : Number(m[1]);
  }

  test('broker zone ACL: a valid certificate no zone lists cannot publish a vote; counted, logged once; a listed node can', async () => {
    const watcher = await open(certs.hub, 'hub');
    const heard: string[] = [];
    watcher.on('message', (topic) => heard.push(topic));
    await watcher.subscribeAsync('fieldmesh/farm/+/zone/+');
    assert.equal(await zoneMetric(), 0);

    for (let attempt = 0; attempt < 2; attempt++) {
      const intruder = await open(certs.n2, `n2-${attempt}`);
      const closed = once(intruder as unknown as EventEmitter, 'close');
      intruder.publish('fieldmesh/farm/n2/zone/north', Buffer.from('forged vote'), { qos: 1 });
      await closed;
    }
    assert.equal(await zoneMetric(), 2);
    assert.equal(broker.stats().rejectedZonePublish, 2);
    assert.equal(
      warnings.filter((w) => w.startsWith('zone frames of farm/n2 for zone north refused')).length,
      1,
      'logged once per node and zone',
    );

    const voter = await open(certs.n1, 'n1');
    await voter.publishAsync('fieldmesh/farm/n1/zone/north', Buffer.from('vote'), { qos: 1 });
    await waitFor(() => heard.includes('fieldmesh/farm/n1/zone/north'), { what: "the listed voter's zone frame at the hub" });
    assert.deepEqual([...new Set(heard)], ['fieldmesh/farm/n1/zone/north'], 'only the listed node’s zone frame reached the hub');
    assert.equal(await zoneMetric(), 2);
  });
});
