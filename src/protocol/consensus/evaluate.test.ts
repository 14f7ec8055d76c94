// The evaluator: each counting rule, the score, the evidence, activation through overlaps, and the
// properties every node relies on (determinism, monotonicity, no single camera or node decides).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { activatedZones, evaluateIsolatedFallback, evaluateZone, isCountedDetection, MAX_EVIDENCE_DETECTIONS } from './evaluate.js';
import type { Detection, ZoneCamera, ZoneConfig, ZonePolicy } from './types.js';
import { DEFAULT_ZONE_POLICY } from './zone-config.js';

/** A point on the evaluator's own clock; only differences from it matter. */
const NOW = 5_000_000;

/** The defaults, spelled out in zone-config.test.ts. */
const POLICY: ZonePolicy = DEFAULT_ZONE_POLICY;

function zoneOf(cameras: readonly ZoneCamera[], policy: Partial<ZonePolicy> = {}, id = 'north'): ZoneConfig {
  const voters = [...new Set(cameras.map((c) => c.node))].sort();
  return { id, voters, cameras, pumps: [], overlaps: [], policy: { ...POLICY, ...policy } };
}

/** north: cam-a1 and cam-a2 on node a, cam-b1 on node b, cam-c1 on node c (weight 0.5). */
const NORTH = zoneOf([
  { id: 'cam-a1', node: 'a', weight: 1 },
  { id: 'cam-a2', node: 'a', weight: 1 },
  { id: 'cam-b1', node: 'b', weight: 1 },
  { id: 'cam-c1', node: 'c', weight: 0.5 },
]);

let nextId = 0;
function det(camera: string, node: string, confidence: number, ago = 1_000, cls = 'fire'): Detection {
  nextId++;
  return { id: `d${String(nextId).padStart(4, '0')}`, camera, node, class: cls, confidence, time: NOW - ago };
}

test('evaluator: two cameras on two nodes reach the policy; the evidence says which and how', () => {
  const d1 = det('cam-b1', 'b', 0.8);
  const d2 = det('cam-a1', 'a', 0.9);
  const result = evaluateZone(NORTH, [d1, d2], NOW);
  assert.equal(result.fire, true);
  assert.deepEqual(result.missing, []);
  assert.equal(result.zone, 'north');
  assert.equal(result.at, NOW);
  assert.deepEqual(result.evidence, {
    detections: [d1.id, d2.id].sort(),
    cameras: [
      { camera: 'cam-a1', node: 'a', weight: 1, confidence: 0.9 },
      { camera: 'cam-b1', node: 'b', weight: 1, confidence: 0.8 },
    ],
    distinctCameras: 2,
    distinctNodes: 2,
    score: 0.9 + 0.8,
  });
});

test('evaluator: one camera says what is missing in words', () => {
  const result = evaluateZone(NORTH, [det('cam-a1', 'a', 1)], NOW);
  assert.equal(result.fire, false);
  assert.deepEqual(result.missing, ['1 of 2 cameras', '1 of 2 nodes']);
  const none = evaluateZone(NORTH, [], NOW);
  assert.deepEqual(none.missing, ['0 of 2 cameras', '0 of 2 nodes', 'score 0 of 1']);
  assert.deepEqual(none.evidence.detections, []);
});

test('evaluator: two cameras of one node are one node', () => {
  const result = evaluateZone(NORTH, [det('cam-a1', 'a', 1), det('cam-a2', 'a', 1)], NOW);
  assert.equal(result.fire, false);
  assert.deepEqual(result.missing, ['1 of 2 nodes']);
  assert.equal(result.evidence.distinctCameras, 2);
  assert.equal(result.evidence.score, 2);
});

test('evaluator: the score weighs each camera by its weight and falls short in words', () => {
  // cam-a1 0.72 x 1 + cam-c1 0.8 x 0.5 = 1.12 with threshold 1.2
  const zone = zoneOf(NORTH.cameras, { threshold: 1.2 });
  const result = evaluateZone(zone, [det('cam-a1', 'a', 0.72), det('cam-c1', 'c', 0.8)], NOW);
  assert.equal(result.fire, false);
  assert.deepEqual(result.missing, ['score 1.12 of 1.2']);
  assert.equal(evaluateZone(zone, [det('cam-a1', 'a', 0.72), det('cam-c1', 'c', 0.8), det('cam-b1', 'b', 0.7)], NOW).fire, true);
});

