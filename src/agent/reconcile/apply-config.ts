// Live apply of a new configuration: the running config and the next are compared top-level key by key
// (deeper where it matters); what can change while the node runs is applied at once (collectors, the
// critical set, zones, services), the rest waits for a restart and is named. A failure part way rolls back
// what was applied, in reverse order, so the node keeps running its last good config. docs/config-as-code.md
// "Reconciliation on the node".

import { describeError, FieldmeshError, type Logger } from '../../kit/index.js';
import { canonicalJson } from '../../protocol/index.js';
import type { Collector } from '../collectors/collector.js';
import { collectorName } from '../collectors/collector-name.js';
import type { CollectorConfig } from '../collectors/registry.js';
import type { AgentConfig } from '../config.js';

/** What an apply did. */
export interface ApplyResult {
  /** Top-level keys applied live (sorted). */
  readonly applied: readonly string[];
  /** Top-level keys that changed and wait for a restart of the node (sorted). */
  readonly pendingRestart: readonly string[];
}

/** Keys applied live; every other top-level key waits for a restart. */
export const LIVE_KEYS: readonly string[] = ['collectors', 'critical', 'zones', 'services'];

/**
 * Collector types that serve HTTP routes on the node's own server (http_push, influx): Fastify adds no route
 * once it listens, so a change that adds, changes or removes one waits for a restart (the whole `collectors` key).
 */
export const HTTP_COLLECTOR_TYPES: ReadonlySet<string> = new Set(['http_push', 'influx']);

/** The parts of a running agent an apply touches; the agent passes them in (src/agent/agent.ts). */
export interface LiveParts {
  readonly logger: Logger;
  /**
   * The collectors made from `collectors:`; undefined when the agent runs collectors given by its overrides
   * (tests), which a config cannot change: `collectors` then waits for a restart.
   */
  readonly collectors?: {
    /** The running collector of this name, if any. */
    get(name: string): Collector | undefined;
    /** Builds the collector of `config` (its index in the list names it when it has no name). */
    create(config: CollectorConfig, index: number): Collector;
    /** Starts `c` and adds it to the running set. */
    start(c: Collector): Promise<void>;
    /** Stops `c` and takes it out of the running set. */
    stop(c: Collector): Promise<void>;
  };
  /** Replaces the critical selectors (deadbands, intervals) of the running critical set. */
  readonly critical: { replace(selectors: AgentConfig['critical']): void };
  /** Stops the zone runtime and starts it again with `zones` (none: stays stopped). */
  readonly zones: { restart(zones: AgentConfig['zones']): Promise<void> };
  /** The service supervisor's reconcile (docs/services.md); undefined: `services` waits for a restart. */
  readonly services?: { reconcile(services: AgentConfig['services']): Promise<unknown> };
}

function same(a: unknown, b: unknown): boolean {
  return canonicalJson(a ?? null) === canonicalJson(b ?? null);
}

/** Top-level keys whose values differ between `a` and `b`, sorted. */
export function changedKeys(a: AgentConfig, b: AgentConfig): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => !same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])).sort();
}

interface NamedCollector {
  readonly name: string;
  readonly index: number;
  readonly config: CollectorConfig;
}

function named(list: readonly CollectorConfig[]): Map<string, NamedCollector> {
  return new Map(
    list.map((config, index) => [
      collectorName(config.type, config.name, index),
      { name: collectorName(config.type, config.name, index), index, config },
    ]),
  );
}

/** The collectors to stop (removed or changed) and to start (added or changed), by name. */
export function diffCollectors(
  before: readonly CollectorConfig[],
  after: readonly CollectorConfig[],
): { readonly stop: readonly NamedCollector[]; readonly start: readonly NamedCollector[]; readonly kept: readonly string[] } {
  const a = named(before);
  const b = named(after);
  const stop: NamedCollector[] = [];
  const start: NamedCollector[] = [];
  const kept: string[] = [];
  for (const [name, old] of a) {
    const next = b.get(name);
    if (next === undefined) stop.push(old);
    else if (!same(old.config, next.config)) {
      stop.push(old);
      start.push(next);
    } else kept.push(name);
  }
  for (const [name, next] of b) if (!a.has(name)) start.push(next);
  return { stop, start, kept };
}

/**
 * Applies `next` over `running` through `parts`. Resolves with what was applied and what waits; throws
 * FM_CONFIG_APPLY_FAILED after rolling back what it had applied when a step fails (the node keeps `running`).
 */
export async function applyConfigLive(running: AgentConfig, next: AgentConfig, parts: LiveParts): Promise<ApplyResult> {
  const changed = changedKeys(running, next);
  const pendingRestart = changed.filter((k) => !LIVE_KEYS.includes(k));
  const live = changed.filter((k) => LIVE_KEYS.includes(k));
  const undo: { key: string; run: () => Promise<void> }[] = [];
  const applied: string[] = [];
  const log = parts.logger;
  try {
    for (const key of live) {
      switch (key) {
        case 'critical': {
          parts.critical.replace(next.critical);
          undo.push({ key, run: async () => parts.critical.replace(running.critical) });
          applied.push(key);
          break;
        }
        case 'collectors': {
          const c = parts.collectors;
          const diff = diffCollectors(running.collectors, next.collectors);
          const touchesHttp = [...diff.stop, ...diff.start].some((n) => HTTP_COLLECTOR_TYPES.has(n.config.type));
          if (c === undefined || touchesHttp) {
            pendingRestart.push(key);
            break;
          }
          const stopped: NamedCollector[] = [];
          const started: Collector[] = [];
          undo.push({
            key,
            run: async () => {
              for (const s of started.reverse()) await c.stop(s);
              for (const old of stopped) await c.start(c.create(old.config, old.index));
            },
          });
          for (const old of diff.stop) {
            const running = c.get(old.name);
            if (running !== undefined) await c.stop(running);
            stopped.push(old);
          }
          for (const add of diff.start) {
            const created = c.create(add.config, add.index);
            await c.start(created);
            started.push(created);
          }
          log.info(
            { stopped: diff.stop.map((n) => n.name), started: diff.start.map((n) => n.name), kept: diff.kept },
            `config: collectors applied live (${diff.start.length} started, ${diff.stop.length} stopped, ${diff.kept.length} kept running)`,
          );
          applied.push(key);
          break;
        }
        case 'zones': {
          await parts.zones.restart(next.zones);
          undo.push({ key, run: () => parts.zones.restart(running.zones) });
          applied.push(key);
          break;
        }
        case 'services': {
          const s = parts.services;
          if (s === undefined) {
            pendingRestart.push(key);
            break;
          }
          await s.reconcile(next.services);
          undo.push({ key, run: async () => void (await s.reconcile(running.services)) });
          applied.push(key);
          break;
        }
      }
    }
  } catch (err) {
    const failedAt = live.find((k) => !applied.includes(k) && !pendingRestart.includes(k)) ?? 'unknown';
    for (const u of undo.reverse()) {
      await u
        .run()
        .catch((rollbackErr: unknown) =>
          log.error(
            { key: u.key, err: describeError(rollbackErr) },
            `config: rolling back ${u.key} failed; that part may not run as configured`,
          ),
        );
    }
    throw new FieldmeshError(
      'FM_CONFIG_APPLY_FAILED',
      `applying ${failedAt} failed: ${describeError(err)}; rolled back ${applied.length > 0 ? applied.join(', ') : 'nothing'}`,
      {
        cause: err,
        details: { key: failedAt, rolledBack: applied },
      },
    );
  }
  return { applied: applied.sort(), pendingRestart: [...new Set(pendingRestart)].sort() };
}
