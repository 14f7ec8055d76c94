// End to end through the built binary, with no broker anywhere: three `fieldmesh node` processes with
// `mqtt.enabled: false` and the awareness plane on UDP multicast (loopback) run one zone over zone
// datagrams on the same segment. Fire pushed over HTTP (`kind: detection`) to the cameras of two nodes
// starts both pumps on the third: a simulated one and a command-driver one (a shell script that keeps
// the relay's state in a file, the shape of docs/consensus.md "Drivers"), whose read-back says running.
// The other nodes learn the pump states from its pumpState datagrams; the owner's /metrics show the UDP
// link's frames and the decision latency.
//
// A second fleet of three (test/kit/zone-fleet.ts on loopback UDP) proves the envelope over the same link: the
// runtime limit stops a pump while the fire holds, and an operator's emergency stop posted to a node that does
// not own the pump reaches its owner as a zone datagram and holds against the renewed votes until cleared.
// The 2/2 split runs in network namespaces: zones-udp-split.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ZoneStatus } from '../../src/agent/zones/zone-engine.js';
import { type FieldmeshProcess, fieldmeshKilledAfter } from '../kit/fieldmesh-process.js';
import { nodeFleet, nodeMetric } from '../kit/node-api.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';
import { type AuditEvent, startZoneFleet, viewOf, type ZoneFleet } from '../kit/zone-fleet.js';

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

/** Votes live 1.5 s (renewed about every second at 200 ms ticks); detections count 20 s. */
const POLICY = { window: '20s', minCameras: 2, minNodes: 2, threshold: 1, voteTtl: '1500ms', maxClockSkew: '500ms', cooldown: '1s' };
const VOTERS = ['n1', 'n2', 'n3'];

function pumpAudit(events: readonly AuditEvent[], pump: string, kind: string): AuditEvent[] {
  return events.filter((e) => e.kind === kind && e.payload.pump === pump);
}

