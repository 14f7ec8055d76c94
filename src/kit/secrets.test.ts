// Secret settings: which keys hold one, redaction for every output, `_file` keys read from files, and
// loadConfig reading them from node.yaml-style text and FIELDMESH_*_FILE variables.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { loadConfig } from './config.js';
import { isFieldmeshError } from './errors.js';
import { isSecretKey, REDACTED, redactSecrets, redactUrl, resolveSecretFiles } from './secrets.js';

/** A reader over an in-memory folder; a missing name throws as fs does. */
function files(contents: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = contents[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
    return text;
  };
}

test('secrets: isSecretKey knows passwords, tokens, secrets, environment names and auth headers, not paths or file keys', () => {
  for (const k of [
    'password',
    'token',
    'passphrase',
    'secret',
    'clientSecret',
    'DB_PASSWORD',
    'GITHUB_TOKEN',
    'Authorization',
    'x-api-key',
    'apiKey',
  ])
    assert.ok(isSecretKey(k), k);
  for (const k of [
    'url',
    'key',
    'passwordHash',
    'password_file',
    'tokens_total',
    'cookieSecure',
    'keyDir',
    'collectors[0].token',
    'commands.token',
  ])
    assert.ok(!isSecretKey(k), k);
});

test('secrets: redactUrl hides the password of every URL in a text, and a token standing as an HTTP user', () => {
  assert.equal(redactUrl('mqtt://hub:s3cret@10.0.0.2:1883'), `mqtt://hub:${REDACTED}@10.0.0.2:1883`);
  assert.equal(
    redactUrl('git:https://ci:ghp_abc@git.example/fleet.git@main; also postgres://u:p%40ss@db/x'),
    `git:https://ci:${REDACTED}@git.example/fleet.git@main; also postgres://u:${REDACTED}@db/x`,
  );
  assert.equal(redactUrl('https://ghp_abc@github.com/acme/fleet.git'), `https://${REDACTED}@github.com/acme/fleet.git`);
  // No password: an ssh user, a plain URL, a mail-like text stay.
  for (const plain of ['ssh://git@github.com/acme/fleet.git', 'mqtt://127.0.0.1:1883', 'write to ops@example.org'])
    assert.equal(redactUrl(plain), plain);
});

test('secrets: redactSecrets hides secret keys at any depth and in lists, URL passwords in any string, and keeps _file paths and provenance', () => {
  const config = {
    mqtt: { url: 'mqtts://n1:pw1@broker:8883', username: 'n1', password: 'pw2', password_file: '/run/secrets/mqtt' },
    commands: { token: 'tok-3' },
    collectors: [
      { type: 'mqtt', name: 'frigate', url: 'mqtt://cam:pw4@frigate', password: 'pw5' },
      { type: 'http_push', token: 'tok-6' },
    ],
    services: [{ name: 'db', env: { DB_PASSWORD: 'pw7', DB_HOST: 'localhost' } }],
    webhooks: [{ url: 'https://hooks.example/x', headers: { Authorization: 'Bearer tok-8', 'X-Team': 'ops' } }],
    empty: { token: null },
  };
  const shown = redactSecrets(config);
  const text = JSON.stringify(shown);
  for (const secret of ['pw1', 'pw2', 'tok-3', 'pw4', 'pw5', 'tok-6', 'pw7', 'tok-8']) assert.ok(!text.includes(secret), secret);
  assert.equal(shown.mqtt.url, `mqtts://n1:${REDACTED}@broker:8883`);
  assert.equal(shown.mqtt.password, REDACTED);
  assert.equal(shown.mqtt.password_file, '/run/secrets/mqtt');
  assert.equal(shown.mqtt.username, 'n1');
  assert.equal(shown.collectors[1]?.token, REDACTED);
  assert.equal(shown.services[0]?.env.DB_HOST, 'localhost');
  assert.equal(shown.webhooks[0]?.headers['X-Team'], 'ops');
  assert.equal(shown.empty.token, null, 'an unset secret stays unset');
  assert.equal(config.mqtt.password, 'pw2', 'the input is not changed');
  // Provenance is keyed by path: each key's provenance stays, that of a secret too.
  const provenance = { 'commands.token': { file: 'nodes/n1.yaml', line: 4 }, 'collectors[1].token': { file: 'fleet.yaml', line: 9 } };
  assert.deepEqual(redactSecrets(provenance), provenance);
});

