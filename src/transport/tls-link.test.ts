// tlsTargetOf reads a broker URL as mqtt.js 5 does: which URLs get the transport's own TLS link, and where to.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tlsTargetOf } from './tls-link.js';

test('tls link: mqtts, ssl and tls URLs are TLS, with port 8883 by default', () => {
  assert.deepEqual(tlsTargetOf('mqtts://broker.farm:8884', false), { host: 'broker.farm', port: 8884 });
  assert.deepEqual(tlsTargetOf('mqtts://broker.farm', false), { host: 'broker.farm', port: 8883 });
  assert.deepEqual(tlsTargetOf('ssl://10.0.0.2:8883', false), { host: '10.0.0.2', port: 8883 });
  assert.deepEqual(tlsTargetOf('TLS://[::1]:9883', false), { host: '::1', port: 9883 });
});

test('tls link: mqtt:// turns TLS only with a client certificate, as mqtt.js upgrades it', () => {
  assert.equal(tlsTargetOf('mqtt://127.0.0.1:1883', false), undefined);
  assert.deepEqual(tlsTargetOf('mqtt://127.0.0.1:1883', true), { host: '127.0.0.1', port: 1883 });
  assert.deepEqual(tlsTargetOf('tcp://broker', true), { host: 'broker', port: 8883 });
});

test('tls link: WebSocket URLs stay with mqtt.js; URL credentials are kept', () => {
  assert.equal(tlsTargetOf('wss://broker/mqtt', true), undefined);
  assert.equal(tlsTargetOf('ws://broker/mqtt', false), undefined);
  assert.equal(tlsTargetOf('not a url', true), undefined);
  assert.deepEqual(tlsTargetOf('mqtts://node%201:s3cr%40t@broker:8883', false), {
    host: 'broker',
    port: 8883,
    username: 'node 1',
    password: 's3cr@t',
  });
});
