// Tests of `fieldmesh pub` and `fieldmesh sub` against the embedded broker on a free port, with
// --json frame decoding and interop with Debian's mosquitto_pub / mosquitto_sub; against a real
// Mosquitto, sub's raw output is mosquitto_sub's byte for byte, and a frame saved from it goes back with pub -f.
// calendar: frames are encoded and decoded for display; no clock compares their times.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { type MosquittoInstance, mosquittoTool, startMosquitto } from '../../test/kit/mosquitto.js';
import { brokerConfigSchema, createBroker, type StartedBroker } from '../broker/index.js';
import { isFieldmeshError } from '../kit/index.js';
import { decodeWireFrame, encodeZoneFrame, type SeriesDef, SessionEncoder, type ZoneFrame } from '../protocol/index.js';
import { registerPub } from './pub.js';
import { createJsonRenderer, registerSub } from './sub.js';

interface Run {
  out: string[];
  err: string[];
  /** Everything written as raw bytes (sub without --json). */
  bytes(): Buffer;
  done: Promise<void>;
}

/** Runs `fieldmesh <args>` in-process through a commander program with captured output. */
function run(args: string[]): Run {
  const out: string[] = [];
  const err: string[] = [];
  const chunks: Uint8Array[] = [];
  const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t), bytes: (b: Uint8Array) => chunks.push(b) };
  const program = new Command('fieldmesh').exitOverride().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  registerPub(program, io);
  registerSub(program, io);
  for (const c of program.commands) c.exitOverride();
  const done = program.parseAsync(args, { from: 'user' }).then(() => undefined);
  return { out, err, bytes: () => Buffer.concat(chunks), done };
}

/** A Mosquitto client tool; npm test installs Debian's mosquitto-clients when it is missing. */
function tool(name: 'mosquitto_pub' | 'mosquitto_sub'): string {
  const path = mosquittoTool(name);
  if (path === undefined) throw new Error(`${name} is missing: install Debian's mosquitto-clients (npm test does)`);
  return path;
}

