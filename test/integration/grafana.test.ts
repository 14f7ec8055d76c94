// Grafana out of the box (docs/grafana.md): the requests Grafana's Prometheus data source makes
// (test/fixtures/grafana-requests.json, taken from Grafana's source) replayed against a real hub and a
// real node, GET and form POST, each answer checked as Grafana parses it; the fleet's own series (up,
// fieldmesh_node_state, ALERTS) through /api/v1/query; and every PromQL target of
// docs/grafana/dashboards/fleet.json run against the hub with data: accepted, and with data.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Agent, agentConfigSchema, createAgent } from '../../src/agent/index.js';
import { createHub, type Hub, hubConfigSchema } from '../../src/hub/index.js';
import { silentLogger } from '../../src/kit/index.js';
import { feederCollector } from '../kit/feeder-collector.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { waitFor } from '../kit/wait.js';

const SITE = 's1';
const NODE = 'bess-01';
const ROOT = new URL('../../', import.meta.url);

interface FixtureRequest {
  readonly phase: string;
  readonly name: string;
  readonly path: string;
  readonly methods: readonly ('GET' | 'POST')[];
  readonly params: readonly (readonly [string, string])[];
  readonly shape: string;
  readonly status?: number;
  readonly expect?: { readonly value?: string; readonly includes?: string };
}

const fixture = JSON.parse(readFileSync(new URL('test/fixtures/grafana-requests.json', ROOT), 'utf8')) as {
  origin: { repository: string; path: string }[];
  requests: FixtureRequest[];
};

/** Every request of the fixture in each of its methods. */
const CALLS = fixture.requests.reduce((n, r) => n + r.methods.length, 0);

let mosquitto: MosquittoInstance;
let hub: Hub;
let agent: Agent;
let nodeUrl: string;
let dataDir: string;
const collector = feederCollector();
/** Ten minutes of samples every 10 s, ending a little before the test runs. */
const END_MS = Math.floor(Date.now() / 10_000) * 10_000;
const POINTS = 60;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'fm-grafana-it-'));
  const rules = join(dataDir, 'rules.yaml');
  // A rule that holds from the first evaluation, so the ALERTS series has a firing alert.
  writeFileSync(
    rules,
    'groups:\n  - name: grafana\n    rules:\n      - alert: SocBelowFull\n        expr: battery_soc < 100\n        labels:\n          severity: info\n',
  );
  mosquitto = await startMosquitto();
  hub = createHub(
    hubConfigSchema.parse({
      dataDir,
      storage: { path: join(dataDir, 'hub.db') },
      mqtt: { url: mosquitto.url, clientId: 'hub' },
      alerts: { evaluationInterval: '1s', ruleFiles: [rules] },
    }),
    { logger: silentLogger },
  );
  await hub.start({ listen: false });
  agent = createAgent(
    agentConfigSchema.parse({
      dataDir: join(dataDir, 'node'),
      node: { id: NODE, site: SITE, zone: 'north' },
      mqtt: { url: mosquitto.url },
      http: { port: 0 },
      publish: { tick: '200ms', heartbeat: '1s' },
      critical: [{ match: 'battery_soc' }, { match: 'fieldmesh_agent_frame_bytes_sent_total' }],
    }),
    { epoch: 3, collectors: [collector], logger: silentLogger },
  );
  const started = await agent.start();
  assert.ok(started.httpUrl, 'the node listens');
  nodeUrl = started.httpUrl;
  await waitFor(() => hub.fleet.get(SITE, NODE)?.state === 'online', { what: 'the node online at the hub', timeoutMs: 10_000 });

  // What a node holds: a critical gauge and (as a node scraping its own /metrics would store it) the
  // counter of bytes it sent over its link.
  const samples = [];
  for (let i = 0; i < POINTS; i++) {
    const time = END_MS - (POINTS - 1 - i) * 10_000;
    samples.push(
      { name: 'battery_soc', labels: { device: 'bms' }, time, value: 40 + i / 2 },
      { name: 'fieldmesh_agent_frame_bytes_sent_total', labels: { type: 'history' }, time, value: i * 1_200 },
    );
  }
  await collector.ctx?.record(samples);
  await waitFor(
    async () => {
      const res = await hub.app.inject(`/api/v1/query?query=${encodeURIComponent('count(count_over_time(battery_soc[1h]) >= 60)')}`);
      return res.json().data?.result?.length === 1;
    },
    { what: 'every battery_soc sample at the hub', timeoutMs: 15_000 },
  );
  // The dashboard's backlog and alerts panels need a reported backlog and a firing alert.
  await waitFor(async () => (await instant('fieldmesh_node_backlog_rows')).length === 1, { what: 'the node reports its backlog' });
  await waitFor(async () => (await instant('ALERTS{alertstate="firing"}')).length > 0, { what: 'SocBelowFull firing', timeoutMs: 10_000 });
});

