// Asks a node through the broker (cmd/query) and waits for its reply (.../reply): range queries and
// series lists of the node's own store, pings, zone commands, and node commands by name (set-log-level,
// get, restart-collector, service...). Nodes sit behind NAT; the broker is the only way in.
// [FM-QUERY-1..7] in docs/protocol.md.

import { inflateRawSync } from 'node:zlib';
import { type Clock, createId, describeError, FieldmeshError, type Logger, type TimerHandle } from '../kit/index.js';
import {
  commandTopic,
  encodeQuery,
  type NodeQueryKind,
  type PrometheusMatrixSeries,
  type QueryParam,
  type ReplyFrame,
} from '../protocol/index.js';
import type { Transport } from '../transport/index.js';
import type { FleetState } from './fleet/fleet-state.js';

/** Longest a caller may wait for a node, ms. */
export const NODE_COMMAND_MAX_TIMEOUT_MS = 120_000;
/** Requests waiting for replies at once, all nodes together; one more is refused as busy. */
export const NODE_COMMANDS_MAX_PENDING = 1_000;
/** An inflated reply body larger than this is refused (a deflate bomb must not exhaust the hub). */
const MAX_INFLATED_REPLY_BYTES = 64 * 1024 * 1024;

/** A range query of a node's own store, with the semantics of the node's `/api/v1/query_range`. */
export interface NodeRangeQuery {
  /** A selector, optionally aggregated (`sum by (device) (battery_soc)`), as the node's API takes it. */
  readonly query: string;
  /** The range, ms since the Unix epoch, both ends inclusive, and the step, ms. */
  readonly startMs: number;
  readonly endMs: number;
  readonly stepMs: number;
  /** The node's rollup parameters, passed as given (`rollup=5m`, `fn=max`). */
  readonly rollup?: string;
  readonly fn?: string;
}

/** The node's answer to a range query: Prometheus' envelope, as the node built it. */
export interface NodeRangeAnswer {
  readonly status: 'success';
  readonly data: { readonly resultType: 'matrix'; readonly result: readonly PrometheusMatrixSeries[] };
  readonly infos?: readonly string[];
  readonly warnings?: readonly string[];
}

/** A ping's answer: the round trip as the hub measured it, and the node's session facts. */
export interface NodePing {
  readonly rttMs: number;
  readonly epoch: number;
  readonly agentVersion: string;
  readonly uptimeMs: number;
}

/**
 * Commands to one node, through the broker, answered by the node's reply. Each call fails fast with
 * FM_NOT_FOUND (a node this hub never heard of), FM_NODE_OFFLINE (the fleet state holds it offline)
 * or FM_TRANSPORT_UNAVAILABLE (no broker link); else it rejects with FM_NODE_TIMEOUT when no reply
 * comes within `timeoutMs` (clamped to 1 ms .. 120 s), FM_NODE_BUSY, FM_NODE_REPLY_TOO_LARGE,
 * FM_QUERY_INVALID (the node refused the parameters) or FM_NODE_QUERY_FAILED (any other error of the
 * node, with its message, or a reply the hub cannot read).
 */
export interface NodeCommands {
  query(site: string, node: string, request: NodeRangeQuery, timeoutMs: number): Promise<NodeRangeAnswer>;
  /** The node's series as label sets (`__name__` included); no matchers: every series. */
  series(
    site: string,
    node: string,
    matchers: readonly string[],
    timeoutMs: number,
  ): Promise<ReadonlyArray<Readonly<Record<string, string>>>>;
  ping(site: string, node: string, timeoutMs: number): Promise<NodePing>;
  /** [FM-QUERY-6] An operator's pump action, handed to the node's zone runtime; resolves with the zone's epoch there. */
  zoneCommand(site: string, node: string, command: NodeZoneCommand, timeoutMs: number): Promise<{ readonly epoch: number | null }>;
  /** [FM-QUERY-6] A forced election in the node's zone runtime; resolves with the epoch it elected. */
  zoneElect(site: string, node: string, zone: string, timeoutMs: number): Promise<{ readonly epoch: number }>;
  /**
   * [FM-QUERY-7] A node command by name with its arguments; resolves with the node's answer. A refusal of
   * the node rejects FM_NODE_QUERY_FAILED whose `details.nodeCode` is the node's own code
   * (FM_COMMAND_UNSUPPORTED, FM_NOT_FOUND...).
   */
  command(
    site: string,
    node: string,
    name: string,
    args: Readonly<Record<string, string>>,
    by: string,
    timeoutMs: number,
  ): Promise<unknown>;
}

/** A pump action as the hub hands it to a member of the zone. */
export interface NodeZoneCommand {
  readonly zone: string;
  readonly pump: string;
  readonly action: string;
  /** `hub:<username>`. */
  readonly by: string;
  /** Unique per command: the pump's owner executes each id once. */
  readonly id: string;
}

