// A small real fleet for the console's browser tests: a real Mosquitto, a hub process with login on
// (an operator and a viewer) and short alert windows, and two sites of two node processes each that a
// test can kill and start again.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FieldmeshProcess, runFieldmesh } from './fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from './mosquitto.js';
import { freePort } from './ports.js';

export const USERS = {
  operator: { name: 'olga', password: 'operator-password-1' },
  viewer: { name: 'vic', password: 'viewer-password-1' },
} as const;

export interface ConsoleNode {
  readonly site: string;
  readonly node: string;
  readonly yaml: string;
  process: FieldmeshProcess | undefined;
}

export interface ConsoleFleet {
  readonly hubUrl: string;
  readonly nodes: readonly ConsoleNode[];
  /** Starts a node's process and waits for its banner. */
  start(n: ConsoleNode): Promise<void>;
  /** SIGKILL: the broker sends its will, the hub marks it offline at once. */
  kill(n: ConsoleNode): Promise<void>;
  stop(): Promise<void>;
}

/** The bearer token of every console node's `http_push` collector. */
export const PUSH_TOKEN = 'console-push-token';

export const SITES = {
  'north-farm': { name: 'North farm', lat: 52.1, lon: 5.2 },
  'south-farm': { name: 'South farm', lat: 51.4, lon: 5.6 },
} as const;

async function runUntilExit(args: string[], stdin: string): Promise<void> {
  const p = runFieldmesh(args, {}, stdin);
  const code = await p.exited();
  if (code !== 0) throw new Error(`fieldmesh ${args.join(' ')} exited ${code}: ${p.stderr()}`);
}

/** A console user of a role, as `fieldmesh hub user add` makes it. */
export interface ConsoleUser {
  readonly name: string;
  readonly password: string;
}

/**
 * A hub.yaml for a browser test: the broker, a free port, storage in `dir`, login on, then `extra` lines;
 * every user of `users` added with `fieldmesh hub user add` (its role the key). Returns the file's path.
 */
export async function writeConsoleHub(
  dir: string,
  mqttUrl: string,
  extra: readonly string[],
  users: Readonly<Partial<Record<'viewer' | 'operator' | 'admin', ConsoleUser>>>,
): Promise<string> {
  const hubYaml = join(dir, 'hub.yaml');
  writeFileSync(
    hubYaml,
    [
      `mqtt: {url: "${mqttUrl}"}`,
      `http: {port: ${await freePort()}}`,
      `storage: {path: ${join(dir, 'hub.db')}}`,
      `dataDir: ${dir}`,
      'auth: {mode: "on"}',
      ...extra,
      '',
    ].join('\n'),
  );
  for (const [role, u] of Object.entries(users)) {
    await runUntilExit(
      ['hub', 'user', 'add', '--config', hubYaml, '--name', u.name, '--role', role, '--password-stdin'],
      `${u.password}\n`,
    );
  }
  return hubYaml;
}