test('evaluator: a score equal to the threshold on paper reaches it despite float rounding', () => {
  const zone = zoneOf(
    [
      { id: 'x', node: 'a', weight: 0.1 },
      { id: 'y', node: 'b', weight: 0.1 },
    ],
    { threshold: 0.14 },
  );
  const result = evaluateZone(zone, [det('x', 'a', 0.7), det('y', 'b', 0.7)], NOW);
  assert.ok(result.evidence.score < 0.14, 'the float sum is 0.13999999999999999');
  assert.equal(result.fire, true);
});

test('evaluator: per camera only its highest confidence in the window counts; every counted id is evidence', () => {
  const low = det('cam-a1', 'a', 0.75);
  const high = det('cam-a1', 'a', 0.95, 30_000);
  const other = det('cam-b1', 'b', 0.7);
  const result = evaluateZone(NORTH, [low, high, other], NOW);
  assert.deepEqual(
    result.evidence.cameras.map((c) => [c.camera, c.confidence]),
    [
      ['cam-a1', 0.95],
      ['cam-b1', 0.7],
    ],
  );
  assert.deepEqual(result.evidence.detections, [low.id, high.id, other.id].sort());
});

test('evaluator: a detection counts only from its camera’s configured node', () => {
  const forged = det('cam-b1', 'a', 1); // node a claims node b's camera
  const unknown = det('cam-z9', 'b', 1);
  const result = evaluateZone(NORTH, [det('cam-a1', 'a', 1), forged, unknown], NOW);
  assert.equal(result.fire, false);
  assert.deepEqual(
    result.evidence.cameras.map((c) => c.camera),
    ['cam-a1'],
  );
  assert.ok(!result.evidence.detections.includes(forged.id));
  assert.ok(!result.evidence.detections.includes(unknown.id));
});

test('evaluator: only the policy’s classes count, as written', () => {
  for (const cls of ['person', 'Fire', 'fire ', '']) {
    assert.equal(isCountedDetection(NORTH, det('cam-a1', 'a', 1, 1_000, cls), NOW), false, cls);
  }
  assert.equal(isCountedDetection(NORTH, det('cam-a1', 'a', 1, 1_000, 'smoke'), NOW), true);
  const fireOnly = zoneOf(NORTH.cameras, { classes: ['fire'] });
  assert.equal(isCountedDetection(fireOnly, det('cam-a1', 'a', 1, 1_000, 'smoke'), NOW), false);
});

test('evaluator: confidence counts from minConfidence up to 1, nothing outside 0..1', () => {
  const counts = (c: number) => isCountedDetection(NORTH, det('cam-a1', 'a', c), NOW);
  assert.equal(counts(0.7), true);
  assert.equal(counts(0.6999), false);
  assert.equal(counts(1), true);
  assert.equal(counts(1.0001), false);
  assert.equal(counts(Number.NaN), false);
  assert.equal(counts(Number.POSITIVE_INFINITY), false);
  const zeroMin = zoneOf(NORTH.cameras, { minConfidence: 0 });
  assert.equal(isCountedDetection(zeroMin, det('cam-a1', 'a', -0.1), NOW), false);
  assert.equal(isCountedDetection(zeroMin, det('cam-a1', 'a', 0), NOW), true);
});

test('evaluator: the window is (now - window, now + maxClockSkew], edges exact', () => {
  const at = (time: number) => isCountedDetection(NORTH, { ...det('cam-a1', 'a', 1), time }, NOW);
  assert.equal(at(NOW - 60_000), false, 'at now - window: out');
  assert.equal(at(NOW - 60_000 + 1), true);
  assert.equal(at(NOW), true, 'at now: in');
  assert.equal(at(NOW + 2_000), true, 'at now + skew: in');
  assert.equal(at(NOW + 2_001), false, 'past the skew: a detection from the future');
  assert.equal(at(Number.NaN), false);
});

test('evaluator: the evidence is capped, keeping each camera’s best detection, sorted', () => {
  const many: Detection[] = [];
  for (let i = 0; i < 40; i++)
    many.push({ id: `a${String(i).padStart(2, '0')}`, camera: 'cam-a1', node: 'a', class: 'fire', confidence: 0.8, time: NOW - 1_000 });
  const bestB = { id: 'zz-best-b', camera: 'cam-b1', node: 'b', class: 'fire', confidence: 0.99, time: NOW - 500 };
  const bestA = { id: 'zz-best-a', camera: 'cam-a1', node: 'a', class: 'fire', confidence: 0.9, time: NOW - 500 };
  const result = evaluateZone(NORTH, [...many, bestB, bestA], NOW);
  const ids = result.evidence.detections;
  assert.equal(ids.length, MAX_EVIDENCE_DETECTIONS);
  assert.deepEqual(ids, [...ids].sort());
  assert.ok(ids.includes('zz-best-a') && ids.includes('zz-best-b'), 'the detections that decided are kept');
  assert.deepEqual(
    ids.slice(0, 30),
    many.slice(0, 30).map((d) => d.id),
    'then the smallest ids',
  );
});

