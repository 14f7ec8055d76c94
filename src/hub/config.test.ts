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
    awareness: { aggregate: true, tick: 2_000 },
    backfill: { requestDropped: true, minInterval: 5_000, timeout: 300_000 },
    auth: {
      mode: 'auto',
      sessionIdle: 12 * 3_600_000,
      sessionMax: 7 * 86_400_000,
      cookieSecure: 'auto',
      metrics: 'loopback',
      loginMaxFailures: 5,
      loginMaxFailuresPerIp: 20,
      loginWindow: 900_000,
      auditRetention: 400 * 86_400_000,
    },
    alerts: {
      enabled: true,
      evaluationInterval: 15_000,
      ruleFiles: [],
      repeatInterval: 4 * 3_600_000,
      groupBy: ['alertname'],
      inhibitRules: [
        { sourceMatchers: ['alertname="SiteOffline"'], targetMatchers: ['alertname=~"NodeDown|BacklogAge"'], equal: ['site'] },
      ],
      builtins: {
        nodeDown: { enabled: true, for: 120_000, severity: 'critical' },
        siteOffline: { enabled: true, for: 300_000, severity: 'critical' },
        lowSoc: { enabled: true, metric: 'battery_soc', threshold: 20, for: 300_000, severity: 'warning' },
        backlogAge: { enabled: true, maxAge: 3_600_000, severity: 'warning' },
        consensusTimeout: { enabled: true, for: 60_000, severity: 'critical' },
        pumpRuntime: { enabled: true, for: 0, severity: 'critical' },
        quorumLost: { enabled: true, for: 60_000, severity: 'warning' },
        certificateExpiring: { enabled: true, before: 90 * 86_400_000, severity: 'warning' },
        certificateExpiringSoon: { enabled: true, before: 14 * 86_400_000, severity: 'critical' },
        queueLag: { enabled: true, maxPending: 10_000, for: 120_000, severity: 'warning' },
        queueReplicaBehind: { enabled: true, for: 120_000, severity: 'warning' },
      },
      webhooks: [],
      mqtt: { enabled: true, maxAttempts: 10 },
    },
    sites: [],
    console: { title: 'fieldmesh', map: {}, health: { backlogWarn: 600_000, backlogError: 3_600_000, freshness: 300_000 } },
    dataDir: './fieldmesh-data',
    remoteWrite: [],
    registration: { mode: 'open' },
    roles: ['ingest', 'worker', 'api'],
    leader: { lease: 10_000 },
    tracing: { serviceName: 'fieldmesh-hub', sampleRatio: 1 },
    ingest: { tokens: [], maxBodyBytes: 1_048_576, defaultPriority: 'normal' },
    zones: [],
  });
});