/** `siteOfflineFor`: the SiteOffline window, shortened for the test. */
export async function startConsoleFleet(options: { siteOfflineFor?: string } = {}): Promise<ConsoleFleet> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-console-'));
  const mosquitto: MosquittoInstance = await startMosquitto();
  const sites = Object.entries(SITES)
    .map(([id, s]) => `  - {id: ${id}, name: "${s.name}", lat: ${s.lat}, lon: ${s.lon}}`)
    .join('\n');
  const hubYaml = await writeConsoleHub(
    dir,
    mosquitto.url,
    [
      'alerts:',
      '  evaluationInterval: 1s',
      '  builtins:',
      '    nodeDown: {for: 2s}',
      `    siteOffline: {for: ${options.siteOfflineFor ?? '4s'}}`,
      'sites:',
      sites,
    ],
    USERS,
  );
  const hub = runFieldmesh(['hub', '--config', hubYaml]);
  const [, hubUrl] = await hub.waitForOutput(/console (http:\/\/\S+?)\/?\s/);

  const nodes: ConsoleNode[] = [];
  let index = 0;
  for (const site of Object.keys(SITES)) {
    for (const node of ['bess-01', 'bess-02']) {
      const yaml = join(dir, `${site}-${node}.yaml`);
      writeFileSync(
        yaml,
        [
          `node: {id: ${node}, site: ${site}, zone: bank-a}`,
          `mqtt: {url: "${mosquitto.url}"}`,
          `dataDir: ${join(dir, `${site}-${node}`)}`,
          'http: {port: 0}',
          'publish: {tick: 500ms, heartbeat: 1s}',
          'critical: [{match: battery_soc}, {match: dc_voltage, deadband: 0.05}, {match: panel_temp}]',
          // Each node also takes pushes (PUSH_TOKEN), for values stamped at a time of the test's choosing.
          `collectors: [{type: sim_battery, index: ${index++}, interval: 500ms}, {type: http_push, token: ${PUSH_TOKEN}}]`,
          '',
        ].join('\n'),
      );
      nodes.push({ site, node, yaml, process: undefined });
    }
  }
  const fleet: ConsoleFleet = {
    hubUrl: hubUrl as string,
    nodes,
    async start(n) {
      n.process = runFieldmesh(['node', '--config', n.yaml]);
      await n.process.waitForOutput(/fieldmesh node \S+ \(boot \d+\)/);
    },
    async kill(n) {
      n.process?.kill('SIGKILL');
      await n.process?.exited();
      n.process = undefined;
    },
    async stop() {
      for (const n of nodes) n.process?.kill('SIGKILL');
      await Promise.all(nodes.map((n) => n.process?.exited()));
      hub.kill('SIGTERM');
      await hub.exited();
      await mosquitto.stop();
    },
  };
  await Promise.all(nodes.map((n) => fleet.start(n)));
  return fleet;
}

/**
 * Starts a node process for a browser test: node.yaml in `dir` (its data under `dir/<id>`, the API on a free
 * loopback port, a 500 ms tick and 1 s heartbeat), waiting for its banner. The caller stops it.
 */
export async function startConsoleNode(
  dir: string,
  mqttUrl: string,
  node: { readonly id: string; readonly site: string; readonly zone: string },
): Promise<FieldmeshProcess> {
  const yaml = join(dir, `${node.id}.yaml`);
  writeFileSync(
    yaml,
    [
      `node: {id: ${node.id}, site: ${node.site}, zone: ${node.zone}}`,
      `mqtt: {url: "${mqttUrl}"}`,
      `dataDir: ${join(dir, node.id)}`,
      'http: {host: 127.0.0.1, port: 0}',
      'publish: {tick: 500ms, heartbeat: 1s}',
      '',
    ].join('\n'),
  );
  const p = runFieldmesh(['node', '--config', yaml]);
  try {
    await p.waitForOutput(/fieldmesh node \S+ \(boot \d+\)/);
  } catch (err) {
    p.kill('SIGKILL');
    throw err;
  }
  return p;
}

/** What a console test started, as far as it got: stopped in reverse (browser, nodes by SIGKILL, hub, broker), then `dir` deleted. */
export interface ConsoleStack {
  readonly browser?: { close(): Promise<void> } | undefined;
  readonly nodes: readonly FieldmeshProcess[];
  readonly hub?: FieldmeshProcess | undefined;
  readonly mosquitto?: MosquittoInstance | undefined;
  readonly dir?: string | undefined;
}

export async function stopConsoleStack(s: ConsoleStack): Promise<void> {
  await s.browser?.close();
  for (const p of s.nodes) p.kill('SIGKILL');
  await Promise.all(s.nodes.map((p) => p.exited()));
  s.hub?.kill('SIGTERM');
  await s.hub?.exited();
  await s.mosquitto?.stop();
  if (s.dir !== undefined) rmSync(s.dir, { recursive: true, force: true });
}