test('evaluator: activation through policy.activates is not transitive and ignores unknown zones', () => {
  const cams = NORTH.cameras;
  const north = { ...zoneOf(cams, { activates: ['east', 'ghost'] }, 'north'), overlaps: ['east'] };
  const west = { ...zoneOf(cams, { activates: ['east'] }, 'west'), overlaps: ['east'] };
  const east = { ...zoneOf(cams, { activates: ['south'] }, 'east'), overlaps: ['north', 'south'] };
  const south = zoneOf(cams, {}, 'south');
  const zones = [north, west, east, south];
  assert.deepEqual(activatedZones(zones, [{ zone: 'north', fire: true }]), [{ zone: 'east', by: ['north'] }]);
  assert.deepEqual(
    activatedZones(zones, [
      { zone: 'west', fire: true },
      { zone: 'north', fire: true },
      { zone: 'south', fire: false },
      { zone: 'elsewhere', fire: true },
    ]),
    [{ zone: 'east', by: ['north', 'west'] }],
  );
  assert.deepEqual(activatedZones(zones, [{ zone: 'east', fire: true }]), [{ zone: 'south', by: ['east'] }]);
  assert.deepEqual(activatedZones(zones, [{ zone: 'north', fire: false }]), []);
  // Fed an evaluation, as the hub does:
  const evaluation = evaluateZone(north, [det('cam-a1', 'a', 1), det('cam-b1', 'b', 1)], NOW);
  assert.deepEqual(activatedZones(zones, [evaluation]), [{ zone: 'east', by: ['north'] }]);
});

test('evaluator: the isolated fallback counts only the node’s own cameras, strongly enough, and only when enabled', () => {
  const cams: ZoneCamera[] = [
    { id: 'a1', node: 'a', weight: 1 },
    { id: 'a2', node: 'a', weight: 1 },
    { id: 'a3', node: 'a', weight: 0.2 },
    { id: 'b1', node: 'b', weight: 1 },
  ];
  const on = zoneOf(cams, { isolatedFallback: { enabled: true, minCameras: 3, minConfidence: 0.9 } });
  const strong = [det('a1', 'a', 0.95), det('a2', 'a', 0.9), det('a3', 'a', 0.99)];
  const result = evaluateIsolatedFallback(on, 'a', strong, NOW);
  assert.equal(result.fire, true);
  assert.deepEqual(result.cameras, ['a1', 'a2', 'a3']);
  assert.deepEqual(result.detections, strong.map((d) => d.id).sort());
  // One of them below the fallback's confidence (though above the policy's): 2 of 3.
  const weaker = [strong[0], strong[1], det('a3', 'a', 0.85)] as Detection[];
  assert.deepEqual(evaluateIsolatedFallback(on, 'a', weaker, NOW).missing, ['2 of 3 own cameras at 0.9']);
  // Another node's cameras are not this node's evidence, nor are this node's cameras claimed by another.
  assert.equal(evaluateIsolatedFallback(on, 'b', strong, NOW).fire, false);
  const claimed = [strong[0], strong[1], det('a3', 'b', 1)] as Detection[];
  assert.equal(evaluateIsolatedFallback(on, 'a', claimed, NOW).fire, false);
  // Outside the window, nothing.
  const old = strong.map((d) => ({ ...d, time: NOW - on.policy.windowMs }));
  assert.equal(evaluateIsolatedFallback(on, 'a', old, NOW).fire, false);
  // Off by default, whatever the evidence.
  const off = zoneOf(cams);
  assert.deepEqual(evaluateIsolatedFallback(off, 'a', strong, NOW).missing, ['isolated fallback off']);
});

// Properties. A small world: nodes n0..n3, cameras c0..c5 with random nodes and weights.

const NODES = ['n0', 'n1', 'n2', 'n3'];
const CLASSES = ['fire', 'smoke', 'person'];

const cameraArb = (i: number) =>
  fc.record({ id: fc.constant(`c${i}`), node: fc.constantFrom(...NODES), weight: fc.constantFrom(0, 0.1, 0.25, 0.3, 0.5, 0.7, 0.9, 1) });

