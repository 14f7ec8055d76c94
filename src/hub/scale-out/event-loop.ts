// How late this process's event loop runs its callbacks (perf_hooks monitorEventLoopDelay), on /metrics: a hub process
// whose loop is saturated answers late, renews its lease late and reads its sockets late, whatever its CPU share says.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/** The delays are summed over windows of this length; the gauges show the last complete window. */
const WINDOW_MS = 5_000;

export interface EventLoopWatch {
  stop(): void;
}

/**
 * `fieldmesh_event_loop_delay_seconds{quantile}`: p50, p99 and max (quantile "1") of the loop's delay over the last
 * 5 s window, and `fieldmesh_event_loop_delay_max_seconds`, the largest window maximum since the start.
 */
export function watchEventLoop(registry: Registry): EventLoopWatch {
  const monitor = monitorEventLoopDelay({ resolution: 10 });
  monitor.enable();
  const registers = [registry];
  const delay = new Gauge({
    name: 'fieldmesh_event_loop_delay_seconds',
    help: "Delay of this process's event loop over the last 5 s window (quantile 0.5, 0.99, and 1: the largest).",
    labelNames: ['quantile'] as const,
    registers,
  });
  const peak = new Gauge({
    name: 'fieldmesh_event_loop_delay_max_seconds',
    help: "The largest delay of this process's event loop seen since it started, seconds.",
    registers,
  });
  let largest = 0;
  const roll = () => {
    // The histogram is in ns; an empty window (no sample yet) reads 0.
    const max = monitor.count === 0 ? 0 : monitor.max / 1e9;
    delay.set({ quantile: '0.5' }, monitor.count === 0 ? 0 : monitor.percentile(50) / 1e9);
    delay.set({ quantile: '0.99' }, monitor.count === 0 ? 0 : monitor.percentile(99) / 1e9);
    delay.set({ quantile: '1' }, max);
    largest = Math.max(largest, max);
    peak.set(largest);
    monitor.reset();
  };
  const timer = setInterval(roll, WINDOW_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      monitor.disable();
    },
  };
}
