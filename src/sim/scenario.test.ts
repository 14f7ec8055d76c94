import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isFieldmeshError } from '../kit/index.js';
import { BESS_CRITICAL_METRICS, BUILTIN_SCENARIOS, loadScenario, parseScenario, type Scenario } from './scenario.js';

function problemsOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(isFieldmeshError(err), String(err));
    return { code: err.code, message: err.message };
  }
  assert.fail('expected a FieldmeshError');
}

test('scenario: every built-in loads by name with the defaults filled in', async () => {
  for (const name of BUILTIN_SCENARIOS) {
    const s = await loadScenario(name);
    assert.equal(s.name, name);
    assert.equal(s.nodes, 50);
    assert.equal(s.fleet.length, 50);
    assert.equal(s.tickMs, 2_000);
    assert.equal(s.freshnessMs, 4_000);
    assert.equal(s.loss, 0.1);
    assert.deepEqual(s.workload.metrics, [...BESS_CRITICAL_METRICS]);
    assert.equal(s.link.model, 'radio');
    if (s.link.model === 'radio') {
      assert.equal(s.link.bitsPerSecond, 300_000);
      assert.equal(s.link.perFrameOverheadUs, 1_266);
      assert.equal(s.link.headerBytes, 66);
      assert.deepEqual(s.link.topology, { kind: 'full' });
    }
    assert.ok(Object.isFrozen(s));
  }
});

test('scenario: built-in fault schedules resolve to concrete nodes, the same for the seed', async () => {
  const steady = await loadScenario('steady');
  assert.equal(steady.durationS, 60);
  assert.deepEqual(steady.schedule, []);

  const partition = await loadScenario('partition');
  assert.equal(partition.durationS, 80);
  const [cut, heal] = partition.schedule;
  assert.equal(cut?.action, 'partition');
  assert.equal(cut?.atMs, 20_000);
  assert.equal(cut?.nodes.length, 25);
  assert.deepEqual(heal, { atMs: 40_000, action: 'heal', nodes: [], index: 1 });

  const churn = await loadScenario('churn');
  assert.deepEqual(
    churn.schedule.map((f) => [f.atMs, f.action, f.nodes.length, f.durationMs]),
    [
      [15_000, 'kill', 1, undefined],
      [25_000, 'stall', 1, 5_000],
      [35_000, 'restart', 1, undefined],
      [50_000, 'leave', 1, undefined],
    ],
  );
  const [kill, , restart] = churn.schedule;
  assert.deepEqual(restart?.nodes, kill?.nodes, 'the restart boots the killed node');
  assert.deepEqual((await loadScenario('churn')).schedule, churn.schedule);
  const reseeded = await loadScenario('churn', { overrides: { seed: 7 } });
  assert.notDeepEqual(reseeded.schedule, churn.schedule);

  const cold = await loadScenario('cold-start');
  assert.equal(cold.startSpreadS, 0);
  assert.equal(cold.warmupS, 0);
});

test('scenario: errors name the file and every field at fault', () => {
  const text = [
    'name: Bad Name',
    'nodes: 10',
    'durationS: 30',
    'link: { model: radio, bitsPerSecond: -1, topology: { kind: star } }',
    'transport: carrier-pigeon',
  ].join('\n');
  const { code, message } = problemsOf(() => parseScenario(text, 'bad.yaml'));
  assert.equal(code, 'FM_CONFIG_INVALID');
  assert.match(message, /^bad\.yaml: name: expected lowercase/m);
  assert.match(message, /^bad\.yaml: link\.bitsPerSecond: /m);
  assert.match(message, /^bad\.yaml: link\.topology\.kind: /m);
  assert.match(message, /^bad\.yaml: transport: /m);
});

test('scenario: fault problems point at the fault, its field and the node', () => {
  const text = `
name: faulty
nodes: 4
durationS: 30
faults:
  - { atS: 5, action: kill, nodes: [node002, node009] }
  - { atS: 6, action: stall, nodes: 1 }
  - { atS: 7, action: restart, nodes: [node003] }
  - { atS: 8, action: kill, nodes: 9 }
  - { atS: 40, action: heal }
  - { atS: 9, action: partition }
`;
  const { message } = problemsOf(() => parseScenario(text, 'faulty.yaml'));
  const lines = message.split('\n');
  const expect = [
    /faulty\.yaml: faults\[0\]\.nodes\[1\]: no node "node009" in a fleet of 4/,
    /faulty\.yaml: faults\[1\]\.durationS: a stall needs durationS/,
    /faulty\.yaml: faults\[2\]\.nodes\[0\]: node003 is not killed or departed at 7 s/,
    /faulty\.yaml: faults\[3\]\.nodes: kill of 9 node\(s\) at 8 s, but only 3 are running/,
    /faulty\.yaml: faults\[4\]\.atS: at 40 s is after the end of the run \(30 s\)/,
    /faulty\.yaml: faults\[5\]\.nodes: partition needs nodes/,
  ];
  for (const re of expect)
    assert.ok(
      lines.some((l) => re.test(l)),
      `${re} in\n${message}`,
    );
  const share = problemsOf(() =>
    parseScenario('name: x\nnodes: 4\ndurationS: 9\nfaults: [{ atS: 1, action: leave, nodes: "150%" }]', 'x.yaml'),
  );
  assert.match(share.message, /^x\.yaml: faults\[0\]\.nodes: expected node names, a count, or a share like "50%", got "150%"$/);
});

