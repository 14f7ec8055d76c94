// The commands a node carries out itself, by name, from the hub's `command` query frames [FM-QUERY-7]:
// set-log-level, get, restart-collector, service (start|stop|restart|status|logs), and reload-config (the node's
// reconciliation, wired by the agent). Each resolves with its answer or throws a FieldmeshError the
// responder sends back as the error reply. The node's HTTP API (`GET /api/v1/get`) uses `get` too.

import { deflateRawSync } from 'node:zlib';
import { type Clock, describeError, FieldmeshError, type Logger, parseDurationMs } from '../../kit/index.js';
import {
  isExactKey,
  keyMatches,
  LOG_LEVELS,
  MAX_REPLY_BODY_BYTES,
  type Params,
  SERVICE_ACTIONS,
  SERVICE_LOG_LINES,
  type ServiceLogsAnswer,
} from '../../protocol/index.js';
import { serviceView } from '../api/service-routes.js';
import type { Collector } from '../collectors/collector.js';
import type { LogLine, ServiceStatus, ServiceSupervisor } from '../services/index.js';
import type { SampleStore } from '../store/index.js';
import { isLogLevel, type LogLevelControl } from './log-level.js';

/** The longest `set-log-level --for`: a forgotten debug level must not fill a small node's disk for days. */
export const MAX_LOG_LEVEL_FOR_MS = 24 * 3_600_000;
/** How far back `get <metric>` looks for a metric's latest value. */
export const GET_LOOKBACK_MS = 3_600_000;
/** Most values one `get` answers (a `**` over a big config or store). */
export const MAX_GET_VALUES = 2_000;

/** One value a node found for `get`: its key below the node, and for metrics the series' labels and time. */
export interface NodeKeyValue {
  readonly key: string;
  readonly value: unknown;
  readonly labels?: Readonly<Record<string, string>>;
  readonly time?: number;
}

export interface NodeCommandDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly logLevel: LogLevelControl;
  /** The running config, as loaded (secrets are redacted before answering). */
  readonly config: object;
  readonly store: Pick<SampleStore, 'query' | 'labelValues'>;
  /** The node's own health: what its birth and stats say. */
  readonly health: () => object;
  /** The awareness plane's fleet view; undefined when the plane is off. */
  readonly fleet: () => object | undefined;
  readonly collectors: () => readonly Collector[];
  /** Stops the collector and starts it again with a fresh context. */
  readonly restartCollector: (collector: Collector) => Promise<void>;
  /** The node's service supervisor; undefined on an agent without one. */
  readonly services?: ServiceSupervisor;
  /**
   * `reload-config`: the reconciliation's own answer (what it applied, what waits for a restart); undefined until
   * the agent wires it: the command answers FM_COMMAND_UNSUPPORTED.
   */
  readonly reloadConfig?: (by: string) => Promise<object>;
  /** `renew-cert`: a new key and CSR now (node.yaml `pki`); undefined on a node without it. */
  readonly renewCertificate?: (by: string) => Promise<object>;
}

/** A node command's answer; throws FieldmeshError (FM_QUERY_INVALID, FM_NOT_FOUND, FM_COMMAND_UNSUPPORTED...). */
export type NodeCommandHandler = (name: string, params: Params, by: string) => Promise<object>;

function one(params: Params, command: string, name: string): string {
  const v = params[name];
  if (typeof v !== 'string' || v === '') throw new FieldmeshError('FM_QUERY_INVALID', `${command}: argument "${name}" is missing`);
  return v;
}

const SECRET_KEY = /password|token|secret|passphrase/i;

/** Leaves of a config object as `path → value` (arrays by index), secrets replaced by "(redacted)". */
function configLeaves(value: unknown, path: string[], out: Array<[string, unknown]>): void {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    if (entries.length === 0) out.push([path.join('/'), value]);
    for (const [k, v] of entries) configLeaves(SECRET_KEY.test(k) && v !== undefined ? '(redacted)' : v, [...path, k], out);
    return;
  }
  if (value !== undefined) out.push([path.join('/'), value]);
}

/** The object at a config path (`publish/tick`), redacted; undefined when there is none. */
function configAt(config: object, path: readonly string[]): unknown {
  let v: unknown = config;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    if (SECRET_KEY.test(seg)) return '(redacted)';
    v = Array.isArray(v) ? v[Number(seg)] : (v as Record<string, unknown>)[seg];
  }
  if (v !== null && typeof v === 'object') {
    return JSON.parse(JSON.stringify(v, (k, x) => (k !== '' && SECRET_KEY.test(k) && x !== undefined ? '(redacted)' : x)));
  }
  return v;
}