after(async () => {
  await agent?.stop();
  await hub?.stop();
  await mosquitto?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Fixture times: 'now' and 'now-<seconds>' as unix seconds at replay. */
function resolve(value: string, nowS: number): string {
  if (value === 'now') return String(nowS);
  const m = /^now-(\d+)$/.exec(value);
  return m ? String(nowS - Number(m[1])) : value;
}

interface Answer {
  readonly status: number;
  readonly body: { status?: string; data?: unknown; errorType?: string; error?: string };
}

type Send = (method: 'GET' | 'POST', path: string, form: URLSearchParams) => Promise<Answer>;

const sendToHub: Send = async (method, path, form) => {
  const res =
    method === 'GET'
      ? await hub.app.inject({ method, url: form.size === 0 ? path : `${path}?${form}` })
      : await hub.app.inject({
          method,
          url: path,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: form.toString(),
        });
  return { status: res.statusCode, body: res.json() };
};

const sendToNode: Send = async (method, path, form) => {
  const res =
    method === 'GET'
      ? await fetch(`${nodeUrl}${form.size === 0 ? path : `${path}?${form}`}`)
      : await fetch(`${nodeUrl}${path}`, {
          method,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
        });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
};

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isSample = (v: unknown): boolean =>
  Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string' && !Number.isNaN(Number(v[1]));

/** What Grafana's parsers need of each answer (result_transformer, language_provider, heuristics.go). */
function checkShape(r: FixtureRequest, answer: Answer, where: string): void {
  const { body } = answer;
  if (r.shape === 'error') {
    assert.equal(answer.status, r.status ?? 400, where);
    assert.equal(body.status, 'error', where);
    assert.equal(typeof body.errorType, 'string', where);
    assert.ok(body.error && body.error.length > 0, `${where}: an error message Grafana shows`);
    return;
  }
  assert.equal(answer.status, 200, `${where}: ${JSON.stringify(body)}`);
  assert.equal(body.status, 'success', where);
  const data = body.data as Record<string, unknown> & unknown[];
  switch (r.shape) {
    case 'scalar': {
      const d = body.data as { resultType: string; result: unknown };
      assert.equal(d.resultType, 'scalar', where);
      assert.ok(isSample(d.result), where);
      if (r.expect?.value !== undefined) assert.equal((d.result as [number, string])[1], r.expect.value, where);
      break;
    }
    case 'vector': {
      const d = body.data as { resultType: string; result: { metric: unknown; value: unknown }[] };
      assert.equal(d.resultType, 'vector', where);
      assert.ok(d.result.length > 0, `${where}: data`);
      for (const s of d.result) assert.ok(typeof s.metric === 'object' && isSample(s.value), where);
      break;
    }
    case 'matrix': {
      const d = body.data as { resultType: string; result: { metric: unknown; values: unknown[] }[] };
      assert.equal(d.resultType, 'matrix', where);
      assert.ok(d.result.length > 0, `${where}: data`);
      for (const s of d.result) assert.ok(typeof s.metric === 'object' && s.values.length > 0 && s.values.every(isSample), where);
      break;
    }
    case 'string-array':
      assert.ok(isStringArray(data), `${where}: ${JSON.stringify(data)}`);
      if (r.expect?.includes !== undefined)
        assert.ok(data.includes(r.expect.includes), `${where}: ${r.expect.includes} in ${JSON.stringify(data)}`);
      break;
    case 'series': {
      const series = data as unknown as { __name__?: unknown }[];
      assert.ok(Array.isArray(series) && series.every((x) => typeof x === 'object' && x !== null && typeof x.__name__ === 'string'), where);
      if (r.expect?.includes !== undefined)
        assert.ok(
          series.some((x) => x.__name__ === r.expect?.includes),
          where,
        );
      break;
    }
    case 'array':
      assert.ok(Array.isArray(data), where);
      break;
    case 'metadata':
      assert.ok(typeof data === 'object' && data !== null && !Array.isArray(data), where);
      break;
    case 'rules':
      assert.ok(Array.isArray((data as unknown as { groups: unknown }).groups), where);
      break;
    case 'string':
      assert.equal(typeof data, 'string', where);
      break;
    case 'buildinfo': {
      const d = body.data as { version: string; features?: Record<string, string> };
      // Grafana (hasLabelsMatchAPISupport) compares the version with semver: >= 2.24.0 sends match[] to the label APIs.
      const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(d.version);
      assert.ok(m, `${where}: a semver version, got ${d.version}`);
      assert.ok(Number(m[1]) > 2 || (Number(m[1]) === 2 && Number(m[2]) >= 24), where);
      // heuristics.go: any feature makes Grafana take the server for Mimir.
      assert.ok(d.features === undefined || Object.keys(d.features).length === 0, where);
      break;
    }
    default:
      assert.fail(`${where}: unknown shape ${r.shape}`);
  }
}

async function replay(send: Send, target: string): Promise<number> {
  const nowS = Math.floor(Date.now() / 1_000);
  let n = 0;
  for (const r of fixture.requests) {
    for (const method of r.methods) {
      const form = new URLSearchParams(r.params.map(([k, v]): [string, string] => [k, resolve(v, nowS)]));
      const where = `${target} ${method} ${r.path} (${r.phase}: ${r.name})`;
      checkShape(r, await send(method, r.path, form), where);
      n++;
    }
  }
  return n;
}

test('grafana fixture: names its origin in Grafana source and covers Save & test, Explore and a dashboard', () => {
  assert.ok(fixture.origin.some((o) => o.repository === 'grafana/grafana' && o.path.endsWith('healthcheck.go')));
  const phases = new Set(fixture.requests.map((r) => r.phase));
  for (const p of ['save-and-test', 'data-source-load', 'explore', 'dashboard']) assert.ok(phases.has(p), p);
});

test('grafana requests: every call of the fixture answered by the hub as Grafana parses it, GET and form POST', async () => {
  assert.equal(await replay(sendToHub, 'hub'), CALLS);
});

test('grafana requests: every call of the fixture answered by a node as Grafana parses it, GET and form POST', async () => {
  assert.equal(await replay(sendToNode, 'node'), CALLS);
});

async function instant(query: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await hub.app.inject({
    method: 'POST',
    url: '/api/v1/query',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ query }).toString(),
  });
  assert.equal(res.statusCode, 200, `${query}: ${res.body}`);
  return res.json().data.result;
}

