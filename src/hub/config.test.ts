// Hub configuration: defaults, durations in ms, environment overrides and unknown keys named by path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError, loadConfig } from '../kit/index.js';
import { hubConfigSchema } from './config.js';

test('hub config: an empty file gives the documented defaults', () => {
  const c = loadConfig(hubConfigSchema, {});
  assert.deepEqual(c, {
    mqtt: { url: 'mqtt://127.0.0.1:18830', clientId: 'fieldmesh-hub' },
    topicPrefix: 'fieldmesh',
    http: { host: '127.0.0.1', port: 18_800 },
    storage: { path: './fieldmesh-data/hub.db', retention: 30 * 86_400_000 },
    fleet: { staleAfterHeartbeats: 2, rebirthMinInterval: 5_000, digestInterval: 2_000 },
    dataDir: './fieldmesh-data',
  });
});

test('hub config: FIELDMESH_* variables override the file', () => {
  const c = loadConfig(hubConfigSchema, {
    text: 'http:\n  port: 9000\nfleet:\n  digestInterval: 5s\n',
    env: { FIELDMESH_HTTP__PORT: '9100', FIELDMESH_FLEET__STALE_AFTER_HEARTBEATS: '3' },
  });
  assert.equal(c.http.port, 9_100);
  assert.equal(c.fleet.digestInterval, 5_000);
  assert.equal(c.fleet.staleAfterHeartbeats, 3);
});

test('hub config: unknown keys and bad values are reported with file and path', () => {
  assert.throws(
    () => loadConfig(hubConfigSchema, { file: 'hub.yaml', text: 'http:\n  prt: 1\nstorage:\n  retention: forever\n' }),
    (e) =>
      isFieldmeshError(e, 'FM_CONFIG_INVALID') &&
      /hub\.yaml: http: Unrecognized key: "prt"/.test(e.message) &&
      /storage\.retention/.test(e.message),
  );
});
