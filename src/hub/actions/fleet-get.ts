// `fieldmesh get` at the hub: a key expression over `site/<site>/node/<node>/<key>` answered from the
// live fleet state where it holds the value (a critical metric's latest sample, a node's health), else
// by the `get` command at each matching node through the broker. docs/commands.md "fieldmesh get".

import { FieldmeshError } from '../../kit/index.js';
import { type CommandResult, isExactKey, type KeyValue, type KeyValues, parseKeyExpr, segmentMatches } from '../../protocol/index.js';
import type { FleetState, NodeRecord } from '../fleet/fleet-state.js';
import type { CommandEngine } from './command-engine.js';

export interface FleetGetOptions {
  readonly fleet: FleetState;
  readonly engine: CommandEngine;
  readonly timeoutMs: number;
  /** Who asked, as the nodes log it (`hub:alice`). */
  readonly by: string;
  readonly now: () => number;
}

/** A node's health as the hub sees it: its state, session and when it was last heard. */
function healthOf(r: Readonly<NodeRecord>, now: number): unknown {
  return {
    state: r.state,
    zone: r.zone,
    epoch: r.epoch ?? null,
    agentVersion: r.agentVersion ?? null,
    configVersion: r.configVersion ?? null,
    uptimeMs: r.bootTimeHub === undefined || r.state === 'offline' ? null : Math.max(0, now - r.bootTimeHub),
    lastHeard: r.lastHeard === undefined ? null : new Date(r.lastHeard).toISOString(),
    since: new Date(r.lastChanged).toISOString(),
  };
}

/** Resolves a key expression over the fleet. Throws FM_REQUEST_INVALID for a malformed expression. */
export async function getFleetKeys(expr: string, o: FleetGetOptions): Promise<KeyValues> {
  const parsed = parseKeyExpr(expr);
  if (typeof parsed === 'string') throw new FieldmeshError('FM_REQUEST_INVALID', parsed);
  const nodes = o.fleet.nodes().filter((r) => segmentMatches(parsed.site, r.site) && segmentMatches(parsed.node, r.node));
  const rest = parsed.rest.join('/');
  const exact = isExactKey(parsed.rest);
  const values: KeyValue[] = [];
  const ask: Array<Readonly<NodeRecord>> = [];
  const now = o.now();
  for (const r of nodes) {
    const prefix = `site/${r.site}/node/${r.node}/`;
    if (exact && rest === 'health') {
      values.push({ key: `${prefix}health`, value: healthOf(r, now), source: 'hub' });
      continue;
    }
    if (exact && parsed.rest.length === 1 && rest !== 'fleet') {
      const held = [...r.values.values()].filter((v) => v.def.name === rest);
      if (held.length > 0) {
        for (const v of held) values.push({ key: `${prefix}${rest}`, value: v.value, labels: v.def.labels, time: v.time, source: 'hub' });
        continue;
      }
    }
    ask.push(r);
  }
  const errors: CommandResult[] = [];
  if (ask.length > 0) {
    const results = await o.engine.execute(ask, { command: 'get', args: { key: rest }, timeoutMs: o.timeoutMs, waitMs: 0 }, o.by);
    for (const res of results) {
      if (res.status !== 'ok') {
        errors.push(res);
        continue;
      }
      const answer = res.result as { values?: Array<Omit<KeyValue, 'source'>> } | undefined;
      for (const v of answer?.values ?? []) values.push({ ...v, key: `site/${res.site}/node/${res.node}/${v.key}`, source: 'node' });
    }
  }
  values.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { values, errors };
}