test('secrets: a _file key reads its file (trailing line breaks removed) at any depth; the _file key goes', () => {
  const read = files({
    '/s/mqtt': 'pa ss\n',
    '/s/push': 'tok\r\n',
    '/s/db': 'pw\n\n',
    '/s/url': 'mqtt://u:p@h\n',
    '/s/hook': 'Bearer h\n',
  });
  const { value, problems } = resolveSecretFiles(
    {
      mqtt: { password_file: '/s/mqtt', url_file: '/s/url' },
      collectors: [{ type: 'http_push', token_file: '/s/push' }],
      services: [{ env: { DB_PASSWORD_file: '/s/db' } }],
      alerts: { webhooks: [{ url: 'https://hooks.example/x', headers: { Authorization_file: '/s/hook' } }] },
      other_file: '/not/a/secret',
    },
    { read },
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(value, {
    mqtt: { password: 'pa ss', url: 'mqtt://u:p@h' },
    collectors: [{ type: 'http_push', token: 'tok' }],
    services: [{ env: { DB_PASSWORD: 'pw' } }],
    alerts: { webhooks: [{ url: 'https://hooks.example/x', headers: { Authorization: 'Bearer h' } }] },
    other_file: '/not/a/secret',
  });
});

test('secrets: both a secret and its _file, a missing, empty or non-string file are problems at the _file key naming the file', () => {
  const read = files({ '/s/empty': '\n', '/s/tok': 'tok' });
  const { value, problems } = resolveSecretFiles(
    {
      mqtt: { password: 'inline', password_file: '/s/tok' },
      commands: { token_file: '/s/missing' },
      zoneCommands: { token_file: '/s/empty' },
      collectors: [{ token_file: 42 }],
    },
    { read },
  );
  assert.deepEqual(problems, [
    { path: ['mqtt', 'password_file'], message: 'give password or password_file (/s/tok), not both' },
    { path: ['commands', 'token_file'], message: 'cannot read /s/missing (no such file)' },
    { path: ['zoneCommands', 'token_file'], message: '/s/empty is empty' },
    { path: ['collectors', 0, 'token_file'], message: 'expected the path of a file holding token' },
  ]);
  assert.deepEqual(value, { mqtt: { password: 'inline' }, commands: {}, zoneCommands: {}, collectors: [{}] });
});

test('secrets: without a reader (the repository, rendered where the files are not) _file keys are checked and left out', () => {
  const { value, problems } = resolveSecretFiles({ collectors: [{ password_file: '/on/the/node' }, { token: 't', token_file: '/x' }] });
  assert.deepEqual(value, { collectors: [{}, { token: 't' }] });
  assert.deepEqual(problems, [{ path: ['collectors', 1, 'token_file'], message: 'give token or token_file (/x), not both' }]);
});

const schema = z.strictObject({
  mqtt: z.strictObject({ url: z.string().default('mqtt://127.0.0.1:1883'), password: z.string().optional() }).prefault({} as never),
  zoneCommands: z.strictObject({ token: z.string().min(16).optional() }).prefault({} as never),
});

test('config: a _file key of node.yaml and a FIELDMESH_*_FILE variable give the secret, validated as if written inline', () => {
  const read = files({ '/run/secrets/mqtt': 'from-file\n', '/run/secrets/zone': 'zone-token-of-20-chars\n' });
  const config = loadConfig(schema, {
    text: 'mqtt:\n  password_file: /run/secrets/mqtt\n',
    file: 'node.yaml',
    env: { FIELDMESH_ZONE_COMMANDS__TOKEN_FILE: '/run/secrets/zone' },
    readFile: read,
  });
  assert.deepEqual(config, {
    mqtt: { url: 'mqtt://127.0.0.1:1883', password: 'from-file' },
    zoneCommands: { token: 'zone-token-of-20-chars' },
  });
  // The environment wins over the file, as for any key: its _FILE over the file's inline value.
  const over = loadConfig(schema, {
    text: 'mqtt: {password: inline}\n',
    file: 'node.yaml',
    env: { FIELDMESH_MQTT__PASSWORD_FILE: '/run/secrets/mqtt' },
    readFile: read,
  });
  assert.equal(over.mqtt.password, 'from-file');
  // Read from a file, a secret is still validated: a short token is refused at its key.
  assert.throws(
    () => loadConfig(schema, { text: 'zoneCommands: {token_file: /run/secrets/mqtt}\n', file: 'node.yaml', readFile: read }),
    (err: unknown) => isFieldmeshError(err, 'FM_CONFIG_INVALID') && /^node\.yaml: zoneCommands\.token: /m.test((err as Error).message),
  );
});

test('config: every secret-file problem at once with the file or variable and the field, with the schema problems, FM_CONFIG_INVALID', () => {
  const read = files({ '/run/secrets/mqtt': 'x' });
  try {
    loadConfig(schema, {
      text: 'mqtt:\n  password: inline\n  password_file: /run/secrets/mqtt\nzoneCommands:\n  token_file: /run/secrets/missing\nbogus: 1\n',
      file: 'node.yaml',
      env: {
        FIELDMESH_MQTT__PASSWORD: 'a',
        FIELDMESH_MQTT__PASSWORD_FILE: '/run/secrets/mqtt',
        FIELDMESH_ZONE_COMMANDS__TOKEN_FILE: '/nope',
      },
      readFile: read,
    });
    assert.fail('expected an error');
  } catch (err) {
    assert.ok(isFieldmeshError(err, 'FM_CONFIG_INVALID'));
    assert.deepEqual((err as Error).message.split('\n'), [
      'node.yaml: mqtt.password_file: give password or password_file (/run/secrets/mqtt), not both',
      'node.yaml: zoneCommands.token_file: cannot read /run/secrets/missing (no such file)',
      'environment: FIELDMESH_MQTT__PASSWORD_FILE: give password or password_file (/run/secrets/mqtt), not both',
      'environment: FIELDMESH_ZONE_COMMANDS__TOKEN_FILE: cannot read /nope (no such file)',
      'node.yaml: (root): Unrecognized key: "bogus"',
    ]);
  }
});

test('config: without a reader (a loader that reads no files) a _file key is an unknown key', () => {
  assert.throws(
    () => loadConfig(schema, { text: 'mqtt: {password_file: /x}\n', file: 'node.yaml' }),
    (err: unknown) => isFieldmeshError(err, 'FM_CONFIG_INVALID') && /mqtt: Unrecognized key: "password_file"/.test((err as Error).message),
  );
});
