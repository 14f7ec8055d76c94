// The config version: stable across key order, changed by any value.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentConfigSchema } from './config.js';
import { configVersionOf } from './config-version.js';

test('config version: 12 hex digits, the same for the same config in any key order, another for a changed value', () => {
  const a = agentConfigSchema.parse({ dataDir: '/tmp/x', node: { id: 'n1', site: 's1' }, critical: [{ match: 'battery_soc' }] });
  const reordered = Object.fromEntries(Object.entries(a).reverse());
  assert.match(configVersionOf(a), /^[0-9a-f]{12}$/);
  assert.equal(configVersionOf(reordered), configVersionOf(a));
  const b = agentConfigSchema.parse({
    dataDir: '/tmp/x',
    node: { id: 'n1', site: 's1' },
    critical: [{ match: 'battery_soc', decimals: 2 }],
  });
  assert.notEqual(configVersionOf(b), configVersionOf(a));
});
