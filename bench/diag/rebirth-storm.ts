// Issue 13's rebirth storm at small cost: a Mosquitto configured as bench/hub-scale.ts does, the real hub in one
// process with its event loop starved for 40 s (rebirth-storm-hub.ts), the load generator's nodes in another, and
// Mosquitto's own count of the messages it dropped. Run under the bench lock:
//   flock /tmp/fm-bench.lock npx tsx bench/diag/rebirth-storm.ts [nodes=10000] [stallMs=2900] [seconds=110]
import { type ChildProcess, spawn } from 'node:child_process';
import { createMqttTransport } from '../../src/transport/index.js';
import { startMosquitto } from '../../test/kit/mosquitto.js';

const nodes = Number(process.argv[2] ?? 10_000);
const stallMs = process.argv[3] ?? '2900';
const seconds = Number(process.argv[4] ?? 110);
const mosquitto = await startMosquitto({
  quiet: true,
  extraConfig: ['max_queued_messages 200000', 'max_inflight_messages 1000', 'sys_interval 1'],
});
const sys = createMqttTransport({ url: mosquitto.url, clientId: 'rebirth-storm-sys' });
const broker = { dropped: 0, peakStored: 0 };
const children: ChildProcess[] = [];
try {
  sys.start();
  await new Promise<void>((resolve) => sys.on('connected', () => resolve()));
  sys.subscribe('$SYS/broker/publish/messages/dropped', (m) => {
    broker.dropped = Number(Buffer.from(m.payload).toString());
  });
  sys.subscribe('$SYS/broker/store/messages/count', (m) => {
    broker.peakStored = Math.max(broker.peakStored, Number(Buffer.from(m.payload).toString()));
  });
  const run = (file: string, args: string[]) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      cwd: import.meta.dirname,
    });
    children.push(child);
    child.stdout?.pipe(process.stdout);
    return child;
  };
  const hub = run('rebirth-storm-hub.ts', [mosquitto.url, stallMs, String(seconds)]);
  await new Promise<void>((resolve) => hub.stdout?.on('data', (d: Buffer) => d.toString().includes('HUB READY') && resolve()));
  const load = run('rebirth-storm-load.ts', [mosquitto.url, String(nodes), String(seconds + 5)]);
  await Promise.all([hub, load].map((c) => new Promise((resolve) => c.once('exit', resolve))));
  console.log(JSON.stringify({ broker }));
} finally {
  for (const c of children) if (c.exitCode === null) c.kill();
  await sys.close();
  await mosquitto.stop();
}
