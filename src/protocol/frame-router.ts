// The frame router: one per process, between the transport and every part that reads fieldmesh frames. It parses
// each message's topic once, decodes its frame once, and hands the typed frame to the handlers registered for its
// channel; a message that does not decode is counted by reason and reported once, and no handler sees it.
// [FM-TOPIC-5] in docs/protocol.md.

import { FieldmeshError, isValidId } from '../kit/index.js';
import { type AwarenessFrame, decodeAwarenessFrame, decodeBundle } from './awareness.js';
import type { BackfillFrame } from './backfill.js';
import { type CertificateInUse, type CertificateRequest, decodeCsrTopicMessage } from './certificate.js';
import type { FrameRejectReason } from './codec.js';
import { decodeZoneFrame, type ZoneFrame } from './consensus/zone-frames.js';
import { decodeZoneControl, isZoneControl, type ZoneControl, type ZoneFrameSignature } from './consensus/zone-signature.js';
import {
  type BirthFrame,
  type DeathFrame,
  type DigestFrame,
  decodeWireFrame,
  type EventFrame,
  type HubStateFrame,
  type RawDataFrame,
  type RebirthFrame,
  type WireFrame,
} from './frames.js';
import type { AckFrame, HistoryFrame } from './history.js';
import type { QueryFrame, ReplyFrame } from './node-query.js';
import { assertTopicPrefix, HUB_LEVEL, type ParsedTopic, parseTopic, ZONE_LEVEL } from './topics.js';

/** A message as the transport delivers it (the Transport port's TransportMessage). */
export interface InboundMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly retain: boolean;
}

/** One subscription at the source: what the Transport port's `subscribe(filter, handler)` returns. */
export interface SourceSubscription {
  readonly filter: string;
  readonly ready: Promise<void>;
  unsubscribe(): void;
}

/**
 * Where the router gets its messages: the Transport port satisfies it (declared here, structurally, because
 * protocol/ imports nothing of transport/).
 */
export interface MessageSource {
  subscribe(filter: string, handler: (message: InboundMessage) => void, options?: { readonly qos?: 0 | 1 }): SourceSubscription;
}

/** A zone topic's message: a zone frame (and its signature, when signed) or a control frame (certificate, want). */
export type ZoneTopicMessage =
  | { readonly kind: 'frame'; readonly frame: ZoneFrame; readonly signature?: ZoneFrameSignature }
  | { readonly kind: 'control'; readonly control: ZoneControl };

/**
 * What each route delivers, by route key: a node's channels (`birth` ... `csr`, `aware`, `zone`), a node's
 * commands (`cmd/<verb>`) and the hub's topics (`hub/<channel>`). [FM-TOPIC-3] [FM-TOPIC-4]
 */
export interface RoutedFrames {
  birth: BirthFrame;
  death: DeathFrame;
  data: RawDataFrame;
  event: EventFrame;
  history: HistoryFrame;
  reply: ReplyFrame;
  csr: CertificateRequest | CertificateInUse;
  aware: AwarenessFrame;
  zone: ZoneTopicMessage;
  'cmd/rebirth': RebirthFrame;
  'cmd/ack': AckFrame;
  'cmd/backfill': BackfillFrame;
  'cmd/query': QueryFrame;
  'hub/state': HubStateFrame;
  'hub/digest': DigestFrame;
  /** The awareness digest: the bundled awareness frames, each still encoded (receivers read them as heard on a segment). */
  'hub/aware': readonly Uint8Array[];
}
export type RouteKey = keyof RoutedFrames;

type NodeRouteKey = 'birth' | 'death' | 'data' | 'event' | 'history' | 'reply' | 'csr' | 'aware';
type CommandRouteKey = 'cmd/rebirth' | 'cmd/ack' | 'cmd/backfill' | 'cmd/query';

/** The parsed topic a route's handler gets. */
export type RoutedTopic<K extends RouteKey> = K extends NodeRouteKey
  ? Extract<ParsedTopic, { kind: 'node' }>
  : K extends CommandRouteKey
    ? Extract<ParsedTopic, { kind: 'cmd' }>
    : K extends 'zone'
      ? Extract<ParsedTopic, { kind: 'zone' }>
      : Extract<ParsedTopic, { kind: 'hub' }>;

export interface RouteContext<K extends RouteKey> {
  readonly topic: RoutedTopic<K>;
  /** The message as it arrived (its `retain` flag tells a retained state from a live one). */
  readonly message: InboundMessage;
}

export type FrameHandler<K extends RouteKey> = (frame: RoutedFrames[K], context: RouteContext<K>) => void;

/**
 * Which topics of a route: a site, node or zone left out means every one (`+`). `zone` of `hub/aware` names a
 * zone's digest; without it, the fleet's. `qos` is the highest QoS to receive with: 0 by default for the awareness
 * routes (`aware`, `hub/aware`: a lost pulse is repaired by the next), 1 for the others.
 */
