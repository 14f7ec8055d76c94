// The MQTT transport over TLS against a real Mosquitto requiring client certificates, behind a TCP proxy that
// counts the bytes both ways: the transport's byte counters are the wire's (handshake and records included), a
// reconnect resumes the TLS session, and renewed credentials drop it (the broker sees the new identity).

import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createMqttTransport, type Transport } from '../../src/transport/index.js';
import { type CountingProxy, startCountingProxy } from '../kit/counting-proxy.js';
import { createFleetCerts, type FleetCerts } from '../kit/fleet-certs.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { once, waitFor } from '../kit/wait.js';

/** One TLS 1.3 alert record (5 header + 2 alert + 1 type + 16 tag): the broker's close_notify, which the client may close before reading. */
const CLOSE_NOTIFY_BYTES = 24;
const FAST_BACKOFF = { initialMs: 20, maxMs: 50, factor: 2, jitter: 0 };

let certs: FleetCerts;
let dir: string;
let mosquitto: MosquittoInstance;
let proxy: CountingProxy;
const transports: Transport[] = [];

before(async () => {
  certs = await createFleetCerts();
  dir = mkdtempSync(join(tmpdir(), 'fm-tls-wire-'));
  // Mosquitto started as root reads these after it drops privileges.
  chmodSync(dir, 0o755);
  // The kit's broker certificate names localhost only; this one is for 127.0.0.1, where the proxy listens.
  const issued = await certs.ca.issue('wire-broker', { site: 'hq', sans: ['127.0.0.1'], outDir: join(dir, 'issued') });
  const keyFile = join(dir, 'broker.key');
  const certFile = join(dir, 'broker.crt');
  copyFileSync(issued.keyFile, keyFile);
  copyFileSync(issued.certFile, certFile);
  copyFileSync(certs.caFile, join(dir, 'ca.crt'));
  chmodSync(keyFile, 0o644);
  const tlsPort = await freePort();
  mosquitto = await startMosquitto({
    extraConfig: [
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${join(dir, 'ca.crt')}`,
      `certfile ${certFile}`,
      `keyfile ${keyFile}`,
      'require_certificate true',
      'use_identity_as_username true',
    ],
  });
  proxy = await startCountingProxy(tlsPort);
});

after(async () => {
  for (const t of transports) await t.close({ graceful: false });
  await proxy?.close();
  await mosquitto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  certs?.cleanup();
});

function tlsTransport(clientId: string): Transport {
  const transport = createMqttTransport({
    url: `mqtts://127.0.0.1:${proxy.port}`,
    clientId,
    ca: readFileSync(certs.caFile, 'utf8'),
    cert: certs.n1.certPem,
    key: certs.n1.keyPem,
    backoff: FAST_BACKOFF,
  });
  transports.push(transport);
  return transport;
}

function wireOf(t: Transport): { up: number; down: number } {
  const s = t.stats();
  return { up: s.bytesOut, down: s.bytesIn };
}

test('mqtt transport over TLS counts the bytes on the wire: handshake, records and all', async (t) => {
  const p0 = proxy.bytes();
  const transport = tlsTransport('wire-count');
  const connected = once(transport, 'connected', { what: 'connected over TLS' });
  transport.start();
  await connected;
  await transport.subscribe('farm/n1/#', () => {}).ready;
  for (let i = 0; i < 20; i++) await transport.publish(`farm/n1/m${i % 3}`, new Uint8Array(40).fill(i), { qos: 1 });
  const delta = () => {
    const p = proxy.bytes();
    return { up: p.up - p0.up, down: p.down - p0.down };
  };
  // While the link is up the counts are exact once the proxy has relayed what was written.
  await waitFor(() => JSON.stringify(wireOf(transport)) === JSON.stringify(delta()), {
    what: `transport counters ${JSON.stringify(wireOf(transport))} equal to the wire ${JSON.stringify(delta())}`,
  });
  const up = wireOf(transport);
  // Sanity: the handshake with the client certificate alone is kilobytes; cleartext MQTT here is about 1.4 kB.
  assert.ok(up.up + up.down > 4000, `wire bytes ${JSON.stringify(up)}`);

  const closedAt = proxy.connections();
  await transport.close();
  await waitFor(() => proxy.connections() === closedAt && delta().up === wireOf(transport).up, { what: 'the close relayed' });
  const end = wireOf(transport);
  const wire = delta();
  assert.equal(end.up, wire.up, 'bytes out after a clean close');
  t.diagnostic(`connected, 20 publishes, closed: transport ${JSON.stringify(end)}, proxy ${JSON.stringify(wire)}`);
  assert.ok(wire.down - end.down >= 0 && wire.down - end.down <= CLOSE_NOTIFY_BYTES, `bytes in ${end.down}, wire ${wire.down}`);
});

test('mqtt transport resumes the TLS session on a reconnect and drops it with renewed credentials', async (t) => {
  const transport = tlsTransport('wire-resume');
  const first = once(transport, 'connected', { what: 'first connect' });
  const b0 = proxy.bytes();
  transport.start();
  await first;
  await transport.subscribe('farm/n1/#', () => {}).ready;
  assert.equal(transport.stats().tlsResumed, 0);
  await waitFor(() => mosquitto.log().includes("as wire-resume (p5, c1, k30, u'n1')"), { what: 'broker saw n1' });
  const fullBytes = proxy.bytes().up - b0.up + proxy.bytes().down - b0.down;

  const b1 = proxy.bytes();
  const again = once(transport, 'connected', { what: 'reconnect after a cut link' });
  proxy.cut();
  await again;
  assert.equal(transport.stats().tlsResumed, 1, 'the reconnect resumed the session');
  assert.equal(transport.stats().connects, 2);
  const resumedBytes = proxy.bytes().up - b1.up + proxy.bytes().down - b1.down;
  t.diagnostic(`first connect and SUBSCRIBE ${fullBytes} B on the wire, resumed reconnect and SUBSCRIBE ${resumedBytes} B`);
  assert.ok(resumedBytes < fullBytes * 0.75, `resumed reconnect ${resumedBytes} B, first connect ${fullBytes} B`);

  // Renewed to another identity (n2's certificate): a resumed session would log in as n1 again.
  const renewed = once(transport, 'connected', { what: 'reconnect with renewed credentials' });
  transport.renewCredentials?.({ cert: certs.n2.certPem, key: certs.n2.keyPem, ca: readFileSync(certs.caFile, 'utf8') });
  await renewed;
  assert.equal(transport.stats().tlsResumed, 1, 'a full handshake with the new certificate');
  await waitFor(() => mosquitto.log().includes("as wire-resume (p5, c1, k30, u'n2')"), { what: 'broker saw n2' });

  // And the session of the new identity is resumed in turn.
  const third = once(transport, 'connected', { what: 'reconnect after the renewal' });
  proxy.cut();
  await third;
  assert.equal(transport.stats().tlsResumed, 2);
  await transport.close();
});
