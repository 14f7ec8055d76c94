// The awareness plane under the built-in scenarios, at a size CI runs in seconds: 20 nodes on one
// emulated 1 MHz channel with 10 % frame loss per receiver, the agent's own critical set and plane.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runAwarenessSim } from './awareness-sim.js';
import { loadScenario } from './scenario.js';

const NODES = 20;

test('sim steady: at most one frame per node per tick, at most 16 B a node-tick, 99.5 % of values fresh within 4 s, no false verdicts', async () => {
  const s = await loadScenario('steady', { overrides: { nodes: NODES } });
  const { design } = await runAwarenessSim(s);
  const m = design.measures;
  assert.ok((m.framesPerNodePerS ?? 1) <= 0.5, `${m.framesPerNodePerS} frames per node per second`);
  assert.ok((m.payloadBytesPerNodeTick ?? 99) <= 16, `${m.payloadBytesPerNodeTick} B per node-tick`);
  assert.ok((m.airtimeShare ?? 1) < 0.05, `airtime ${m.airtimeShare} of the channel at ${NODES} nodes`);
  assert.ok((m.completeness ?? 0) >= 0.995, `completeness ${m.completeness}`);
  assert.equal(m.falseVerdicts, 0);
  assert.equal(m.duplicates, 0, 'one segment, no relays: nothing arrives twice');
});

test('sim steady: the same seed gives the same figures', async () => {
  const s = await loadScenario('steady', { overrides: { nodes: 8, durationS: 30 } });
  const a = await runAwarenessSim(s);
  const b = await runAwarenessSim(s);
  assert.deepEqual(a.design.measures, b.design.measures);
});

test('sim churn: a killed node is dead for every survivor within 8 s; a 5 s stall and a leave are no failures', async () => {
  const s = await loadScenario('churn', { overrides: { nodes: NODES } });
  const out = await runAwarenessSim(s);
  const killed = s.schedule.find((f) => f.action === 'kill')?.nodes[0];
  const detections = out.detections.filter((d) => d.origin === killed);
  // Everyone running when the verdict fell: the fleet minus the victim (the stalled node judges after it thaws).
  assert.ok(detections.length >= NODES - 2, `${detections.length} survivors convicted ${killed}`);
  assert.ok(
    Math.max(...detections.map((d) => d.afterMs)) <= 8_000,
    `slowest detection ${Math.max(...detections.map((d) => d.afterMs))} ms`,
  );
  assert.deepEqual(
    out.verdicts.filter((v) => v.false),
    [],
    'no verdict against a live node (the stalled one included)',
  );
  assert.ok(
    out.finalView.every((v) => v.alive === v.of),
    `everyone alive in every view at the end: ${JSON.stringify(out.finalView.filter((v) => v.alive !== v.of))}`,
  );
});

test('sim cold start: every node holds every other within 10 s of booting together', async () => {
  const s = await loadScenario('cold-start', { overrides: { nodes: NODES } });
  const { design } = await runAwarenessSim(s);
  assert.ok(design.measures.coldStartFullViewMs !== null, 'full view reached');
  assert.ok((design.measures.coldStartFullViewMs ?? Infinity) <= 10_000, `full view after ${design.measures.coldStartFullViewMs} ms`);
});

test('sim partition: each side carries on, convicts only across the cut, and views converge after the heal', async () => {
  const s = await loadScenario('partition', { overrides: { nodes: NODES } });
  const out = await runAwarenessSim(s);
  const cut = new Set(s.schedule.find((f) => f.action === 'partition')?.nodes);
  assert.ok(cut.size > 0 && cut.size < NODES);
  assert.deepEqual(
    out.verdicts.filter((v) => v.false),
    [],
  );
  const across = out.verdicts.filter((v) => cut.has(v.observer) !== cut.has(v.origin));
  assert.ok(across.length > 0, 'each side declares the other dead during the cut');
  assert.equal(across.length, out.verdicts.length, 'no verdict within a side');
  assert.ok((out.design.measures.completeness ?? 0) >= 0.99, `completeness within sides ${out.design.measures.completeness}`);
  assert.ok(
    out.finalView.every((v) => v.alive === v.of),
    `views converged after the heal: ${JSON.stringify(out.finalView.filter((v) => v.alive !== v.of))}`,
  );
});
