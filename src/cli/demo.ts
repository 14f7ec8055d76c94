// `fieldmesh demo`: broker + hub + simulated fleet in one process; live status line, JSON summary.

import type { Command } from 'commander';
import { FieldmeshError, parseDurationMs } from '../kit/index.js';
import { DEMO_DEFAULTS, type DemoStatus, startDemo } from '../sim/index.js';
import type { CliIo } from './io.js';
import { createCliLogger } from './logger.js';

function positiveInt(name: string, fallback: number) {
  return (v: string | undefined): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new FieldmeshError('FM_CLI_USAGE', `--${name} must be a positive integer, got "${v}"`);
    return n;
  };
}

function formatRate(bytesPerSecond: number): string {
  return bytesPerSecond >= 1024 ? `${(bytesPerSecond / 1024).toFixed(1)} KiB/s` : `${Math.round(bytesPerSecond)} B/s`;
}

export function statusLine(s: DemoStatus): string {
  return `${s.nodesOnline}/${s.nodes} nodes online · ${s.updatesPerSecond.toFixed(1)} updates/s · ${formatRate(s.wireBytesPerSecond)} on the wire`;
}

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('run an embedded broker, a hub and a simulated fleet (battery and fire-watch sites) in one process')
    .option('--nodes <n>', `simulated nodes (default ${DEMO_DEFAULTS.nodes})`)
    .option('--sites <n>', `sites, battery and fire-watch alternating (default ${DEMO_DEFAULTS.sites})`)
    .option('--duration <d>', 'stop after this long (e.g. 30s) and print a summary')
    .option('--json', 'no live status; print the summary as JSON')
    .option('--port <n>', `MQTT port (default ${DEMO_DEFAULTS.brokerPort}; a free one if taken)`)
    .option('--http-port <n>', `console port (default ${DEMO_DEFAULTS.hubPort}; a free one if taken)`)
    .action(async (opts: { nodes?: string; sites?: string; duration?: string; json?: boolean; port?: string; httpPort?: string }) => {
      const nodes = positiveInt('nodes', DEMO_DEFAULTS.nodes)(opts.nodes);
      const sites = positiveInt('sites', DEMO_DEFAULTS.sites)(opts.sites);
      if (sites > nodes) throw new FieldmeshError('FM_CLI_USAGE', `--sites (${sites}) cannot exceed --nodes (${nodes})`);
      const durationMs = opts.duration === undefined ? undefined : parseDurationMs(opts.duration);
      if (opts.duration !== undefined && (durationMs === undefined || durationMs <= 0)) {
        throw new FieldmeshError('FM_CLI_USAGE', `--duration must look like 30s, 5m or 1h, got "${opts.duration}"`);
      }
      const demo = await startDemo({
        nodes,
        sites,
        brokerPort: positiveInt('port', DEMO_DEFAULTS.brokerPort)(opts.port),
        hubPort: positiveInt('http-port', DEMO_DEFAULTS.hubPort)(opts.httpPort),
        logger: createCliLogger(process.env.FIELDMESH_LOG_LEVEL ?? 'warn'),
      });
      const say = opts.json ? io.err : io.out;
      for (const note of demo.portNotes) say(note);
      say(`broker  ${demo.brokerUrl}${demo.wsUrl ? `  (WebSocket ${demo.wsUrl})` : ''}`);
      say(`console ${demo.consoleUrl}`);
      say(`${nodes} nodes on ${sites} sites${durationMs ? ` for ${opts.duration}` : '; Ctrl-C to stop'}`);

      const tty = process.stdout.isTTY === true && !opts.json;
      let ticks = 0;
      const timer = setInterval(() => {
        ticks++;
        demo
          .status()
          .then((s) => {
            if (opts.json) return;
            if (tty) process.stdout.write(`\r\x1b[2K${statusLine(s)}`);
            else if (ticks % 5 === 0) io.out(statusLine(s));
          })
          .catch(() => {});
      }, 1000);

      await new Promise<void>((resolve) => {
        const done = () => resolve();
        if (durationMs !== undefined) setTimeout(done, durationMs);
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      clearInterval(timer);
      if (tty) process.stdout.write('\n');
      const summary = await demo.stop();
      if (opts.json) io.out(JSON.stringify(summary, null, 2));
      else {
        io.out(
          `summary: ${summary.nodesSeenOnline}/${summary.nodes} nodes seen online, ${summary.framesReceivedByHub} frames and ${summary.samplesReceivedByHub} samples at the hub, ` +
            `${summary.wireBytesPerNodePerSecond} B/s per node on the wire, sample age p50 ${summary.sampleAgeAtHubMs.p50} ms, p99 ${summary.sampleAgeAtHubMs.p99} ms`,
        );
      }
    });
}
