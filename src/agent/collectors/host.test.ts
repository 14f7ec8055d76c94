// Tests of the host collector on the machine running the tests, driven by a manual clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../kit/index.js';
import { cpuUsageRatio, createHostCollector, hostCollectorSchema, memAvailableBytes } from './host.js';
import { createTestContext } from './test-context.js';

test('host collector: reports cpu, load, memory, disk and uptime in base units each interval', async () => {
  const clock = new ManualClock();
  const ctx = createTestContext({ clock });
  const collector = createHostCollector(hostCollectorSchema.parse({ type: 'host', disk_paths: ['/', '/no/such/path'] }), 0);
  await collector.start(ctx);
  clock.advance(0);
  await ctx.waitFor(() => ctx.samples.some((s) => s.name === 'host_uptime_seconds'), 5_000, 'first tick');
  for (let i = 0; i < 1e6; i++) Math.sqrt(i); // some CPU time between the two readings
  const firstCount = ctx.samples.length;
  clock.advance(10_000);
  await ctx.waitFor(() => ctx.samples.length > firstCount + 5, 5_000, 'second tick');
  await collector.stop();
  const names = new Set(ctx.samples.map((s) => s.name));
  for (const n of [
    'host_cpu_usage_ratio',
    'host_load1',
    'host_load5',
    'host_load15',
    'host_memory_total_bytes',
    'host_memory_available_bytes',
    'host_disk_size_bytes',
    'host_disk_free_bytes',
    'host_uptime_seconds',
  ]) {
    assert.ok(names.has(n), n);
  }
  const ratio = ctx.samples.find((s) => s.name === 'host_cpu_usage_ratio');
  assert.ok(ratio !== undefined && ratio.value >= 0 && ratio.value <= 1);
  const total = ctx.samples.find((s) => s.name === 'host_memory_total_bytes')?.value ?? 0;
  const avail = ctx.samples.find((s) => s.name === 'host_memory_available_bytes')?.value ?? -1;
  assert.ok(avail > 0 && avail <= total);
  const disk = ctx.samples.filter((s) => s.name === 'host_disk_free_bytes');
  assert.deepEqual(disk[0]?.labels, { path: '/' });
  assert.ok(
    disk.every((d) => d.labels.path === '/'),
    'unreadable paths skipped',
  );
  assert.equal(ctx.logs.filter((l) => l.level === 'warn').length, 1, 'one warning per bad path');
  assert.equal(ctx.samples.find((s) => s.name === 'host_uptime_seconds')?.unit, 'seconds');
});

test('host collector: cpu ratio from time deltas and MemAvailable parsing', () => {
  assert.equal(cpuUsageRatio({ busy: 100, total: 1000 }, { busy: 150, total: 1100 }), 0.5);
  assert.equal(cpuUsageRatio({ busy: 100, total: 1000 }, { busy: 100, total: 1000 }), undefined);
  assert.equal(memAvailableBytes('MemTotal: 100 kB\nMemFree: 10 kB\nMemAvailable:   2048 kB\n'), 2048 * 1024);
  assert.equal(memAvailableBytes('MemTotal: 100 kB\n'), undefined);
});
