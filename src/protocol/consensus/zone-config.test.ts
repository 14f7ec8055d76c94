// Zones as configuration: defaults, the seed's shape, every cross-field error with its path, the hash.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ConfigProblem, isFieldmeshError } from '../../kit/index.js';
import { canonicalJson, DEFAULT_ZONE_POLICY, fnv1a64, loadZoneConfigs, zoneConfigHash } from './zone-config.js';

/** Every problem of a zones file as "path: message". */
function problems(text: string): string[] {
  try {
    loadZoneConfigs({ text, file: 'zones.yaml' });
  } catch (err) {
    assert.ok(isFieldmeshError(err, 'FM_CONFIG_INVALID'), String(err));
    return (err.details.problems as ConfigProblem[]).map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('expected the zones file to be refused');
}

function hasProblem(list: readonly string[], path: string, message: RegExp): void {
  assert.ok(
    list.some((p) => p.startsWith(`${path}: `) && message.test(p.slice(path.length + 2))),
    `expected "${path}: ${message}" among:\n${list.join('\n')}`,
  );
}

const MINIMAL = `
zones:
  - id: north
    voters: [a, b]
    cameras:
      - {id: cam-a, node: a}
      - {id: cam-b, node: b}
    pumps:
      - {id: p1, node: a, driver: {type: sim}}
`;

test('zone config: a minimal zone takes the documented defaults, durations in ms', () => {
  const [zone] = loadZoneConfigs({ text: MINIMAL });
  assert.ok(zone);
  assert.deepEqual(zone.voters, ['a', 'b']);
  assert.deepEqual(zone.cameras, [
    { id: 'cam-a', node: 'a', weight: 1 },
    { id: 'cam-b', node: 'b', weight: 1 },
  ]);
  assert.deepEqual(zone.overlaps, []);
  assert.deepEqual(zone.policy, {
    windowMs: 60_000,
    classes: ['fire', 'smoke'],
    minConfidence: 0.7,
    minCameras: 2,
    minNodes: 2,
    threshold: 1,
    cooldownMs: 300_000,
    activates: [],
    voteTtlMs: 6_000,
    maxClockSkewMs: 2_000,
    isolatedFallback: { enabled: false, minCameras: 3, minConfidence: 0.9 },
  });
  assert.deepEqual(zone.pumps[0], {
    id: 'p1',
    node: 'a',
    envelope: { maxRuntimeMs: 1_200_000, atMaxRuntime: 'stop', minOffMs: 60_000, onLeaseLapse: 'keep-running', onRestart: 'keep-running' },
    driver: { type: 'sim' },
  });
  assert.deepEqual(DEFAULT_ZONE_POLICY, zone.policy);
  assert.ok(Object.isFrozen(zone.policy), 'the loaded configuration is frozen');
});

test('zone config: the drivers parse, mqtt topics default to the seed gpio/pump/<id>', () => {
  const text = `
zones:
  - id: north
    voters: [a, b]
    cameras: [{id: cam-a, node: a}, {id: cam-b, node: b}]
    pumps:
      - id: pump-01
        node: a
        envelope: {maxRuntime: 10m, atMaxRuntime: alert, minOff: 30s, onLeaseLapse: stop, onRestart: stop}
        driver: {type: command, start: [gpioset, gpiochip0, 17=1], stop: [gpioset, gpiochip0, 17=0], read: [gpioget, gpiochip0, '17']}
      - {id: pump-02, node: b, driver: {type: mqtt}}
      - {id: pump-03, node: b, driver: {type: mqtt, topic: site/pumps/3, on: '1', off: '0', qos: 0}}
`;
  const [zone] = loadZoneConfigs({ text });
  assert.ok(zone);
  const [p1, p2, p3] = zone.pumps;
  assert.deepEqual(p1?.envelope, {
    maxRuntimeMs: 600_000,
    atMaxRuntime: 'alert',
    minOffMs: 30_000,
    onLeaseLapse: 'stop',
    onRestart: 'stop',
  });
  assert.deepEqual(p1?.driver, {
    type: 'command',
    start: ['gpioset', 'gpiochip0', '17=1'],
    stop: ['gpioset', 'gpiochip0', '17=0'],
    read: ['gpioget', 'gpiochip0', '17'],
    timeout: 5_000,
  });
  assert.deepEqual(p2?.driver, {
    type: 'mqtt',
    topic: 'gpio/pump/pump-02',
    stateTopic: 'gpio/pump/pump-02/state',
    on: 'ON',
    off: 'OFF',
    qos: 1,
    retain: false,
  });
  assert.deepEqual(p3?.driver, {
    type: 'mqtt',
    topic: 'site/pumps/3',
    stateTopic: 'site/pumps/3/state',
    on: '1',
    off: '0',
    qos: 0,
    retain: false,
  });
});

test('zone config: driver errors name the field', () => {
  const list = problems(`
zones:
  - id: north
    voters: [a, b]
    cameras: [{id: cam-a, node: a}, {id: cam-b, node: b}]
    pumps:
      - {id: p1, node: a, driver: {type: relay}}
      - {id: p2, node: a, driver: {type: command, start: [], stop: [x]}}
      - {id: p3, node: a, driver: {type: mqtt, topic: 'gpio/#'}}
      - {id: p4, node: a}
`);
  hasProblem(list, 'zones[0].pumps[0].driver.type', /sim.*command.*mqtt/);
  hasProblem(list, 'zones[0].pumps[1].driver.start', /program and its arguments/);
  hasProblem(list, 'zones[0].pumps[2].driver.topic', /no wildcards/);
  hasProblem(list, 'zones[0].pumps[3].driver', /expected/);
});

/** The seed's block (docs/seeds 000, "Zone-Based Activation") with what it leaves out filled in. */
const SEED_SHAPE = `
zones:
  north:
    nodes: [edge-north-01, edge-north-02]
    cameras:
      - {id: north-cam-1, node: edge-north-01}
      - {id: north-cam-2, node: edge-north-02, weight: 0.8}
    pumps:
      - {id: pump-01, node: edge-north-01, driver: {type: mqtt}}
      - {id: pump-02, node: edge-north-02, driver: {type: mqtt}}
    overlap: [east]
    policy: {activates: [east]}
  east:
    nodes: [edge-east-01, edge-north-02]
    cameras:
      - {id: east-cam-1, node: edge-east-01}
      - {id: north-cam-2, node: edge-north-02, weight: 0.5}
    pumps:
      - {id: pump-03, node: edge-east-01, driver: {type: sim}}
    overlap: [north]
`;

test('zone config: the seed shape parses (a mapping by zone id, nodes and overlap), cameras shared across the overlap', () => {
  const zones = loadZoneConfigs({ text: SEED_SHAPE });
  assert.deepEqual(
    zones.map((z) => [z.id, z.voters, z.overlaps, z.policy.activates]),
    [
      ['north', ['edge-north-01', 'edge-north-02'], ['east'], ['east']],
      ['east', ['edge-east-01', 'edge-north-02'], ['north'], []],
    ],
  );
  assert.deepEqual(
    zones[1]?.cameras.map((c) => [c.id, c.weight]),
    [
      ['east-cam-1', 1],
      ['north-cam-2', 0.5],
    ],
  );
  assert.equal(zones[0]?.pumps[0]?.driver.type === 'mqtt' && zones[0].pumps[0].driver.topic, 'gpio/pump/pump-01');
});

/** The seed's block exactly as the guide writes it. */
const SEED_AS_WRITTEN = `
zones:
  north:
    nodes: [edge-north-01, edge-north-02]
    pumps: [pump-01, pump-02]
    overlap: [east]
  east:
    nodes: [edge-east-01]
    pumps: [pump-03]
    overlap: [north, south]
`;

test('zone config: the seed block as written says what it lacks, each at its path', () => {
  const list = problems(SEED_AS_WRITTEN);
  hasProblem(list, 'zones.north.pumps[0]', /needs the node wired to it.*\{id: pump-01, node: <node id>/);
  hasProblem(list, 'zones.north.pumps[1]', /pump-02/);
  hasProblem(list, 'zones.east.pumps[0]', /pump-03/);
  // The pumps failing, the zones' other checks wait; fix them and the next layer shows:
  const next = problems(
    SEED_AS_WRITTEN.replace('[pump-01, pump-02]', '[{id: pump-01, node: edge-north-01, driver: {type: sim}}]').replace(
      '[pump-03]',
      '[{id: pump-03, node: edge-east-01, driver: {type: sim}}]',
    ),
  );
  hasProblem(next, 'zones.north.policy.minCameras', /^2 cameras needed, the zone has 0$/);
  hasProblem(next, 'zones.north.policy.minNodes', /^2 nodes needed, the zone's cameras are on 0$/);
  hasProblem(next, 'zones.east.overlap[1]', /"south" is not a zone of this site \(zones: north, east\)/);
});

test('zone config: every cross-field error carries its path', () => {
  const list = problems(`
zones:
  - id: north
    voters: [a, b, a]
    cameras:
      - {id: cam-a, node: a}
      - {id: cam-b, node: b}
    pumps:
      - {id: p1, node: a, driver: {type: sim}}
    overlaps: [east, north, nowhere, east]
    policy: {activates: [west, nowhere]}
  - id: east
    voters: [c, d]
    cameras:
      - {id: cam-c, node: c}
      - {id: cam-d, node: d}
      - {id: cam-b, node: c}
    pumps:
      - {id: p1, node: c, driver: {type: sim}}
      - {id: p2, node: n9, driver: {type: sim}}
    overlaps: [north]
  - id: east
    voters: [e]
    cameras: [{id: cam-e, node: e}]
    policy: {minCameras: 1, minNodes: 1}
  - id: west
    voters: [w]
    cameras: [{id: cam-w, node: w}]
    policy: {minCameras: 1, minNodes: 1}
`);
  hasProblem(list, 'zones[0].voters[2]', /^"a" is listed twice$/);
  hasProblem(list, 'zones[2].id', /^zone "east" is listed twice \(zones\[1\]\)$/);
  hasProblem(list, 'zones[1].pumps[1].node', /^"n9" is not a voter of zone "east" \(voters: c, d\)$/);
  hasProblem(list, 'zones[1].pumps[0].id', /^pump "p1" is listed already in zone "north"/);
  hasProblem(list, 'zones[1].cameras[2].node', /^camera "cam-b" is on node "b" in zone "north"; a camera has one node$/);
  hasProblem(list, 'zones[0].overlaps[1]', /^zone "north" names itself$/);
  hasProblem(list, 'zones[0].overlaps[2]', /^"nowhere" is not a zone of this site/);
  hasProblem(list, 'zones[0].overlaps[3]', /^"east" is listed twice$/);
  hasProblem(list, 'zones[0].policy.activates[0]', /^"west" is not among the zones zone "north" overlaps/);
  hasProblem(list, 'zones[0].policy.activates[1]', /^"nowhere" is not a zone of this site/);
});

test('zone config: cameras on unlisted nodes, duplicate cameras, weights outside 0..1', () => {
  const list = problems(`
zones:
  - id: north
    voters: [a, b]
    cameras:
      - {id: cam-a, node: a}
      - {id: cam-b, node: b}
      - {id: cam-b, node: b}
      - {id: cam-x, node: x}
  - id: east
    voters: [a, b]
    cameras:
      - {id: cam-e, node: a, weight: 1.5}
      - {id: cam-f, node: b, weight: -0.1}
      - {id: cam-g, node: x}
`);
  hasProblem(list, 'zones[0].cameras[2].id', /^camera "cam-b" is listed twice \(cameras\[1\]\)$/);
  hasProblem(list, 'zones[0].cameras[3].node', /^"x" is not a voter of zone "north" \(voters: a, b\)$/);
  hasProblem(list, 'zones[1].cameras[0].weight', /^must be between 0 and 1$/);
  hasProblem(list, 'zones[1].cameras[1].weight', /^must be between 0 and 1$/);
  // A zone with a field-level problem waits for it before its cross-field checks (one layer at a time):
  assert.ok(!list.some((p) => p.startsWith('zones[1].cameras[2]')), list.join('\n'));
});

test('zone config: a policy that can never be met is refused', () => {
  const list = problems(`
zones:
  - id: north
    voters: [a, b, c]
    cameras:
      - {id: cam-a1, node: a, weight: 0.4}
      - {id: cam-a2, node: a, weight: 0.4}
    policy: {minNodes: 2, minCameras: 3, maxClockSkew: 10s, voteTtl: 6s, window: 0s}
  - id: east
    voters: [a, b]
    cameras:
      - {id: cam-e1, node: a, weight: 0.5}
      - {id: cam-e2, node: b, weight: 0.5}
    policy: {threshold: 1.2, isolatedFallback: {enabled: true, minConfidence: 0.5}}
`);
  hasProblem(list, 'zones[0].policy.minNodes', /^2 nodes needed, the zone's cameras are on 1 \(a\)$/);
  hasProblem(list, 'zones[0].policy.minCameras', /^3 cameras needed, the zone has 2$/);
  hasProblem(list, 'zones[0].policy.threshold', /^the default threshold 1 can never be reached: the cameras' weights sum to 0\.8$/);
  hasProblem(list, 'zones[0].policy.maxClockSkew', /must be less than voteTtl/);
  hasProblem(list, 'zones[0].policy.window', /must be more than 0/);
  hasProblem(list, 'zones[1].policy.threshold', /^threshold 1\.2 can never be reached: the cameras' weights sum to 1$/);
  hasProblem(list, 'zones[1].policy.isolatedFallback.minCameras', /^3 cameras of one node needed, no node of the zone has more than 1$/);
  hasProblem(list, 'zones[1].policy.isolatedFallback.minConfidence', /at least policy\.minConfidence \(0\.7\)/);
});

test('zone config: voters are required (voters or the seed nodes, not both)', () => {
  const list = problems(`
zones:
  - {id: north, cameras: [{id: c1, node: a}], policy: {minCameras: 1, minNodes: 1}}
  - {id: east, voters: [a], nodes: [a], cameras: [{id: c2, node: a}], policy: {minCameras: 1, minNodes: 1}}
`);
  hasProblem(list, 'zones[0].voters', /at least one voter/);
  hasProblem(list, 'zones[0].cameras[0].node', /^"a" is not a voter of zone "north" \(voters: none\)$/);
  hasProblem(list, 'zones[1].nodes', /not both/);
});

test('zone config: a mapping key and an id that disagree, a zones value of the wrong shape', () => {
  hasProblem(problems('zones:\n  north: {id: south, voters: [a]}\n'), 'zones.north.id', /the key "north" names the zone already/);
  hasProblem(problems('zones: 3\n'), 'zones', /expected a list of zones/);
  assert.deepEqual(loadZoneConfigs({ text: '' }), []);
});

test('zone config hash: FNV-1a 64 matches the published test vectors', () => {
  assert.equal(fnv1a64(''), 'cbf29ce484222325');
  assert.equal(fnv1a64('a'), 'af63dc4c8601ec8c');
  assert.equal(fnv1a64('foobar'), '85944171f73967e8');
  // UTF-8: "é" is c3 a9 and "🔥" f0 9f 94 a5, hashed as bytes, not as UTF-16 units.
  assert.equal(fnv1a64('é'), fnv1a64Bytes([0xc3, 0xa9]));
  assert.equal(fnv1a64('x🔥'), fnv1a64Bytes([0x78, 0xf0, 0x9f, 0x94, 0xa5]));
  assert.equal(fnv1a64('\ud800'), fnv1a64Bytes([0xef, 0xbf, 0xbd]), 'a lone surrogate hashes as U+FFFD');
});

/** The reference: FNV-1a 64 over raw bytes, written the textbook way. */
function fnv1a64Bytes(bytes: number[]): string {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) % 2n ** 64n;
  return h.toString(16).padStart(16, '0');
}

test('zone config hash: canonical JSON sorts keys; the hash ignores the order of sets and the drivers', () => {
  assert.equal(canonicalJson({ b: 1, a: [2, { d: 1, c: 'x' }] }), '{"a":[2,{"c":"x","d":1}],"b":1}');
  const [zone] = loadZoneConfigs({ text: MINIMAL });
  assert.ok(zone);
  const hash = zoneConfigHash(zone);
  assert.match(hash, /^[0-9a-f]{16}$/);
  const reordered = {
    ...zone,
    voters: [...zone.voters].reverse(),
    cameras: [...zone.cameras].reverse(),
    policy: { ...zone.policy, classes: [...zone.policy.classes].reverse() },
  };
  assert.equal(zoneConfigHash(reordered), hash);
  const otherDriver = { ...zone, pumps: zone.pumps.map((p) => ({ ...p, driver: { type: 'mqtt' as const } })) };
  assert.equal(zoneConfigHash(otherDriver as never), hash, 'the driver is the pump node’s own business');
});

test('zone config hash: every consensus field changes it', () => {
  const [zone] = loadZoneConfigs({ text: MINIMAL });
  assert.ok(zone);
  const base = zoneConfigHash(zone);
  const variants = [
    { ...zone, id: 'south' },
    { ...zone, voters: ['a', 'b', 'c'] },
    { ...zone, cameras: zone.cameras.map((c, i) => (i === 0 ? { ...c, weight: 0.9 } : c)) },
    { ...zone, cameras: zone.cameras.map((c, i) => (i === 0 ? { ...c, node: 'b' } : c)) },
    { ...zone, pumps: zone.pumps.map((p) => ({ ...p, node: 'b' })) },
    { ...zone, pumps: zone.pumps.map((p) => ({ ...p, envelope: { ...p.envelope, maxRuntimeMs: 1 } })) },
    { ...zone, overlaps: ['east'] },
    ...(['windowMs', 'minConfidence', 'minCameras', 'minNodes', 'threshold', 'cooldownMs', 'voteTtlMs', 'maxClockSkewMs'] as const).map(
      (k) => ({
        ...zone,
        policy: { ...zone.policy, [k]: zone.policy[k] + 1 },
      }),
    ),
    { ...zone, policy: { ...zone.policy, classes: ['fire'] } },
    { ...zone, policy: { ...zone.policy, activates: ['east'] } },
    { ...zone, policy: { ...zone.policy, isolatedFallback: { ...zone.policy.isolatedFallback, enabled: true } } },
  ];
  const hashes = new Set(variants.map((v) => zoneConfigHash(v)));
  assert.equal(hashes.size, variants.length, 'each variant hashes apart');
  assert.ok(!hashes.has(base));
});