test('scenario: nodes by names, count, fraction and percent; sites and zones as contiguous blocks', () => {
  const s: Scenario = parseScenario(
    `
name: forms
nodes: 12
sites: 2
zones: 2
durationS: 60
faults:
  - { atS: 1, action: kill, nodes: [node001, node002] }
  - { atS: 2, action: stall, nodes: 2, durationS: 1.5 }
  - { atS: 3, action: partition, nodes: 0.25 }
  - { atS: 4, action: leave, nodes: "10%" }
  - { atS: 5, action: restart, nodes: "100%" }
`,
    'forms.yaml',
  );
  assert.deepEqual(
    s.schedule.map((f) => f.nodes.length),
    [2, 2, 3, 1, 3],
  );
  assert.deepEqual(s.schedule[0]?.nodes, ['node001', 'node002']);
  assert.ok(!s.schedule[1]?.nodes.some((n) => n === 'node001' || n === 'node002'), 'a stall picks running nodes');
  assert.deepEqual(s.schedule[4]?.nodes.slice(0, 2), ['node001', 'node002'], 'restarts take the longest-gone first');
  assert.equal(s.schedule[1]?.durationMs, 1_500);
  assert.deepEqual(
    s.fleet.map((n) => `${n.site}/${n.zone}`),
    [
      ...['site-1/zone-a', 'site-1/zone-a', 'site-1/zone-a', 'site-1/zone-b', 'site-1/zone-b', 'site-1/zone-b'],
      ...['site-2/zone-a', 'site-2/zone-a', 'site-2/zone-a', 'site-2/zone-b', 'site-2/zone-b', 'site-2/zone-b'],
    ],
  );
  assert.equal(s.fleet[11]?.name, 'node012');
});

test('scenario: overrides apply by path and are validated like the file', async () => {
  const s = await loadScenario('steady', { overrides: { nodes: 10, 'link.model': 'p2p', 'link.topology': 'ring', transport: 'mqtt' } });
  assert.equal(s.nodes, 10);
  assert.equal(s.transport, 'mqtt');
  assert.equal(s.link.model, 'p2p');
  if (s.link.model === 'p2p') {
    assert.deepEqual(s.link.topology, { kind: 'ring' });
    assert.equal(s.link.latencyMs, 2);
  }
  await assert.rejects(
    () => loadScenario('steady', { overrides: { loss: 2 } }),
    (err: unknown) => isFieldmeshError(err, 'FM_CONFIG_INVALID') && /steady\.yaml: loss: /.test(err.message),
  );
});

test('scenario: a path loads a file; an unknown name, a missing file and broken YAML are clear errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-scenario-'));
  writeFileSync(
    join(dir, 'mine.yaml'),
    'name: mine\nnodes: 3\ndurationS: 5\nlink: { model: p2p, topology: { kind: random, degree: 2 } }\n',
  );
  const mine = await loadScenario('mine.yaml', { cwd: dir });
  assert.equal(mine.name, 'mine');
  assert.equal(mine.fleet.length, 3);
  await assert.rejects(
    () => loadScenario('stedy', { cwd: dir }),
    (err: unknown) =>
      isFieldmeshError(err, 'FM_CONFIG_UNREADABLE') && /not a built-in scenario \(steady, partition, churn, cold-start\)/.test(err.message),
  );
  writeFileSync(join(dir, 'broken.yaml'), 'name: broken\nnodes: [1\n');
  await assert.rejects(
    () => loadScenario(join(dir, 'broken.yaml')),
    (err: unknown) => isFieldmeshError(err, 'FM_CONFIG_UNREADABLE') && err.message.includes('broken.yaml:'),
  );
  writeFileSync(
    join(dir, 'degree.yaml'),
    'name: degree\nnodes: 3\ndurationS: 5\nlink: { model: p2p, topology: { kind: random, degree: 3 } }\n',
  );
  await assert.rejects(
    () => loadScenario(join(dir, 'degree.yaml')),
    (err: unknown) =>
      isFieldmeshError(err, 'FM_CONFIG_INVALID') && /link\.topology\.degree: must be below the fleet size/.test(err.message),
  );
});
