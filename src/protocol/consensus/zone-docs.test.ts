// docs/consensus.md stays true: its zones example parses, and its worked example is what the evaluator says.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { z } from 'zod';
import { activatedZones, evaluateZone } from './evaluate.js';
import type { Detection } from './types.js';
import { type ConfiguredZone, loadZoneConfigs, pumpObjectSchema, zoneObjectSchema } from './zone-config.js';

const DOC = readFileSync(new URL('../../../docs/consensus.md', import.meta.url), 'utf8');

function docsZones(): readonly ConfiguredZone[] {
  const match = /<!-- zones-example[^>]*-->\s*```yaml\n([\s\S]*?)```/.exec(DOC);
  assert.ok(match?.[1], 'docs/consensus.md has its zones-example block');
  return loadZoneConfigs({ text: match[1], file: 'docs/consensus.md' });
}

/** A point on the evaluator's clock; the table gives ages. */
const NOW = 9_000_000;
const d = (id: string, camera: string, node: string, cls: string, confidence: number, ago = 10_000): Detection => ({
  id,
  camera,
  node,
  class: cls,
  confidence,
  time: NOW - ago,
});

test('consensus docs: the wildfire site example parses: 3 nodes, 2 overlapping zones, north activates east', () => {
  const zones = docsZones();
  assert.deepEqual(
    zones.map((z) => [z.id, z.overlaps, z.policy.activates]),
    [
      ['north', ['east'], ['east']],
      ['east', ['north'], []],
    ],
  );
  const nodes = new Set(zones.flatMap((z) => [...z.voters, ...z.cameras.map((c) => c.node)]));
  assert.equal(nodes.size, 3);
  assert.equal(zones[1]?.pumps[0]?.envelope.atMaxRuntime, 'alert');
  assert.deepEqual(activatedZones(zones, [{ zone: 'north', fire: true }]), [{ zone: 'east', by: ['north'] }]);
});

test('consensus docs: the worked example is what the evaluator says', () => {
  const north = docsZones()[0] as ConfiguredZone;
  const table = [
    d('d1', 'north-1', 'edge-north-01', 'fire', 0.82),
    d('d2', 'north-1', 'edge-north-01', 'fire', 0.91),
    d('d3', 'east-3', 'edge-east-01', 'smoke', 0.78),
    d('d4', 'south-1', 'edge-south-01', 'fire', 0.65),
    d('d5', 'east-3', 'edge-south-01', 'fire', 0.99),
    d('d6', 'north-2', 'edge-north-01', 'fire', 0.95, 61_000),
  ];
  const result = evaluateZone(north, table, NOW);
  assert.equal(result.fire, true);
  assert.deepEqual(result.evidence.detections, ['d1', 'd2', 'd3']);
  assert.equal(result.evidence.distinctCameras, 2);
  assert.equal(result.evidence.distinctNodes, 2);
  assert.equal(Math.round(result.evidence.score * 1000) / 1000, 1.378);

  const alone = evaluateZone(
    north,
    table.filter((x) => x.id !== 'd3'),
    NOW,
  );
  assert.deepEqual(alone.missing, ['1 of 2 cameras', '1 of 2 nodes', 'score 0.91 of 1.2']);

  const weak = evaluateZone(
    north,
    [d('w1', 'north-2', 'edge-north-01', 'fire', 0.75), d('w2', 'east-3', 'edge-east-01', 'fire', 0.72)],
    NOW,
  );
  assert.deepEqual(weak.missing, ['score 1.107 of 1.2']);
});

type JsonSchema = { properties?: Record<string, JsonSchema>; items?: JsonSchema; anyOf?: JsonSchema[]; oneOf?: JsonSchema[] };

/** Every property name in a JSON schema, through arrays and unions. */
function propertyNames(schema: JsonSchema, out = new Set<string>()): Set<string> {
  for (const [k, v] of Object.entries(schema.properties ?? {})) {
    out.add(k);
    propertyNames(v, out);
  }
  for (const inner of [schema.items, ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) if (inner) propertyNames(inner, out);
  return out;
}

test('consensus docs: every key of a zone and of a pump (envelope, drivers) is documented', () => {
  const names = new Set<string>();
  for (const schema of [zoneObjectSchema, pumpObjectSchema]) {
    propertyNames(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema, names);
  }
  assert.ok(names.has('isolatedFallback') && names.has('stateTopic') && names.has('onRestart'), [...names].join(', '));
  const missing = [...names].filter((k) => !DOC.includes(`\`${k}\``) && !DOC.includes(`.${k}\``) && !DOC.includes(`${k}:`));
  assert.deepEqual(missing, []);
});
