// The zone runtime with `zoneSecurity.signing: required`, on an in-memory UDP segment where the sender is only
// claimed: certificates travel once (at start, and on a want), the voters' signed votes start the pump, and an
// intruder holding a valid fleet certificate of another zone, forging votes as two voters, starts nothing and is
// counted. A pump owner with no CA refuses everything (fail-safe). Real processes: test/e2e/zones-signed.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor } from '../../../test/kit/wait.js';
import { ManualClock, silentLogger } from '../../kit/index.js';
import { createTestCa, issueTo, type TestCa } from '../../pki/pki-test-kit.js';
import {
  type ConfiguredZone,
  createFrameRouter,
  encodeZoneDatagram,
  encodeZoneFrame,
  zoneConfigHash,
  zonesSchema,
} from '../../protocol/index.js';
import { createMemoryTransport, type FrameLink, type LinkPeer, MemoryBroker } from '../../transport/index.js';
import { startZoneRuntime, type ZoneRuntime } from './zone-runtime.js';
import { createZoneSigner, setUpZoneSigning } from './zone-signing.js';

const ZONES = zonesSchema.parse([
  {
    id: 'north',
    voters: ['a', 'b', 'c'],
    cameras: [
      { id: 'cam-a', node: 'a' },
      { id: 'cam-b', node: 'b' },
    ],
    pumps: [{ id: 'pump-1', node: 'c', driver: { type: 'sim' }, envelope: { minOff: '0s' } }],
    policy: { window: '60s', minCameras: 2, minNodes: 2, threshold: 1, voteTtl: '3s' },
  },
  { id: 'south', voters: ['x'], cameras: [{ id: 'cam-x', node: 'x' }], policy: { minCameras: 1, minNodes: 1, threshold: 0.5 } },
]);

let testCa: TestCa;
let dir: string;

before(async () => {
  testCa = await createTestCa();
  dir = mkdtempSync(join(tmpdir(), 'fm-zone-signing-runtime-'));
  for (const node of ['a', 'b', 'c', 'x']) await issueTo(testCa.ca, node, 'ranch', join(dir, 'pki', node));
});

