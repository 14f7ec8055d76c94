// UdpLink: several links on one group hear each other exactly once and never themselves, on loopback
// multicast and broadcast and between network namespaces joined by a bridge; counters, errors, close.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import { isFieldmeshError } from '../kit/index.js';
import type { FrameLink, LinkPeer } from './frame-link.js';
import { createUdpLink, MAX_UDP_PAYLOAD_BYTES, type UdpLinkOptions } from './udp-link.js';

const LOOPBACK = '127.0.0.1';
/** Another group than the default, so a fieldmesh node running on the test machine never hears the tests. */
const TEST_GROUP = '239.255.70.78';

/** A port nothing on this host uses right now; tests run in parallel, each on its own port. */
async function freeUdpPort(): Promise<number> {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, LOOPBACK, resolve));
  const { port } = probe.address();
  await new Promise<void>((resolve) => probe.close(resolve));
  return port;
}

interface Heard {
  readonly text: string;
  readonly from: LinkPeer;
}

function listen(link: FrameLink): Heard[] {
  const heard: Heard[] = [];
  link.onFrame((frame, from) => heard.push({ text: Buffer.from(frame).toString(), from }));
  return heard;
}

async function until(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Time for a stray copy (an echo of our own frame, a duplicate) to show up; absence cannot be awaited. */
const SETTLE_MS = 100;

async function exchange(options: UdpLinkOptions, t: { after: (fn: () => Promise<void>) => void }): Promise<void> {
  const links = await Promise.all([0, 1, 2].map(() => createUdpLink(options)));
  t.after(async () => {
    await Promise.all(links.map((l) => l.close()));
  });
  const heard = links.map(listen);
  const perLink = 4;
  for (let k = 0; k < perLink; k++) {
    for (const [i, link] of links.entries()) link.send(new TextEncoder().encode(`link${i}:frame${k}`));
  }
  await until('every link to hear the others', () => heard.every((h) => h.length >= 2 * perLink));
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  heard.forEach((h, i) => {
    const texts = h.map((x) => x.text).sort();
    const expected = [0, 1, 2]
      .filter((j) => j !== i)
      .flatMap((j) => Array.from({ length: perLink }, (_, k) => `link${j}:frame${k}`))
      .sort();
    assert.deepEqual(texts, expected, `link ${i} hears each frame of the others once and none of its own`);
  });
  links.forEach((link, i) => {
    const s = link.stats();
    const bytesOut = Array.from({ length: perLink }, (_, k) => `link${i}:frame${k}`.length).reduce((a, b) => a + b);
    assert.deepEqual(
      { framesSent: s.framesSent, bytesSent: s.bytesSent, framesReceived: s.framesReceived, sendErrors: s.sendErrors },
      { framesSent: perLink, bytesSent: bytesOut, framesReceived: 2 * perLink, sendErrors: 0 },
    );
    assert.equal(
      s.bytesReceived,
      heard[i]?.reduce((n, x) => n + x.text.length, 0),
    );
  });
}

test('udp link: three links on one multicast group hear each other exactly once and never themselves', async (t) => {
  const port = await freeUdpPort();
  await exchange({ group: TEST_GROUP, port, interfaceAddress: LOOPBACK }, t);
});

test('udp link: three links in broadcast mode hear each other exactly once and never themselves', async (t) => {
  const port = await freeUdpPort();
  await exchange({ mode: 'broadcast', broadcastAddress: '127.255.255.255', port, interfaceAddress: LOOPBACK }, t);
});

test('udp link: without an interface address its own frames are still recognised, by port and local address', async (t) => {
  const port = await freeUdpPort();
  await exchange({ mode: 'broadcast', broadcastAddress: '127.255.255.255', port }, t);
});

test('udp link: the sender of a frame is reported as address:port', async (t) => {
  const port = await freeUdpPort();
  const [a, b] = await Promise.all([0, 1].map(() => createUdpLink({ group: TEST_GROUP, port, interfaceAddress: LOOPBACK })));
  assert.ok(a && b);
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
  });
  assert.equal(a.description, `udp ${TEST_GROUP}:${port} on ${LOOPBACK}`);
  const heard = listen(b);
  a.send(new TextEncoder().encode('hello'));
  await until('b to hear a', () => heard.length === 1);
  assert.match(heard[0]?.from.address ?? '', /^127\.0\.0\.1:\d+$/);
  assert.notEqual(heard[0]?.from.address, `${LOOPBACK}:${port}`, 'frames leave from the link’s own sending port');
});

