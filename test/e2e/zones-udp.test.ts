// End to end through the built binary, with no broker anywhere: three `fieldmesh node` processes with
// `mqtt.enabled: false` and the awareness plane on UDP multicast (loopback) run one zone over zone
// datagrams on the same segment. Fire pushed over HTTP (`kind: detection`) to the cameras of two nodes
// starts both pumps on the third: a simulated one and a command-driver one (a shell script that keeps
// the relay's state in a file, the shape of docs/consensus.md "Drivers"), whose read-back says running.
// The other nodes learn the pump states from its pumpState datagrams; the owner's /metrics show the UDP
// link's frames and the decision latency.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ZoneStatus } from '../../src/agent/zones/zone-engine.js';
import { type FieldmeshProcess, fieldmeshKilledAfter } from '../kit/fieldmesh-process.js';
import { nodeFleet, nodeMetric } from '../kit/node-api.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const start = fieldmeshKilledAfter();
const PUSH_TOKEN = 'zones-udp-push-token';
const ZONE_TOKEN = 'zones-udp-commands-token';
const NODES = ['edge-a', 'edge-b', 'edge-c'];

/** The relay stand-in: on|off writes the state file, get prints it; every call is logged with what it saw. */
function relayScript(dir: string): { script: string; state: string; log: string } {
  const state = join(dir, 'relay.state');
  const log = join(dir, 'relay.log');
  const script = join(dir, 'relay.sh');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      `STATE='${state}' LOG='${log}'`,
      'case "$1" in',
      '  on|off) echo "$1" > "$STATE"; echo "$1" >> "$LOG" ;;',
      '  get) s=$(cat "$STATE" 2>/dev/null || echo off); echo "get $s" >> "$LOG"; echo "$s" ;;',
      '  *) echo "usage: $0 on|off|get" >&2; exit 2 ;;',
      'esac',
      '',
    ].join('\n'),
  );
  return { script, state, log };
}

function zones(script: string): unknown[] {
  return [
    {
      id: 'north',
      voters: NODES,
      cameras: [
        { id: 'cam-a', node: 'edge-a' },
        { id: 'cam-b', node: 'edge-b' },
      ],
      pumps: [
        { id: 'pump-sim', node: 'edge-c', driver: { type: 'sim' } },
        {
          id: 'pump-relay',
          node: 'edge-c',
          driver: { type: 'command', start: ['sh', script, 'on'], stop: ['sh', script, 'off'], read: ['sh', script, 'get'], timeout: '5s' },
        },
      ],
      policy: { window: '60s', minCameras: 2, minNodes: 2, threshold: 1, voteTtl: '3s' },
    },
  ];
}

async function startNodes(dir: string, udp: string, script: string): Promise<{ procs: FieldmeshProcess[]; urls: Map<string, string> }> {
  const procs: FieldmeshProcess[] = [];
  for (const id of NODES) {
    const path = join(dir, `${id}.yaml`);
    writeFileSync(
      path,
      [
        `node: {id: ${id}, site: ranch}`,
        'mqtt: {enabled: false}',
        `dataDir: ${dir}`,
        'http: {port: 0}',
        'publish: {tick: 200ms, heartbeat: 1s}',
        `awareness: ${udp}`,
        `collectors: [{type: http_push, token: ${PUSH_TOKEN}}]`,
        `zoneCommands: {token: ${ZONE_TOKEN}}`,
        `zones: ${JSON.stringify(zones(script))}`,
        '',
      ].join('\n'),
    );
    procs.push(start(['node', '--config', path]));
  }
  const urls = new Map<string, string>();
  await Promise.all(procs.map(async (p, i) => urls.set(NODES[i] as string, (await p.waitForOutput(/HTTP (http:\/\/\S+)/))[1] as string)));
  return { procs, urls };
}

async function zoneStatus(url: string): Promise<ZoneStatus> {
  const res = await fetch(`${url}/api/v1/zones/north`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { data: ZoneStatus }).data;
}

