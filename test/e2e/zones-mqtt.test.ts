// Zone consensus end to end: real `fieldmesh node` processes, their zone link through a real Mosquitto
// (`<prefix>/<site>/<node>/zone/<zone>`), detections pushed over HTTP, pumps driven by the simulated driver, a
// shell script (the command driver) and an MQTT relay the test plays. Every state and cause is read from
// the nodes' API (`GET /api/v1/zones/:zone`) and their outbox (the audit the hub receives).
//
// One fleet of three voters (n1, n2, n3) carries a zone per proof, each with its own cameras and pumps, so
// the proofs run one after the other on one set of processes; the kill -9 proof runs last. The 2/2 split
// runs on four nodes and two brokers. What this proves is listed in docs/consensus.md, "What the tests
// prove".
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import type { MosquittoInstance } from '../kit/mosquitto.js';
import { waitFor } from '../kit/wait.js';
import { type AuditEvent, startZoneFleet, viewOf, type ZoneFleet } from '../kit/zone-fleet.js';

/** Short ticks and windows: a vote lives 1.5 s and is renewed about every second; detections count 20 s. */
const POLICY = { window: '20s', minCameras: 2, minNodes: 2, threshold: 1, voteTtl: '1500ms', maxClockSkew: '500ms', cooldown: '1s' };
const VOTERS = ['n1', 'n2', 'n3'];

/** A zone of the three voters with two cameras (`<node>-<zone>`) and its pumps. */
function zone(id: string, cameraNodes: readonly string[], pumps: readonly unknown[], extra: Record<string, unknown> = {}) {
  return { id, voters: VOTERS, cameras: cameraNodes.map((n) => ({ id: `${n}-${id}`, node: n })), pumps, policy: POLICY, ...extra };
}

/** The relay script of the command driver: the documented gpioset script's shape, its line a state file. */
const RELAY_SCRIPT = `#!/bin/sh
# relay STATE on|off|get: a relay whose line is the file STATE (1 on, 0 off). STATE.welded: off does nothing.
set -eu
case "$2" in
  on) echo 1 > "$1" ;;
  off) [ -e "$1.welded" ] || echo 0 > "$1" ;;
  get) cat "$1" 2>/dev/null || echo unknown ;;
  *) echo "usage: $0 STATE on|off|get" >&2; exit 2 ;;
esac
`;

function commandDriver(script: string, state: string) {
  return { type: 'command', start: [script, state, 'on'], stop: [script, state, 'off'], read: [script, state, 'get'], timeout: '2s' };
}

/** Pump records of `pump` in a node's audit, of one kind (`pump_started`, ...). */
function pumpAudit(events: readonly AuditEvent[], pump: string, kind: string): AuditEvent[] {
  return events.filter((e) => e.kind === kind && e.payload.pump === pump);
}

/**
 * The relay board behind the MQTT driver: answers every `gpio/pump/<id>` command with its state on
 * `gpio/pump/<id>/state` and holds it (a latching relay: it keeps running while its node is down).
 */
interface RelayBoard {
  readonly client: MqttClient;
  readonly received: { pump: string; payload: string; retain: boolean }[];
  readonly state: Map<string, string>;
  /** Pumps whose relay is stuck on: it answers ON whatever it is told. */
  readonly stuck: Set<string>;
}

async function startRelayBoard(broker: MosquittoInstance): Promise<RelayBoard> {
  const client = await connectAsync(broker.url, { clientId: 'relay-board', reconnectPeriod: 200 });
  const board: RelayBoard = { client, received: [], state: new Map(), stuck: new Set() };
  client.on('message', (topic, payload, packet) => {
    const pump = topic.split('/')[2] as string;
    const text = payload.toString('utf8');
    board.received.push({ pump, payload: text, retain: packet.retain });
    const state = board.stuck.has(pump) ? 'ON' : text;
    board.state.set(pump, state);
    client.publish(`${topic}/state`, state, { qos: 1 });
  });
  await client.subscribeAsync('gpio/pump/+', { qos: 1 });
  return board;
}