after(() => {
  testCa.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function segment() {
  const receivers = new Map<string, ((frame: Uint8Array, from: LinkPeer) => void) | undefined>();
  const link = (name: string): FrameLink => {
    receivers.set(name, undefined);
    return {
      description: `test segment (${name})`,
      send(frame) {
        for (const [other, r] of receivers) if (other !== name) setImmediate(() => r?.(frame.slice(), { address: name }));
      },
      onFrame(r) {
        receivers.set(name, r);
      },
      stats: () => ({ framesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0, sendErrors: 0 }),
      close: async () => {
        receivers.delete(name);
      },
    };
  };
  return { link };
}

async function fleet(o: { caOf?: (node: string) => string | undefined } = {}) {
  const clock = new ManualClock(Date.now());
  const broker = new MemoryBroker();
  const seg = segment();
  const nodes = new Map<string, ZoneRuntime>();
  for (const id of ['a', 'b', 'c']) {
    // A broker link that never connects: the segment is the only link, so senders are only claimed.
    const transport = createMemoryTransport(broker, { clientId: id, clock });
    const pki = join(dir, 'pki', id);
    const signing = await setUpZoneSigning({
      site: 'ranch',
      zones: ZONES,
      files: { ca: o.caOf === undefined ? join(pki, 'ca.crt') : o.caOf(id), cert: join(pki, `${id}.crt`), key: join(pki, `${id}.key`) },
      now: () => clock.now(),
      logger: silentLogger,
    });
    nodes.set(
      id,
      await startZoneRuntime({
        site: 'ranch',
        node: id,
        prefix: 'fieldmesh',
        zones: ZONES,
        dataDir: join(dir, `${id}-${clock.now()}-${Math.random()}`),
        clock,
        logger: silentLogger,
        boot: 1,
        tickMs: 500,
        transport,
        router: createFrameRouter({ source: transport, prefix: 'fieldmesh' }),
        segment: seg.link(id),
        signing,
      }),
    );
  }
  const node = (id: string) => nodes.get(id) as ZoneRuntime;
  const ticks = async (n: number) => {
    for (let i = 0; i < n; i++) {
      clock.advance(100);
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  const until = <T>(predicate: () => T, what: string) =>
    waitFor(
      () => {
        clock.advance(100);
        return predicate();
      },
      { timeoutMs: 10_000, intervalMs: 2, what },
    );
  const stop = async () => {
    for (const n of nodes.values()) await n.stop();
  };
  return { clock, seg, node, ticks, until, stop };
}

const running = (r: ZoneRuntime) => r.status('north')?.pumps.find((p) => p.id === 'pump-1')?.running === true;

test('zone signing on the segment: an intruder with a valid certificate of another zone starts nothing; the voters do', async () => {
  const f = await fleet();
  const intruder = f.seg.link('x');
  try {
    const pki = join(dir, 'pki', 'x');
    const x = await createZoneSigner({
      keyPem: readFileSync(join(pki, 'x.key'), 'utf8'),
      certPem: readFileSync(join(pki, 'x.crt'), 'utf8'),
      keyFile: 'x.key',
    });
    const c = f.node('c');
    // The intruder votes as a and as b, signed with its own (valid) key, and unsigned, for 30 ticks.
    for (let i = 1; i <= 30; i++) {
      for (const voter of ['a', 'b']) {
        const vote = {
          zone: 'north',
          epoch: 0,
          voter,
          configHash: zoneConfigHash(ZONES[0] as ConfiguredZone),
          boot: 9,
          seq: i,
          time: f.clock.now(),
          ttlMs: 3_000,
          evidence: ['fake'],
        };
        const frame = encodeZoneFrame({ type: 'vote', vote });
        intruder.send(encodeZoneDatagram('ranch', voter, await x.sign(frame)));
        intruder.send(encodeZoneDatagram('ranch', voter, frame));
      }
      await f.ticks(1);
    }
    assert.equal(running(c), false, 'no pump started by the intruder');
    const refusals = c.status('north')?.refusals ?? {};
    assert.ok((refusals.unsigned ?? 0) >= 60, JSON.stringify(refusals));
    assert.ok((refusals['unknown-certificate'] ?? 0) + (refusals['wrong-identity'] ?? 0) >= 60, JSON.stringify(refusals));
    assert.equal(c.stats().pumps[0]?.starts.majority, undefined);

    // The zone's own voters: signed detections and votes, the pump starts.
    const t0 = f.clock.now();
    f.node('a').detect({ id: 'd-a', camera: 'cam-a', node: 'a', class: 'fire', confidence: 0.9, time: t0 });
    f.node('b').detect({ id: 'd-b', camera: 'cam-b', node: 'b', class: 'fire', confidence: 0.8, time: t0 });
    await f.until(() => running(c), 'the pump on c running');
    const majority = c.status('north')?.decisions.find((d) => d.kind === 'majority');
    assert.ok(
      majority?.votes?.every((v) => v.voter !== 'x' && v.boot === 1),
      JSON.stringify(majority),
    );
  } finally {
    await intruder.close();
    await f.stop();
  }
});

test('zone signing: a pump owner without a CA refuses every frame, loudly, and never starts', async () => {
  const f = await fleet({ caOf: (id) => (id === 'c' ? join(dir, 'no-such-ca.crt') : join(dir, 'pki', id, 'ca.crt')) });
  try {
    const t0 = f.clock.now();
    f.node('a').detect({ id: 'd-a', camera: 'cam-a', node: 'a', class: 'fire', confidence: 0.9, time: t0 });
    f.node('b').detect({ id: 'd-b', camera: 'cam-b', node: 'b', class: 'fire', confidence: 0.8, time: t0 });
    await f.until(() => (f.node('c').status('north')?.refusals['unknown-certificate'] ?? 0) >= 10, 'refusals at c');
    await f.ticks(20);
    assert.equal(running(f.node('c')), false);
    // a and b verify each other: their votes count between them (they drive no pump, so they do not count).
    assert.ok(f.node('a').status('north')?.voting, 'a votes');
  } finally {
    await f.stop();
  }
});