const zoneArb = fc.integer({ min: 1, max: 6 }).chain((n) =>
  fc
    .record({
      cameras: fc.tuple(...Array.from({ length: n }, (_, i) => cameraArb(i))),
      windowMs: fc.integer({ min: 1, max: 120_000 }),
      minConfidence: fc.constantFrom(0, 0.3, 0.5, 0.7, 0.9),
      minCameras: fc.integer({ min: 1, max: 4 }),
      minNodes: fc.integer({ min: 1, max: 4 }),
      threshold: fc.constantFrom(0, 0.5, 1, 1.4, 2),
      maxClockSkewMs: fc.integer({ min: 0, max: 5_000 }),
      classes: fc.constantFrom(['fire'], ['fire', 'smoke']),
    })
    .map(({ cameras, ...policy }) => zoneOf(cameras, policy)),
);

/** Any detection, counted or not: cameras of the zone or not, right or wrong node, any class and time. */
const detectionArb = (zone: ZoneConfig) =>
  fc.record({
    id: fc.integer({ min: 0, max: 60 }).map((i) => `d${i}`),
    camera: fc.constantFrom(...zone.cameras.map((c) => c.id), 'c-unknown'),
    node: fc.constantFrom(...NODES),
    class: fc.constantFrom(...CLASSES),
    confidence: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0.7, 1, 1.5, -1, Number.NaN)),
    time: fc.integer({ min: NOW - 150_000, max: NOW + 8_000 }),
  });

/** A detection the zone counts at NOW. */
const countedArb = (zone: ZoneConfig) =>
  fc
    .record({
      id: fc.integer({ min: 0, max: 1_000 }).map((i) => `k${i}`),
      camera: fc.constantFrom(...zone.cameras),
      class: fc.constantFrom(...zone.policy.classes),
      confidence: fc.double({ min: zone.policy.minConfidence, max: 1, noNaN: true }),
      time: fc.integer({ min: NOW - zone.policy.windowMs + 1, max: NOW + zone.policy.maxClockSkewMs }),
    })
    .map(({ camera, ...d }): Detection => ({ ...d, camera: camera.id, node: camera.node }));

/** A zone and what a node holds for it: counted detections mixed with noise. */
const worldArb = zoneArb.chain((zone) =>
  fc.tuple(fc.constant(zone), fc.array(fc.oneof(detectionArb(zone), countedArb(zone)), { maxLength: 30 })),
);