test('grafana fleet series: up, fieldmesh_node_state and the backlog per node through /api/v1/query', async () => {
  assert.deepEqual(
    (await instant('up')).map((s) => [s.metric, s.value[1]]),
    [[{ __name__: 'up', site: SITE, zone: 'north', node: NODE }, '1']],
  );
  const states = await instant(`fieldmesh_node_state{node="${NODE}"}`);
  assert.deepEqual(Object.fromEntries(states.map((s) => [s.metric.state, s.value[1]])), {
    online: '1',
    stale: '0',
    offline: '0',
    unknown: '0',
  });
  assert.equal((await instant('count(up == 0) or vector(0)'))[0]?.value[1], '0');
  const [backlog] = await instant('fieldmesh_node_backlog_rows');
  assert.deepEqual(backlog?.metric, { __name__: 'fieldmesh_node_backlog_rows', site: SITE, zone: 'north', node: NODE });
  assert.ok(Number(backlog?.value[1]) >= 0);
});

test('grafana fleet series: ALERTS holds the firing alert of a rule with its labels', async () => {
  const [alert] = await instant('ALERTS{alertname="SocBelowFull"}');
  assert.equal(alert?.metric.alertstate, 'firing');
  assert.equal(alert?.metric.severity, 'info');
  assert.equal(alert?.metric.node, NODE);
  assert.equal(alert?.value[1], '1');
});