export interface NodeCommandsOptions {
  readonly prefix: string;
  /** The hub's broker link; undefined before start. */
  readonly transport: () => Transport | undefined;
  readonly fleet: FleetState;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** What the hub's message loop and lifecycle call besides the commands themselves. */
export interface NodeCommandsService extends NodeCommands {
  /**
   * A reply frame arrived on `<prefix>/<site>/<node>/reply`. Returns false when its body could not be
   * read (the caller counts it as a malformed frame); a reply nobody waits for is dropped quietly.
   */
  handleReply(site: string, node: string, frame: ReplyFrame): boolean;
  /** The node went offline: its pending requests fail now rather than at their timeout. */
  nodeWentOffline(site: string, node: string): void;
  /** Fails every pending request (the hub stops). */
  close(): void;
  /** Requests waiting for a reply. */
  readonly pending: number;
}

interface Pending {
  readonly site: string;
  readonly node: string;
  readonly kind: NodeQueryKind;
  readonly timer: TimerHandle;
  resolve(body: unknown): void;
  reject(err: Error): void;
}

/** Codes a node may answer with that mean the same to the hub's caller; any other is FM_NODE_QUERY_FAILED. */
const PASSED_THROUGH = new Set(['FM_QUERY_INVALID', 'FM_NODE_BUSY', 'FM_NODE_REPLY_TOO_LARGE']);

export function createNodeCommands(o: NodeCommandsOptions): NodeCommandsService {
  const pending = new Map<string, Pending>();

  function settle(id: string): Pending | undefined {
    const p = pending.get(id);
    if (p === undefined) return undefined;
    pending.delete(id);
    o.clock.clearTimeout(p.timer);
    return p;
  }

  /** Sends one request and resolves with the reply's parsed body (status ok), or rejects. */
  function ask(site: string, node: string, kind: NodeQueryKind, params: readonly QueryParam[], timeoutMs: number): Promise<unknown> {
    const record = o.fleet.get(site, node);
    if (record === undefined) throw new FieldmeshError('FM_NOT_FOUND', `node ${site}/${node} is not known to this hub`);
    if (record.state === 'offline') {
      throw new FieldmeshError('FM_NODE_OFFLINE', `node ${site}/${node} is offline (since ${new Date(record.lastChanged).toISOString()})`);
    }
    const transport = o.transport();
    if (transport === undefined || !transport.connected)
      throw new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', 'the hub is not connected to the broker');
    if (pending.size >= NODE_COMMANDS_MAX_PENDING) {
      throw new FieldmeshError('FM_NODE_BUSY', `the hub waits for ${pending.size} node replies already; try again shortly`);
    }
    const waitMs = Math.min(NODE_COMMAND_MAX_TIMEOUT_MS, Math.max(1, Math.round(timeoutMs)));
    let id = createId();
    while (pending.has(id)) id = createId();
    const frame = encodeQuery({ requestId: id, kind, timeoutMs: waitMs, params });
    return new Promise<unknown>((resolve, reject) => {
      const timer = o.clock.setTimeout(() => {
        if (settle(id) === undefined) return;
        reject(new FieldmeshError('FM_NODE_TIMEOUT', `node ${site}/${node} did not answer the ${kind} within ${waitMs} ms`));
      }, waitMs);
      pending.set(id, { site, node, kind, timer, resolve, reject });
      transport.publish(commandTopic(o.prefix, site, node, 'query'), frame, { qos: 1 }).catch((err: unknown) => {
        if (settle(id) === undefined) return;
        reject(new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', `the ${kind} to ${site}/${node} was not published: ${describeError(err)}`));
      });
    });
  }

  async function query(site: string, node: string, request: NodeRangeQuery, timeoutMs: number): Promise<NodeRangeAnswer> {
    const params: QueryParam[] = [
      ['query', request.query],
      ['start', String(request.startMs / 1_000)],
      ['end', String(request.endMs / 1_000)],
      ['step', String(request.stepMs / 1_000)],
    ];
    if (request.rollup !== undefined) params.push(['rollup', request.rollup]);
    if (request.fn !== undefined) params.push(['fn', request.fn]);
    const body = (await ask(site, node, 'query_range', params, timeoutMs)) as NodeRangeAnswer;
    if (body?.status !== 'success' || body.data?.resultType !== 'matrix' || !Array.isArray(body.data.result)) {
      throw new FieldmeshError('FM_NODE_QUERY_FAILED', `node ${site}/${node} answered the range query with an unexpected shape`);
    }
    return body;
  }

  async function series(site: string, node: string, matchers: readonly string[], timeoutMs: number) {
    const body = (await ask(
      site,
      node,
      'series',
      matchers.map((m) => ['match[]', m] as const),
      timeoutMs,
    )) as { status?: unknown; data?: unknown };
    if (body?.status !== 'success' || !Array.isArray(body.data)) {
      throw new FieldmeshError('FM_NODE_QUERY_FAILED', `node ${site}/${node} answered the series list with an unexpected shape`);
    }
    return body.data as Array<Record<string, string>>;
  }

  async function ping(site: string, node: string, timeoutMs: number): Promise<NodePing> {
    const nonce = createId();
    const sentAt = o.clock.monotonic();
    const body = (await ask(site, node, 'ping', [['nonce', nonce]], timeoutMs)) as Partial<Record<string, unknown>>;
    const rttMs = Math.max(0, o.clock.monotonic() - sentAt);
    const { epoch, agentVersion, uptimeMs } = body ?? {};
    if (body?.nonce !== nonce || typeof epoch !== 'number' || typeof agentVersion !== 'string' || typeof uptimeMs !== 'number') {
      throw new FieldmeshError('FM_NODE_QUERY_FAILED', `node ${site}/${node} answered the ping with an unexpected shape or nonce`);
    }
    return { rttMs: Math.round(rttMs * 1_000) / 1_000, epoch, agentVersion, uptimeMs };
  }

  async function zoneCommand(site: string, node: string, c: NodeZoneCommand, timeoutMs: number) {
    const params: QueryParam[] = [
      ['zone', c.zone],
      ['pump', c.pump],
      ['action', c.action],
      ['by', c.by],
      ['id', c.id],
    ];
    const body = (await ask(site, node, 'zone_command', params, timeoutMs)) as { epoch?: unknown } | null;
    if (body === null || typeof body !== 'object')
      throw new FieldmeshError('FM_NODE_QUERY_FAILED', `node ${site}/${node} answered the zone command with an unexpected shape`);
    return { epoch: typeof body.epoch === 'number' ? body.epoch : null };
  }

  async function zoneElect(site: string, node: string, zone: string, timeoutMs: number) {
    const body = (await ask(site, node, 'zone_elect', [['zone', zone]], timeoutMs)) as { epoch?: unknown } | null;
    if (typeof body?.epoch !== 'number')
      throw new FieldmeshError('FM_NODE_QUERY_FAILED', `node ${site}/${node} answered the election with an unexpected shape`);
    return { epoch: body.epoch };
  }

  async function command(site: string, node: string, name: string, args: Readonly<Record<string, string>>, by: string, timeoutMs: number) {
    const params: QueryParam[] = [['command', name], ['by', by], ...Object.entries(args).filter(([k]) => k !== 'command' && k !== 'by')];
    return ask(site, node, 'command', params, timeoutMs);
  }

  function handleReply(site: string, node: string, frame: ReplyFrame): boolean {
    const p = pending.get(frame.requestId);
    if (p === undefined || p.site !== site || p.node !== node) {
      // Late (the request timed out) or not ours: nobody waits for it.
      o.logger.debug({ site, node, requestId: frame.requestId }, 'reply to no pending request');
      return true;
    }
    let body: unknown;
    try {
      body = JSON.parse(inflateRawSync(frame.body, { maxOutputLength: MAX_INFLATED_REPLY_BYTES }).toString('utf8'));
    } catch (err) {
      settle(frame.requestId);
      o.logger.warn({ site, node, requestId: frame.requestId, err: describeError(err) }, 'unreadable reply body');
      p.reject(new FieldmeshError('FM_NODE_QUERY_FAILED', `node ${site}/${node} sent a reply the hub cannot read: ${describeError(err)}`));
      return false;
    }
    settle(frame.requestId);
    if (frame.status === 'ok') {
      p.resolve(body);
      return true;
    }
    const { code, message } = (body ?? {}) as { code?: unknown; message?: unknown };
    const text = typeof message === 'string' ? message : 'no message';
    if (typeof code === 'string' && PASSED_THROUGH.has(code)) {
      p.reject(new FieldmeshError(code as 'FM_QUERY_INVALID', text, { details: { site, node } }));
    } else {
      p.reject(
        new FieldmeshError('FM_NODE_QUERY_FAILED', `node ${site}/${node}: ${typeof code === 'string' ? `${code}: ` : ''}${text}`, {
          details: { site, node, ...(typeof code === 'string' ? { nodeCode: code, nodeMessage: text } : {}) },
        }),
      );
    }
    return true;
  }

  function failWhere(match: (p: Pending) => boolean, err: (p: Pending) => FieldmeshError): void {
    for (const [id, p] of [...pending]) {
      if (!match(p)) continue;
      settle(id);
      p.reject(err(p));
    }
  }

  return {
    query,
    series,
    ping,
    zoneCommand,
    zoneElect,
    command,
    handleReply,
    nodeWentOffline(site, node) {
      failWhere(
        (p) => p.site === site && p.node === node,
        (p) => new FieldmeshError('FM_NODE_OFFLINE', `node ${site}/${node} went offline while the ${p.kind} was waiting`),
      );
    },
    close() {
      failWhere(
        () => true,
        (p) => new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', `the hub stopped while the ${p.kind} to ${p.site}/${p.node} was waiting`),
      );
    },
    get pending() {
      return pending.size;
    },
  };
}
