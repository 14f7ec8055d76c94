// The hub's readers of the broker, each on its channel of the process's one frame router [FM-TOPIC-5]: live ingest
// (births, data, deaths, events as signs of life), the embedded hub's durable ingest (history and events), replies to
// the hub's queries, certificate requests and zone frames; and what the router refused, counted once where its reader
// counts. The registration gate comes first wherever it applies (docs/registration.md).

import type { Logger } from '../../kit/index.js';
import type {
  FrameRouter,
  HistoryFrame,
  RouteContext,
  RoutedFrames,
  RoutedTopic,
  RouteRejection,
  SourceSubscription,
  WireFrame,
} from '../../protocol/index.js';
import type { CertificateSigner } from '../certificates/certificate-signer.js';
import { nodeKey } from '../fleet/fleet-state.js';
import type { HubCounters, HubMetrics } from '../hub-metrics.js';
import type { NodeBacklog } from '../ledger/completeness.js';
import type { NodeCommandsService } from '../node-commands.js';
import type { RegistrationGate } from '../registration/index.js';
import { endWhenSettled, type HubTracing, startReceiveSpan } from '../tracing/hub-tracing.js';
import type { ZoneMonitor } from '../zones/zone-monitor.js';
import { backlogOfFrame, type DurableIngest } from './durable-ingest.js';
import type { LiveIngest } from './live-ingest.js';
import type { WriteQueue } from './write-queue.js';

type LiveRoute = 'birth' | 'data' | 'death' | 'event';

export interface FrameReadersOptions {
  readonly logger: Logger;
  readonly clock: { now(): number };
  readonly metrics: Pick<HubMetrics, 'rejectFrame' | 'framesReceived'>;
  readonly counters: HubCounters;
  readonly registrations: RegistrationGate;
  readonly liveIngest: LiveIngest;
  /** The embedded hub's durable ingest and its write queue; undefined with a queue (the workers store). */
  readonly durable: { readonly ingest: DurableIngest; readonly writes: WriteQueue } | undefined;
  /** Each node's backlog as its last history frame reported it (the embedded hub's). */
  readonly backlogs: Map<string, NodeBacklog & { site: string; node: string }>;
  readonly nodeCommands: Pick<NodeCommandsService, 'handleReply'>;
  readonly zoneMonitor: ZoneMonitor;
  /** The online signer; undefined without hub.yaml `pki`. */
  readonly certificates: () => CertificateSigner | undefined;
  /** A `receive` span per durable frame of the embedded hub, parent of its store and ack (docs/tracing.md). */
  readonly tracing?: HubTracing;
}

export interface FrameReaders {
  /** Registers every reader on `router`; returns their subscriptions. */
  register(router: FrameRouter): SourceSubscription[];
  /** The router's `onRejected`. */
  rejected(r: RouteRejection): void;
}

