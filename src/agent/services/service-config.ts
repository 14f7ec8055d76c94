// node.yaml `services:`: the programs a node supervises (a detector, a camera exporter, a probe), each
// an argv run without a shell, with its restart policy, backoff, optional health check and log tail.

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { durationMs } from '../../kit/index.js';

export const SERVICE_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,62})$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

const argv = (what: string) =>
  z
    .array(z.string().min(1, `${what}: an argument is empty`))
    .min(1, `${what} needs at least the program (an argv list, run without a shell)`);

export const serviceHealthSchema = z
  .strictObject({
    /** GET this URL; any 2xx within `timeout` is healthy. */
    http: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
    /** Run this argv (no shell); exit status 0 within `timeout` is healthy. */
    command: argv('health.command').optional(),
    /** Time between checks, the first one `interval` after the start. */
    interval: durationMs('10s'),
    /** A check still running after this long failed (a command check is killed). */
    timeout: durationMs('2s'),
    /** Consecutive failed checks that make the service unhealthy. */
    failures: z.number().int().min(1).max(100).default(3),
    /** Restart the service when it turns unhealthy (with the same backoff as after a crash). */
    restart: z.boolean().default(false),
  })
  .superRefine((h, ctx) => {
    if ((h.http === undefined) === (h.command === undefined))
      ctx.addIssue({ code: 'custom', message: 'a health check has exactly one of http or command' });
  });

export const serviceConfigSchema = z.strictObject({
  /** Unique on the node: lowercase letters, digits and '-' (the API's and metrics' `service` label). */
  name: z.string().regex(SERVICE_NAME_PATTERN, "a service name is lowercase letters, digits or '-' (at most 63, no leading '-')"),
  /** The program and its arguments, run without a shell (`[sh, -c, "..."]` when a shell is wanted). */
  command: argv('command'),
  /** Working directory; the agent's own when absent. */
  cwd: z.string().min(1).optional(),
  /** Variables added to the agent's environment for this service. */
  env: z
    .record(
      z.string().regex(ENV_NAME_PATTERN, 'an environment variable name is letters, digits and _ (not starting with a digit)'),
      z.union([z.string(), z.number(), z.boolean()]).transform(String),
    )
    .optional(),
  /** Start it with the node (false: only on `fieldmesh node service start`). */
  autostart: z.boolean().default(true),
  /** always: restart after any exit; on-failure: after a non-zero exit or a signal; never. */
  restart: z.enum(['always', 'on-failure', 'never']).default('on-failure'),
  backoff: z
    .strictObject({
      /** The first restart's delay (before jitter); each next one doubles. */
      initial: durationMs('1s'),
      /** The longest delay between restarts. */
      max: durationMs('5m'),
      /** This long running (healthy, with a health check) resets the delay to `initial`. */
      reset: durationMs('60s'),
    })
    .prefault({} as never),
  health: serviceHealthSchema.optional(),
  /** After SIGTERM to its process group, SIGKILL when it has not exited within this. */
  stopTimeout: durationMs('10s'),
  /** Lines of stdout and stderr kept (the newest), for the API and `fieldmesh node service logs`. */
  logLines: z.number().int().min(1).max(100_000).default(500),
});

export const servicesSchema = z.array(serviceConfigSchema).superRefine((list, ctx) => {
  const seen = new Map<string, number>();
  list.forEach((s, i) => {
    if (typeof s?.name !== 'string') return;
    const first = seen.get(s.name);
    if (first !== undefined)
      ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `service "${s.name}" is defined twice (also at services[${first}])` });
    else seen.set(s.name, i);
  });
});

export type ServiceConfig = z.output<typeof serviceConfigSchema>;
export type ServiceHealthConfig = z.output<typeof serviceHealthSchema>;

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** A hash of a service entry with its defaults applied and its keys sorted: equal hashes, same service. */
export function serviceHash(service: ServiceConfig): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(service)))
    .digest('hex')
    .slice(0, 16);
}
