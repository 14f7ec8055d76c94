// End to end in real network namespaces (root): five mesh-only nodes (no broker) on one bridged segment, UDP
// multicast. The bridge stops flooding multicast to one node: its receive path is cut while it still sends. It
// must say that it is the one cut off (isolated: its fleet view, /metrics, one log line), hold the others
// unreachable and never dead, send no suspicion, and be neither convicted nor suspected by the others, who still
// hear it. Healed, it hears everyone again within a few ticks.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type FieldmeshProcess, runFieldmesh } from '../kit/fieldmesh-process.js';
import { createNetnsSegment, type NetnsSegment } from '../kit/netns.js';
import { memberAt, nodeFleet, nodeMetric } from '../kit/node-api.js';
import { waitFor } from '../kit/wait.js';

const NODES = 5;
const TICK_MS = 500;
const running: FieldmeshProcess[] = [];
let segment: NetnsSegment | undefined;
after(() => {
  for (const p of running) p.kill('SIGKILL');
  segment?.close();
});

test('e2e awareness in network namespaces: a node whose receive path is cut says it is isolated; nobody is convicted', async () => {
  segment = createNetnsSegment(NODES);
  const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-netns-'));
  const names = segment.hosts.map((_, i) => `bess-${i + 1}`);
  const urls: string[] = [];
  for (const [i, host] of segment.hosts.entries()) {
    const path = join(dir, `${names[i]}.yaml`);
    writeFileSync(
      path,
      [
        `node: {id: ${names[i]}, site: ranch, zone: north}`,
        'mqtt: {enabled: false}',
        `dataDir: ${dir}`,
        `http: {host: ${host.address}, port: 0}`,
        `publish: {tick: ${TICK_MS}ms}`,
        `awareness: {transport: udp, udp: {interface: ${host.address}, group: 239.255.71.9, port: 18871}}`,
        'critical: [{match: battery_soc, maxSilence: 5s}]',
        `collectors: [{type: sim_battery, index: ${i}, interval: ${TICK_MS}ms}]`,
        '',
      ].join('\n'),
    );
    const p = runFieldmesh(['node', '--config', path], {}, undefined, segment.wrapper(host));
    running.push(p);
    urls.push((await p.waitForOutput(/HTTP (http:\/\/\S+)/))[1] as string);
  }
  const [victimUrl, ...otherUrls] = urls as [string, ...string[]];
  const [victim, ...others] = running as [FieldmeshProcess, ...FieldmeshProcess[]];
  const victimName = names[0] as string;
  await waitFor(
    async () => {
      for (const url of urls) {
        const { data } = await nodeFleet(url);
        if (data.nodes.length !== NODES || data.nodes.some((n) => n.state !== 'alive')) return false;
      }
      return true;
    },
    { timeoutMs: 30_000, what: 'every node holding the four others alive' },
  );
  const raisedBefore = await Promise.all(otherUrls.map(async (url) => (await memberAt(url, victimName))?.suspicionsRaised));
  const changesBefore = (await nodeFleet(victimUrl)).data.stats.changes;

  segment.deafen(segment.hosts[0] as (typeof segment.hosts)[0], true);
  await waitFor(async () => (await nodeFleet(victimUrl)).data.isolated, { timeoutMs: 10_000, what: 'the victim isolated' });
  // Past the unconfirmed verdict (10 ticks of silence): the victim's own pulses count the time.
  const pulses = async () => (await nodeMetric(victimUrl, 'fieldmesh_awareness_frames_sent_total', 'type="pulse"')) as number;
  const pulsesAtIsolation = await pulses();
  await waitFor(async () => (await pulses()) >= pulsesAtIsolation + 16, { timeoutMs: 20_000, what: '16 more ticks of the victim' });

  const view = (await nodeFleet(victimUrl)).data;
  assert.deepEqual(
    view.nodes.map((n) => [n.node, n.self, n.state]),
    names.map((name, i) => [name, i === 0, i === 0 ? 'isolated' : 'unreachable']),
    'itself isolated, the others unreachable',
  );
  assert.equal(view.stats.changes.failed, 0, 'no dead verdict');
  assert.equal(view.stats.changes.suspected, changesBefore.suspected, 'no suspicion either');
  assert.equal(await nodeMetric(victimUrl, 'fieldmesh_awareness_isolated'), 1);
  assert.equal(await nodeMetric(victimUrl, 'fieldmesh_awareness_members', 'state="unreachable"'), NODES - 1);
  assert.equal(await nodeMetric(victimUrl, 'fieldmesh_awareness_verdicts_total'), 0);
  assert.equal(victim.stderr().match(/this node hears nobody/g)?.length, 1, `one log line on entering:\n${victim.stderr()}`);
  const status = runFieldmesh(['status', '--node', victimUrl]);
  running.push(status);
  assert.equal(await status.exited(), 2, 'status --node exits 2 for an isolated node');
  assert.match(status.stdout(), /bess-1 \(self\)\s+isolated/);
  assert.match(status.stdout(), /bess-2\s+unreachable/);
  assert.match(status.stdout(), /this node hears nobody/);
  for (const [i, url] of otherUrls.entries()) {
    const seen = await memberAt(url, victimName);
    assert.equal(seen?.state, 'alive', `${names[i + 1]} still hears the victim`);
    assert.equal(seen?.isolated, true, `${names[i + 1]} knows from its pulses that it hears nobody`);
    assert.equal(seen?.suspicionsRaised, raisedBefore[i], 'no suspicion came from the victim');
    assert.equal((await nodeFleet(url)).data.stats.changes.failed, 0, `${names[i + 1]} convicted nobody`);
  }

  segment.deafen(segment.hosts[0] as (typeof segment.hosts)[0], false);
  await waitFor(
    async () => {
      const { data } = await nodeFleet(victimUrl);
      return !data.isolated && data.nodes.every((n) => n.state === 'alive');
    },
    { timeoutMs: 5_000, what: 'the victim hearing everyone again' },
  );
  assert.equal(await nodeMetric(victimUrl, 'fieldmesh_awareness_isolated'), 0);
  await waitFor(() => /no longer isolated/.test(victim.stderr()), { timeoutMs: 2_000, what: 'the log line on leaving' });
  // Its next pulse judges again: the others stop showing it isolated.
  for (const url of otherUrls) {
    await waitFor(async () => (await memberAt(url, victimName))?.isolated === false, {
      timeoutMs: 3_000,
      what: `${url} seeing it hear again`,
    });
  }

  for (const p of [victim, ...others]) p.kill('SIGTERM');
  for (const p of [victim, ...others]) assert.equal(await p.exited(), 0, p.stderr());
  segment.close();
  segment = undefined;
});