/**
 * Grafana's interval variables for a dashboard time range: $__interval is the range over the panel's
 * max data points, rounded as rangeUtil.roundInterval does and no shorter than the data source's
 * timeInterval; $__rate_interval is max($__interval + timeInterval, 4 * timeInterval); $__range the range
 * in seconds.
 */
function grafanaVariables(rangeMs: number, maxDataPoints: number, minIntervalMs: number) {
  const raw = rangeMs / maxDataPoints;
  // rangeUtil.roundInterval's steps for the lower end (every dashboard here has ranges under a day).
  const steps: [number, number][] = [
    [1_500, 1_000],
    [3_500, 2_000],
    [7_500, 5_000],
    [12_500, 10_000],
    [17_500, 15_000],
    [25_000, 20_000],
    [45_000, 30_000],
    [90_000, 60_000],
    [210_000, 120_000],
    [450_000, 300_000],
  ];
  const rounded = steps.find(([below]) => raw < below)?.[1] ?? 600_000;
  const interval = Math.max(rounded, minIntervalMs);
  const rate = Math.max(interval + minIntervalMs, 4 * minIntervalMs);
  return { $__rate_interval: `${rate / 1_000}s`, $__interval: `${interval / 1_000}s`, $__range: `${Math.round(rangeMs / 1_000)}s` };
}

test('grafana dashboard: every PromQL target of docs/grafana/dashboards/fleet.json is accepted by the hub and returns data', async () => {
  const dashboard = JSON.parse(readFileSync(new URL('docs/grafana/dashboards/fleet.json', ROOT), 'utf8')) as {
    panels: { title: string; datasource: { uid: string }; targets: { expr: string; instant?: boolean; range?: boolean }[] }[];
  };
  const datasource = readFileSync(new URL('docs/grafana/provisioning/datasources/fieldmesh.yaml', ROOT), 'utf8');
  const timeInterval = /timeInterval:\s*(\d+)s/.exec(datasource)?.[1];
  assert.ok(timeInterval, 'the data source sets timeInterval');
  assert.ok(datasource.includes('uid: fieldmesh'));
  const rangeMs = 3_600_000;
  const vars = grafanaVariables(rangeMs, 1_000, Number(timeInterval) * 1_000);
  const endS = Math.floor(Date.now() / 1_000);
  const stepS = Math.max(Number(timeInterval), Math.ceil(rangeMs / 1_000 / 1_000));
  let targets = 0;
  for (const panel of dashboard.panels) {
    assert.equal(panel.datasource.uid, 'fieldmesh', panel.title);
    for (const t of panel.targets) {
      let expr = t.expr;
      for (const [name, value] of Object.entries(vars)) expr = expr.replaceAll(name, value);
      assert.ok(!expr.includes('$'), `${panel.title}: every variable replaced in ${expr}`);
      const form = new URLSearchParams(
        t.instant && !t.range
          ? { query: expr, time: String(endS) }
          : { query: expr, start: String(endS - rangeMs / 1_000), end: String(endS), step: String(stepS) },
      );
      const res = await hub.app.inject({
        method: 'POST',
        url: t.instant && !t.range ? '/api/v1/query' : '/api/v1/query_range',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: form.toString(),
      });
      assert.equal(res.statusCode, 200, `${panel.title}: ${expr}: ${res.body}`);
      assert.ok(res.json().data.result.length > 0, `${panel.title}: ${expr} returns data`);
      targets++;
    }
  }
  assert.ok(targets >= 8, `${targets} targets`);
});
