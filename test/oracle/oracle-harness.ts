// One oracle set-up for the test and the bench: a real Prometheus (Debian's 2.42, remote write receiver) and the hub's
// HTTP API (createHubApp over SQLite, listening on a free port), fed the same samples; `ask` puts one query to both.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createHubApp } from '../../src/hub/api/app.js';
import { LiveFeed } from '../../src/hub/api/live/live-feed.js';
import { FleetState } from '../../src/hub/fleet/fleet-state.js';
import { createHubMetrics } from '../../src/hub/hub-metrics.js';
import { createSqliteStorage } from '../../src/hub/storage/sqlite/sqlite-storage.js';
import type { HubStorage } from '../../src/hub/storage/storage.js';
import { silentLogger, systemClock } from '../../src/kit/index.js';
import { type PrometheusServer, startPrometheus } from '../kit/prometheus.js';
import { type Answer, answerOf, type Params } from './oracle-compare.js';
import { buildOracleData, feedRemoteWrite, feedStorage, type OracleData, type OracleDataOptions } from './oracle-data.js';

export interface Oracle {
  readonly data: OracleData;
  readonly prometheus: PrometheusServer;
  readonly app: FastifyInstance;
  /** The hub app listening on 127.0.0.1, `http://127.0.0.1:<port>`. */
  readonly fieldmeshUrl: string;
  prom(path: 'query' | 'query_range', params: Params): Promise<Answer>;
  fieldmesh(path: 'query' | 'query_range', params: Params): Promise<Answer>;
  close(): Promise<void>;
}

export async function startOracle(options: OracleDataOptions): Promise<Oracle> {
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-oracle-'));
  const closers: Array<() => Promise<void>> = [async () => rmSync(dir, { recursive: true, force: true })];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    const data = buildOracleData(options);
    const storage: HubStorage = createSqliteStorage({ path: join(dir, 'hub.db'), retentionMs: 7 * 86_400_000 });
    closers.push(() => storage.close());
    const prometheus = await startPrometheus();
    closers.push(() => prometheus.close());
    const fleet = new FleetState({ clock: systemClock, staleAfterHeartbeats: 2, rebirthMinIntervalMs: 5_000 });
    const app = createHubApp({
      fleet,
      storage,
      clock: systemClock,
      metrics: createHubMetrics(() => fleet.countByState()),
      live: new LiveFeed({ clock: systemClock, snapshot: () => [], nodeView: () => undefined }),
      readiness: () => ({ ready: true, reasons: [] }),
      logger: silentLogger,
    });
    closers.push(() => app.close());
    const fieldmeshUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    const [stored, written] = await Promise.all([feedStorage(storage, data), feedRemoteWrite(prometheus.writeUrl, data)]);
    if (stored !== written) throw new Error(`fed ${stored} samples to fieldmesh but ${written} to prometheus`);
    return {
      data,
      prometheus,
      app,
      fieldmeshUrl,
      async prom(path, params) {
        const res = await fetch(`${prometheus.url}/api/v1/${path}?${new URLSearchParams(params)}`);
        return answerOf(res.status, await res.text());
      },
      async fieldmesh(path, params) {
        // Through Fastify's inject (the app's routes, parsers and error handler, no socket): faster for thousands of asks.
        const res = await app.inject(`/api/v1/${path}?${new URLSearchParams(params)}`);
        return answerOf(res.statusCode, res.body);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