/** Bytes of `body` as a reply carries it: UTF-8 JSON, raw DEFLATE [FM-QUERY-2]. */
function replyBytes(body: unknown): number {
  return deflateRawSync(Buffer.from(JSON.stringify(body), 'utf8')).length;
}

/**
 * `service logs`' answer with the newest of `tail` that fit one reply ([FM-QUERY-3]: at most `maxBytes`
 * compressed); `cut` counts the oldest lines left out. A binary search over how many newest lines to keep:
 * a log tail of 1,000 lines of 4,096 characters is about 4 MB of JSON, which compresses far below the limit
 * unless the output is noise.
 */
export function fitLogTail(service: string, tail: readonly LogLine[], maxBytes = MAX_REPLY_BODY_BYTES): ServiceLogsAnswer {
  const lines = tail.map((l) => ({ time: new Date(l.time).toISOString(), stream: l.stream, line: l.line }));
  const answer = (keep: number): ServiceLogsAnswer => ({ service, lines: lines.slice(lines.length - keep), cut: lines.length - keep });
  if (replyBytes(answer(lines.length)) <= maxBytes) return answer(lines.length);
  let fits = 0;
  let tooMany = lines.length;
  while (tooMany - fits > 1) {
    const mid = Math.floor((fits + tooMany) / 2);
    if (replyBytes(answer(mid)) <= maxBytes) fits = mid;
    else tooMany = mid;
  }
  return answer(fits);
}

