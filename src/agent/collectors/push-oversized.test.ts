// Early answers on a real socket: a body far over the limit, sent fast and in one go, always gets its
// 413 (and a wrong token its 401, an unknown encoding its 415), never a reset; the connection then
// serves the next request.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import Fastify from 'fastify';
import { createHttpPushCollector, httpPushCollectorSchema } from './http-push.js';
import { createInfluxCollector, influxCollectorSchema } from './influx.js';
import { createTestContext } from './test-context.js';

const LIMIT = 1024;
const BIG_BYTES = 4 * 1024 * 1024;
const TOKEN = 'tok';

const app = Fastify();
const ctx = createTestContext({ http: app });
await createInfluxCollector(influxCollectorSchema.parse({ type: 'influx', token: TOKEN, max_body_bytes: LIMIT }), 0).start(ctx);
await createHttpPushCollector(httpPushCollectorSchema.parse({ type: 'http_push', token: TOKEN, max_body_bytes: LIMIT }), 0).start(ctx);
const port = Number(new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port);
after(() => app.close());

interface Request {
  readonly path: string;
  readonly bodyBytes: number;
  readonly fill: string;
  readonly chunked?: boolean;
  readonly headers: Readonly<Record<string, string>>;
}

const client = new Worker(new URL('../../../test/kit/raw-http-worker.mjs', import.meta.url));
after(() => client.terminate());
let nextId = 0;

/** The statuses of the answers to `requests`, sent on one connection without waiting, or the socket error instead. */
function send(requests: readonly Request[]): Promise<string[]> {
  const id = nextId++;
  return new Promise((resolve) => {
    const onMessage = (m: { id: number; statuses: string[] }) => {
      if (m.id !== id) return;
      client.off('message', onMessage);
      resolve(m.statuses);
    };
    client.on('message', onMessage);
    client.postMessage({ id, port, requests });
  });
}

const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' };
const big = (path: string, extra: Partial<Request> = {}): Request => ({
  path,
  bodyBytes: BIG_BYTES,
  fill: 'm v=1\n',
  headers: auth,
  ...extra,
});

test('push oversized: a body 4096 times the limit always gets 413, on every endpoint, by content-length or chunked, never a reset', async () => {
  const paths = ['/write?db=x', '/api/v2/write?org=o&bucket=b', '/events'];
  const seen: Record<string, number> = {};
  for (let i = 0; i < 60; i++) {
    const [status] = await send([big(paths[i % 3] as string, { chunked: i % 2 === 1 })]);
    seen[String(status)] = (seen[String(status)] ?? 0) + 1;
  }
  assert.deepEqual(seen, { 413: 60 });
  assert.equal(ctx.rejections.filter((r) => r === 'too-large').length, 60);
});

test('push oversized: after a 413, a 401 or a 415 answered before the body was read, the same connection serves the next request', async () => {
  const wrongToken = { ...auth, authorization: 'Bearer wrong' };
  const cases: Array<[Request, string]> = [
    [big('/write?db=x'), '413'],
    [big('/events', { chunked: true }), '413'],
    [big('/write?db=x', { headers: wrongToken }), '401'],
    [big('/events', { headers: wrongToken }), '401'],
    [big('/api/v2/write?org=o&bucket=b', { headers: { ...auth, 'content-encoding': 'br' } }), '415'],
  ];
  for (const [first, status] of cases) {
    const json = first.path === '/events';
    const next: Request = { path: first.path, bodyBytes: 1, fill: json ? '1' : 'x', headers: auth };
    const good: Request = json ? { ...next, bodyBytes: 19, fill: '{"metrics":{"v":1}}' } : { ...next, bodyBytes: 5, fill: 'm v=1' };
    assert.deepEqual(await send([first, good]), [status, json ? '200' : '204'], `${first.path} ${status}`);
  }
});
