// Serving the built console: index.html uncached, hashed assets cached for good and pre-compressed,
// and a clear 503 when the console was never built.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { packageRoot, registerConsoleStaticRoutes } from './static-routes.js';

function builtConsole(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fm-console-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title><script src="/assets/index-abc123.js"></script>');
  const js = `console.log(${JSON.stringify('x'.repeat(2_000))});`;
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), js);
  writeFileSync(join(dir, 'assets', 'index-abc123.js.gz'), gzipSync(js));
  return dir;
}

test('console routes: / answers index.html with no-cache; assets come pre-compressed with a year of cache', async () => {
  const dir = builtConsole();
  const app = Fastify();
  registerConsoleStaticRoutes(app, { dir });
  try {
    const page = await app.inject({ url: '/' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.match(page.body, /<title>console<\/title>/);

    const gz = await app.inject({ url: '/assets/index-abc123.js', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.statusCode, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.ok(gz.rawPayload.length < 200, `compressed: ${gz.rawPayload.length} bytes`);

    const plain = await app.inject({ url: '/assets/index-abc123.js', headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.statusCode, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.ok(plain.body.length > 2_000);

    assert.equal((await app.inject({ url: '/assets/missing.js' })).statusCode, 404);
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('console routes: without a built console, / answers 503 saying how to build it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-console-none-'));
  const app = Fastify();
  registerConsoleStaticRoutes(app, { dir: join(dir, 'console') });
  try {
    const page = await app.inject({ url: '/' });
    assert.equal(page.statusCode, 503);
    assert.match(page.body, /npm run build/);
    assert.equal((await app.inject({ url: '/assets/index.js' })).statusCode, 503);
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('console routes: the package root is found from the source tree', () => {
  assert.match(packageRoot(), /\S/);
});
