// `fieldmesh sim`: run a scenario of the awareness plane over emulated links and write the report.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { FieldmeshError, parseDurationMs } from '../kit/index.js';
import {
  BUILTIN_SCENARIOS,
  type FireSafetyReport,
  loadScenario,
  measureRadioLatency,
  type RadioLatencyReport,
  runFirePartitions,
  runSim,
} from '../sim/index.js';
import type { CliIo } from './io.js';
import { createCliLogger } from './logger.js';

interface SimOptions {
  scenario: string;
  nodes?: string;
  duration?: string;
  loss?: string;
  seed?: string;
  out: string;
  baseline: boolean;
  progress: boolean;
  json?: boolean;
  schedules?: string;
}

/** The zone consensus proof: random partition schedules judged by an oracle (src/sim/fire-partitions.ts). */
const FIRE_PARTITIONS = 'fire-partitions';
const FIRE_DEFAULT_SCHEDULES = 1_000;
const FIRE_DEFAULT_SEED = 1;
/** Zone sizes and trials of the radio latency figure (two agreeing cameras on two nodes). */
const FIRE_RADIO_VOTERS = [3, 5, 10] as const;
const FIRE_RADIO_TRIALS = 300;
/** The paths the radio latency is measured on: UDP datagrams, the broker star, the broker's per-tick digest. */
const FIRE_RADIO_PATHS = ['udp', 'mqtt', 'mqtt-digest'] as const;

/** The fire-partitions report as Markdown: the safety figures and the latency per path and zone size. */
function fireReportMarkdown(safety: FireSafetyReport, radio: readonly RadioLatencyReport[], wallSeconds: number): string {
  const ms = (v: number | null) => (v === null ? '-' : `${v} ms`);
  const lines = [
    '# fieldmesh sim: fire-partitions',
    '',
    `${safety.schedules} schedules, seed ${safety.seed}, ${wallSeconds} s of wall time.`,
    '',
    '| safety | value | must be |',
    '|---|---|---|',
    `| actuationsWithoutMajority | ${safety.actuationsWithoutMajority} | 0 |`,
    `| staleCommandsAccepted | ${safety.staleCommandsAccepted} | 0 |`,
    `| staleDecisionsAccepted | ${safety.staleDecisionsAccepted} | 0 |`,
    `| runtimeLimitViolations | ${safety.runtimeLimitViolations} | 0 |`,
    `| minOffViolations | ${safety.minOffViolations} | 0 |`,
    `| missedFires | ${safety.missedFires} of ${safety.firesWithMajoritySide} | |`,
    `| decision latency (message network) | p50 ${ms(safety.decisionLatencyP50Ms)}, p99 ${ms(safety.decisionLatencyP99Ms)} (${safety.latencySamples} samples) | |`,
    `| seedRule.unsafeActuations | ${safety.seedRule.unsafeActuations} (split brain in ${safety.seedRule.splitBrainSchedules} schedules) | > 0 |`,
    '',
    `## Decision latency on the radio (${radio[0]?.medium ?? '1 MHz'}, ${(radio[0]?.loss ?? 0.1) * 100} % loss)`,
    '',
    'From the second agreeing detection (two cameras on two nodes) to the pump start; the goal is 1 s p99.',
    '',
    '| path | voters | p50 | p99 | max | within 1 s | not started |',
    '|---|---|---|---|---|---|---|',
    ...radio.map(
      (r) =>
        `| ${r.path} | ${r.voters} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${ms(r.maxMs)} | ${r.withinOneSecond} of ${r.trials} | ${r.notStarted} |`,
    ),
    '',
    ...FIRE_RADIO_PATHS.map((path) => `- \`${path}\`: ${radio.find((r) => r.path === path)?.transport ?? ''}`),
    '',
  ];
  return lines.join('\n');
}

async function runFireScenario(o: SimOptions, io: CliIo): Promise<void> {
  const schedules = o.schedules === undefined ? FIRE_DEFAULT_SCHEDULES : Number(o.schedules);
  if (!Number.isInteger(schedules) || schedules < 1)
    throw new FieldmeshError('FM_CLI_USAGE', `--schedules must be a positive integer, got "${o.schedules}"`);
  const seed = o.seed === undefined ? FIRE_DEFAULT_SEED : Number(o.seed);
  if (!Number.isInteger(seed) || seed < 0)
    throw new FieldmeshError('FM_CLI_USAGE', `--seed must be a non-negative integer, got "${o.seed}"`);
  const showProgress = o.progress && !o.json && process.stderr.isTTY;
  const started = performance.now();
  const { safety, failures } = await runFirePartitions({
    schedules,
    seed,
    onProgress: showProgress ? (done, total) => process.stderr.write(`\rfire-partitions ${done}/${total}`) : undefined,
  });
  if (showProgress) process.stderr.write('\n');
  // Beside the safety schedules: the decision latency on the emulated radio (1 MHz, 10 % loss), over UDP
  // broadcast, through the broker, and through the broker's per-tick digest. [FM-ZONE-SIM-6]
  const radio: RadioLatencyReport[] = [];
  for (const transport of FIRE_RADIO_PATHS)
    for (const voters of FIRE_RADIO_VOTERS)
      radio.push(await measureRadioLatency({ trials: FIRE_RADIO_TRIALS, seed, loss: 0.1, voters, transport }));
  const wallSeconds = Math.round((performance.now() - started) / 100) / 10;
  const report = {
    scenario: FIRE_PARTITIONS,
    clock: 'simulated',
    wallSeconds,
    safety,
    radio,
    failures: failures.slice(0, 50),
  };
  const outDir = resolve(o.out);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'report.md'), fireReportMarkdown(safety, radio, wallSeconds));
  if (o.json) io.out(JSON.stringify(report, null, 2));
  else {
    io.out(
      `${safety.schedules} schedules: ${safety.actuationsWithoutMajority} actuations without a majority, ${safety.staleCommandsAccepted} stale commands accepted, ` +
        `${safety.runtimeLimitViolations} runtime limit violations, ${safety.missedFires} missed fires of ${safety.firesWithMajoritySide}, ` +
        `decision latency p99 ${safety.decisionLatencyP99Ms ?? '-'} ms; the seed's rule: ${safety.seedRule.unsafeActuations} unsafe actuations`,
    );
    for (const r of radio)
      io.out(
        `radio ${r.path}, ${r.voters} voters, ${r.loss * 100} % loss: second detection to pump start p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms`,
      );
    io.out(`report: ${join(outDir, 'report.md')}`);
  }
  const unsafe =
    safety.actuationsWithoutMajority + safety.staleCommandsAccepted + safety.staleDecisionsAccepted + safety.runtimeLimitViolations;
  if (unsafe > 0) process.exitCode = 1;
}

