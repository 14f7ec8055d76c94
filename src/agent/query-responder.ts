// Answers the hub's queries of this node's own store over MQTT (cmd/query -> .../reply): pings at once,
// range queries and series lists a few at a time, each reply compressed and bounded. [FM-QUERY-1..5]
// Operators' zone commands (a pump action, an election) go to the zone runtime at once. [FM-QUERY-6]
// Node commands by name (set-log-level, get, restart-collector, service...) go to their handler at once. [FM-QUERY-7]

import { deflateRawSync } from 'node:zlib';
import { type Clock, describeError, FieldmeshError, isFieldmeshError, type Logger } from '../kit/index.js';
import {
  encodeReply,
  FIELDMESH_VERSION,
  type FrameRouter,
  MAX_REPLY_BODY_BYTES,
  nodeTopic,
  type Params,
  type QueryFrame,
  type ReplyStatus,
  ZONE_PUMP_ACTIONS,
  type ZonePumpAction,
} from '../protocol/index.js';
import type { Subscription, Transport } from '../transport/index.js';
import type { AgentMetrics } from './agent-metrics.js';
import type { StoreQueries } from './api/store-queries.js';
import type { NodeIdentity } from './collectors/collector.js';
import type { NodeCommandHandler } from './commands/node-command-handlers.js';
import type { ZoneRuntime } from './zones/zone-runtime.js';

/** [FM-QUERY-4] Queries evaluated at once; a small node has a core or two, and collection comes first. */
export const REMOTE_QUERY_CONCURRENCY = 2;
/** [FM-QUERY-4] Queries waiting behind those; one more is refused as busy. */
export const REMOTE_QUERY_QUEUE = 8;
/** An answer this large as JSON is refused before it is compressed: it would not fit a reply anyway. */
const MAX_ANSWER_JSON_BYTES = 32 * 1024 * 1024;
/** Series listings without match[] list every series. */
const EVERY_SERIES = '{__name__=~".+"}';

export interface QueryResponderOptions {
  readonly identity: NodeIdentity;
  readonly prefix: string;
  readonly epoch: number;
  /** When this boot started, ms since the Unix epoch (node clock); uptime is measured from it. */
  readonly bootTime: number;
  readonly configVersion: string;
  readonly transport: Transport;
  /** The process's frame router: the hub's queries come through it. */
  readonly router: FrameRouter;
  readonly queries: StoreQueries;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: AgentMetrics;
  readonly concurrency?: number;
  readonly queueLength?: number;
  /** The node's zone runtime, for the hub's zone commands (undefined: the node runs no zones). [FM-QUERY-6] */
  readonly zones?: () => ZoneRuntime | undefined;
  /** The node's commands by name ([FM-QUERY-7]); undefined: every command answers FM_COMMAND_UNSUPPORTED. */
  readonly commands?: NodeCommandHandler;
}

interface Waiting {
  readonly frame: QueryFrame;
  /** Monotonic time of receipt, to drop what the hub stopped waiting for. */
  readonly receivedAt: number;
}

class AnswerTooLarge extends Error {}

export class QueryResponder {
  private running = 0;
  private readonly queue: Waiting[] = [];
  private stopped = false;
  private subscription: Subscription | undefined;

  constructor(private readonly o: QueryResponderOptions) {}

  start(): void {
    const { router, identity } = this.o;
    // An undecodable query is the router's to count and report: nothing to answer without an id.
    this.subscription = router.on('cmd/query', (frame) => this.receive(frame), { site: identity.site, node: identity.node });
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.subscription?.unsubscribe();
  }