export function createFrameReaders(o: FrameReadersOptions): FrameReaders {
  const { logger, clock, metrics, counters, registrations } = o;
  const csrWithoutPkiLogged = new Set<string>();

  function reject(reason: Parameters<HubMetrics['rejectFrame']>[0], topic: string, message: string): void {
    counters.framesRejected++;
    metrics.rejectFrame(reason);
    logger.debug({ topic, reason }, `frame rejected: ${message}`);
  }

  /** [FM-CERT-1] A node asks for a certificate of a hub without a signer: said once per topic. */
  function csrWithoutPki(topic: string, site: string, node: string): void {
    if (csrWithoutPkiLogged.has(topic)) return;
    csrWithoutPkiLogged.add(topic);
    logger.warn({ site, node }, 'certificates: a node asks for a certificate, and hub.yaml has no pki section');
  }

  /** A frame from a node the registration gate admits: counted as received. */
  function admitted(topic: RoutedTopic<'birth'>, frame: WireFrame): boolean {
    // A node that is not approved: counted, its birth's facts kept, nothing else.
    if (!registrations.admit(topic.site, topic.node, frame)) return false;
    counters.framesReceived++;
    metrics.framesReceived.inc({ type: frame.type });
    return true;
  }

  /** Live ingest: births, data, deaths and events into the fleet state (an event is a sign of life too). */
  function ingestLive(frame: RoutedFrames[LiveRoute], { topic, message }: RouteContext<LiveRoute>): void {
    if (!admitted(topic, frame)) return;
    const receivedAt = clock.now();
    const outcome = o.liveIngest.apply(topic, frame);
    if (outcome.rejected !== undefined) reject(outcome.rejected, message.topic, `fleet state refused a ${frame.type} frame`);
    // Every event on its own channel is stored and acknowledged, whatever the fleet state made of the frame (unknown
    // node, old session): events need no alias table and are never dropped. With a queue, the workers store them.
    const durable = o.durable;
    if (frame.type === 'event' && durable !== undefined) {
      const rx = o.tracing && startReceiveSpan(o.tracing, message.topic, topic.site, topic.node, frame);
      durable.writes.alongside('event', () => {
        const stored = durable.ingest.event(topic.site, topic.node, frame, receivedAt, rx?.context);
        return rx === undefined ? stored : endWhenSettled(rx.span, stored);
      });
    }
  }

  /** Durable ingest of the embedded hub: a history frame stored, then acknowledged. [FM-DURABLE-3] */
  function ingestHistory(frame: HistoryFrame, { topic, message }: RouteContext<'history'>): void {
    const durable = o.durable;
    if (durable === undefined || !admitted(topic, frame)) return;
    const receivedAt = clock.now();
    o.backlogs.set(nodeKey(topic.site, topic.node), { site: topic.site, node: topic.node, ...backlogOfFrame(frame, receivedAt) });
    const rx = o.tracing && startReceiveSpan(o.tracing, message.topic, topic.site, topic.node, frame);
    durable.writes.alongside('history batch', () => {
      const stored = durable.ingest.history(topic.site, topic.node, frame, receivedAt, rx?.context);
      return rx === undefined ? stored : endWhenSettled(rx.span, stored);
    });
  }

  return {
    /** With a queue, history frames are the ingest tier's and the workers': this process does not subscribe to them. */
    register(r) {
      return [
        r.on('birth', ingestLive),
        r.on('data', ingestLive),
        r.on('death', ingestLive),
        r.on('event', ingestLive),
        ...(o.durable === undefined ? [] : [r.on('history', ingestHistory)]),
        // [FM-QUERY-2] Answers to the hub's queries, matched by request id; never news about the node's state (and
        // never held by the registration gate).
        r.on('reply', (frame, { topic, message }) => {
          counters.framesReceived++;
          metrics.framesReceived.inc({ type: frame.type });
          if (!o.nodeCommands.handleReply(topic.site, topic.node, frame)) reject('malformed', message.topic, 'unreadable reply body');
        }),
        // [FM-CERT-1] A node's certificate request: the signer's (admission is its to decide: a pending node's waits).
        r.on('csr', (request, { topic, message }) => {
          const signer = o.certificates();
          if (signer === undefined) csrWithoutPki(message.topic, topic.site, topic.node);
          else void signer.receive(topic.site, topic.node, request);
        }),
        // [FM-HUB-ZONE-2] Zone frames (detections, votes, pump states) between a zone's members: the hub listens in.
        r.on('zone', (zoneMessage, { topic }) => {
          if (registrations.admit(topic.site, topic.node)) o.zoneMonitor.receive(topic.site, topic.node, zoneMessage);
        }),
      ];
    },

    /**
     * What the router refused (undecodable, of another type than its channel carries, of another zone than its topic's,
     * or no fieldmesh topic): no handler got it; counted once, where its reader counts.
     */
    rejected(r) {
      const t = r.parsed;
      if (t?.kind === 'zone') {
        // The registration gate before anything: a zone frame of a node that is not admitted is not the monitor's.
        if (registrations.admit(t.site, t.node)) o.zoneMonitor.refuse(r.reason, t.site, t.node, r.message);
        return;
      }
      if (t?.kind === 'node' && t.channel === 'csr') {
        const signer = o.certificates();
        if (signer === undefined) csrWithoutPki(r.topic, t.site, t.node);
        else signer.unreadable(t.site, t.node, r.message);
        return;
      }
      // Awareness frames are the aggregator's: said as its own router said them, not counted with the hub's.
      if (t?.kind === 'node' && t.channel === 'aware') {
        logger.warn({ topic: r.topic, reason: r.reason }, `awareness frame on ${r.topic} rejected: ${r.message}`);
        return;
      }
      // A bad reply fails a request an operator waits for: worth more than a debug line.
      if (t?.kind === 'node' && t.channel === 'reply')
        logger.warn({ topic: r.topic, reason: r.reason }, `reply frame rejected: ${r.message}`);
      reject(r.reason === 'other-zone' ? 'malformed' : r.reason, r.topic, r.message);
    },
  };
}
