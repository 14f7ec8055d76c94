// The operator console: GET / answers dist/console/index.html (never cached: it names the current
// assets), GET /assets/* the hashed bundle files with their prebuilt .br/.gz siblings, cached for a
// year. Without a built console, both answer 503 with how to build it.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Hashed names change with their content, so a browser may keep them for good (RFC 8246). */
const ASSET_CACHE_CONTROL = 'public, max-age=31536000, immutable';

const MISSING_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="color-scheme" content="light dark">
<title>fieldmesh console not built</title></head>
<body style="font-family:system-ui,sans-serif;margin:2rem;max-width:40rem;line-height:1.5">
<h1>The console is not built</h1>
<p>This hub found no <code>dist/console/index.html</code>. Build it from the fieldmesh checkout with</p>
<pre>npm run build</pre>
<p>then reload this page. The HTTP API under <code>/api/v1</code> works meanwhile.</p>
</body></html>`;

/** The fieldmesh package root: the nearest folder up with its package.json (works from src/ and dist/). */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'fieldmesh') return dir;
      } catch {
        // Not ours; keep walking up.
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`no fieldmesh package.json above ${from}`);
    dir = up;
  }
}

export interface ConsoleRoutesOptions {
  /** The built console (index.html and assets/); default `<package root>/dist/console`. */
  readonly dir?: string;
}

export function registerConsoleStaticRoutes(app: FastifyInstance, options: ConsoleRoutesOptions = {}): void {
  const dir = options.dir ?? join(packageRoot(), 'dist', 'console');
  const index = join(dir, 'index.html');
  const assets = join(dir, 'assets');

  // Read on every request (it is small): a rebuild while the hub runs is picked up at once.
  app.get('/', async (_request, reply) => {
    let html: string;
    try {
      html = readFileSync(index, 'utf8');
    } catch {
      return reply.code(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(MISSING_PAGE);
    }
    return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(html);
  });

  if (existsSync(assets)) {
    void app.register(fastifyStatic, {
      root: assets,
      prefix: '/assets/',
      preCompressed: true,
      decorateReply: false,
      index: false,
      list: false,
      cacheControl: false,
      setHeaders: (res) => res.setHeader('cache-control', ASSET_CACHE_CONTROL),
    });
  } else {
    app.get('/assets/*', async (_request, reply) =>
      reply.code(503).header('cache-control', 'no-store').type('text/plain; charset=utf-8').send('console not built: run npm run build\n'),
    );
  }
}
