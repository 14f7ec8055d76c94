// The worked ranch example (examples/ranch/, docs/consensus.md "A worked example: a ranch") cannot rot: every
// file loads with the real config loaders of `fieldmesh node` and `fieldmesh hub`, the zones agree across the
// four files (same zoneConfigHash on every node and at the hub), the numbers the docs quote are what the
// evaluator says, and the relay script beside the files is the one the docs show.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AGENT_ENV_ALIASES, agentConfigSchema } from '../../src/agent/index.js';
import { loadConfigFile } from '../../src/cli/config-file.js';
import { hubConfigSchema } from '../../src/hub/index.js';
import { type ConfiguredZone, type Detection, evaluateZone, majorityOf, zoneConfigHash } from '../../src/protocol/index.js';

const DIR = fileURLToPath(new URL('../../examples/ranch/', import.meta.url));
const NODES = ['house', 'barn', 'creek'] as const;

const hashes = (zones: readonly ConfiguredZone[]) => Object.fromEntries(zones.map((z) => [z.id, zoneConfigHash(z)]));

function loadNode(name: string) {
  return loadConfigFile(agentConfigSchema, join(DIR, `${name}.yaml`), {}, AGENT_ENV_ALIASES);
}

test('ranch example: three node files and hub.yaml load with the real loaders, and their zones agree', () => {
  const files = readdirSync(DIR).sort();
  assert.deepEqual(files, ['barn.yaml', 'creek.yaml', 'fieldmesh-relay', 'house.yaml', 'hub.yaml'], 'no file escapes this test');
  const nodes = NODES.map((n) => loadNode(n));
  assert.deepEqual(
    nodes.map((c) => [c.node.id, c.node.site]),
    NODES.map((n) => [n, 'ranch']),
  );
  const reference = hashes(nodes[0]?.zones ?? []);
  assert.deepEqual(Object.keys(reference), ['homestead', 'hay', 'orchard']);
  for (const c of nodes) assert.deepEqual(hashes(c.zones ?? []), reference, `${c.node.id}.yaml's zones hash as house.yaml's`);

  const hub = loadConfigFile(hubConfigSchema, join(DIR, 'hub.yaml'), {});
  const hubZones = (hub as { zones?: readonly (ConfiguredZone & { site: string | null })[] }).zones ?? [];
  assert.deepEqual(hashes(hubZones), reference, "hub.yaml's zones hash as the nodes'");
  assert.deepEqual(
    hubZones.map((z) => z.site),
    ['ranch', 'ranch', 'ranch'],
  );
  assert.deepEqual(
    hub.sites.map((s) => s.id),
    ['ranch'],
  );

  // 12 cameras, four per node, each on its own node; one pump per zone, of each driver the docs walk through.
  const zones = nodes[0]?.zones ?? [];
  const cameras = new Map(zones.flatMap((z) => z.cameras.map((c) => [c.id, c.node] as const)));
  assert.equal(cameras.size, 12);
  for (const [camera, node] of cameras) assert.ok(camera.startsWith(`${node}-`), `${camera} on ${node}`);
  assert.deepEqual(
    zones.map((z) => z.pumps.map((p) => `${p.id}@${p.node}:${p.driver.type}`)),
    [['house-pump@house:command'], ['hay-pump@barn:mqtt'], ['creek-pump@creek:mqtt']],
  );
  const hay = zones.find((z) => z.id === 'hay')?.pumps[0]?.driver;
  assert.equal(hay?.type === 'mqtt' ? hay.topic : undefined, 'gpio/pump/hay-pump');
  for (const z of zones) assert.equal(majorityOf(z.voters.length), 2);
});

test("ranch example: the docs' numbers are the evaluator's: which cameras confirm which zone, and what a lost node leaves", () => {
  const zones = loadNode('house').zones ?? [];
  const zone = (id: string) => zones.find((z) => z.id === id) as ConfiguredZone;
  const now = Date.now();
  let n = 0;
  const seen = (camera: string, confidence: number): Detection => ({
    id: `d${n++}`,
    camera,
    node: camera.split('-')[0] as string,
    class: 'fire',
    confidence,
    time: now - 1_000,
  });
  const fire = (id: string, ...d: Detection[]) => evaluateZone(zone(id), d, now);
  // A homestead fire: the house's own camera and the barn's west camera (1 x 0.8 + 0.45 x 0.8 = 1.16).
  assert.equal(fire('homestead', seen('house-n', 0.8), seen('barn-w', 0.8)).fire, true);
  // Many cameras of the house alone never decide (two nodes needed).
  assert.deepEqual(fire('homestead', seen('house-n', 1), seen('house-w', 1), seen('house-e', 1)).missing, ['1 of 2 nodes']);
  // House down: the barn and the creek see the homestead only at its edges: 0.45 + 0.4 = 0.85 < 0.9 at best.
  assert.deepEqual(fire('homestead', seen('barn-w', 1), seen('creek-n', 1)).missing, ['score 0.85 of 0.9']);
  // Barn down: the hay barn seen from the house and the creek reaches 0.9 only at full confidence.
  assert.equal(fire('hay', seen('house-e', 0.95), seen('creek-e', 0.95)).fire, false);
  // Creek cut off: the house and the barn confirm an orchard fire at 0.95 (0.5 x 0.95 + 0.45 x 0.95 = 0.9025).
  assert.equal(fire('orchard', seen('house-s', 0.95), seen('barn-s', 0.95)).fire, true);
  assert.deepEqual(fire('orchard', seen('house-s', 0.9), seen('barn-s', 0.9)).missing, ['score 0.855 of 0.9']);
  // A hay fire confirmed by the barn and the house (0.9 x 0.9 + 0.5 x 0.9 = 1.26) also starts the homestead's pump.
  assert.equal(fire('hay', seen('barn-n', 0.9), seen('house-e', 0.9)).fire, true);
  assert.deepEqual(zone('hay').policy.activates, ['homestead']);
  assert.equal(zone('orchard').policy.isolatedFallback.enabled, true);
});

test('ranch example: the relay script beside the node files is the one docs/consensus.md shows and tests', () => {
  const doc = readFileSync(new URL('../../docs/consensus.md', import.meta.url), 'utf8');
  const documented = /```sh\n(#!\/bin\/sh\n# \/usr\/local\/bin\/fieldmesh-relay[\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(documented, 'docs/consensus.md has the relay script');
  assert.equal(readFileSync(join(DIR, 'fieldmesh-relay'), 'utf8'), documented);
});
