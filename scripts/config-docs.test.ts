// docs/config.md documents every key of node.yaml, hub.yaml and broker.yaml, and docs/collectors.md
// every collector type and key.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { z } from 'zod';
import { collectorConfigSchema } from '../src/agent/collectors/registry.js';
import { agentConfigSchema } from '../src/agent/index.js';
import { brokerConfigSchema } from '../src/broker/index.js';
import { hubConfigSchema } from '../src/hub/index.js';

type JsonSchema = { properties?: Record<string, JsonSchema>; items?: JsonSchema; anyOf?: JsonSchema[]; oneOf?: JsonSchema[] };

function keys(schema: JsonSchema, prefix: string, out: string[], stop: (path: string) => boolean): string[] {
  for (const [k, v] of Object.entries(schema.properties ?? {})) {
    const path = prefix === '' ? k : `${prefix}.${k}`;
    out.push(path);
    if (stop(path)) continue;
    const inner = v.items ?? v;
    for (const branch of [inner, ...(inner.anyOf ?? []), ...(inner.oneOf ?? [])]) keys(branch, `${path}${v.items ? '[]' : ''}`, out, stop);
  }
  return out;
}

const docs = readFileSync(new URL('../docs/config.md', import.meta.url), 'utf8');

for (const [file, schema] of [
  ['node.yaml', agentConfigSchema],
  ['hub.yaml', hubConfigSchema],
  ['broker.yaml', brokerConfigSchema],
] as const) {
  test(`config docs: every key of ${file} is in docs/config.md`, () => {
    const all = keys(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema, '', [], (p) => p === 'collectors');
    const missing = all.filter((k) => !docs.includes(`\`${k}\``) && !docs.includes(`${k.split('.').at(-1)}:`));
    assert.deepEqual(missing, [], `${file} keys missing from docs/config.md`);
  });
}

test('config docs: every collector type and key is in docs/collectors.md', () => {
  const collectors = readFileSync(new URL('../docs/collectors.md', import.meta.url), 'utf8');
  const json = z.toJSONSchema(collectorConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const branches = json.oneOf ?? json.anyOf ?? [];
  assert.ok(branches.length >= 7, `${branches.length} collector types`);
  const missing: string[] = [];
  for (const b of branches) {
    for (const k of Object.keys(b.properties ?? {})) if (!collectors.includes(k)) missing.push(k);
  }
  assert.deepEqual(missing, []);
});