test("hub config: zones are node.yaml's zones plus a site each, checked with the same paths", () => {
  const c = loadConfig(hubConfigSchema, {
    text: [
      'zones:',
      '  north: {site: ranch, voters: [a, b, c], cameras: [{id: cam-a, node: a}, {id: cam-b, node: b}],',
      '          pumps: [{id: pump-1, node: c, driver: {type: sim}}]}',
      '  east: {voters: [c], cameras: [{id: cam-c, node: c}], policy: {minCameras: 1, minNodes: 1}}',
    ].join('\n'),
  });
  assert.deepEqual(
    c.zones.map((z) => [z.id, z.site, z.voters.length, z.pumps[0]?.envelope.maxRuntimeMs ?? null]),
    [
      ['north', 'ranch', 3, 1_200_000],
      ['east', null, 1, null],
    ],
  );
  assert.throws(
    () =>
      loadConfig(hubConfigSchema, {
        file: 'hub.yaml',
        text: 'zones:\n  - {id: north, site: Ranch!, voters: [a], cameras: [{id: c1, node: b}]}\n',
      }),
    (e) => isFieldmeshError(e, 'FM_CONFIG_INVALID') && /zones\[0\]\.site/.test(e.message) && /zones\[0\]\.policy/.test(e.message),
  );
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

test('hub config: alerts keys are validated by path', () => {
  assert.throws(
    () =>
      loadConfig(hubConfigSchema, {
        file: 'hub.yaml',
        text: 'alerts:\n  evaluationInterval: 0s\n  webhooks:\n    - url: ftp://x\n  builtins:\n    lowSoc: {threshold: low}\n',
      }),
    (e) =>
      isFieldmeshError(e, 'FM_CONFIG_INVALID') &&
      /hub\.yaml: alerts\.evaluationInterval: must be longer than 0/.test(e.message) &&
      /hub\.yaml: alerts\.webhooks\[0\]\.url: expected an http:\/\/ or https:\/\/ URL/.test(e.message) &&
      /hub\.yaml: alerts\.builtins\.lowSoc\.threshold: /.test(e.message),
  );
});

test('hub config: alerts.inhibitRules takes Alertmanager matchers; [] turns the default off; errors name the matcher', () => {
  const c = loadConfig(hubConfigSchema, {
    text: [
      'alerts:',
      '  inhibitRules:',
      '    - sourceMatchers: [\'severity="critical"\']',
      '      targetMatchers: [\'severity=~"warning|info"\', \'alertname!="Watchdog"\']',
      '      equal: [site, node]',
    ].join('\n'),
  });
  assert.deepEqual(c.alerts.inhibitRules, [
    {
      sourceMatchers: ['severity="critical"'],
      targetMatchers: ['severity=~"warning|info"', 'alertname!="Watchdog"'],
      equal: ['site', 'node'],
    },
  ]);
  assert.deepEqual(loadConfig(hubConfigSchema, { text: 'alerts:\n  inhibitRules: []\n' }).alerts.inhibitRules, []);
  assert.throws(
    () =>
      loadConfig(hubConfigSchema, {
        file: 'hub.yaml',
        text: [
          'alerts:',
          '  inhibitRules:',
          '    - sourceMatchers: [\'alertname="SiteOffline"\', alertname=NodeDown]',
          '      targetMatchers: []',
          '      equal: [bad-label]',
          '    - sourceMatchers: [\'alertname=~"("\']',
          '      targetMatchers: [\'alertname="NodeDown"\']',
          '      colour: red',
        ].join('\n'),
      }),
    (e) => {
      assert.ok(isFieldmeshError(e, 'FM_CONFIG_INVALID'));
      const m = e.message;
      assert.match(
        m,
        /hub\.yaml: alerts\.inhibitRules\[0\]\.sourceMatchers\[1\]: matcher "alertname=NodeDown" at character 11: expected a quoted label value/,
      );
      assert.match(m, /hub\.yaml: alerts\.inhibitRules\[0\]\.targetMatchers: expected at least one matcher/);
      assert.match(m, /hub\.yaml: alerts\.inhibitRules\[0\]\.equal\[0\]: expected a label name/);
      assert.match(m, /hub\.yaml: alerts\.inhibitRules\[1\]\.sourceMatchers\[0\]: matcher .* invalid regular expression/);
      assert.match(m, /hub\.yaml: alerts\.inhibitRules\[1\]: Unrecognized key: "colour"/);
      return true;
    },
  );
});

test('hub config: sites and console take names, coordinates, zones, a map and health thresholds', () => {
  const c = loadConfig(hubConfigSchema, {
    text: [
      'sites:',
      '  - {id: bess-a, name: Battery A, lat: 47.37, lon: 8.54, address: Hafenstrasse 1, zones: {rack-1: Rack 1}}',
      '  - {id: bess-b}',
      'console:',
      '  title: Acme fleet',
      '  map: {image: plan.svg, bounds: {north: 47.4, south: 47.3, east: 8.6, west: 8.5}}',
      '  health: {backlogWarn: 2m, backlogError: 20m, freshness: 90s}',
    ].join('\n'),
  });
  assert.deepEqual(c.sites, [
    { id: 'bess-a', name: 'Battery A', lat: 47.37, lon: 8.54, address: 'Hafenstrasse 1', zones: { 'rack-1': 'Rack 1' } },
    { id: 'bess-b', zones: {} },
  ]);
  assert.deepEqual(c.console, {
    title: 'Acme fleet',
    map: { image: 'plan.svg', bounds: { north: 47.4, south: 47.3, east: 8.6, west: 8.5 } },
    health: { backlogWarn: 120_000, backlogError: 1_200_000, freshness: 90_000 },
  });
});

test('hub config: bad site coordinates, ids, duplicates and console values are reported by path', () => {
  assert.throws(
    () =>
      loadConfig(hubConfigSchema, {
        file: 'hub.yaml',
        text: [
          'sites:',
          '  - {id: a, lat: 91, lon: 8}',
          '  - {id: b, lat: 47, lon: -181}',
          '  - {id: Bad Id}',
          '  - {id: a}',
          '  - {id: c, lat: 47}',
          'console:',
          '  map: {image: plan.gif, bounds: {north: 1, south: 2, east: 3, west: 4}}',
          '  health: {backlogWarn: 1h, backlogError: 10m}',
          '  colour: red',
        ].join('\n'),
      }),
    (e) => {
      assert.ok(isFieldmeshError(e, 'FM_CONFIG_INVALID'));
      const m = e.message;
      assert.match(m, /hub\.yaml: sites\[0\]\.lat: expected a latitude in degrees, from -90 to 90/);
      assert.match(m, /hub\.yaml: sites\[1\]\.lon: expected a longitude in degrees, from -180 to 180/);
      assert.match(m, /hub\.yaml: sites\[2\]\.id: expected a site id/);
      assert.match(m, /hub\.yaml: sites\[4\]\.lon: give both lat and lon, or neither/);
      assert.match(m, /hub\.yaml: console\.map\.image: expected a \.png, \.jpg, \.jpeg or \.svg file/);
      assert.match(m, /hub\.yaml: console\.map\.bounds\.north: north must be greater than south/);
      assert.match(m, /hub\.yaml: console\.map\.bounds\.east: east must be greater than west/);
      assert.match(m, /hub\.yaml: console\.health\.backlogError: must not be shorter than backlogWarn/);
      assert.match(m, /hub\.yaml: console: Unrecognized key: "colour"/);
      return true;
    },
  );
  assert.throws(
    () => loadConfig(hubConfigSchema, { file: 'hub.yaml', text: 'sites:\n  - {id: a}\n  - {id: a}\n' }),
    (e) => isFieldmeshError(e, 'FM_CONFIG_INVALID') && /hub\.yaml: sites\[1\]\.id: site "a" is listed twice/.test(e.message),
  );
});

test('hub config: a queue needs a PostgreSQL storage, and split roles need a queue', () => {
  const bad = (text: string) => {
    try {
      loadConfig(hubConfigSchema, { text, file: 'hub.yaml' });
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };
  assert.match(bad('queue: { url: nats://127.0.0.1:4333 }'), /storage\.url.*needs storage\.url/);
  assert.match(bad('roles: [api]'), /roles.*need queue\.url/);
  assert.match(bad('queue: { url: redis://x }\nstorage: { url: postgres://h/db }'), /queue\.url.*nats:\/\//);
  assert.match(bad('storage: { url: mysql://h/db }'), /storage\.url.*postgres:\/\//);
  const ok = loadConfig(hubConfigSchema, {
    text: 'queue: { url: "nats://a:1,nats://b:2" }\nstorage: { url: postgres://h/db }\nroles: [worker]',
    file: 'hub.yaml',
  });
  assert.deepEqual(ok.roles, ['worker']);
  assert.equal(ok.queue?.workers, 1);
});