  private receive(frame: QueryFrame): void {
    if (frame.kind === 'ping') {
      // [FM-QUERY-5] At once, never queued: the ping measures the link, not the node's load.
      const nonce = frame.params.find(([name]) => name === 'nonce')?.[1] ?? '';
      const now = this.o.clock.now();
      this.answer(frame, 'ok', {
        epoch: this.o.epoch,
        agentVersion: FIELDMESH_VERSION,
        bootTime: this.o.bootTime,
        uptimeMs: Math.max(0, now - this.o.bootTime),
        configVersion: this.o.configVersion,
        nonce,
      });
      return;
    }
    if (frame.kind === 'zone_command' || frame.kind === 'zone_elect') {
      // [FM-QUERY-6] At once, never queued: an operator's emergency stop must not wait behind range queries.
      this.zoneCommand(frame);
      return;
    }
    if (frame.kind === 'command') {
      // [FM-QUERY-7] At once, never queued behind range queries: an operator is waiting.
      void this.command(frame);
      return;
    }
    // [FM-QUERY-4] A few at once, a few waiting, the rest refused as busy.
    const concurrency = this.o.concurrency ?? REMOTE_QUERY_CONCURRENCY;
    if (this.running < concurrency) {
      void this.run(frame);
    } else if (this.queue.length < (this.o.queueLength ?? REMOTE_QUERY_QUEUE)) {
      this.queue.push({ frame, receivedAt: this.o.clock.monotonic() });
    } else {
      this.o.metrics.remoteQueries.inc({ kind: frame.kind, result: 'busy' });
      this.answer(frame, 'error', {
        code: 'FM_NODE_BUSY',
        message: `node ${this.o.identity.site}/${this.o.identity.node} is answering ${this.running} queries with ${this.queue.length} waiting; try again shortly`,
      });
    }
  }

  /** [FM-QUERY-6] A pump action or an election, handed to the zone runtime; its answer or its refusal goes back. */
  private zoneCommand(frame: QueryFrame): void {
    const p = toParams(frame.params);
    const one = (name: string): string => {
      const v = p[name];
      if (typeof v !== 'string' || v === '') throw new FieldmeshError('FM_QUERY_INVALID', `${frame.kind}: parameter "${name}" is missing`);
      return v;
    };
    try {
      const zones = this.o.zones?.();
      const zone = one('zone');
      if (zones === undefined || !zones.zones().includes(zone)) {
        const { site, node } = this.o.identity;
        throw new FieldmeshError('FM_NOT_FOUND', `node ${site}/${node} takes no part in zone "${zone}"`);
      }
      let answer: object;
      if (frame.kind === 'zone_elect') {
        answer = { zone, epoch: zones.elect(zone) };
      } else {
        const action = one('action');
        if (!(ZONE_PUMP_ACTIONS as readonly string[]).includes(action))
          throw new FieldmeshError('FM_QUERY_INVALID', `zone_command: action "${action}": expected ${ZONE_PUMP_ACTIONS.join(', ')}`);
        const [pump, by, id] = [one('pump'), one('by'), one('id')];
        zones.command(zone, pump, action as ZonePumpAction, by, id);
        answer = { zone, pump, action, id, epoch: zones.status(zone)?.epoch ?? null };
      }
      this.o.metrics.remoteQueries.inc({ kind: frame.kind, result: 'ok' });
      this.o.logger.info({ requestId: frame.requestId, kind: frame.kind, ...answer }, 'zone command from the hub');
      this.answer(frame, 'ok', answer);
    } catch (err) {
      this.o.metrics.remoteQueries.inc({ kind: frame.kind, result: 'error' });
      if (isFieldmeshError(err)) this.answer(frame, 'error', { code: err.code, message: err.message });
      else {
        this.o.logger.error({ requestId: frame.requestId, kind: frame.kind, err: describeError(err) }, 'zone command failed');
        this.answer(frame, 'error', { code: 'FM_AGENT_INTERNAL', message: `the node failed on the zone command: ${describeError(err)}` });
      }
    }
  }

  /** [FM-QUERY-7] A node command by name (`command`), with its arguments and who asked (`by`). */
  private async command(frame: QueryFrame): Promise<void> {
    const { command: name, by, ...params } = toParams(frame.params);
    const command = typeof name === 'string' ? name : '';
    try {
      if (command === '') throw new FieldmeshError('FM_QUERY_INVALID', 'command: parameter "command" is missing');
      if (this.o.commands === undefined)
        throw new FieldmeshError('FM_COMMAND_UNSUPPORTED', `command "${command}": not supported by this node`);
      const answer = await this.o.commands(command, params, typeof by === 'string' ? by : 'hub');
      this.o.metrics.remoteQueries.inc({ kind: frame.kind, result: 'ok' });
      this.o.logger.info({ requestId: frame.requestId, command, by }, 'command from the hub');
      this.answer(frame, 'ok', answer);
    } catch (err) {
      this.o.metrics.remoteQueries.inc({ kind: frame.kind, result: 'error' });
      if (isFieldmeshError(err)) this.answer(frame, 'error', { code: err.code, message: err.message });
      else {
        this.o.logger.error({ requestId: frame.requestId, command, err: describeError(err) }, 'command failed');
        this.answer(frame, 'error', {
          code: 'FM_AGENT_INTERNAL',
          message: `the node failed on the command ${command}: ${describeError(err)}`,
        });
      }
    }
  }