export function createNodeCommandHandler(d: NodeCommandDeps): NodeCommandHandler {
  /** `get KEY` below this node: `battery_soc`, `fleet`, `health`, `config/publish/tick`, with `*` and `**`. */
  async function get(pattern: string): Promise<NodeKeyValue[]> {
    const rest = pattern.split('/');
    if (rest.some((s) => s === ''))
      throw new FieldmeshError('FM_QUERY_INVALID', `get: key ${JSON.stringify(pattern)} has an empty segment`);
    const out: NodeKeyValue[] = [];
    const push = (v: NodeKeyValue) => {
      if (out.length >= MAX_GET_VALUES)
        throw new FieldmeshError(
          'FM_QUERY_INVALID',
          `get: ${JSON.stringify(pattern)} matches more than ${MAX_GET_VALUES} values; narrow it`,
        );
      out.push(v);
    };
    if (keyMatches(rest, 'health')) push({ key: 'health', value: d.health() });
    if (keyMatches(rest, 'fleet')) {
      const fleet = d.fleet();
      if (fleet !== undefined) push({ key: 'fleet', value: fleet });
      else if (isExactKey(rest))
        throw new FieldmeshError('FM_NOT_FOUND', 'get: fleet: the awareness plane is off on this node (awareness.transport: none)');
    }
    if (rest[0] === 'config' || rest[0] === '*' || rest[0] === '**') {
      if (isExactKey(rest)) {
        const v = configAt(d.config, rest.slice(1));
        if (v === undefined)
          throw new FieldmeshError('FM_NOT_FOUND', `get: the running config has no ${rest.slice(1).join('/') || 'value'}`);
        push({ key: rest.join('/'), value: v });
      } else {
        const leaves: Array<[string, unknown]> = [];
        configLeaves(d.config, ['config'], leaves);
        for (const [key, value] of leaves) if (keyMatches(rest, key)) push({ key, value });
      }
    }
    if (rest.length === 1 || rest[0] === '**') {
      const now = d.clock.now();
      const names = isExactKey(rest) ? [rest[0] as string] : await d.store.labelValues('__name__');
      for (const name of names) {
        if (name === 'health' || name === 'fleet' || !keyMatches(rest, name)) continue;
        const series = await d.store.query([{ name: '__name__', op: '=', value: name }], now - GET_LOOKBACK_MS, now);
        for (const s of series) {
          const last = s.points.at(-1);
          if (last === undefined) continue;
          push({ key: name, value: last[1], labels: s.series.labels, time: last[0] });
        }
      }
    }
    return out;
  }

  async function service(params: Params, by: string): Promise<object> {
    const action = one(params, 'service', 'action');
    if (!(SERVICE_ACTIONS as readonly string[]).includes(action))
      throw new FieldmeshError('FM_QUERY_INVALID', `service: action "${action}": expected ${SERVICE_ACTIONS.join(', ')}`);
    const supervisor = d.services;
    if (supervisor === undefined)
      throw new FieldmeshError('FM_COMMAND_UNSUPPORTED', 'service: not supported by this node (no service supervisor)');
    const unknown = (name: string) => {
      const known = supervisor.list().map((s) => s.name);
      return new FieldmeshError(
        'FM_NOT_FOUND',
        `service "${name}" is not one of this node's (${known.length === 0 ? 'none: services: in node.yaml' : known.join(', ')})`,
      );
    };
    if (action === 'status') {
      // The node API's own answers: GET /api/v1/services/:name, or GET /api/v1/services without a name.
      const name = params.name;
      if (typeof name !== 'string' || name === '') return { services: supervisor.list().map(serviceView) };
      const s = supervisor.status(name);
      if (s === undefined) throw unknown(name);
      return serviceView(s);
    }
    const name = one(params, 'service', 'name');
    if (action === 'logs') {
      const raw = params.lines;
      const lines = raw === undefined ? SERVICE_LOG_LINES.default : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(lines) || lines < 1 || lines > SERVICE_LOG_LINES.max)
        throw new FieldmeshError(
          'FM_QUERY_INVALID',
          `service logs: lines ${JSON.stringify(raw)}: expected a whole number from 1 to ${SERVICE_LOG_LINES.max}`,
        );
      const tail = supervisor.logs(name, lines);
      if (tail === undefined) throw unknown(name);
      return fitLogTail(name, tail);
    }
    let status: ServiceStatus;
    if (action === 'start') status = await supervisor.startService(name, by);
    else if (action === 'stop') status = await supervisor.stopService(name, by);
    else status = await supervisor.restartService(name, by);
    return { service: name, action, state: status.state, pid: status.pid, restarts: status.restarts };
  }

  return async (name, params, by) => {
    switch (name) {
      case 'set-log-level': {
        const level = one(params, name, 'level');
        if (!isLogLevel(level))
          throw new FieldmeshError('FM_QUERY_INVALID', `set-log-level: level "${level}": expected ${LOG_LEVELS.join(', ')}`);
        let forMs: number | undefined;
        if (params.for !== undefined) {
          forMs = typeof params.for === 'string' ? parseDurationMs(params.for) : undefined;
          if (forMs === undefined || forMs <= 0 || forMs > MAX_LOG_LEVEL_FOR_MS)
            throw new FieldmeshError(
              'FM_QUERY_INVALID',
              `set-log-level: --for ${JSON.stringify(params.for)}: expected a duration up to 24h like "10m"`,
            );
        }
        const change = d.logLevel.set(level, forMs);
        d.logger.info({ by, ...change }, 'log level set by command');
        return {
          level: change.level,
          previous: change.previous,
          revertsAt: change.revertsAt === null ? null : new Date(change.revertsAt).toISOString(),
          revertsTo: change.revertsTo,
        };
      }
      case 'get':
        return { values: await get(one(params, name, 'key')) };
      case 'restart-collector': {
        const wanted = one(params, name, 'name');
        const all = d.collectors();
        const c = all.find((x) => x.name === wanted);
        if (c === undefined)
          throw new FieldmeshError(
            'FM_NOT_FOUND',
            `restart-collector: no collector "${wanted}" on this node; it runs ${all.map((x) => x.name).join(', ') || 'none'}`,
          );
        const began = d.clock.monotonic();
        try {
          await d.restartCollector(c);
        } catch (err) {
          throw new FieldmeshError('FM_COMMAND_FAILED', `restart-collector: ${c.name} did not start again: ${describeError(err)}`);
        }
        d.logger.info({ by, collector: c.name }, 'collector restarted by command');
        return { collector: c.name, kind: c.kind, restartedInMs: Math.round(d.clock.monotonic() - began) };
      }
      case 'service':
        return service(params, by);
      case 'reload-config':
        // The reconciliation answers this once wired; until then a node says so plainly.
        if (d.reloadConfig === undefined)
          throw new FieldmeshError('FM_COMMAND_UNSUPPORTED', 'reload-config: not supported by this node yet');
        return d.reloadConfig(by);
      case 'renew-cert':
        if (d.renewCertificate === undefined)
          throw new FieldmeshError(
            'FM_COMMAND_UNSUPPORTED',
            'renew-cert: this node does not renew its certificate over the fleet transport (node.yaml has no pki section, or it runs brokerless)',
          );
        return d.renewCertificate(by);
      default:
        throw new FieldmeshError('FM_COMMAND_UNSUPPORTED', `command "${name}": not supported by this node`);
    }
  };
}
