// The demo starts beside services that hold its default ports, says which ports it chose, and its
// summary counts what the hub really received; its fire-watch sites run zones whose real engines start the
// pumps of the zone on fire and of the zone it activates, and nothing elsewhere.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { waitFor } from '../../test/kit/wait.js';
import { parseFireAt, statusLine } from '../cli/demo.js';
import { type DemoZones, startDemo } from './demo.js';

function hold(): Promise<Server> {
  const server = createServer();
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('demo: taken ports fall back to free ones and are reported; the summary reflects the run', async () => {
  const taken = await Promise.all([hold(), hold(), hold()]);
  const [mqtt, ws, http] = taken.map((s) => (s.address() as { port: number }).port) as [number, number, number];
  const demo = await startDemo({ nodes: 3, sites: 2, brokerPort: mqtt, wsPort: ws, hubPort: http });
  try {
    assert.deepEqual(
      demo.portNotes.map((n) => n.replace(/using \d+/, 'using N')),
      [`MQTT port ${mqtt} is taken; using N`, `WebSocket port ${ws} is taken; using N`, `HTTP port ${http} is taken; using N`],
    );
    assert.notEqual(new URL(demo.brokerUrl).port, String(mqtt));
    await waitFor(async () => (await demo.status()).nodesOnline === 3, { timeoutMs: 10_000, what: 'three nodes online' });
    await waitFor(() => demo.agents.every((a) => a.stats().samplesCollected > 0), { timeoutMs: 10_000, what: 'samples collected' });
  } finally {
    const summary = await demo.stop();
    for (const s of taken) s.close();
    assert.equal(summary.nodesSeenOnline, 3);
    assert.ok(summary.framesReceivedByHub >= 3, 'at least one birth per node');
    assert.ok(summary.samplesReceivedByHub > 0);
    assert.ok(summary.wireBytesPerNodePerSecond > 0);
    assert.ok(summary.sampleAgeAtHubMs.p99 >= summary.sampleAgeAtHubMs.p50);
  }
});

test('demo: a fire a few seconds in starts its zone pump by majority and the overlapping zone pump by overlap; another site pumps nothing', async () => {
  // 8 nodes on 4 sites: the fire-watch sites get 3 nodes each (their zones need 3 voters), the battery sites 1.
  const demo = await startDemo({ nodes: 8, sites: 4, fireAtMs: 3_000, brokerPort: 0, wsPort: 0, hubPort: 0 });
  let zones: DemoZones | undefined;
  try {
    assert.deepEqual(
      demo.siteZones.map((s) => [s.site, s.zones.map((z) => z.id), s.fire?.zone ?? null]),
      [
        ['ridge-watch-1', ['north', 'south'], 'north'],
        ['ridge-watch-2', ['north-2', 'south-2'], null],
      ],
    );
    const pump = (z: DemoZones, zone: string) => z.pumps.find((p) => p.zone === zone);
    zones = await waitFor(
      async () => {
        const z = (await demo.status()).zones;
        return pump(z, 'north')?.running && pump(z, 'south')?.running ? z : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the pumps of north and south running' },
    );
  } finally {
    const summary = await demo.stop();
    zones ??= summary.zones;
    assert.equal(summary.zones.fireZone, 'ridge-watch-1/north');
    assert.equal(summary.zones.fireAtSeconds, 3);
  }
  const byZone = new Map(zones.pumps.map((p) => [p.zone, p]));
  assert.deepEqual([...byZone.keys()].sort(), ['north', 'north-2', 'south', 'south-2'], 'every zone pump is reported by its owner');
  assert.equal(byZone.get('north')?.startCause, 'majority');
  assert.equal(byZone.get('south')?.startCause, 'overlap', "north's confirmed fire activates south (policy.activates)");
  const north = byZone.get('north')?.startedAfterSeconds as number;
  assert.ok(north >= 3 && north < 20, `the pump started ${north} s after start, after the fire at 3 s`);
  for (const zone of ['north-2', 'south-2']) {
    assert.equal(byZone.get(zone)?.running, false, `${zone} (ridge-watch-2) saw no fire`);
    assert.equal(byZone.get(zone)?.startedAfterSeconds, null);
  }
});

test('demo: --fire-at off starts no pump, and the status line says so', async () => {
  const demo = await startDemo({ nodes: 4, sites: 2, fireAtMs: null, brokerPort: 0, wsPort: 0, hubPort: 0 });
  try {
    assert.deepEqual(
      demo.siteZones.map((s) => s.site),
      ['ridge-watch-1'],
    );
    const status = await demo.status();
    assert.equal(status.zones.fireAtSeconds, null);
    assert.match(statusLine(status, 5), / · no fire \(--fire-at off\)$/);
    assert.equal(status.zones.pumps.filter((p) => p.running).length, 0);
  } finally {
    await demo.stop();
  }
});

test('demo: the status line counts down to the fire, then says when each pump started and why', () => {
  const base = { nodesOnline: 8, nodes: 8, updatesPerSecond: 2, wireBytesPerSecond: 70 };
  const pump = (zone: string, startedAfterSeconds: number | null, startCause: string | null) => ({
    site: 'ridge-watch-1',
    zone,
    pump: `${zone}-pump`,
    owner: 'cam-01',
    running: startedAfterSeconds !== null,
    cause: startCause,
    startedAfterSeconds,
    startCause,
  });
  const zones = (pumps: ReturnType<typeof pump>[]) => ({ fireZone: 'ridge-watch-1/north', fireAtSeconds: 60, pumps });
  assert.match(statusLine({ ...base, zones: zones([]) }, 12.5), / · fire in ridge-watch-1\/north in 48 s$/);
  assert.match(statusLine({ ...base, zones: zones([pump('north', null, null)]) }, 61), /since 60 s, pumps not started yet$/);
  assert.match(
    statusLine({ ...base, zones: zones([pump('north', 63.2, 'majority'), pump('south', 63.4, 'overlap')]) }, 70),
    / · fire in ridge-watch-1\/north at 60 s: north-pump started at 63.2 s \(majority\), south-pump started at 63.4 s \(overlap\)$/,
  );
  assert.equal(parseFireAt('30s'), 30_000);
  assert.equal(parseFireAt('off'), null);
  assert.equal(parseFireAt(undefined), 60_000);
  assert.throws(() => parseFireAt('soon'), /--fire-at must look like 30s, 2m or off, got "soon"/);
});
