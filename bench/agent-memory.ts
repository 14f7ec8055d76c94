// Resident memory of a `fieldmesh node` process holding 1,000 local series (scraped from a
// Prometheus exposition served here), beside the same agent with no series.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFieldmesh } from '../test/kit/fieldmesh-process.js';
import { waitFor } from '../test/kit/wait.js';

export interface AgentMemoryResult {
  readonly series: number;
  readonly rssBytes: number;
  readonly idleRssBytes: number;
  readonly bytesPerSeries: number;
}

function exposition(series: number, tick: number): string {
  const lines: string[] = ['# TYPE sensor_value gauge'];
  for (let i = 0; i < series; i++) lines.push(`sensor_value{sensor="s${i}",bank="b${i % 10}"} ${(i * 0.37 + tick) % 100}`);
  return `${lines.join('\n')}\n`;
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

async function agentRss(series: number): Promise<number> {
  let tick = 0;
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(exposition(series, tick++));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-mem-'));
  const yaml = join(dir, 'node.yaml');
  writeFileSync(
    yaml,
    [
      'node: {id: mem, site: bench}',
      'mqtt: {url: "mqtt://127.0.0.1:1"}', // nothing listens there: memory of collecting, not of sending
      `dataDir: ${dir}`,
      'http: {port: 0}',
      'critical: [{match: "sensor_value{bank=\\"b0\\"}"}]',
      'collectors:',
      `  - {type: prometheus, url: "http://127.0.0.1:${port}/metrics", interval: 500ms}`,
      '',
    ].join('\n'),
  );
  const agent = runFieldmesh(['node', '--config', yaml]);
  try {
    const [, url] = await agent.waitForOutput(/HTTP (http:\/\/\S+)/);
    await waitFor(
      async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        const m = /fieldmesh_agent_local_series\{[^}]*\} (\d+)/.exec(text);
        return m !== null && Number(m[1]) >= series;
      },
      { timeoutMs: 20_000, what: `${series} local series` },
    );
    // Let a few more scrapes run so the figure is the steady state, not the first allocation.
    const scrapes = tick + 10;
    await waitFor(() => tick >= scrapes, { timeoutMs: 30_000, what: 'ten more scrapes' });
    return rssOf(agent.pid);
  } finally {
    agent.kill('SIGTERM');
    await agent.exited();
    server.close();
  }
}

export async function benchAgentMemory(series = 1_000): Promise<AgentMemoryResult> {
  const idleRssBytes = await agentRss(1);
  const rssBytes = await agentRss(series);
  return { series, rssBytes, idleRssBytes, bytesPerSeries: Math.round((rssBytes - idleRssBytes) / series) };
}