export interface RouteOptions {
  readonly site?: string;
  readonly node?: string;
  readonly zone?: string;
  readonly qos?: 0 | 1;
}

export type RouteRejectReason = FrameRejectReason | 'unknown-topic' | 'other-zone';
export const ROUTE_REJECT_REASONS: readonly RouteRejectReason[] = [
  'truncated',
  'malformed',
  'oversized',
  'version',
  'unknown-topic',
  'other-zone',
];

/** A message no handler got, reported once. */
export interface RouteRejection {
  readonly reason: RouteRejectReason;
  /** What is wrong, and where in the frame when known. */
  readonly message: string;
  readonly topic: string;
  /** The parsed topic; absent for `unknown-topic`. */
  readonly parsed?: ParsedTopic;
  /** Byte offset where decoding stopped, when it was a decoding error. */
  readonly offset?: number;
}

export interface FrameRouterStats {
  /** Messages routed: each counted once, however many handlers got it. */
  readonly messages: number;
  readonly topicsParsed: number;
  readonly framesDecoded: number;
  /** Handler calls. */
  readonly delivered: number;
  readonly rejected: Readonly<Record<RouteRejectReason, number>>;
}

export interface FrameRouterOptions {
  readonly source: MessageSource;
  readonly prefix: string;
  /** Called once for each message that does not decode (or does not belong on its topic); no handler sees it. */
  readonly onRejected?: (rejection: RouteRejection) => void;
}

export interface FrameRouter {
  readonly prefix: string;
  /**
   * Registers `handler` for the frames of route `key` (scoped by `options`): subscribes the route's filter at the
   * source, and from then on hands it each frame, decoded once for all the handlers of the message. Throws
   * FM_TOPIC_INVALID when a site, node or zone is not an id ([FM-TOPIC-2]).
   */
  on<K extends RouteKey>(key: K, handler: FrameHandler<K>, options?: RouteOptions): SourceSubscription;
  stats(): FrameRouterStats;
}

/** The frame type each wire channel carries ([FM-TOPIC-3], [FM-TOPIC-4]); anything else there is malformed. */
const WIRE_TYPE_OF: Readonly<Record<string, WireFrame['type']>> = {
  birth: 'birth',
  death: 'death',
  data: 'data',
  event: 'event',
  history: 'history',
  reply: 'reply',
  'cmd/rebirth': 'rebirth',
  'cmd/ack': 'ack',
  'cmd/backfill': 'backfill',
  'cmd/query': 'query',
  'hub/state': 'hubState',
  'hub/digest': 'digest',
};

/** The route key of a parsed topic; undefined for topics no route reads (the hub's alerts, unknown commands). */
function keyOf(t: ParsedTopic): RouteKey | undefined {
  switch (t.kind) {
    case 'node':
      return t.channel;
    case 'zone':
      return 'zone';
    case 'cmd': {
      const key = `cmd/${t.command}`;
      return key in WIRE_TYPE_OF ? (key as RouteKey) : undefined;
    }
    case 'hub':
      return t.channel === 'alerts' ? undefined : `hub/${t.channel}`;
  }
}

/** What decoding made of a message: a value for the handlers, a rejection to report, or both (a digest cut short). */
interface Decoded {
  readonly value?: unknown;
  readonly rejection?: RouteRejection;
}

/** One message's route: its topic parsed and its frame decoded, the first time a handler of it runs. */
type Routed = { readonly key: RouteKey; readonly parsed: ParsedTopic; readonly value: unknown } | undefined;

function refused(reason: RouteRejectReason, message: string, topic: string, parsed: ParsedTopic, offset?: number): Decoded {
  return { rejection: { reason, message, topic, parsed, ...(offset === undefined ? {} : { offset }) } };
}