test('udp link: an oversized datagram counts as a send error and does not throw', async (t) => {
  const port = await freeUdpPort();
  const [a, b] = await Promise.all([0, 1].map(() => createUdpLink({ group: TEST_GROUP, port, interfaceAddress: LOOPBACK })));
  assert.ok(a && b);
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
  });
  const heard = listen(b);
  a.send(new Uint8Array(MAX_UDP_PAYLOAD_BYTES + 1));
  assert.equal(a.stats().sendErrors, 1);
  a.send(new Uint8Array(MAX_UDP_PAYLOAD_BYTES)); // the largest datagram that fits goes through
  await until('the largest datagram to arrive', () => heard.length === 1);
  assert.equal(heard[0]?.text.length, MAX_UDP_PAYLOAD_BYTES);
  assert.deepEqual(a.stats(), { framesSent: 1, bytesSent: MAX_UDP_PAYLOAD_BYTES, framesReceived: 0, bytesReceived: 0, sendErrors: 1 });
});

test('udp link: after close nothing is delivered, sends count as errors, close is idempotent', async (t) => {
  const port = await freeUdpPort();
  const [a, b] = await Promise.all([0, 1].map(() => createUdpLink({ group: TEST_GROUP, port, interfaceAddress: LOOPBACK })));
  assert.ok(a && b);
  t.after(async () => {
    await a.close();
  });
  const heard = listen(b);
  a.send(new TextEncoder().encode('before'));
  await until('the frame before close', () => heard.length === 1);
  const closing = b.close();
  assert.equal(b.close(), closing, 'a second close returns the same promise');
  await closing;
  await b.close();
  a.send(new TextEncoder().encode('after'));
  b.send(new TextEncoder().encode('from a closed link'));
  await until('a to send', () => a.stats().framesSent === 2);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  assert.deepEqual(
    heard.map((h) => h.text),
    ['before'],
  );
  assert.equal(b.stats().sendErrors, 1);
});

test('udp link: a port held without SO_REUSEADDR fails with a coded error naming address and port', async (t) => {
  const holder = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  await new Promise<void>((resolve) => holder.bind(0, '0.0.0.0', resolve));
  t.after(() => holder.close());
  const { port } = holder.address();
  await assert.rejects(createUdpLink({ mode: 'broadcast', port }), (err: unknown) => {
    assert.ok(isFieldmeshError(err, 'FM_PORT_IN_USE'), String(err));
    assert.match(err.message, new RegExp(`0\\.0\\.0\\.0:${port}`));
    return true;
  });
});

test('udp link: an interface address this host does not have fails with a coded error naming it', async () => {
  const port = await freeUdpPort();
  // 203.0.113.0/24 is TEST-NET-3 (RFC 5737): on no real interface.
  await assert.rejects(createUdpLink({ group: TEST_GROUP, port, interfaceAddress: '203.0.113.77' }), (err: unknown) => {
    assert.ok(isFieldmeshError(err, 'FM_CONFIG_INVALID'), String(err));
    assert.match(err.message, /203\.0\.113\.77/);
    assert.match(err.message, /EADDRNOTAVAIL/);
    return true;
  });
});

test('udp link: options are validated before any socket opens', async () => {
  for (const options of [
    { port: 0 },
    { port: 70_000 },
    { group: '10.0.0.1' },
    { ttl: 256 },
    { interfaceAddress: 'eth0' },
  ] as UdpLinkOptions[]) {
    await assert.rejects(createUdpLink(options), (err: unknown) => isFieldmeshError(err, 'FM_CONFIG_INVALID'), JSON.stringify(options));
  }
});

// ---------- between network namespaces ----------