/** Runs a Mosquitto client tool to its end (-C/-W bound it) and returns its standard output as bytes. */
function runTool(name: 'mosquitto_pub' | 'mosquitto_sub', args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    execFile(tool(name), args, { encoding: 'buffer', timeout: 20_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
}

function series(alias: number, name: string, value: number): SeriesDef {
  return {
    alias,
    name,
    labels: { pack: 'a' },
    type: 'gauge',
    unit: 'volts',
    decimals: 2,
    deadband: { kind: 'none' },
    maxSilenceMs: 10_000,
    value,
  };
}

describe('cli pub and sub', () => {
  const broker = createBroker(brokerConfigSchema.parse({ listen: { port: 0 }, websocket: { enabled: false } }));
  let started: StartedBroker;
  let port: string;
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-cli-'));

  before(async () => {
    started = await broker.start();
    port = String(started.port);
  });
  after(async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('sub -v prints "topic payload" of a message published with pub while it listens', async () => {
    const sub = run(['sub', '-p', port, '-t', 'live/+', '-v', '-C', '1']);
    let finished = false;
    void sub.done.finally(() => {
      finished = true;
    });
    // Nothing tells us when sub's SUBSCRIBE has landed, so publish until it has printed one message.
    while (!finished) {
      await run(['pub', '-p', port, '-t', 'live/a', '-m', 'hello']).done;
      await Promise.race([sub.done, new Promise((r) => setTimeout(r, 20))]);
    }
    await sub.done;
    assert.equal(sub.bytes().toString('utf8'), 'live/a hello\n');
  });

  test('sub prints a payload byte for byte, bytes of 0x80 and above included, with a newline after it unless -N', async () => {
    const payload = Uint8Array.from([0x00, 0x80, 0xc3, 0x28, 0xff, 0x0a, 0xfe, 0x41]);
    writeFileSync(join(dir, 'raw.bin'), payload);
    await run(['pub', '-p', port, '-q', '1', '-r', '-t', 'raw/bytes', '-f', join(dir, 'raw.bin')]).done;
    // Three at once in one process: each needs a client id of its own.
    const plain = run(['sub', '-p', port, '-i', 'raw-plain', '-t', 'raw/bytes', '-C', '1']);
    const bare = run(['sub', '-p', port, '-i', 'raw-bare', '-t', 'raw/bytes', '-C', '1', '-N']);
    const verbose = run(['sub', '-p', port, '-i', 'raw-verbose', '-t', 'raw/bytes', '-C', '1', '-v', '-N']);
    await Promise.all([plain.done, bare.done, verbose.done]);
    assert.deepEqual(plain.bytes(), Buffer.concat([payload, Buffer.from('\n')]));
    assert.deepEqual(bare.bytes(), Buffer.from(payload));
    assert.deepEqual(verbose.bytes(), Buffer.concat([Buffer.from('raw/bytes '), payload]));
    assert.deepEqual(plain.out, [], 'raw payloads never go through the text channel');
  });

  test('sub --json decodes a birth and a data frame with series names and values', async () => {
    const enc = new SessionEncoder(3);
    const t0 = Date.UTC(2026, 0, 1);
    const birth = enc.birth({
      time: t0,
      zone: 'z1',
      agentVersion: 'test',
      tickMs: 1000,
      heartbeatMs: 10_000,
      series: [series(1, 'battery_voltage', 51.2), series(2, 'battery_current', -3.5)],
    });
    const data = enc.data(t0 + 1000, [{ alias: 1, value: 51.25 }]);
    writeFileSync(join(dir, 'birth.bin'), birth);
    writeFileSync(join(dir, 'data.bin'), data);
    // Retained, so sub receives them in subscription order without a race.
    await run(['pub', '-p', port, '-q', '1', '-r', '-t', 'fieldmesh/s1/n1/birth', '-f', join(dir, 'birth.bin')]).done;
    await run(['pub', '-p', port, '-q', '1', '-r', '-t', 'fieldmesh/s1/n1/data', '-f', join(dir, 'data.bin')]).done;
    const sub = run(['sub', '-p', port, '--json', '-t', 'fieldmesh/s1/n1/birth', '-t', 'fieldmesh/s1/n1/data', '-C', '2']);
    await sub.done;
    const [b, d] = sub.out.map((l) => JSON.parse(l));
    assert.equal(b.topic, 'fieldmesh/s1/n1/birth');
    assert.equal(b.site, 's1');
    assert.equal(b.node, 'n1');
    assert.equal(b.channel, 'birth');
    assert.equal(b.frame.type, 'birth');
    assert.equal(b.frame.epoch, 3);
    assert.deepEqual(
      b.frame.series.map((s: { name: string; value: number }) => [s.name, s.value]),
      [
        ['battery_voltage', 51.2],
        ['battery_current', -3.5],
      ],
    );
    assert.equal(d.channel, 'data');
    assert.equal(d.frame.type, 'data');
    assert.equal(d.frame.seq, 1);
    // [FM-FRAME-7] Each value with the time it was sampled (here: when the frame went out).
    assert.deepEqual(d.frame.values, [
      { alias: 1, name: 'battery_voltage', labels: { pack: 'a' }, value: 51.25, time: new Date(t0 + 1000).toISOString() },
    ]);
  });

  test('sub --json shows foreign payloads as text or base64 and undecodable frames as errors', async () => {
    writeFileSync(join(dir, 'junk.bin'), Uint8Array.from([0xff, 0xfe, 0x00]));
    await run(['pub', '-p', port, '-r', '-q', '1', '-t', 'other/text', '-m', 'plain words']).done;
    await run(['pub', '-p', port, '-r', '-q', '1', '-t', 'other/bin', '-f', join(dir, 'junk.bin')]).done;
    await run(['pub', '-p', port, '-r', '-q', '1', '-t', 'fieldmesh/s1/n2/event', '-f', join(dir, 'junk.bin')]).done;
    const sub = run(['sub', '-p', port, '--json', '-t', 'other/text', '-t', 'other/bin', '-t', 'fieldmesh/s1/n2/event', '-C', '3']);
    await sub.done;
    const [text, bin, bad] = sub.out.map((l) => JSON.parse(l));
    assert.deepEqual(text, { topic: 'other/text', payload: 'plain words' });
    assert.deepEqual(bin, { topic: 'other/bin', payload: { base64: Buffer.from([0xff, 0xfe, 0x00]).toString('base64') } });
    assert.equal(bad.topic, 'fieldmesh/s1/n2/event');
    assert.equal(bad.node, 'n2');
    assert.match(bad.error.code, /^FM_FRAME_/);
    assert.equal(typeof bad.error.reason, 'string');
    assert.equal(typeof bad.error.offset, 'number');
  });

  test("sub --json decodes zone frames on <prefix>/+/+/zone/<zone>, the sender being the topic's node", async () => {
    const t0 = Date.UTC(2026, 0, 1);
    const frames: [string, ZoneFrame][] = [
      [
        'n2',
        {
          type: 'detection',
          zone: 'north',
          epoch: 2,
          detection: { id: 'd-1', camera: 'cam-2', node: 'n2', class: 'fire', confidence: 0.9137, time: t0 },
        },
      ],
      [
        'n3',
        {
          type: 'vote',
          vote: {
            zone: 'north',
            epoch: 2,
            voter: 'n3',
            configHash: '00ff00ff00ff00ff',
            boot: 5,
            seq: 9,
            time: t0,
            ttlMs: 6_000,
            evidence: ['d-1'],
          },
        },
      ],
    ];
    for (const [node, frame] of frames) {
      writeFileSync(join(dir, `${node}.zone`), encodeZoneFrame(frame));
      await run(['pub', '-p', port, '-r', '-q', '1', '-t', `fieldmesh/ranch/${node}/zone/north`, '-f', join(dir, `${node}.zone`)]).done;
    }
    const sub = run(['sub', '-p', port, '--json', '-t', 'fieldmesh/+/+/zone/+', '-C', '2']);
    await sub.done;
    const lines = sub.out.map((l) => JSON.parse(l)).sort((a, b) => a.node.localeCompare(b.node));
    assert.deepEqual(lines, [
      {
        topic: 'fieldmesh/ranch/n2/zone/north',
        site: 'ranch',
        node: 'n2',
        channel: 'zone',
        zone: 'north',
        frame: {
          type: 'detection',
          zone: 'north',
          epoch: 2,
          detection: { id: 'd-1', camera: 'cam-2', node: 'n2', class: 'fire', confidence: 0.9137, time: new Date(t0).toISOString() },
        },
      },
      {
        topic: 'fieldmesh/ranch/n3/zone/north',
        site: 'ranch',
        node: 'n3',
        channel: 'zone',
        zone: 'north',
        frame: {
          type: 'vote',
          vote: {
            zone: 'north',
            epoch: 2,
            voter: 'n3',
            configHash: '00ff00ff00ff00ff',
            boot: 5,
            seq: 9,
            time: new Date(t0).toISOString(),
            ttlMs: 6_000,
            evidence: ['d-1'],
          },
        },
      },
    ]);
  });

  test('pub and sub reject bad usage with FM_CLI_USAGE', async () => {
    await assert.rejects(
      run(['pub', '-p', port, '-m', 'x']).done,
      (e) => isFieldmeshError(e, 'FM_CLI_USAGE') && /-t <topic>/.test(e.message),
    );
    await assert.rejects(run(['pub', '-p', port, '-t', 'a', '-m', 'x', '-n']).done, (e) => isFieldmeshError(e, 'FM_CLI_USAGE'));
    await assert.rejects(run(['pub', '-p', port, '-t', 'a/#', '-m', 'x']).done, (e) => isFieldmeshError(e, 'FM_CLI_USAGE'));
    await assert.rejects(run(['pub', '-p', 'nope', '-t', 'a', '-m', 'x']).done, (e) => isFieldmeshError(e, 'FM_CLI_USAGE'));
    await assert.rejects(run(['sub', '-p', port]).done, (e) => isFieldmeshError(e, 'FM_CLI_USAGE'));
    await assert.rejects(run(['sub', '-p', port, '-t', 'a', '-C', '0']).done, (e) => isFieldmeshError(e, 'FM_CLI_USAGE'));
    await assert.rejects(run(['pub', '-q', '2', '-t', 'a', '-m', 'x']).done, (e) => e instanceof CommanderError);
  });

  test('pub -h is the host and an unreachable broker fails with one clear FM_TRANSPORT_UNAVAILABLE error', async () => {
    const stopped = createBroker(brokerConfigSchema.parse({ listen: { port: 0 }, websocket: { enabled: false } }));
    const { port: deadPort } = await stopped.start();
    await stopped.stop();
    await assert.rejects(
      run(['pub', '-h', '127.0.0.1', '-p', String(deadPort), '-t', 'a', '-m', 'x']).done,
      (e) =>
        isFieldmeshError(e, 'FM_TRANSPORT_UNAVAILABLE') && e.message.includes(`mqtt://127.0.0.1:${deadPort}`) && !e.message.includes('\n'),
    );
  });

  test('sub -L takes host, port and topic from a URL', async () => {
    await run(['pub', '-L', `mqtt://127.0.0.1:${port}/url/topic`, '-r', '-q', '1', '-m', 'via url']).done;
    const sub = run(['sub', '-L', `mqtt://127.0.0.1:${port}/url/topic`, '-C', '1']);
    await sub.done;
    assert.equal(sub.bytes().toString('utf8'), 'via url\n');
  });

  test('sub receives what mosquitto_pub publishes to the embedded broker', async () => {
    await runTool('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-q',
      '1',
      '-r',
      '-t',
      'interop/from-mosquitto',
      '-m',
      'from mosquitto_pub',
    ]);
    const sub = run(['sub', '-p', port, '-t', 'interop/#', '-v', '-C', '1']);
    await sub.done;
    assert.equal(sub.bytes().toString('utf8'), 'interop/from-mosquitto from mosquitto_pub\n');
  });

  test('mosquitto_sub receives what pub publishes', async () => {
    await run(['pub', '-p', port, '-q', '1', '-r', '-t', 'interop/from-fieldmesh', '-m', 'from fieldmesh pub']).done;
    const output = await runTool('mosquitto_sub', [
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-t',
      'interop/from-fieldmesh',
      '-v',
      '-C',
      '1',
      '-W',
      '10',
    ]);
    assert.equal(output.toString('utf8'), 'interop/from-fieldmesh from fieldmesh pub\n');
  });
});

describe('cli sub against a real Mosquitto', () => {
  let mosquitto: MosquittoInstance;
  let port: string;
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-cli-mosquitto-'));
  const enc = new SessionEncoder(5);
  // A birth frame: varints and float64 values put many bytes of 0x80 and above on the wire.
  const frame = enc.birth({
    time: Date.now(),
    zone: 'z1',
    agentVersion: 'test',
    tickMs: 1000,
    heartbeatMs: 10_000,
    series: [series(1, 'battery_voltage', 51.23), series(200, 'battery_current', -3.51)],
  });

  before(async () => {
    mosquitto = await startMosquitto();
    port = String(mosquitto.port);
    writeFileSync(join(dir, 'frame.bin'), frame);
    // Published by mosquitto_pub itself, retained, so every subscriber below gets the same message.
    await runTool('mosquitto_pub', ['-p', port, '-q', '1', '-r', '-t', 'fieldmesh/s1/n1/birth', '-f', join(dir, 'frame.bin')]);
  });
  after(async () => {
    await mosquitto?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('sub writes the bytes mosquitto_sub writes, with and without -v and -N', async () => {
    assert.ok(
      frame.some((b) => b >= 0x80),
      'the frame has bytes of 0x80 and above',
    );
    for (const flags of [[], ['-N'], ['-v'], ['-v', '-N']]) {
      const theirs = await runTool('mosquitto_sub', ['-p', port, '-t', 'fieldmesh/s1/n1/birth', '-C', '1', '-W', '10', ...flags]);
      const ours = run(['sub', '-p', port, '-t', 'fieldmesh/s1/n1/birth', '-C', '1', '-W', '10', ...flags]);
      await ours.done;
      assert.deepEqual(ours.bytes(), theirs, `sub ${flags.join(' ')}`);
    }
  });

  test('a frame saved with `fieldmesh sub -N -C 1 > frame.bin` goes back with `pub -f frame.bin` and decodes the same', async (t) => {
    const saved = join(dir, 'saved.bin');
    const fd = openSync(saved, 'w');
    // The command as a user runs it, standard output redirected to a file.
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', main, 'sub', '-p', port, '-t', 'fieldmesh/s1/n1/birth', '-N', '-C', '1', '-W', '30'],
      { stdio: ['ignore', fd, 'pipe'] },
    );
    closeSync(fd);
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, stderr);
    assert.deepEqual(readFileSync(saved), Buffer.from(frame), 'the saved file is the frame');

    await run(['pub', '-p', port, '-q', '1', '-r', '-t', 'fieldmesh/s1/n2/birth', '-f', saved]).done;
    const resent = await runTool('mosquitto_sub', ['-p', port, '-t', 'fieldmesh/s1/n2/birth', '-N', '-C', '1', '-W', '10']);
    assert.deepEqual(resent, Buffer.from(frame));
    assert.deepEqual(decodeWireFrame(resent), decodeWireFrame(frame));
    assert.equal(decodeWireFrame(resent).ok, true);
  });
});

test('sub --json shows alert notifications on <prefix>/_hub/alerts as their JSON text, not as a wire-frame error', () => {
  const render = createJsonRenderer('fieldmesh');
  const payload = new TextEncoder().encode('{"version":"4","status":"firing"}');
  assert.deepEqual(render({ topic: 'fieldmesh/_hub/alerts', payload, retain: false }), {
    topic: 'fieldmesh/_hub/alerts',
    payload: '{"version":"4","status":"firing"}',
  });
});

test('sub --json renders every zone frame type with RFC 3339 times, and an undecodable one on a zone topic as an error', () => {
  const render = createJsonRenderer('fieldmesh');
  const t0 = Date.UTC(2026, 0, 1);
  const at = new Date(t0).toISOString();
  const frame = (f: ZoneFrame) => render({ topic: 'fieldmesh/ranch/n1/zone/north', payload: encodeZoneFrame(f), retain: false }).frame;
  assert.deepEqual(frame({ type: 'epoch', zone: 'north', epoch: 4, by: 'olga', reason: 'elect' }), {
    type: 'epoch',
    zone: 'north',
    epoch: 4,
    by: 'olga',
    reason: 'elect',
  });
  assert.deepEqual(
    frame({
      type: 'pumpState',
      zone: 'north',
      pump: 'p1',
      state: 'running',
      cause: 'majority',
      epoch: 4,
      since: t0,
      runtimeMs: 1_500,
      leaseUntil: t0 + 6_000,
    }),
    {
      type: 'pumpState',
      zone: 'north',
      pump: 'p1',
      state: 'running',
      cause: 'majority',
      epoch: 4,
      since: at,
      runtimeMs: 1_500,
      leaseUntil: new Date(t0 + 6_000).toISOString(),
    },
  );
  assert.deepEqual(frame({ type: 'command', zone: 'north', pump: 'p1', action: 'estop', epoch: 4, id: 'c-1', by: 'api:olga', time: t0 }), {
    type: 'command',
    zone: 'north',
    pump: 'p1',
    action: 'estop',
    epoch: 4,
    id: 'c-1',
    by: 'api:olga',
    time: at,
  });
  assert.deepEqual(frame({ type: 'held', zone: 'north', epoch: 4, keys: [7, 0xffffffff] }), {
    type: 'held',
    zone: 'north',
    epoch: 4,
    keys: [7, 0xffffffff],
  });
  const bad = render({ topic: 'fieldmesh/ranch/n1/zone/north', payload: Uint8Array.of(0x10, 19, 5), retain: false });
  assert.equal(bad.node, 'n1');
  assert.equal(bad.channel, 'zone');
  assert.equal((bad.error as { reason: string }).reason, 'truncated');
});
