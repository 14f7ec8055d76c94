// The Mosquitto listener block and ACL: per node its own channels to write, its commands, config, the hub state and
// its digest to read, zone frames and aggregator rights only where given; ids that would make an identity ambiguous
// are refused.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../kit/index.js';
import { mosquittoAcl, mosquittoListener } from './mosquitto-conf.js';

function userBlock(acl: string, user: string): string[] {
  const lines = acl.split('\n');
  const start = lines.indexOf(`user ${user}`);
  assert.ok(start >= 0, `a block for ${user}`);
  const end = lines.findIndex((l, i) => i > start && (l === '' || l.startsWith('user ')));
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

test('mosquitto ACL: a node writes its own channels and reads its commands, config, the hub state and its digest', () => {
  const acl = mosquittoAcl({
    prefix: 'acme/fieldmesh',
    nodes: [
      { node: 'edge-01', site: 'ranch', awarenessZone: 'north', zones: ['north', 'south'] },
      { node: 'edge-02', site: 'valley', zones: [] },
    ],
    hubs: ['hub'],
    aggregators: ['edge-02'],
  });
  assert.deepEqual(userBlock(acl, 'edge-01'), [
    'topic write acme/fieldmesh/ranch/edge-01/birth',
    'topic write acme/fieldmesh/ranch/edge-01/death',
    'topic write acme/fieldmesh/ranch/edge-01/data',
    'topic write acme/fieldmesh/ranch/edge-01/event',
    'topic write acme/fieldmesh/ranch/edge-01/history',
    'topic write acme/fieldmesh/ranch/edge-01/aware',
    'topic write acme/fieldmesh/ranch/edge-01/reply',
    'topic write acme/fieldmesh/ranch/edge-01/csr',
    'topic write acme/fieldmesh/ranch/edge-01/zone/north',
    'topic write acme/fieldmesh/ranch/edge-01/zone/south',
    'topic read acme/fieldmesh/ranch/edge-01/cmd/rebirth',
    'topic read acme/fieldmesh/ranch/edge-01/cmd/ack',
    'topic read acme/fieldmesh/ranch/edge-01/cmd/backfill',
    'topic read acme/fieldmesh/ranch/edge-01/cmd/query',
    'topic read acme/fieldmesh/_hub/state',
    'topic read acme/fieldmesh/_hub/config/ranch/edge-01',
    'topic read acme/fieldmesh/_hub/assign/ranch/edge-01',
    'topic read acme/fieldmesh/_hub/cert/ranch/edge-01',
    'topic read acme/fieldmesh/_hub/aware/north',
    'topic read acme/fieldmesh/ranch/+/zone/+',
  ]);
  const edge02 = userBlock(acl, 'edge-02');
  assert.ok(edge02.includes('topic read acme/fieldmesh/_hub/aware'), 'the fleet digest without a zone');
  assert.ok(!edge02.some((l) => l.endsWith('/+/zone/+')), 'no zone frames for a node of no consensus zone');
  assert.ok(!edge02.some((l) => l.includes('/zone/')), 'and no writing of zone frames either: no zone lists it');
  assert.deepEqual(edge02.slice(-3), [
    'topic read acme/fieldmesh/+/+/aware',
    'topic write acme/fieldmesh/_hub/aware',
    'topic write acme/fieldmesh/_hub/aware/+',
  ]);
  assert.deepEqual(userBlock(acl, 'hub'), ['topic readwrite acme/fieldmesh/#']);
  assert.doesNotMatch(acl, /^pattern /m, 'nothing granted to every client');
  for (const line of [...userBlock(acl, 'edge-01'), ...edge02])
    assert.ok(!line.includes('#'), `no multi-level wildcard for a node: ${line}`);
});

test('mosquitto ACL: a node id on two sites, a hub id that is a node, an unknown aggregator and a bad prefix are refused', () => {
  const refused = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (err: unknown) => isFieldmeshError(err, 'FM_PKI_INVALID') && pattern.test((err as Error).message));
  const base = { prefix: 'fieldmesh', hubs: ['hub'] };
  refused(
    () =>
      mosquittoAcl({
        ...base,
        nodes: [
          { node: 'n1', site: 'a' },
          { node: 'n1', site: 'b' },
        ],
      }),
    /node id n1 is on sites a and b/,
  );
  refused(() => mosquittoAcl({ ...base, nodes: [{ node: 'hub', site: 'a' }] }), /--hub hub is also a node id/);
  refused(() => mosquittoAcl({ ...base, nodes: [{ node: 'n1', site: 'a' }], aggregators: ['n2'] }), /--aggregator n2 is not a node/);
  refused(() => mosquittoAcl({ ...base, nodes: [{ node: 'N 1', site: 'a' }] }), /node id "N 1"/);
  assert.throws(
    () => mosquittoAcl({ ...base, prefix: 'a/#', nodes: [] }),
    (err: unknown) => isFieldmeshError(err, 'FM_TOPIC_INVALID'),
  );
});

test('mosquitto listener: TLS on 8883 with the CA, the CRL, a required client certificate, CN as user name, TLS 1.2 at least', () => {
  const files = {
    cafile: '/m/ca.crt',
    certfile: '/m/broker.crt',
    keyfile: '/m/broker.key',
    crlfile: '/m/crl.pem',
    aclFile: '/m/fieldmesh.acl',
  };
  const conf = mosquittoListener(files);
  const directives = conf.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  assert.deepEqual(directives, [
    'listener 8883',
    'cafile /m/ca.crt',
    'certfile /m/broker.crt',
    'keyfile /m/broker.key',
    'crlfile /m/crl.pem',
    'require_certificate true',
    'use_identity_as_username true',
    'tls_version tlsv1.2',
    'acl_file /m/fieldmesh.acl',
  ]);
  assert.match(mosquittoListener({ ...files, port: 18883, bind: '127.0.0.1' }), /^listener 18883 127\.0\.0\.1$/m);
  assert.throws(
    () => mosquittoListener({ ...files, port: 70_000 }),
    (err: unknown) => isFieldmeshError(err, 'FM_PKI_INVALID'),
  );
});