/** Runs inside each namespace: one link, a "ready" line, sends on "go", reports what it heard. */
const CHILD = `
import { createInterface } from 'node:readline';
const { createUdpLink } = await import(process.env.FM_LINK_MODULE);
const id = process.env.FM_ID, count = Number(process.env.FM_COUNT), peers = Number(process.env.FM_PEERS);
const link = await createUdpLink(JSON.parse(process.env.FM_OPTIONS));
const heard = [];
link.onFrame((frame, from) => heard.push({ text: Buffer.from(frame).toString(), from: from.address }));
console.log(JSON.stringify({ ready: id }));
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line === 'go') break;
for (let k = 0; k < count; k++) link.send(new TextEncoder().encode(id + ':' + k));
const deadline = Date.now() + 5000;
while (heard.length < peers * count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
await new Promise((r) => setTimeout(r, ${SETTLE_MS}));
console.log(JSON.stringify({ id, heard, stats: link.stats(), description: link.description }));
await link.close();
lines.close();
`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why namespaces cannot be created here, or undefined when they can (probed by creating one). */
function namespacesUnavailable(probe: string): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux, this is ${process.platform}`;
  try {
    ip('netns', 'add', probe);
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    const hint = process.getuid?.() === 0 ? 'is iproute2 installed?' : 'it needs root';
    return `cannot create a network namespace (${stderr || (err as Error).message}); ${hint}`;
  }
  return undefined;
}

interface ChildReport {
  readonly id: string;
  readonly heard: { text: string; from: string }[];
  readonly stats: { framesSent: number; framesReceived: number; sendErrors: number };
}

function lineReader(child: ChildProcess): () => Promise<string> {
  let buffer = '';
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const w = waiting.shift();
      if (w) w(line);
      else queue.push(line);
    }
  });
  return () => {
    const line = queue.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve, reject) => {
      waiting.push(resolve);
      child.once('exit', (code) => reject(new Error(`child exited (${code}) before writing a line`)));
    });
  };
}

test('udp link: nodes in three network namespaces on one bridge hear each other once, in both modes', async (t) => {
  const tag = `fm${process.pid % 100_000}`;
  const hub = `${tag}-hub`;
  const nodes = [1, 2, 3].map((k) => ({ ns: `${tag}-n${k}`, address: `10.77.0.${k}` }));
  const why = namespacesUnavailable(hub);
  if (why !== undefined) {
    t.skip(why);
    return;
  }
  const created = [hub];
  const children: ChildProcess[] = [];
  try {
    // A bridge in its own namespace and a veth pair from it to each node's namespace: the host's network is
    // never touched. Snooping off: no IGMP querier on this segment, flood every group to every port.
    ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0');
    ip('-n', hub, 'link', 'set', 'br0', 'up');
    for (const [k, node] of nodes.entries()) {
      ip('netns', 'add', node.ns);
      created.push(node.ns);
      ip('link', 'add', 'eth0', 'netns', node.ns, 'type', 'veth', 'peer', 'name', `p${k}`, 'netns', hub);
      ip('-n', hub, 'link', 'set', `p${k}`, 'master', 'br0', 'up');
      ip('-n', node.ns, 'addr', 'add', `${node.address}/24`, 'dev', 'eth0');
      ip('-n', node.ns, 'link', 'set', 'eth0', 'up');
      ip('-n', node.ns, 'link', 'set', 'lo', 'up');
    }
    const modes: [string, UdpLinkOptions][] = [
      ['multicast', { group: TEST_GROUP, port: 18_870 }],
      ['broadcast', { mode: 'broadcast', broadcastAddress: '10.77.0.255', port: 18_870 }],
    ];
    for (const [name, base] of modes) {
      const count = 5;
      const running = nodes.map((node) => {
        const child = spawn('ip', ['netns', 'exec', node.ns, process.execPath, '--import', 'tsx', '--input-type=module', '--eval', CHILD], {
          stdio: ['pipe', 'pipe', 'inherit'],
          env: {
            ...process.env,
            FM_LINK_MODULE: new URL('./udp-link.ts', import.meta.url).href,
            FM_ID: node.address,
            FM_COUNT: String(count),
            FM_PEERS: String(nodes.length - 1),
            FM_OPTIONS: JSON.stringify({ ...base, interfaceAddress: node.address }),
          },
        });
        children.push(child);
        return { child, next: lineReader(child) };
      });
      for (const r of running) assert.ok('ready' in JSON.parse(await r.next()));
      for (const r of running) r.child.stdin?.write('go\n');
      const reports = await Promise.all(running.map(async (r) => JSON.parse(await r.next()) as ChildReport));
      await Promise.all(running.map((r) => (r.child.exitCode === null ? once(r.child, 'exit') : undefined)));
      for (const report of reports) {
        const expected = nodes
          .filter((n) => n.address !== report.id)
          .flatMap((n) => Array.from({ length: count }, (_, k) => `${n.address}:${k}`))
          .sort();
        assert.deepEqual(
          report.heard.map((h) => h.text).sort(),
          expected,
          `${name}: ${report.id} hears each other node's frame once, none of its own`,
        );
        for (const h of report.heard) assert.equal(h.from.split(':')[0], h.text.split(':')[0], 'the sender is the other namespace');
        assert.deepEqual(
          { framesSent: report.stats.framesSent, framesReceived: report.stats.framesReceived, sendErrors: report.stats.sendErrors },
          { framesSent: count, framesReceived: (nodes.length - 1) * count, sendErrors: 0 },
        );
      }
      t.diagnostic(`${name}: ${nodes.length} namespaces, ${count} frames each, all heard once`);
    }
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
    // Deleting a namespace removes its end of each veth pair, and with it the other end.
    for (const ns of created.reverse()) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
  }
});
