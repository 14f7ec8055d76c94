// Config loading: every problem is reported with file and path, env overrides apply, results freeze.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { durationMs, loadConfig } from './config.js';
import { isFieldmeshError } from './errors.js';

const schema = z.strictObject({
  node: z.strictObject({ id: z.string().regex(/^[a-z0-9-]+$/), site: z.string() }),
  mqtt: z
    .strictObject({ url: z.string().default('mqtt://127.0.0.1:1883'), clientId: z.string().optional() })
    .default({ url: 'mqtt://127.0.0.1:1883' }),
  tick: durationMs('2s'),
  collectors: z.array(z.strictObject({ type: z.literal('host'), interval: durationMs('10s') })).default([]),
});

test('config: every problem is reported at once with file and path', () => {
  const text = 'node:\n  id: Bad_Id\ncollectors:\n  - type: host\n    interval: soon\n  - type: nope\n';
  try {
    loadConfig(schema, { text, file: 'node.yaml' });
    assert.fail('expected an error');
  } catch (err) {
    assert.ok(isFieldmeshError(err, 'FM_CONFIG_INVALID'));
    const msg = (err as Error).message;
    assert.match(msg, /node\.yaml: node\.id: /);
    assert.match(msg, /node\.yaml: node\.site: /);
    assert.match(msg, /node\.yaml: collectors\[0\]\.interval: expected a duration/);
    assert.match(msg, /node\.yaml: collectors\[1\]\.type: /);
  }
});

test('config: YAML syntax errors name the file and line', () => {
  assert.throws(
    () => loadConfig(schema, { text: 'node:\n  id: [unclosed\n', file: 'n.yaml' }),
    (err: unknown) => {
      return isFieldmeshError(err, 'FM_CONFIG_UNREADABLE') && /^n\.yaml:\d+:\d+: /.test((err as Error).message);
    },
  );
});

test('config: FIELDMESH_* and seed-style aliases override the file, and the result is frozen', () => {
  const cfg = loadConfig(schema, {
    text: 'node: {id: n1, site: farm}\ntick: 5s\n',
    env: { FIELDMESH_NODE__SITE: 'ranch', NODE_ID: 'edge-north-01', FIELDMESH_MQTT__CLIENT_ID: 'c1', FIELDMESH_TICK: '1500' },
    aliases: { NODE_ID: 'node.id' },
  });
  assert.deepEqual(cfg.node, { id: 'edge-north-01', site: 'ranch' });
  assert.equal(cfg.mqtt.clientId, 'c1');
  assert.equal(cfg.tick, 1500);
  assert.ok(Object.isFrozen(cfg.node));
});

test('config: FIELDMESH_ variables win over aliases', () => {
  const cfg = loadConfig(schema, {
    env: { NODE_ID: 'a', FIELDMESH_NODE__ID: 'b', FIELDMESH_NODE__SITE: 's' },
    aliases: { NODE_ID: 'node.id' },
  });
  assert.equal(cfg.node.id, 'b');
});

test('config: variables the command line reads itself are not config keys', () => {
  const cfg = loadConfig(schema, {
    env: { FIELDMESH_NODE__ID: 'n', FIELDMESH_NODE__SITE: 's', FIELDMESH_LOG_LEVEL: 'debug', FIELDMESH_CONFIG: 'x.yaml' },
  });
  assert.equal(cfg.node.id, 'n');
});
