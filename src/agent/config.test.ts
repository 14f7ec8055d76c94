// node.yaml: seed 000's environment maps onto the schema; selectors and collectors are validated with paths.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError, loadConfig } from '../kit/index.js';
import { AGENT_ENV_ALIASES, agentConfigSchema, seedEnvironment } from './config.js';

test("agent config: seed 000's node.conf variables configure the node", () => {
  const env = seedEnvironment({
    NODE_ID: 'edge-north-01',
    SITE_ID: 'ranch',
    CENTRAL_BROKER: 'central.local:8883',
    HEARTBEAT_INTERVAL: '10',
  });
  const cfg = loadConfig(agentConfigSchema, { env, aliases: AGENT_ENV_ALIASES });
  assert.equal(cfg.node.id, 'edge-north-01');
  assert.equal(cfg.node.site, 'ranch');
  assert.equal(cfg.mqtt.url, 'mqtts://central.local:8883');
  assert.equal(cfg.publish.heartbeat, 10_000);
  assert.equal(cfg.publish.tick, 2_000, 'defaults fill the rest');
  assert.equal(cfg.mqtt.keepalive, 30_000);
});

test('agent config: a plain broker port means mqtt://, and FIELDMESH_ variables win', () => {
  const env = seedEnvironment({
    NODE_ID: 'a',
    SITE_ID: 's',
    MQTT_BROKER: 'localhost:1883',
    FIELDMESH_NODE__ID: 'b',
    HEARTBEAT_INTERVAL: '5',
    FIELDMESH_PUBLISH__HEARTBEAT: '20s',
  });
  const cfg = loadConfig(agentConfigSchema, { env, aliases: AGENT_ENV_ALIASES });
  assert.equal(cfg.mqtt.url, 'mqtt://localhost:1883');
  assert.equal(cfg.node.id, 'b');
  assert.equal(cfg.publish.heartbeat, 20_000);
});

test('agent config: a bad selector and a bad deadband are reported with their paths', () => {
  const text = 'node: {id: n1, site: s}\ncritical:\n  - match: \'up{job=\'\n  - {match: up, deadband: "lots"}\n';
  assert.throws(
    () => loadConfig(agentConfigSchema, { text, file: 'node.yaml' }),
    (err: unknown) =>
      isFieldmeshError(err, 'FM_CONFIG_INVALID') &&
      /node\.yaml: critical\[0\]\.match: selector "up\{job=" at character 8/.test((err as Error).message) &&
      /node\.yaml: critical\[1\]\.deadband: /.test((err as Error).message),
  );
});
