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

test('agent config: store rollups parse their durations and default to none', () => {
  const base = loadConfig(agentConfigSchema, { text: 'node: {id: n1, site: s}\n' });
  assert.deepEqual(base.store.rollups, []);
  const text =
    'node: {id: n1, site: s}\nstore:\n  retention: 30d\n  rollups:\n    - {resolution: 5m, retention: 400d}\n    - {resolution: 1h, retention: 5y}\n';
  assert.throws(
    () => loadConfig(agentConfigSchema, { text, file: 'node.yaml' }),
    (err: unknown) => /node\.yaml: store\.rollups\[1\]\.retention: expected a duration/.test((err as Error).message),
  );
  const cfg = loadConfig(agentConfigSchema, { text: text.replace('5y', '1825d'), file: 'node.yaml' });
  assert.deepEqual(cfg.store.rollups, [
    { resolution: 300_000, retention: 400 * 86_400_000 },
    { resolution: 3_600_000, retention: 1825 * 86_400_000 },
  ]);
});

test('agent config: a rollup finer than 1m, not dividing 2h, listed twice or kept shorter than raw is refused by its path', () => {
  const text = [
    'node: {id: n1, site: s}',
    'store:',
    '  retention: 30d',
    '  rollups:',
    '    - {resolution: 30s, retention: 400d}',
    '    - {resolution: 7m, retention: 400d}',
    '    - {resolution: 5m, retention: 7d}',
    '    - {resolution: 5m, retention: 400d}',
    '    - {resolution: soon, retention: 400d}',
    '    - {resolution: 1h}',
  ].join('\n');
  assert.throws(
    () => loadConfig(agentConfigSchema, { text, file: 'node.yaml' }),
    (err: unknown) => {
      const message = (err as Error).message;
      assert.ok(isFieldmeshError(err, 'FM_CONFIG_INVALID'), message);
      assert.deepEqual(message.split('\n'), [
        'node.yaml: store.rollups[4].resolution: expected a duration like "500ms", "2s", "5m" or a number of ms, got "soon"',
        'node.yaml: store.rollups[5].retention: Invalid input',
        'node.yaml: store.rollups[0].resolution: must be at least 1m, got 30s',
        "node.yaml: store.rollups[1].resolution: must divide the store's 2h chunk span evenly (1m, 2m, 5m, 10m, 15m, 20m, 30m, 1h, 2h, ...), got 7m",
        'node.yaml: store.rollups[2].retention: must be at least store.retention (30d), got 7d',
        'node.yaml: store.rollups[3].resolution: 5m is listed twice; one rollup per resolution',
      ]);
      return true;
    },
  );
});

test('agent config: a node may run without a broker (mqtt.enabled: false), but then not awareness over mqtt', () => {
  const meshOnly = loadConfig(agentConfigSchema, {
    text: 'node: {id: n1, site: s}\nmqtt: {enabled: false}\nawareness: {transport: udp}\n',
    file: 'node.yaml',
  });
  assert.equal(meshOnly.mqtt.enabled, false);
  assert.equal(loadConfig(agentConfigSchema, { text: 'node: {id: n1, site: s}\n' }).mqtt.enabled, true, 'a broker by default');
  const env = { FIELDMESH_MQTT__ENABLED: 'false', FIELDMESH_NODE__ID: 'n1', FIELDMESH_NODE__SITE: 's' };
  assert.equal(loadConfig(agentConfigSchema, { env }).mqtt.enabled, false, 'from the environment too');
  assert.throws(
    () =>
      loadConfig(agentConfigSchema, {
        text: 'node: {id: n1, site: s}\nmqtt: {enabled: false}\nawareness: {transport: mqtt}\n',
        file: 'node.yaml',
      }),
    (err: unknown) =>
      isFieldmeshError(err, 'FM_CONFIG_INVALID') &&
      /node\.yaml: awareness\.transport: mqtt goes through a broker/.test((err as Error).message),
  );
});

test('agent config: sparkplug defaults, its ids checked, and a broker required on a node without one', () => {
  const base = { node: { id: 'n1', site: 's1' } };
  const on = agentConfigSchema.parse({ ...base, sparkplug: { enabled: true } }).sparkplug;
  assert.deepEqual(on, { enabled: true, reconnect: 2000 });
  assert.equal(agentConfigSchema.parse(base).sparkplug.enabled, false);
  const badId = agentConfigSchema.safeParse({ ...base, sparkplug: { enabled: true, groupId: 'a/b' } });
  assert.equal(badId.success, false);
  assert.deepEqual(
    badId.error?.issues.map((i) => i.path.join('.')),
    ['sparkplug.groupId'],
  );
  const noBroker = agentConfigSchema.safeParse({ ...base, mqtt: { enabled: false }, sparkplug: { enabled: true } });
  assert.deepEqual(
    noBroker.error?.issues.map((i) => [i.path.join('.'), i.message]),
    [['sparkplug.broker', "the Sparkplug session goes to the node's broker by default, and mqtt.enabled is false: set sparkplug.broker"]],
  );
  assert.equal(
    agentConfigSchema.safeParse({ ...base, mqtt: { enabled: false }, sparkplug: { enabled: true, broker: { url: 'mqtt://scada:1883' } } })
      .success,
    true,
  );
});
