// `fieldmesh demo`: broker + hub + simulated fleet in one process; live status line, JSON summary.

import type { Command } from 'commander';
import { FieldmeshError, parseDurationMs } from '../kit/index.js';
import { DEMO_DEFAULTS, type DemoStatus, type DemoZones, startDemo } from '../sim/index.js';
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

/** `--fire-at 30s` in ms; `off` is null (no fire). */
export function parseFireAt(v: string | undefined): number | null {
  if (v === undefined) return DEMO_DEFAULTS.fireAtMs;
  if (v === 'off') return null;
  const ms = parseDurationMs(v);
  if (ms === undefined || ms < 0) throw new FieldmeshError('FM_CLI_USAGE', `--fire-at must look like 30s, 2m or off, got "${v}"`);
  return ms;
}

/** The zones' part of the status line: the fire to come, then each pump that started, when and why. */
export function zonesText(z: DemoZones, elapsedSeconds: number): string {
  if (z.fireZone === null) return '';
  if (z.fireAtSeconds === null) return ' · no fire (--fire-at off)';
  if (elapsedSeconds < z.fireAtSeconds) return ` · fire in ${z.fireZone} in ${Math.ceil(z.fireAtSeconds - elapsedSeconds)} s`;
  const started = z.pumps.filter((p) => p.startedAfterSeconds !== null);
  if (started.length === 0) return ` · fire in ${z.fireZone} since ${z.fireAtSeconds} s, pumps not started yet`;
  return ` · fire in ${z.fireZone} at ${z.fireAtSeconds} s: ${started
    .map((p) => `${p.pump} started at ${p.startedAfterSeconds} s (${p.startCause})${p.running ? '' : ', stopped since'}`)
    .join(', ')}`;
}

export function statusLine(s: DemoStatus, elapsedSeconds = 0): string {
  return `${s.nodesOnline}/${s.nodes} nodes online · ${s.updatesPerSecond.toFixed(1)} updates/s · ${formatRate(s.wireBytesPerSecond)} on the wire${zonesText(s.zones, elapsedSeconds)}`;
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
    .option(
      '--fire-at <d>',
      `when a fire appears in the first fire-watch site's north zone (default ${DEMO_DEFAULTS.fireAtMs / 1000}s; off for none)`,
    )
    .action(
      async (opts: {
        nodes?: string;
        sites?: string;
        duration?: string;
        json?: boolean;
        port?: string;
        httpPort?: string;
        fireAt?: string;
      }) => {
        const nodes = positiveInt('nodes', DEMO_DEFAULTS.nodes)(opts.nodes);
        const sites = positiveInt('sites', DEMO_DEFAULTS.sites)(opts.sites);
        if (sites > nodes) throw new FieldmeshError('FM_CLI_USAGE', `--sites (${sites}) cannot exceed --nodes (${nodes})`);
        const durationMs = opts.duration === undefined ? undefined : parseDurationMs(opts.duration);
        if (opts.duration !== undefined && (durationMs === undefined || durationMs <= 0)) {
          throw new FieldmeshError('FM_CLI_USAGE', `--duration must look like 30s, 5m or 1h, got "${opts.duration}"`);
        }
        const fireAtMs = parseFireAt(opts.fireAt);
        const demo = await startDemo({
          nodes,
          sites,
          fireAtMs,
          brokerPort: positiveInt('port', DEMO_DEFAULTS.brokerPort)(opts.port),
          hubPort: positiveInt('http-port', DEMO_DEFAULTS.hubPort)(opts.httpPort),
          logger: createCliLogger(process.env.FIELDMESH_LOG_LEVEL ?? 'warn'),
        });
        const say = opts.json ? io.err : io.out;
        for (const note of demo.portNotes) say(note);
        say(`broker  ${demo.brokerUrl}${demo.wsUrl ? `  (WebSocket ${demo.wsUrl})` : ''}`);
        say(`console ${demo.consoleUrl}`);
        say(`${nodes} nodes on ${sites} sites${durationMs ? ` for ${opts.duration}` : '; Ctrl-C to stop'}`);
        for (const site of demo.siteZones) {
          say(
            `zones  ${site.site}: ${site.zones.map((z) => `${z.id} (voters ${(z.voters as string[]).join(', ')})`).join(', ')}` +
              (site.fire === undefined
                ? ''
                : fireAtMs === null
                  ? '; no fire (--fire-at off)'
                  : `; a fire in ${site.fire.zone} ${fireAtMs / 1000} s after start`),
          );
        }
        if (demo.siteZones.length === 0 && nodes > 1)
          say('zones  none: a fire-watch site needs 3 nodes for a zone of 3 voters (raise --nodes)');
        else if (!demo.hubHasZones && demo.siteZones.length > 0)
          say('zones  run in the nodes; this hub takes no zones: yet, so the console does not show them');
        const startedAt = Date.now();
        const tty = process.stdout.isTTY === true && !opts.json;
        let ticks = 0;
        const timer = setInterval(() => {
          ticks++;
          demo
            .status()
            .then((s) => {
              if (opts.json) return;
              const line = statusLine(s, (Date.now() - startedAt) / 1000);
              if (tty) process.stdout.write(`\r\x1b[2K${line}`);
              else if (ticks % 5 === 0) io.out(line);
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
          const zones = zonesText(summary.zones, summary.durationSeconds);
          if (zones !== '') io.out(`zones: ${zones.slice(3)}`);
        }
      },
    );
}