  private async run(frame: QueryFrame): Promise<void> {
    this.running++;
    try {
      const answer = await this.evaluate(frame);
      this.o.metrics.remoteQueries.inc({ kind: frame.kind, result: 'ok' });
      this.answer(frame, 'ok', answer);
    } catch (err) {
      if (isFieldmeshError(err)) {
        this.o.metrics.remoteQueries.inc({ kind: frame.kind, result: 'error' });
        this.answer(frame, 'error', { code: err.code, message: err.message });
      } else {
        this.o.metrics.remoteQueries.inc({ kind: frame.kind, result: 'error' });
        this.o.logger.error({ requestId: frame.requestId, kind: frame.kind, err: describeError(err) }, 'remote query failed');
        this.answer(frame, 'error', { code: 'FM_AGENT_INTERNAL', message: 'the node failed while answering; its log has the details' });
      }
    } finally {
      this.running--;
      this.next();
    }
  }

  private next(): void {
    const now = this.o.clock.monotonic();
    for (let w = this.queue.shift(); w !== undefined && !this.stopped; w = this.queue.shift()) {
      if (w.frame.timeoutMs > 0 && now - w.receivedAt > w.frame.timeoutMs) {
        // Nobody waits for this answer any more: the hub gave up on it.
        this.o.metrics.remoteQueries.inc({ kind: w.frame.kind, result: 'expired' });
        continue;
      }
      void this.run(w.frame);
      return;
    }
  }

  private evaluate(frame: QueryFrame): Promise<object> {
    const params = toParams(frame.params);
    if (frame.kind === 'series') {
      const match = params['match[]'];
      return this.o.queries.series(match === undefined ? { ...params, 'match[]': EVERY_SERIES } : params);
    }
    return this.o.queries.queryRange(params);
  }

  /** Publishes the reply at QoS 1, straight to the link: a reply is ephemeral, never in the durable outbox. */
  private answer(frame: QueryFrame, status: ReplyStatus, body: unknown): void {
    if (this.stopped) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeReply({ requestId: frame.requestId, status, body: compress(body) });
    } catch (err) {
      if (!(err instanceof AnswerTooLarge)) throw err;
      this.o.metrics.remoteQueries.inc({ kind: frame.kind, result: 'too-large' });
      const message = `the answer is ${err.message}, more than a reply carries (${MAX_REPLY_BODY_BYTES} bytes compressed): too large, narrow the range or raise step`;
      bytes = encodeReply({ requestId: frame.requestId, status: 'error', body: compress({ code: 'FM_NODE_REPLY_TOO_LARGE', message }) });
    }
    const { prefix, identity } = this.o;
    this.o.transport.publish(nodeTopic(prefix, identity.site, identity.node, 'reply'), bytes, { qos: 1 }).catch((err: unknown) => {
      // The hub times out; a reply is not worth keeping.
      this.o.logger.debug({ requestId: frame.requestId, err: describeError(err) }, 'query reply not sent');
    });
  }
}

/** [FM-QUERY-2] UTF-8 JSON, raw DEFLATE; throws AnswerTooLarge past what a reply carries. */
function compress(body: unknown): Uint8Array {
  const json = Buffer.from(JSON.stringify(body), 'utf8');
  if (json.length > MAX_ANSWER_JSON_BYTES) throw new AnswerTooLarge(`${json.length} bytes of JSON`);
  const deflated = deflateRawSync(json);
  if (deflated.length > MAX_REPLY_BODY_BYTES) throw new AnswerTooLarge(`${deflated.length} bytes compressed`);
  return new Uint8Array(deflated.buffer, deflated.byteOffset, deflated.length);
}

/** Name/value pairs as the Prometheus parameter record: a repeated name becomes an array. */
function toParams(pairs: QueryFrame['params']): Params {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of pairs) {
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}