describe('e2e zones over UDP multicast without a broker: the envelope', () => {
  let fleet: ZoneFleet | undefined;
  const f = () => fleet as ZoneFleet;

  before(async () => {
    const port = await freePort();
    const zone = (id: string, pump: Record<string, unknown>) => ({
      id,
      voters: VOTERS,
      cameras: ['n1', 'n2'].map((n) => ({ id: `${n}-${id}`, node: n })),
      pumps: [{ node: 'n3', driver: { type: 'sim' }, ...pump }],
      policy: POLICY,
    });
    fleet = await startZoneFleet({
      nodes: VOTERS,
      udp: { group: `239.255.72.${(port % 200) + 20}`, port },
      zones: [
        zone('limit', { id: 'pump-limit', envelope: { maxRuntime: '3s', atMaxRuntime: 'stop', minOff: '4s' } }),
        zone('guard', { id: 'pump-guard', envelope: { minOff: '1s' } }),
      ],
    });
  });
  after(() => fleet?.stop());

  test('the runtime limit stops a pump at maxRuntime while the fire holds; min off defers the renewed demand', async () => {
    await f().detect('n1', 'n1-limit', 0.9);
    await f().detect('n2', 'n2-limit', 0.9);
    const running = await f().until('n3', 'limit', (x) => x.pumps[0]?.running === true, 'pump-limit runs');
    const start = viewOf(running.pumps[0]).lastStart;
    assert.deepEqual([start?.cause, start?.by], ['majority', 'zone:limit@0']);
    const stopped = await f().until(
      'n3',
      'limit',
      (x) => viewOf(x.pumps[0]).lastStop?.reason === 'max-runtime',
      'pump-limit stopped at its limit',
      8_000,
    );
    const v = viewOf(stopped.pumps[0]);
    assert.deepEqual([v.state, v.cause, v.lastStop?.by], ['stopped', null, 'envelope']);
    const ran = (v.lastStop?.at ?? 0) - (start?.at ?? 0);
    assert.ok(ran >= 3_000 && ran < 3_500, `stopped ${ran} ms after its start (maxRuntime 3 s)`);
    assert.deepEqual(
      [stopped.evaluation?.fire, stopped.voting, stopped.majorityVisible],
      [true, true, true],
      'the fire and the votes hold',
    );
    const stopAt = v.lastStop?.at as number;
    // The votes keep coming over UDP: the renewed demand waits for the end of min off (4 s), exactly.
    const waiting = await f().until('n3', 'limit', (x) => viewOf(x.pumps[0]).pendingStartAt !== null, 'a renewed demand waits for min off');
    assert.deepEqual([viewOf(waiting.pumps[0]).state, viewOf(waiting.pumps[0]).pendingStartAt], ['stopped', stopAt + 4_000]);
    // The other voters learn the stop from the owner's pumpState datagram.
    for (const n of ['n1', 'n2']) {
      const s = await f().until(n, 'limit', (x) => x.pumps[0]?.running === false, `${n} hears pump-limit stopped`);
      assert.equal(s.voting, true, `${n} still votes`);
    }
    const audit = await f().auditUntil('n3', (a) => pumpAudit(a, 'pump-limit', 'pump_runtime_limit').length === 1, 'the limit record');
    const [limit] = pumpAudit(audit, 'pump-limit', 'pump_runtime_limit');
    assert.match(String(limit?.payload.detail), /^ran 3\d{3}(\.\d+)? ms of 3000: stopped$/);
    const [stop] = pumpAudit(audit, 'pump-limit', 'pump_stopped');
    assert.deepEqual(stop && [stop.payload.action, stop.payload.by, stop.priority], ['max-runtime', 'envelope', 'critical']);
    assert.equal(pumpAudit(audit, 'pump-limit', 'pump_started').length, 1, 'one run so far');
  });

  test("an operator's emergency stop posted to a node that does not own the pump reaches its owner over UDP and wins until cleared", async () => {
    await f().detect('n1', 'n1-guard', 0.9);
    await f().detect('n2', 'n2-guard', 0.9);
    await f().until('n3', 'guard', (x) => x.pumps[0]?.running === true, 'pump-guard runs');
    assert.equal((await f().command('n1', 'guard', 'pump-guard', 'estop', { token: null })).status, 401);
    assert.equal((await f().pump('n3', 'guard', 'pump-guard')).running, true, 'a refused command changed nothing');
    const commandsHeard = async () =>
      (await nodeMetric(f().node('n3').url, 'fieldmesh_zone_frames_received_total', 'link="udp",type="command"')) ?? 0;
    const heardBefore = await commandsHeard();

    // The red button on n1 (no pump of its own): the command goes out as a zone datagram to the owner, n3.
    const estop = await f().command('n1', 'guard', 'pump-guard', 'estop', { operator: 'olga' });
    assert.equal(estop.status, 202);
    const latched = await f().until('n3', 'guard', (x) => viewOf(x.pumps[0]).state === 'estop', 'pump-guard latched');
    const v = viewOf(latched.pumps[0]);
    assert.deepEqual([v.cause, v.lastStop?.reason, v.lastStop?.by], [null, 'estop', 'api:olga']);
    const latchedAt = v.lastStop?.at as number;
    assert.equal(await commandsHeard(), heardBefore + 1, 'one command datagram heard on the UDP link');

    // The votes keep coming: every renewal's demand is refused while the latch holds.
    const refusedDemands = () =>
      pumpAudit(f().audit('n3'), 'pump-guard', 'pump_demand').filter(
        (e) => (e.payload.at as number) > latchedAt && e.payload.outcome === 'refused' && String(e.payload.detail).startsWith('estop:'),
      );
    await waitFor(
      async () => {
        const s = await f().status('n3', 'guard');
        assert.equal(viewOf(s.pumps[0]).state, 'estop', 'the latch holds');
        return refusedDemands().length >= 3;
      },
      { timeoutMs: 8_000, intervalMs: 50, what: 'three renewed demands refused by the latch' },
    );
    const during = await f().status('n3', 'guard');
    assert.deepEqual([during.voting, during.evaluation?.fire, viewOf(during.pumps[0]).state], [true, true, 'estop']);
    // n1 learns the stop from the owner's pumpState datagram.
    await f().until('n1', 'guard', (x) => x.pumps[0]?.running === false, 'n1 hears the pump stopped');

    // Cleared from n2, over UDP too; the majority's next renewal starts the pump again.
    const clearedAt = Date.now();
    assert.equal((await f().command('n2', 'guard', 'pump-guard', 'clear', { operator: 'olga' })).status, 202);
    const again = await f().until('n3', 'guard', (x) => x.pumps[0]?.running === true, 'pump-guard runs again after clear');
    const w = viewOf(again.pumps[0]);
    assert.equal(w.cause, 'majority');
    assert.ok((w.lastStart?.at as number) >= clearedAt, 'no start between the estop and its clear');

    const audit = await f().auditUntil('n3', (a) => pumpAudit(a, 'pump-guard', 'pump_started').length === 2, 'the start after clear');
    assert.deepEqual(
      pumpAudit(audit, 'pump-guard', 'pump_command').map((e) => [e.payload.action, e.payload.by, e.payload.outcome]),
      [
        ['estop', 'api:olga', 'accepted'],
        ['clear', 'api:olga', 'accepted'],
      ],
    );
    const starts = pumpAudit(audit, 'pump-guard', 'pump_started').map((e) => e.payload.at as number);
    assert.ok((starts[0] as number) < latchedAt && (starts[1] as number) >= clearedAt, `starts at ${starts}: none while latched`);
    const from = audit.filter((e) => e.kind === 'zone_command' && e.payload.zone === 'guard').map((e) => e.payload.from);
    assert.deepEqual(from, ['n1', 'n2'], 'both commands came from other nodes over the zone link');
  });
});
