// The `host` collector: CPU, load, memory, disk, and uptime of the machine the agent runs on, in base
// units with a `host_` prefix.

import { readFile, statfs } from 'node:fs/promises';
import { cpus, freemem, loadavg, totalmem, uptime } from 'node:os';
import { z } from 'zod';
import { durationMs } from '../../kit/index.js';
import type { Collector, Sample } from './collector.js';
import { collectorName, collectorNameSchema } from './collector-name.js';
import { type IntervalLoop, startIntervalLoop } from './interval-loop.js';

export const hostCollectorSchema = z.strictObject({
  type: z.literal('host'),
  name: collectorNameSchema,
  interval: durationMs('10s'),
  /** Mount points whose size and free space are reported. */
  disk_paths: z.array(z.string().min(1)).default(['/']),
});

export type HostCollectorConfig = z.output<typeof hostCollectorSchema>;

interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

function cpuTimes(): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

/** Busy share of CPU time between two readings, 0..1; undefined when no time passed. */
export function cpuUsageRatio(before: CpuTimes, after: CpuTimes): number | undefined {
  const total = after.total - before.total;
  if (total <= 0) return undefined;
  return Math.min(1, Math.max(0, (after.busy - before.busy) / total));
}

/** MemAvailable from /proc/meminfo text in bytes, or undefined when the kernel does not report it. */
export function memAvailableBytes(meminfo: string): number | undefined {
  const m = /^MemAvailable:\s+(\d+)\s*kB/m.exec(meminfo);
  return m === null ? undefined : Number(m[1]) * 1024;
}

async function availableMemory(): Promise<number> {
  try {
    return memAvailableBytes(await readFile('/proc/meminfo', 'utf8')) ?? freemem();
  } catch {
    return freemem();
  }
}

export function createHostCollector(config: HostCollectorConfig, index: number): Collector {
  const name = collectorName('host', config.name, index);
  let loop: IntervalLoop | undefined;
  let lastCpu: CpuTimes | undefined;
  let warnedPaths = new Set<string>();

  return {
    kind: 'host',
    name,
    async start(ctx) {
      lastCpu = cpuTimes();
      warnedPaths = new Set();
      loop = startIntervalLoop(ctx.clock, ctx.logger, config.interval, async () => {
        const time = ctx.clock.now();
        const g = (metric: string, value: number, unit: string, labels: Record<string, string> = {}): Sample => ({
          name: metric,
          labels,
          value,
          time,
          type: 'gauge',
          unit,
        });
        const samples: Sample[] = [];
        const cpu = cpuTimes();
        const ratio = lastCpu === undefined ? undefined : cpuUsageRatio(lastCpu, cpu);
        lastCpu = cpu;
        if (ratio !== undefined) samples.push(g('host_cpu_usage_ratio', ratio, 'ratio'));
        const [l1, l5, l15] = loadavg();
        samples.push(g('host_load1', l1 ?? 0, 'ratio'), g('host_load5', l5 ?? 0, 'ratio'), g('host_load15', l15 ?? 0, 'ratio'));
        samples.push(g('host_cpu_count', cpus().length, 'count'));
        samples.push(g('host_memory_total_bytes', totalmem(), 'bytes'), g('host_memory_available_bytes', await availableMemory(), 'bytes'));
        for (const path of config.disk_paths) {
          try {
            const s = await statfs(path);
            samples.push(
              g('host_disk_size_bytes', s.blocks * s.bsize, 'bytes', { path }),
              g('host_disk_free_bytes', s.bavail * s.bsize, 'bytes', { path }),
            );
          } catch (err) {
            if (!warnedPaths.has(path)) ctx.logger.warn({ path, err: (err as Error).message }, `${name}: cannot stat ${path}`);
            warnedPaths.add(path);
          }
        }
        samples.push(g('host_uptime_seconds', uptime(), 'seconds'));
        await ctx.record(samples);
      });
    },
    async stop() {
      await loop?.stop();
      loop = undefined;
    },
  };
}