function overrides(o: SimOptions): Record<string, number> {
  const out: Record<string, number> = {};
  if (o.nodes !== undefined) {
    const n = Number(o.nodes);
    if (!Number.isInteger(n) || n < 1) throw new FieldmeshError('FM_CLI_USAGE', `--nodes must be a positive integer, got "${o.nodes}"`);
    out.nodes = n;
  }
  if (o.duration !== undefined) {
    const ms = parseDurationMs(o.duration);
    if (ms === undefined || ms <= 0) throw new FieldmeshError('FM_CLI_USAGE', `--duration must look like 60s or 5m, got "${o.duration}"`);
    out.durationS = ms / 1000;
  }
  if (o.loss !== undefined) {
    const p = Number(o.loss);
    if (!(p >= 0 && p <= 1)) throw new FieldmeshError('FM_CLI_USAGE', `--loss must be a probability between 0 and 1, got "${o.loss}"`);
    out.loss = p;
  }
  if (o.seed !== undefined) {
    const seed = Number(o.seed);
    if (!Number.isInteger(seed) || seed < 0)
      throw new FieldmeshError('FM_CLI_USAGE', `--seed must be a non-negative integer, got "${o.seed}"`);
    out.seed = seed;
  }
  return out;
}

export function registerSim(program: Command, io: CliIo): void {
  program
    .command('sim')
    .description(
      `simulate the awareness plane over emulated links and report beside the JSON-star baseline (${BUILTIN_SCENARIOS.join(', ')}), or zone consensus under random partitions (${FIRE_PARTITIONS})`,
    )
    .option(
      '--scenario <name|file>',
      `a built-in scenario (${BUILTIN_SCENARIOS.join(', ')}, ${FIRE_PARTITIONS}) or a scenario YAML file`,
      'steady',
    )
    .option('--nodes <n>', "override the scenario's node count")
    .option('--duration <d>', "override the scenario's duration (e.g. 60s)")
    .option('--loss <p>', 'override the random frame loss per receiver (0..1)')
    .option('--seed <n>', 'override the random seed')
    .option('--out <dir>', 'where report.json, report.md and the plots go', 'sim-report')
    .option(
      '--no-baseline',
      'skip the JSON-star baseline: JSON per metric over an MQTT star, as deployments run today, through a real Mosquitto',
    )
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print report.json on stdout')
    .option('--schedules <n>', `${FIRE_PARTITIONS}: how many random schedules (default ${FIRE_DEFAULT_SCHEDULES})`)
    .action(async (o: SimOptions) => {
      if (o.scenario === FIRE_PARTITIONS) return runFireScenario(o, io);
      const scenario = await loadScenario(o.scenario, { overrides: overrides(o) });
      const outDir = resolve(o.out);
      const { results, written } = await runSim(scenario, {
        outDir,
        baseline: o.baseline,
        progress: o.progress && !o.json,
        logger: createCliLogger(process.env.FIELDMESH_LOG_LEVEL ?? 'warn'),
      });
      if (o.json) {
        io.out(JSON.stringify(results, null, 2));
        return;
      }
      for (const d of results.designs) {
        const m = d.measures;
        const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(x < 0.1 ? 2 : 1)} %`);
        const ms = (x: number | null) => (x === null ? '-' : `${(x / 1000).toFixed(1)} s`);
        io.out(
          `${d.name}: ${m.onAirBps === null ? '-' : `${(m.onAirBps / 1000).toFixed(1)} kbps`} on air, airtime ${pct(m.airtimeShare)}, ` +
            `${m.framesPerNodePerS?.toFixed(2) ?? '-'} frames/node/s, ${m.payloadBytesPerNodeTick?.toFixed(1) ?? '-'} B/node-tick, ` +
            `completeness ${pct(m.completeness)}, detection p99 ${ms(m.detectionP99Ms)}, false verdicts ${m.falseVerdicts ?? '-'}`,
        );
      }
      io.out(`report: ${written.markdown}`);
    });
}