async function detect(url: string, camera: string): Promise<void> {
  const res = await fetch(`${url}/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${PUSH_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'detection', camera, class: 'fire', confidence: 0.9 }),
  });
  assert.equal(res.status, 200, await res.text());
}

/** UDP multicast on loopback, on a free port and a group of its own. */
async function loopbackUdp(): Promise<string> {
  const port = await freePort();
  return `{transport: udp, udp: {port: ${port}, interface: 127.0.0.1, group: 239.255.71.${(port % 200) + 20}}}`;
}

test('e2e zones over UDP multicast without a broker: cameras on two nodes start both pumps on the third', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-zones-udp-'));
  const relay = relayScript(dir);
  const { procs, urls } = await startNodes(dir, await loopbackUdp(), relay.script);
  const url = (id: string) => urls.get(id) as string;
  try {
    // Every node holds the other two alive on the segment (the awareness plane) before any fire; a quiet
    // zone sends nothing, so the zone itself has heard nobody yet.
    for (const id of NODES) {
      await waitFor(async () => (await nodeFleet(url(id))).data.nodes.filter((n) => n.state === 'alive').length === 3, {
        timeoutMs: 15_000,
        what: `${id} holding the others alive`,
      });
    }
    const quiet = await zoneStatus(url('edge-c'));
    assert.deepEqual(
      quiet.pumps.map((p) => [p.id, p.running]),
      [
        ['pump-sim', false],
        ['pump-relay', false],
      ],
    );

    // One camera is not enough (the policy asks for two cameras on two nodes).
    await detect(url('edge-a'), 'cam-a');
    await waitFor(async () => (await zoneStatus(url('edge-c'))).detections.length === 1, { what: 'edge-c holding the first detection' });
    assert.equal(
      (await zoneStatus(url('edge-c'))).pumps.some((p) => p.running),
      false,
    );

    await detect(url('edge-b'), 'cam-b');
    const started = await waitFor(
      async () => {
        const s = await zoneStatus(url('edge-c'));
        return s.pumps.every((p) => p.running) ? s : undefined;
      },
      { timeoutMs: 15_000, what: 'both pumps running on edge-c' },
    );
    for (const p of started.pumps) assert.equal(p.cause, 'majority', p.id);
    assert.ok(started.majorityVisible);
    assert.ok(started.decisions.some((d) => d.kind === 'majority'));
    const relayView = started.pumps.find((p) => p.id === 'pump-relay')?.view;
    assert.equal(relayView?.state, 'running');

    // The relay: switched on by the driver, then read back as on (a read of "off" would be a mismatch).
    await waitFor(() => readFileSync(relay.log, 'utf8').includes('get on'), { what: 'the read-back after the start' });
    assert.equal(readFileSync(relay.state, 'utf8').trim(), 'on');
    const log = readFileSync(relay.log, 'utf8').trim().split('\n');
    assert.ok(log.indexOf('on') >= 0 && log.indexOf('get on') > log.indexOf('on'), log.join(' | '));
    assert.equal((await zoneStatus(url('edge-c'))).pumps.find((p) => p.id === 'pump-relay')?.view?.mismatch, null);

    // The voters learn the pumps' state from the owner's pumpState datagrams.
    for (const id of ['edge-a', 'edge-b']) {
      await waitFor(async () => (await zoneStatus(url(id))).pumps.every((p) => p.running), { what: `${id} seeing both pumps run` });
    }

    // The owner's /metrics: frames heard on the UDP link, none through a broker, the decision and its latency.
    const c = url('edge-c');
    assert.ok(((await nodeMetric(c, 'fieldmesh_zone_frames_received_total', 'link="udp",type="vote"')) ?? 0) > 0);
    assert.ok(((await nodeMetric(c, 'fieldmesh_zone_frames_received_total', 'link="udp",type="detection"')) ?? 0) > 0);
    assert.equal(await nodeMetric(c, 'fieldmesh_zone_frames_received_total', 'link="mqtt"'), undefined, 'no broker, no mqtt frames');
    assert.equal(await nodeMetric(c, 'fieldmesh_zone_majority_held', 'zone="north"'), 1);
    assert.equal(await nodeMetric(c, 'fieldmesh_pump_running', 'pump="pump-relay"'), 1);
    assert.equal(await nodeMetric(c, 'fieldmesh_pump_starts_total', 'pump="pump-sim",cause="majority"'), 1);
    assert.equal(await nodeMetric(c, 'fieldmesh_zone_decision_latency_seconds_count', 'pump="pump-sim"'), 1);
    assert.equal(await nodeMetric(c, 'fieldmesh_zone_participation_ratio', 'zone="north"'), 1);
    assert.equal(await nodeMetric(c, 'fieldmesh_zone_frames_rejected_total', 'link="udp"'), undefined, 'nothing refused');
  } finally {
    for (const p of procs) p.kill('SIGTERM');
  }
  for (const p of procs) assert.equal(await p.exited(), 0, p.stderr());
});