/** A world and more drawn for it. */
function worldWith<Ts extends unknown[]>(
  extra: (zone: ZoneConfig, ds: Detection[]) => { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
): fc.Arbitrary<[ZoneConfig, Detection[], ...Ts]> {
  return worldArb.chain(
    ([zone, ds]) =>
      fc.tuple(fc.constant(zone), fc.constant(ds), ...(extra(zone, ds) as fc.Arbitrary<unknown>[])) as unknown as fc.Arbitrary<
        [ZoneConfig, Detection[], ...Ts]
      >,
  );
}

test('evaluator property: the same detections in any order, with any duplicates, give the same answer', () => {
  fc.assert(
    fc.property(
      worldWith((_zone, ds) => [
        fc.shuffledSubarray(ds, { minLength: ds.length, maxLength: ds.length }),
        fc.array(fc.nat(), { maxLength: 10 }),
      ]),
      ([zone, ds, shuffled, dupes]) => {
        const withDupes = [...shuffled];
        for (const i of dupes) if (ds.length > 0) withDupes.splice(i % (withDupes.length + 1), 0, { ...(ds[i % ds.length] as Detection) });
        assert.deepEqual(evaluateZone(zone, withDupes, NOW), evaluateZone(zone, ds, NOW));
      },
    ),
    { numRuns: 300 },
  );
});

test('evaluator property: adding a counted detection never turns fire off; removing one never turns it on', () => {
  fc.assert(
    fc.property(
      worldWith((zone) => [countedArb(zone)]),
      ([zone, ds, extra]) => {
        const before = evaluateZone(zone, ds, NOW);
        const after = evaluateZone(zone, [...ds, extra], NOW);
        if (before.fire) assert.equal(after.fire, true, 'adding turned fire off');
        if (!after.fire) assert.equal(before.fire, false, 'removing turned fire on');
        assert.ok(after.evidence.score >= before.evidence.score);
        assert.ok(after.evidence.distinctCameras >= before.evidence.distinctCameras);
        assert.ok(after.evidence.distinctNodes >= before.evidence.distinctNodes);
      },
    ),
    { numRuns: 500 },
  );
});

test('evaluator property: one camera stuck at confidence 1 forever never fires when two cameras or two nodes are asked', () => {
  fc.assert(
    fc.property(
      zoneArb.filter((z) => z.policy.minNodes >= 2 || z.policy.minCameras >= 2),
      fc.nat(),
      fc.array(fc.integer({ min: NOW - 10_000_000, max: NOW + 10_000_000 }), { minLength: 1, maxLength: 50 }),
      (zone, pick, times) => {
        const camera = zone.cameras[pick % zone.cameras.length] as ZoneCamera;
        const stuck = times.map(
          (time, i): Detection => ({
            id: `s${i}`,
            camera: camera.id,
            node: camera.node,
            class: zone.policy.classes[0] as string,
            confidence: 1,
            time,
          }),
        );
        assert.equal(evaluateZone(zone, stuck, NOW).fire, false);
      },
    ),
    { numRuns: 300 },
  );
});

test('evaluator property: any number of cameras of one node never fire when two nodes are asked', () => {
  fc.assert(
    fc.property(
      zoneArb.filter((z) => z.policy.minNodes >= 2),
      fc.constantFrom(...NODES),
      fc.array(fc.tuple(fc.nat(), fc.double({ min: 0, max: 1, noNaN: true })), { maxLength: 40 }),
      (zone, node, picks) => {
        const own = zone.cameras.filter((c) => c.node === node);
        const ds =
          own.length === 0
            ? []
            : picks.map(
                ([i, confidence], k): Detection => ({
                  id: `o${k}`,
                  camera: (own[i % own.length] as ZoneCamera).id,
                  node,
                  class: 'fire',
                  confidence,
                  time: NOW,
                }),
              );
        // The node also claims every other camera of the zone: those claims do not count either.
        const claims = zone.cameras
          .filter((c) => c.node !== node)
          .map((c, k): Detection => ({ id: `w${k}`, camera: c.id, node, class: 'fire', confidence: 1, time: NOW }));
        assert.equal(evaluateZone(zone, [...ds, ...claims], NOW).fire, false);
      },
    ),
    { numRuns: 300 },
  );
});

test('evaluator property: a detection from a camera claimed by the wrong node never counts', () => {
  fc.assert(
    fc.property(
      worldWith((zone) => [countedArb(zone), fc.constantFrom(...NODES)]),
      ([zone, ds, counted, node]) => {
        fc.pre(node !== counted.node);
        const forged = { ...counted, id: 'forged', node };
        assert.equal(isCountedDetection(zone, forged, NOW), false);
        assert.deepEqual(evaluateZone(zone, [...ds, forged], NOW), evaluateZone(zone, ds, NOW));
      },
    ),
    { numRuns: 300 },
  );
});

test('evaluator property: window edges are exact: at now - window out, at now in', () => {
  fc.assert(
    fc.property(zoneArb, fc.integer({ min: 0, max: 2 ** 45 }), (zone, now) => {
      const camera = zone.cameras[0] as ZoneCamera;
      const d = (time: number): Detection => ({ id: 'e', camera: camera.id, node: camera.node, class: 'fire', confidence: 1, time });
      assert.equal(isCountedDetection(zone, d(now - zone.policy.windowMs), now), false);
      assert.equal(isCountedDetection(zone, d(now - zone.policy.windowMs + 1), now), true);
      assert.equal(isCountedDetection(zone, d(now), now), true);
      assert.equal(isCountedDetection(zone, d(now + zone.policy.maxClockSkewMs), now), true);
      assert.equal(isCountedDetection(zone, d(now + zone.policy.maxClockSkewMs + 1), now), false);
    }),
    { numRuns: 300 },
  );
});

test('evaluator property: the isolated fallback never fires on fewer own cameras than it asks, nor when off', () => {
  fc.assert(
    fc.property(
      worldWith(() => [fc.constantFrom(...NODES), fc.boolean(), fc.integer({ min: 1, max: 3 }), fc.constantFrom(0.7, 0.9, 1)]),
      ([base, ds, node, enabled, minCameras, minConfidence]) => {
        const zone = { ...base, policy: { ...base.policy, isolatedFallback: { enabled, minCameras, minConfidence } } };
        const result = evaluateIsolatedFallback(zone, node, ds, NOW);
        const ownStrong = new Set(
          ds.filter((d) => isCountedDetection(zone, d, NOW) && d.node === node && d.confidence >= minConfidence).map((d) => d.camera),
        );
        assert.equal(result.fire, enabled && ownStrong.size >= minCameras);
        assert.deepEqual(result.cameras, [...ownStrong].sort());
      },
    ),
    { numRuns: 300 },
  );
});
