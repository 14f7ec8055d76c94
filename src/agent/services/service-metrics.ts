// The services on the node's /metrics, read from the supervisor at each scrape:
//   fieldmesh_service_up{service}                 1 running or healthy, 0 otherwise
//   fieldmesh_service_restarts_total{service}     starts after the first (automatic and operators')
//   fieldmesh_service_cpu_seconds_total{service}  CPU time of every process of the service since the agent started
//   fieldmesh_service_memory_bytes{service}       resident memory of the service's process group now

import { Counter, Gauge, type Registry } from 'prom-client';
import type { ServiceState, ServiceStatus } from './supervisor.js';

/** Up: the process runs and no health check says otherwise (starting and unhealthy are not up). */
export function isServiceUp(state: ServiceState): boolean {
  return state === 'running' || state === 'healthy';
}

export function registerServiceMetrics(registry: Registry, list: () => readonly ServiceStatus[]): void {
  const registers = [registry];
  // One reading of the supervisor per scrape, shared by the four series.
  let cached: { at: number; list: readonly ServiceStatus[] } | undefined;
  const read = () => {
    const now = Date.now();
    if (cached === undefined || now - cached.at > 100) cached = { at: now, list: list() };
    return cached.list;
  };
  new Gauge({
    name: 'fieldmesh_service_up',
    help: 'Node services: 1 while running (healthy, with a health check), 0 otherwise.',
    labelNames: ['service'],
    registers,
    collect() {
      this.reset();
      for (const s of read()) this.set({ service: s.name }, isServiceUp(s.state) ? 1 : 0);
    },
  });
  new Counter({
    name: 'fieldmesh_service_restarts_total',
    help: 'Node services: starts after the first since the agent started (after an exit, a failed health check or an operator).',
    labelNames: ['service'],
    registers,
    collect() {
      this.reset();
      for (const s of read()) this.inc({ service: s.name }, s.restarts);
    },
  });
  new Counter({
    name: 'fieldmesh_service_cpu_seconds_total',
    help: 'Node services: CPU seconds used by the process group (and the children it waited for) since the agent started.',
    labelNames: ['service'],
    registers,
    collect() {
      this.reset();
      for (const s of read()) this.inc({ service: s.name }, s.cpuSecondsTotal);
    },
  });
  new Gauge({
    name: 'fieldmesh_service_memory_bytes',
    help: 'Node services: resident memory of the process group now, bytes (0 when not running).',
    labelNames: ['service'],
    registers,
    collect() {
      this.reset();
      for (const s of read()) this.set({ service: s.name }, s.usage?.memoryBytes ?? 0);
    },
  });
}