function decodeFor(key: RouteKey, parsed: ParsedTopic, message: InboundMessage): Decoded {
  const { topic, payload } = message;
  switch (key) {
    case 'aware': {
      const d = decodeAwarenessFrame(payload);
      return d.ok ? { value: d.frame } : refused(d.error.reason, d.error.message, topic, parsed, d.error.offset);
    }
    case 'hub/aware': {
      // The frames before a fault are still good: they go on, and the fault is reported.
      const { frames, error } = decodeBundle(payload);
      if (error === undefined) return { value: frames };
      const fault = refused(error.reason, `digest: ${error.message}`, topic, parsed, error.offset);
      return frames.length > 0 ? { ...fault, value: frames } : fault;
    }
    case 'csr':
      try {
        return { value: decodeCsrTopicMessage(payload) };
      } catch (err) {
        return refused('malformed', err instanceof Error ? err.message : String(err), topic, parsed);
      }
    case 'zone': {
      if (isZoneControl(payload)) {
        const c = decodeZoneControl(payload);
        return c.ok
          ? { value: { kind: 'control', control: c.control } }
          : refused(c.error.reason, c.error.message, topic, parsed, c.error.offset);
      }
      const z = decodeZoneFrame(payload);
      if (!z.ok) return refused(z.error.reason, z.error.message, topic, parsed, z.error.offset);
      // [FM-ZONE-FRAME-11] A zone topic carries the frames of its own zone only.
      const zone = z.frame.type === 'vote' ? z.frame.vote.zone : z.frame.zone;
      if (parsed.kind === 'zone' && zone !== parsed.zone) {
        return refused('other-zone', `a frame of zone ${zone} on the topic of zone ${parsed.zone}`, topic, parsed);
      }
      return { value: { kind: 'frame', frame: z.frame, ...(z.signature === undefined ? {} : { signature: z.signature }) } };
    }
    default: {
      const d = decodeWireFrame(payload);
      if (!d.ok) return refused(d.error.reason, d.error.message, topic, parsed, d.error.offset);
      // [FM-TOPIC-5] A frame of a type its topic does not carry is malformed (a digest on .../data).
      const expected = WIRE_TYPE_OF[key];
      if (d.frame.type !== expected) return refused('malformed', `a ${d.frame.type} frame on a topic of ${expected} frames`, topic, parsed);
      return { value: d.frame };
    }
  }
}

function level(value: string | undefined, what: string): string {
  if (value === undefined) return '+';
  if (!isValidId(value)) {
    throw new FieldmeshError(
      'FM_TOPIC_INVALID',
      `frame router: ${what} "${value}" is not an id (1 to 63 of a-z, 0-9, - and _, starting with a letter or digit)`,
    );
  }
  return value;
}

/** The filter of route `key` under `prefix`. */
export function routeFilter(prefix: string, key: RouteKey, options: RouteOptions = {}): string {
  const site = (): string => level(options.site, 'site');
  const node = (): string => level(options.node, 'node');
  if (key === 'zone') return `${prefix}/${site()}/${node()}/${ZONE_LEVEL}/${level(options.zone, 'zone')}`;
  if (key === 'hub/aware')
    return options.zone === undefined ? `${prefix}/${HUB_LEVEL}/aware` : `${prefix}/${HUB_LEVEL}/aware/${level(options.zone, 'zone')}`;
  if (key.startsWith('hub/')) return `${prefix}/${HUB_LEVEL}/${key.slice(4)}`;
  return `${prefix}/${site()}/${node()}/${key}`;
}

export function createFrameRouter(o: FrameRouterOptions): FrameRouter {
  const prefix = assertTopicPrefix(o.prefix);
  const rejected = Object.fromEntries(ROUTE_REJECT_REASONS.map((r) => [r, 0])) as Record<RouteRejectReason, number>;
  const counts = { messages: 0, topicsParsed: 0, framesDecoded: 0, delivered: 0 };
  /**
   * Each message routed, by identity: the transport hands one message object to every handler it is for, so
   * the second handler of a message finds it parsed and decoded.
   */
  const routed = new WeakMap<InboundMessage, Routed>();

  function reject(r: RouteRejection): void {
    rejected[r.reason]++;
    o.onRejected?.(r);
  }

  function route(message: InboundMessage): Routed {
    if (routed.has(message)) return routed.get(message);
    counts.messages++;
    counts.topicsParsed++;
    const parsed = parseTopic(prefix, message.topic);
    const key = parsed === undefined ? undefined : keyOf(parsed);
    let result: Routed;
    if (parsed === undefined || key === undefined) {
      reject({ reason: 'unknown-topic', message: 'not a topic of a fieldmesh frame', topic: message.topic, ...(parsed ? { parsed } : {}) });
    } else {
      counts.framesDecoded++;
      const decoded = decodeFor(key, parsed, message);
      if (decoded.rejection !== undefined) reject(decoded.rejection);
      if (decoded.value !== undefined) result = { key, parsed, value: decoded.value };
    }
    routed.set(message, result);
    return result;
  }

  return {
    prefix,
    on<K extends RouteKey>(key: K, handler: FrameHandler<K>, options: RouteOptions = {}): SourceSubscription {
      const filter = routeFilter(prefix, key, options);
      const qos = options.qos ?? (key === 'aware' || key === 'hub/aware' ? 0 : 1);
      return o.source.subscribe(
        filter,
        (message) => {
          const r = route(message);
          // The filter was made from the key: another key here would be a topic parsed against the grain.
          if (r === undefined || r.key !== key) return;
          counts.delivered++;
          handler(r.value as RoutedFrames[K], { topic: r.parsed as RoutedTopic<K>, message });
        },
        { qos },
      );
    },
    stats: () => ({ ...counts, rejected: { ...rejected } }),
  };
}