describe('zones over a real Mosquitto, three node processes', () => {
  let fleet: ZoneFleet;
  let board: RelayBoard | undefined;
  let relayState: string;
  let holdState: string;

  before(async () => {
    const scriptDir = mkdtempSync(join(tmpdir(), 'fm-zone-relay-'));
    const script = join(scriptDir, 'relay');
    writeFileSync(script, RELAY_SCRIPT);
    chmodSync(script, 0o755);
    relayState = join(scriptDir, 'relay-17');
    holdState = join(scriptDir, 'relay-27');
    fleet = await startZoneFleet({
      nodes: VOTERS,
      zones: [
        // 1. A fire in north also starts east's pump (activates); east's own cameras see nothing.
        {
          id: 'north',
          voters: VOTERS,
          cameras: [
            { id: 'n1-north-a', node: 'n1' },
            { id: 'n1-north-b', node: 'n1' },
            { id: 'n2-north', node: 'n2' },
          ],
          pumps: [{ id: 'pump-north', node: 'n3', driver: { type: 'sim' }, envelope: { minOff: '1s' } }],
          overlaps: ['east'],
          policy: { ...POLICY, activates: ['east'] },
        },
        zone('east', ['n2', 'n3'], [{ id: 'pump-east', node: 'n2', driver: { type: 'sim' }, envelope: { minOff: '1s' } }], {
          overlaps: ['north'],
        }),
        // 3. The runtime limit.
        zone(
          'limit',
          ['n1', 'n2'],
          [{ id: 'pump-limit', node: 'n3', driver: { type: 'sim' }, envelope: { maxRuntime: '3s', atMaxRuntime: 'stop', minOff: '4s' } }],
        ),
        // 4. The emergency stop.
        zone('guard', ['n1', 'n2'], [{ id: 'pump-guard', node: 'n3', driver: { type: 'sim' }, envelope: { minOff: '1s' } }]),
        // 5. The command driver and the MQTT driver.
        zone(
          'relay',
          ['n1', 'n3'],
          [{ id: 'pump-cmd', node: 'n2', driver: commandDriver(script, relayState), envelope: { minOff: '1m' } }],
        ),
        zone('tank', ['n2', 'n3'], [{ id: 'pump-mqtt', node: 'n1', driver: { type: 'mqtt' }, envelope: { minOff: '1m' } }]),
        // 6. kill -9 of the owner of a latching MQTT relay (keep-running) and of a script relay (stop).
        zone(
          'reservoir',
          ['n1', 'n2'],
          [
            {
              id: 'pump-keep',
              node: 'n3',
              driver: { type: 'mqtt' },
              envelope: { maxRuntime: '6s', atMaxRuntime: 'stop', minOff: '1m', onRestart: 'keep-running' },
            },
            { id: 'pump-hold', node: 'n3', driver: commandDriver(script, holdState), envelope: { minOff: '1m', onRestart: 'stop' } },
          ],
        ),
      ],
      beforeNodes: async (brokers) => {
        board = await startRelayBoard(brokers[0] as MosquittoInstance);
      },
    });
  });

  after(async () => {
    await fleet?.stop();
    await board?.client.endAsync();
  });

  test('a fire seen by two cameras of one node starts nothing; a second node makes a majority: the pump runs, and the overlapping zone runs per its policy', async () => {
    await fleet.detect('n1', 'n1-north-a', 0.95);
    await fleet.detect('n1', 'n1-north-b', 0.9);
    const pushedAt = Date.now();
    // Every voter holds both detections and has judged them over many ticks since.
    for (const n of VOTERS) {
      const s = await fleet.until(
        n,
        'north',
        (x) => x.detections.length === 2 && (x.evaluation?.at ?? 0) >= pushedAt + 2_000,
        'both detections of n1 judged for 2 s',
      );
      assert.equal(s.evaluation?.fire, false);
      assert.deepEqual(s.evaluation?.missing, ['1 of 2 nodes'], 'two cameras, one node: the policy asks for two nodes');
      assert.equal(s.voting, false, `${n} does not vote`);
      assert.deepEqual(
        s.pumps.map((p) => [p.id, p.running]),
        [['pump-north', false]],
      );
    }
    for (const n of VOTERS) assert.deepEqual(fleet.audit(n, ['zone_vote', 'zone_majority', 'pump_started']), [], `${n}: no vote, no start`);

    await fleet.detect('n2', 'n2-north', 0.9);
    const north = await fleet.until('n3', 'north', (x) => x.pumps[0]?.running === true, 'pump-north runs');
    const view = viewOf(north.pumps[0]);
    assert.equal(view.state, 'running');
    assert.equal(view.cause, 'majority');
    assert.deepEqual(view.lastStart && { cause: view.lastStart.cause, by: view.lastStart.by }, { cause: 'majority', by: 'zone:north@0' });
    const east = await fleet.until('n2', 'east', (x) => x.pumps[0]?.running === true, 'pump-east runs by overlap');
    assert.equal(viewOf(east.pumps[0]).cause, 'overlap');
    assert.equal(east.evaluation?.fire, false, "east's own cameras see no fire: its pump runs on north's certificate");
    assert.equal(east.voting, false);
    // A non-owner sees the owner's pump state on the zone link.
    const seen = await fleet.until('n1', 'north', (x) => x.pumps[0]?.running === true, "n1 hears pump-north's state");
    assert.equal(seen.pumps[0]?.cause, 'majority');

    // The audit: the majority with its votes and detections, then the starts, each by its certificate.
    const n3 = await fleet.auditUntil(
      'n3',
      (a) => a.some((e) => e.kind === 'zone_majority') && pumpAudit(a, 'pump-north', 'pump_started').length === 1,
      'the majority and the start',
    );
    const n2 = await fleet.auditUntil('n2', (a) => pumpAudit(a, 'pump-east', 'pump_started').length === 1, 'the overlap start');
    const majority = n3.find((e) => e.kind === 'zone_majority');
    assert.equal(majority?.priority, 'critical');
    const votes = majority?.payload.votes as { voter: string }[];
    assert.ok(new Set(votes.map((v) => v.voter)).size >= 2, `a majority of 3 is 2 distinct voters: ${JSON.stringify(votes)}`);
    assert.deepEqual(((majority?.payload.detections ?? []) as string[]).map((d) => d.split(':').slice(0, 2).join(':')).sort(), [
      'n1:n1-north-a',
      'n1:n1-north-b',
      'n2:n2-north',
    ]);
    const [started] = pumpAudit(n3, 'pump-north', 'pump_started');
    assert.deepEqual(started && { action: started.payload.action, by: started.payload.by, priority: started.priority }, {
      action: 'majority',
      by: 'zone:north@0',
      priority: 'critical',
    });
    const [overlap] = pumpAudit(n2, 'pump-east', 'pump_started');
    assert.deepEqual(overlap && { action: overlap.payload.action, by: overlap.payload.by }, { action: 'overlap', by: 'zone:north@0' });
    const eastMajority = n2.find((e) => e.kind === 'zone_majority' && e.payload.zone === 'north');
    assert.deepEqual(eastMajority?.payload.pumps, ['pump-east'], "n2 counts north's votes for the pump north activates");
  });

  test('the runtime limit stops a pump at maxRuntime while the fire still holds; min off keeps it stopped', async () => {
    await fleet.detect('n1', 'n1-limit', 0.9);
    await fleet.detect('n2', 'n2-limit', 0.9);
    const running = await fleet.until('n3', 'limit', (x) => x.pumps[0]?.running === true, 'pump-limit runs');
    const start = viewOf(running.pumps[0]).lastStart;
    assert.equal(start?.cause, 'majority');
    const stopped = await fleet.until(
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
    assert.equal(stopped.evaluation?.fire, true, 'the fire still holds');
    assert.equal(stopped.voting, true, 'n3 still votes');
    const stopAt = v.lastStop?.at as number;
    // The majority renews; the envelope defers its demand to the end of min off (4 s).
    const waiting = await fleet.until(
      'n3',
      'limit',
      (x) => viewOf(x.pumps[0]).pendingStartAt !== null,
      'a renewed demand waits for min off',
    );
    assert.equal(viewOf(waiting.pumps[0]).state, 'stopped');
    assert.equal(viewOf(waiting.pumps[0]).pendingStartAt, stopAt + 4_000);
    // It starts again only when min off has passed, the fire still holding: the limit bounds one run.
    const again = await fleet.until(
      'n3',
      'limit',
      (x) => (viewOf(x.pumps[0]).lastStart?.at ?? 0) > stopAt,
      'pump-limit runs again after min off',
      8_000,
    );
    const restartedAt = viewOf(again.pumps[0]).lastStart?.at as number;
    assert.ok(restartedAt - stopAt >= 4_000 && restartedAt - stopAt < 4_500, `restarted ${restartedAt - stopAt} ms after the stop`);

    const audit = await fleet.auditUntil('n3', (a) => pumpAudit(a, 'pump-limit', 'pump_started').length === 2, 'the second start');
    // Each start's record is stamped as the driver has started the pump, a moment after lastStart.at.
    const starts = pumpAudit(audit, 'pump-limit', 'pump_started').map((e) => e.payload.at as number);
    assert.equal(starts.length, 2, 'two runs');
    assert.ok((starts[0] as number) < stopAt && (starts[1] as number) >= stopAt + 4_000, `runs started at ${starts}, stop at ${stopAt}`);
    const [limit] = pumpAudit(audit, 'pump-limit', 'pump_runtime_limit');
    assert.match(String(limit?.payload.detail), /^ran 3\d{3}(\.\d+)? ms of 3000: stopped$/);
    const [stop] = pumpAudit(audit, 'pump-limit', 'pump_stopped');
    assert.deepEqual(stop && [stop.payload.action, stop.payload.by, stop.priority], ['max-runtime', 'envelope', 'critical']);
    const deferred = pumpAudit(audit, 'pump-limit', 'pump_demand').filter(
      (e) => (e.payload.at as number) > stopAt && (e.payload.at as number) < restartedAt,
    );
    assert.ok(
      deferred.length >= 1 && deferred.every((e) => /^min off time ends at \d+/.test(String(e.payload.detail))),
      JSON.stringify(deferred),
    );
  });

  test("an operator's emergency stop wins over a holding majority until it is cleared", async () => {
    await fleet.detect('n1', 'n1-guard', 0.9);
    await fleet.detect('n2', 'n2-guard', 0.9);
    await fleet.until('n3', 'guard', (x) => x.pumps[0]?.running === true, 'pump-guard runs');
    // Commands need the token; a bad action or pump is named.
    assert.equal((await fleet.command('n1', 'guard', 'pump-guard', 'estop', { token: null })).status, 401);
    assert.equal((await fleet.command('n1', 'guard', 'pump-guard', 'estop', { token: 'not-the-zone-token-at-all' })).status, 401);
    const bad = await fleet.command('n1', 'guard', 'pump-guard', 'explode');
    assert.deepEqual([bad.status, bad.body.code], [400, 'FM_REQUEST_INVALID']);
    assert.equal((await fleet.command('n1', 'guard', 'pump-nine', 'estop')).status, 404);
    assert.equal((await fleet.pump('n3', 'guard', 'pump-guard')).running, true, 'refused commands changed nothing');

    // The red button on n1: the command travels the zone link to the owner, n3.
    const estop = await fleet.command('n1', 'guard', 'pump-guard', 'estop', { operator: 'olga' });
    assert.equal(estop.status, 202);
    const latched = await fleet.until('n3', 'guard', (x) => viewOf(x.pumps[0]).state === 'estop', 'pump-guard latched');
    const v = viewOf(latched.pumps[0]);
    assert.deepEqual([v.cause, v.lastStop?.reason, v.lastStop?.by], [null, 'estop', 'api:olga']);
    const latchedAt = v.lastStop?.at as number;

    // The votes keep coming: every renewal's demand is refused while the latch holds.
    const refusedDemands = () =>
      pumpAudit(fleet.audit('n3'), 'pump-guard', 'pump_demand').filter(
        (e) => (e.payload.at as number) > latchedAt && e.payload.outcome === 'refused' && String(e.payload.detail).startsWith('estop:'),
      );
    await waitFor(
      async () => {
        const s = await fleet.status('n3', 'guard');
        assert.equal(viewOf(s.pumps[0]).state, 'estop', 'the latch holds');
        return refusedDemands().length >= 3;
      },
      { timeoutMs: 8_000, intervalMs: 50, what: 'three renewed demands refused by the latch' },
    );
    const during = await fleet.status('n3', 'guard');
    assert.deepEqual([during.voting, during.evaluation?.fire, viewOf(during.pumps[0]).state], [true, true, 'estop']);

    const clearedAt = Date.now();
    assert.equal((await fleet.command('n3', 'guard', 'pump-guard', 'clear', { operator: 'olga' })).status, 202);
    // Clearing starts nothing by itself; the majority's next renewal does, after min off (1 s from the estop).
    const again = await fleet.until('n3', 'guard', (x) => x.pumps[0]?.running === true, 'pump-guard runs again after clear');
    const w = viewOf(again.pumps[0]);
    assert.equal(w.cause, 'majority');
    assert.ok((w.lastStart?.at as number) >= clearedAt, 'no start between the estop and its clear');

    const audit = await fleet.auditUntil('n3', (a) => pumpAudit(a, 'pump-guard', 'pump_started').length === 2, 'the start after clear');
    const commands = pumpAudit(audit, 'pump-guard', 'pump_command').map((e) => [e.payload.action, e.payload.by, e.payload.outcome]);
    assert.deepEqual(commands, [
      ['estop', 'api:olga', 'accepted'],
      ['clear', 'api:olga', 'accepted'],
    ]);
    const [stop] = pumpAudit(audit, 'pump-guard', 'pump_stopped');
    assert.deepEqual(stop && [stop.payload.action, stop.payload.by], ['estop', 'api:olga']);
    const fromN1 = audit.find((e) => e.kind === 'zone_command' && e.payload.zone === 'guard' && e.payload.from === 'n1');
    assert.match(String(fromN1?.payload.reason), /^estop by api:olga \(api:olga:\S+\) in epoch 0: accepted \(latched\)$/);
  });

  test('the command driver runs a relay script: the line follows the pump and reads back; a welded relay is a reported mismatch', async () => {
    assert.equal(readFileSync(relayState, 'utf8'), '0\n', 'told off at boot');
    await fleet.detect('n1', 'n1-relay', 0.9);
    await fleet.detect('n3', 'n3-relay', 0.9);
    await fleet.until('n2', 'relay', (x) => x.pumps[0]?.running === true, 'pump-cmd runs');
    // The envelope records the run before it runs the script (a kill in between restarts "running" and resumes
    // or stops by onRestart): the line follows a moment after the API shows the run.
    await waitFor(() => readFileSync(relayState, 'utf8') === '1\n', { what: 'the relay script turned the line on' });
    const v = viewOf(await fleet.pump('n2', 'relay', 'pump-cmd'));
    assert.deepEqual([v.state, v.cause, v.fault, v.mismatch], ['running', 'majority', null, null], 'the read-back agrees: the line is on');
    assert.deepEqual(
      fleet.audit('n2', ['pump_readback', 'pump_fault']).filter((e) => e.payload.pump === 'pump-cmd'),
      [],
    );

    writeFileSync(`${relayState}.welded`, '');
    assert.equal((await fleet.command('n2', 'relay', 'pump-cmd', 'stop', { operator: 'olga' })).status, 202);
    const stopped = await fleet.until('n2', 'relay', (x) => viewOf(x.pumps[0]).mismatch !== null, 'the welded relay is seen');
    const w = viewOf(stopped.pumps[0]);
    assert.deepEqual([w.state, w.lastStop?.reason, w.lastStop?.by], ['stopped', 'manual', 'api:olga']);
    assert.deepEqual(w.mismatch && [w.mismatch.expected, w.mismatch.read], ['stopped', 'running']);
    assert.equal(readFileSync(relayState, 'utf8'), '1\n', 'the line stayed on');
    const [readback] = pumpAudit(
      await fleet.auditUntil('n2', (a) => pumpAudit(a, 'pump-cmd', 'pump_readback').length > 0, 'the read-back'),
      'pump-cmd',
      'pump_readback',
    );
    assert.equal(readback?.payload.detail, 'told stopped, reads running');
  });

  test("the MQTT driver: ON and OFF on gpio/pump/<id>, the relay's state read back; a stuck relay is a reported mismatch", async () => {
    const b = board as RelayBoard;
    const sent = () => b.received.filter((m) => m.pump === 'pump-mqtt').map((m) => [m.payload, m.retain]);
    // At boot the node told the relay off through the broker, without a fault.
    const boot = viewOf(await fleet.pump('n1', 'tank', 'pump-mqtt'));
    assert.deepEqual([boot.state, boot.fault], ['stopped', null]);
    assert.deepEqual(sent(), [['OFF', false]]);
    assert.deepEqual(fleet.audit('n1', ['pump_fault']), [], 'no driver fault at boot');

    await fleet.detect('n2', 'n2-tank', 0.9);
    await fleet.detect('n3', 'n3-tank', 0.9);
    const running = await fleet.until('n1', 'tank', (x) => x.pumps[0]?.running === true, 'pump-mqtt runs');
    assert.equal(viewOf(running.pumps[0]).cause, 'majority');
    await waitFor(() => sent().length === 2, { what: 'the relay told on' });
    assert.deepEqual(sent(), [
      ['OFF', false],
      ['ON', false],
    ]);
    assert.equal(b.state.get('pump-mqtt'), 'ON');

    // The relay sticks: it answers ON to OFF. The read-back through the broker says so.
    b.stuck.add('pump-mqtt');
    assert.equal((await fleet.command('n1', 'tank', 'pump-mqtt', 'stop', { operator: 'olga' })).status, 202);
    const stopped = await fleet.until('n1', 'tank', (x) => viewOf(x.pumps[0]).mismatch !== null, 'the stuck relay is seen');
    const w = viewOf(stopped.pumps[0]);
    assert.deepEqual([w.state, w.lastStop?.reason, w.lastStop?.by], ['stopped', 'manual', 'api:olga']);
    assert.deepEqual(w.mismatch && [w.mismatch.expected, w.mismatch.read], ['stopped', 'running']);
    assert.deepEqual(sent().at(-1), ['OFF', false]);
    const audit = await fleet.auditUntil('n1', (a) => pumpAudit(a, 'pump-mqtt', 'pump_readback').length > 0, 'the read-back');
    // The start's read-back agreed (no record); the stop's did not.
    assert.deepEqual(
      pumpAudit(audit, 'pump-mqtt', 'pump_readback').map((e) => e.payload.detail),
      ['told stopped, reads running'],
    );
  });

  test('kill -9 of the pump owner: keep-running resumes with its runtime and still stops at the limit; stop stops', async () => {
    await fleet.detect('n1', 'n1-reservoir', 0.9);
    await fleet.detect('n2', 'n2-reservoir', 0.9);
    const running = await fleet.until(
      'n3',
      'reservoir',
      (x) => x.pumps.every((p) => p.running) && viewOf(x.pumps[0]).runtimeMs >= 1_500,
      'both pumps run for 1.5 s',
    );
    const startedAt = viewOf(running.pumps[0]).lastStart?.at as number;
    const b = board as RelayBoard;
    assert.equal(b.state.get('pump-keep'), 'ON');
    assert.equal(readFileSync(holdState, 'utf8'), '1\n');

    await fleet.kill('n3');
    const killedAt = Date.now();
    const sentAfterKill = b.received.length;
    // Nothing enforces the envelope while the node is down: both relays hold what they were last told.
    assert.equal(b.state.get('pump-keep'), 'ON');
    assert.equal(readFileSync(holdState, 'utf8'), '1\n');
    await fleet.start('n3');

    const restored = await fleet.until(
      'n3',
      'reservoir',
      (x) => x.pumps[0]?.running === true && viewOf(x.pumps[1]).lastStop?.reason === 'restart',
      'pump-keep resumed, pump-hold stopped on restart',
    );
    const hold = viewOf(restored.pumps[1]);
    assert.deepEqual([hold.state, hold.lastStop?.by], ['stopped', 'restart']);
    assert.equal(readFileSync(holdState, 'utf8'), '0\n', 'onRestart: stop told the relay off');
    const audit = await fleet.auditUntil(
      'n3',
      (a) => ['pump-keep', 'pump-hold'].every((p) => pumpAudit(a, p, 'pump_restored').some((e) => (e.payload.at as number) > killedAt)),
      'both pumps restored',
    );
    const [resumed] = pumpAudit(audit, 'pump-keep', 'pump_restored').filter((e) => (e.payload.at as number) > killedAt);
    const carried = Number(/^resumed majority run at (\d+) ms$/.exec(String(resumed?.payload.detail))?.[1]);
    assert.ok(carried >= killedAt - startedAt, `resumed at ${carried} ms: the runtime before the kill and the downtime count`);
    const [held] = pumpAudit(audit, 'pump-hold', 'pump_restored').filter((e) => (e.payload.at as number) > killedAt);
    assert.equal(held?.payload.detail, 'stopped the majority run on restart');
    assert.equal(viewOf(restored.pumps[0]).lastStart?.at, startedAt, 'the same run goes on');

    // The limit holds across the restart: 6 s of runtime from the first start, the fire still holding.
    const limited = await fleet.until(
      'n3',
      'reservoir',
      (x) => viewOf(x.pumps[0]).lastStop?.reason === 'max-runtime',
      'pump-keep stopped at its limit',
      8_000,
    );
    const keep = viewOf(limited.pumps[0]);
    const ran = (keep.lastStop?.at as number) - startedAt;
    assert.ok(ran >= 6_000 && ran < 6_500, `pump-keep ran ${ran} ms in all (maxRuntime 6 s)`);
    // The envelope records the stop before it tells the relay (a kill in between restarts stopped): the
    // board hears OFF just after the API shows the stop.
    await waitFor(() => b.state.get('pump-keep') === 'OFF', { what: 'the relay told off at the limit' });
    assert.deepEqual(
      b.received
        .slice(sentAfterKill)
        .filter((m) => m.pump === 'pump-keep')
        .map((m) => m.payload),
      ['ON', 'OFF'],
      'told on again at the resume (idempotent), off at the limit',
    );
    // The majority still asks: min off (1 m) holds both pumps stopped.
    const resting = await fleet.until(
      'n3',
      'reservoir',
      (x) => x.pumps.every((p) => viewOf(p).pendingStartAt !== null),
      'renewed demands wait for min off',
    );
    // n3 came back without the detections it held (they live in memory); n1 and n2 still see the fire and vote.
    for (const n of ['n1', 'n2']) {
      const s = await fleet.status(n, 'reservoir');
      assert.deepEqual([n, s.evaluation?.fire, s.voting], [n, true, true]);
    }
    for (const p of resting.pumps) {
      const w = viewOf(p);
      assert.deepEqual([p.id, w.state, w.pendingStartAt], [p.id, 'stopped', (w.lastStop?.at as number) + 60_000]);
    }
  });
});

test('a 2/2 split of four voters on two brokers starts no pump on either side; healed onto one broker, the majority forms and both pumps start', async (t) => {
  const sides = { a: ['a1', 'a2'], b: ['b1', 'b2'] };
  const voters = [...sides.a, ...sides.b];
  const fleet = await startZoneFleet({
    brokers: 2,
    nodes: [...sides.a.map((id) => ({ id, broker: 0 })), ...sides.b.map((id) => ({ id, broker: 1 }))],
    zones: [
      {
        id: 'split',
        voters, // a majority is 3 of 4
        cameras: voters.map((n) => ({ id: `${n}-cam`, node: n })),
        pumps: [
          { id: 'pump-a', node: 'a1', driver: { type: 'sim' } },
          { id: 'pump-b', node: 'b1', driver: { type: 'sim' } },
        ],
        policy: { ...POLICY, window: '30s' },
      },
    ],
  });
  t.after(() => fleet.stop());

  // Fire on both sides: each side's two cameras on two nodes satisfy the policy on their own.
  for (const n of voters) await fleet.detect(n, `${n}-cam`, 0.9);
  const votingSince = new Map<string, number>();
  for (const n of voters) {
    const s = await fleet.until(n, 'split', (x) => x.voting, `${n} votes`);
    votingSince.set(n, s.decisions.find((d) => d.kind === 'vote')?.at as number);
  }
  // Each owner keeps hearing its partner's renewals for three vote lifetimes: its two votes never make 3 of 4.
  for (const [owner, partner, others] of [
    ['a1', 'a2', sides.b],
    ['b1', 'b2', sides.a],
  ] as const) {
    const since = Math.max(...votingSince.values());
    const s = await fleet.until(
      owner,
      'split',
      (x) => (x.voters.find((v) => v.id === partner)?.lastHeard ?? 0) >= since + 4_500,
      `${owner} hears ${partner} for 4.5 s of voting`,
      10_000,
    );
    assert.deepEqual(
      s.voters.filter((v) => others.includes(v.id)).map((v) => [v.id, v.lastHeard]),
      others.map((id) => [id, null]),
      `${owner} never heard the other side`,
    );
    assert.deepEqual([s.evaluation?.fire, s.voting, s.majorityNeeded, s.majorityVisible], [true, true, 3, false]);
    assert.deepEqual(
      s.pumps.map((p) => [p.id, p.running]),
      [
        ['pump-a', false],
        ['pump-b', false],
      ],
    );
  }
  for (const n of ['a1', 'b1']) {
    assert.deepEqual(fleet.audit(n, ['zone_majority', 'pump_started']), [], `${n}: no majority, no start during the split`);
  }

  // Heal: broker 1 goes, its address leads to broker 0; b1 and b2 reconnect there by their own backoff.
  const healedAt = Date.now();
  await fleet.heal(1, 0);
  for (const [owner, pump] of [
    ['a1', 'pump-a'],
    ['b1', 'pump-b'],
  ] as const) {
    const s = await fleet.until(owner, 'split', (x) => x.pumps.find((p) => p.id === pump)?.running === true, `${pump} runs`, 15_000);
    const v = viewOf(s.pumps.find((p) => p.id === pump));
    assert.deepEqual([v.cause, v.lastStart?.by], ['majority', 'zone:split@0']);
    assert.ok((v.lastStart?.at as number) > healedAt);
    const audit = await fleet.auditUntil(owner, (a) => a.some((e) => e.kind === 'zone_majority'), 'the majority');
    const votes = audit.find((e) => e.kind === 'zone_majority')?.payload.votes as { voter: string }[];
    const distinct = new Set(votes.map((x) => x.voter));
    assert.ok(distinct.size >= 3, `3 of 4 voters: ${[...distinct]}`);
    assert.ok(
      [...distinct].some((x) => sides.a.includes(x)) && [...distinct].some((x) => sides.b.includes(x)),
      'votes of both former sides',
    );
  }
});
