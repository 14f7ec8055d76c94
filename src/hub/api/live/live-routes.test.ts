// The live feed on the wire: gzip when the client accepts it, with every message flushed at once (the
// stream never ends, so nothing may wait in the compressor), plain text otherwise.

import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:http';
import { test } from 'node:test';
import { createGunzip } from 'node:zlib';
import { nodeTopic, SessionEncoder } from '../../../protocol/index.js';
import { batterySoc, birthOf, hubTestKit } from '../../hub-test-kit.js';

const { startHub, connectClient, defer } = hubTestKit();

function open(url: string, acceptEncoding: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { 'accept-encoding': acceptEncoding } }, resolve);
    req.on('error', reject);
    req.end();
    defer(() => {
      req.destroy();
    });
  });
}

/** Reads the (decoded) stream until `pattern` shows, failing if it ends first. */
function reader(stream: NodeJS.ReadableStream) {
  let text = '';
  const waiters = new Set<() => void>();
  let ended = false;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    text += chunk;
    for (const w of waiters) w();
  });
  stream.on('end', () => {
    ended = true;
    for (const w of waiters) w();
  });
  return (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (pattern.test(text)) {
          waiters.delete(check);
          resolve(text);
        } else if (ended) {
          waiters.delete(check);
          reject(new Error(`stream ended before ${pattern}`));
        }
      };
      waiters.add(check);
      check();
    });
}

test('live feed: gzip when accepted, each message flushed at once; plain for a client that does not accept it', async () => {
  const { broker, httpUrl } = await startHub({ listen: true, config: { http: { port: 0 } } });
  const zipped = await open(`${httpUrl}/api/v1/live`, 'br;q=1, gzip;q=0.8');
  assert.equal(zipped.headers['content-encoding'], 'gzip');
  assert.equal(zipped.headers['content-type'], 'text/event-stream; charset=utf-8');
  const plain = await open(`${httpUrl}/api/v1/live`, 'identity, gzip;q=0');
  assert.equal(plain.headers['content-encoding'], undefined);

  // Without a flush per message the snapshot would sit in the compressor: the stream never ends.
  const readZipped = reader(zipped.pipe(createGunzip()));
  const readPlain = reader(plain);
  await readZipped(/event: snapshot\ndata: \{"nodes":\[\]/);
  await readPlain(/event: snapshot\ndata: \{"nodes":\[\]/);

  const node = await connectClient(broker, 'n1');
  const enc = new SessionEncoder(1);
  await node.transport.publish(nodeTopic('fieldmesh', 's1', 'n1', 'birth'), birthOf(enc, Date.now(), [batterySoc()]), { qos: 1 });
  const online = /event: node\ndata: \{"site":"s1","zone":"z1","node":"n1","state":"online"/;
  const [viaGzip, viaPlain] = await Promise.all([readZipped(online), readPlain(online)]);
  // The same messages either way.
  const events = (t: string) => [...t.matchAll(/event: (\w+)/g)].map((m) => m[1]);
  assert.deepEqual(events(viaGzip).slice(0, 2), events(viaPlain).slice(0, 2));
});
