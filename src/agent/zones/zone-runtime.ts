// The zones of one running node: the zone engine with the pumps this node drives, its epochs on disk,
// its tick, and its links to the zone's other members: through the broker (`<prefix>/<site>/<node>/zone/<zone>`,
// QoS 1, one topic per zone) and, when the awareness plane runs on UDP, on the shared segment as zone datagrams (the sender's
// id beside the frame). Both may run at once; the engine takes a frame heard twice once. [FM-ZONE-LINK]
// Its figures for /metrics: `stats()` (zone-metrics.ts).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Clock, describeError, type Logger, type TimerHandle } from '../../kit/index.js';
import { writeFileDurably } from '../../platform/index.js';
import type { Detection } from '../../protocol/consensus/types.js';
import type { ConfiguredZone } from '../../protocol/consensus/zone-config.js';
import { encodeZoneDatagram, openZoneDatagram } from '../../protocol/consensus/zone-datagram.js';
import { decodeZoneFrame, encodeZoneFrame, type ZoneFrame, type ZoneFrameTypeName } from '../../protocol/consensus/zone-frames.js';
import {
  decodeZoneControl,
  encodeZoneCertificate,
  encodeZoneCertificateWant,
  isZoneControl,
  type ZoneControl,
  type ZoneFrameSignature,
  type ZoneSignatureRefusal,
} from '../../protocol/consensus/zone-signature.js';
import { type FrameRouter, type RouteContext, type ZoneTopicMessage, zoneTopic, zoneWriters } from '../../protocol/index.js';
import type { FrameLink, Subscription, Transport } from '../../transport/index.js';
import type { PumpAction, PumpStopReason } from '../actuators/pump-controller.js';
import { PumpController, type PumpRecord } from '../actuators/pump-controller.js';
import { createPumpDriver } from '../actuators/pump-driver.js';
import { ZoneEngine, type ZoneRecord, type ZoneStatus } from './zone-engine.js';
import { messageZone, type StoredZoneState, type ZoneStateStore } from './zone-messages.js';
import type { ZoneSigning } from './zone-signing.js';

export interface ZoneRuntimeOptions {
  readonly site: string;
  readonly node: string;
  readonly prefix: string;
  readonly zones: readonly ConfiguredZone[];
  /** The node's data directory: epochs in `zones.json`, each pump's envelope in `pumps/<zone>.<pump>.json`. */
  readonly dataDir: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The node's boot counter. */
  readonly boot: number;
  readonly tickMs: number;
  /** The broker link (a node without a broker passes its no-broker transport: nothing is sent). */
  readonly transport: Transport;
  /**
   * The process's frame router: the zone topics of this node's site come through it, decoded. What it refuses
   * there (undecodable, another zone's frame on a zone's topic) the composition root hands to `refuseFromBroker`.
   */
  readonly router: FrameRouter;
  /**
   * The shared UDP segment, when the awareness plane runs on UDP: the zone side of its link
   * (`splitZoneDatagrams`), which carries zone datagrams only. [FM-ZONE-LINK-UDP]
   */
  readonly segment?: FrameLink;
  /**
   * The nodes this node's awareness plane holds alive (or suspect: not yet judged lost), by name. With it,
   * a quiet zone still knows which voters it can reach (its status's majority, the isolated fallback);
   * without it (no awareness plane), only voters heard on the zone link count. [FM-ZONE-REACH]
   */
  readonly liveNodes?: () => readonly string[];
  /**
   * `zoneSecurity.signing: required`: every frame this node sends is signed, every frame it hears must be signed
   * by a certificate of the fleet CA naming its sender, whom the zone lists. [FM-ZONE-SIGN-1..5]
   */
  readonly signing?: ZoneSigning;
  /** A pump this node drives started on a certificate: ms from the detection that completed the evidence. */
  readonly onDecisionLatency?: (zone: string, pump: string, ms: number) => void;
  /** Zone records and pump records, for the outbox (the hub's audit). */
  readonly onRecord?: (
    record: { readonly source: 'zone'; readonly record: ZoneRecord } | { readonly source: 'pump'; readonly record: PumpRecord },
  ) => void;
}

export interface ZoneRuntime {
  /** A detection of this node's collectors: shared with the zones at once. */
  detect(d: Detection): void;
  zones(): string[];
  status(zone: string): ZoneStatus | undefined;
  /** Forces a new voting round: the zone's epoch goes one above the highest seen. */
  elect(zone: string): number;
  /** An operator's command to a pump (this node's or another's, sent over the zone link). */
  command(zone: string, pump: string, action: PumpAction, by: string, id: string): void;
  /** Frames in and out (all links), for a glance; `stats()` has them by link and type. */
  counters(): ZoneCounters;
  /** Everything /metrics shows of the zones (zone-metrics.ts), read at each scrape. */
  stats(): ZoneRuntimeStats;
  /**
   * A message of a zone topic that the frame router refused (it does not decode, or a frame of another zone than its
   * topic's, [FM-ZONE-FRAME-11]): counted with the broker link's refusals.
   */
  refuseFromBroker(reason: ZoneFrameRefusal): void;
  stop(): Promise<void>;
}

export interface ZoneCounters {
  readonly framesSent: number;
  readonly framesReceived: number;
  readonly framesRejected: number;
}

/** The links zone frames travel: the broker, and the shared UDP segment. */
export type ZoneLinkName = 'mqtt' | 'udp';
/**
 * Why a frame heard on a link went no further: a decoding reason of [FM-FRAME-3] (`malformed`,
 * `truncated`, `oversized`, `version`), or on UDP `other-site` (another site's datagram on the segment,
 * ignored) and `own` (a datagram naming this node as its sender).
 */
/** `other-zone`: a frame of one zone on another zone's topic (the broker checked the topic's zone, not the frame's). */
export type ZoneFrameRefusal =
  | 'malformed'
  | 'truncated'
  | 'oversized'
  | 'version'
  | 'other-site'
  | 'own'
  | 'other-zone'
  | ZoneSignatureRefusal;

type Counts<K extends string> = Partial<Record<K, number>>;

export interface ZoneRuntimeStats {
  /** Frames handed to each link, by type (a frame sent on both links counts once on each). */
  readonly sent: Readonly<Record<ZoneLinkName, Counts<ZoneFrameTypeName>>>;
  /** Frames heard on each link and handed to the engine, by type (duplicates across links included). */
  readonly received: Readonly<Record<ZoneLinkName, Counts<ZoneFrameTypeName>>>;
  /** Frames heard and refused or ignored, by link and reason. */
  readonly rejected: Readonly<Record<ZoneLinkName, Counts<ZoneFrameRefusal>>>;
  /** Frames heard a second time and dropped before the engine: commands by id, pump states older than known. */
  readonly duplicates: Readonly<Record<ZoneLinkName, number>>;
  readonly zones: readonly {
    readonly zone: string;
    readonly epoch: number;
    /** Votes this node cast (each new vote and renewal; repeats of a live vote are not counted). */
    readonly votesCast: number;
    readonly refusals: Readonly<Record<string, number>>;
    /** 1 while a certificate of this zone holds here; absent on a node that counts no votes of the zone. */
    readonly majorityHeld?: 0 | 1;
    /** Configured voters heard within the last 5 ticks (this node counts itself), as a fraction. */
    readonly participation: number;
  }[];
  readonly pumps: readonly {
    readonly zone: string;
    readonly pump: string;
    readonly running: boolean;
    readonly starts: Counts<string>;
    readonly stops: Counts<PumpStopReason>;
    readonly staleEpochRefused: number;
  }[];
}

/** Epochs (and each counter's snapshot) in one small file, replaced durably on every change. [FM-ZONE-EPOCH] */
class FileZoneStateStore implements ZoneStateStore {
  private readonly states: Record<string, StoredZoneState>;

  constructor(
    private readonly path: string,
    logger: Logger,
  ) {
    let states: Record<string, StoredZoneState> = {};
    try {
      states = JSON.parse(readFileSync(path, 'utf8')) as Record<string, StoredZoneState>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        logger.error({ path, err: describeError(err) }, 'zone state unreadable: epochs start at 0 (votes of old epochs may count again)');
    }
    this.states = states;
  }

  load(zone: string): StoredZoneState | undefined {
    return this.states[zone];
  }

  save(zone: string, state: StoredZoneState): void {
    this.states[zone] = state;
    writeFileDurably(this.path, `${JSON.stringify(this.states)}\n`);
  }
}

/** The least time between two wants of one key id, or two answers with this node's certificate, on the segment. */
const WANT_INTERVAL_MS = 1_000;

/** Command ids remembered to execute each once when it arrives on two links (or twice on one). */
const SEEN_COMMANDS = 1_024;

function bump<K extends string>(counts: Counts<K>, key: K, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

/** [FM-ZONE-REACH] A zone's voters the awareness plane holds live, this node included when it votes. */
export function reachableVoters(
  zones: readonly ConfiguredZone[],
  self: string,
  liveNodes: () => readonly string[],
): (zone: string) => readonly string[] {
  return (zone) => {
    const voters = zones.find((z) => z.id === zone)?.voters ?? [];
    const live = new Set(liveNodes());
    return voters.filter((v) => v === self || live.has(v));
  };
}

export async function startZoneRuntime(o: ZoneRuntimeOptions): Promise<ZoneRuntime> {
  const { logger, clock } = o;
  const sent: Record<ZoneLinkName, Counts<ZoneFrameTypeName>> = { mqtt: {}, udp: {} };
  const received: Record<ZoneLinkName, Counts<ZoneFrameTypeName>> = { mqtt: {}, udp: {} };
  const rejected: Record<ZoneLinkName, Counts<ZoneFrameRefusal>> = { mqtt: {}, udp: {} };
  const duplicates: Record<ZoneLinkName, number> = { mqtt: 0, udp: 0 };
  const votesCast = new Map<string, number>();
  const pumpCounts = new Map<string, { starts: Counts<string>; stops: Counts<PumpStopReason> }>();
  /** The last certificate per pump (`zone\0pump` it drives): its detection ids, for the decision latency. */
  const lastMajority = new Map<string, readonly string[]>();
  const majorityHeld = new Map<string, 0 | 1>();
  const pumps: PumpController[] = [];
  let engine: ZoneEngine | undefined;
  for (const zone of o.zones) {
    for (const pump of zone.pumps) {
      if (pump.node !== o.node) continue;
      const driver = createPumpDriver(pump.driver, { pump: pump.id, transport: o.transport, clock, logger });
      const controller = await PumpController.open({
        zone: zone.id,
        pump,
        driver,
        statePath: join(o.dataDir, 'pumps', `${zone.id}.${pump.id}.json`),
        clock,
        logger: logger.child({ zone: zone.id, pump: pump.id }),
        onRecord: (record) => o.onRecord?.({ source: 'pump', record }),
      });
      const counts = { starts: {}, stops: {} };
      pumpCounts.set(`${zone.id}\0${pump.id}`, counts);
      controller.on('pumpStarted', ({ at, cause }) => {
        bump(counts.starts, cause);
        if (cause !== 'majority' && cause !== 'overlap') return;
        // From the detection that completed the certificate's evidence (its own timestamp) to the start.
        const ids = new Set(lastMajority.get(`${zone.id}\0${pump.id}`) ?? []);
        const times = o.zones
          .flatMap((z) => engine?.status(z.id)?.detections ?? [])
          .filter((d) => ids.has(d.id))
          .map((d) => d.time);
        if (times.length > 0) o.onDecisionLatency?.(zone.id, pump.id, Math.max(0, at - Math.max(...times)));
      });
      controller.on('pumpStopped', ({ reason }) => bump(counts.stops, reason));
      pumps.push(controller);
    }
  }
  /** [FM-ZONE-LINK] One topic per zone: the broker lets a node write the topics of the zones that list it. */
  const topicOf = (zone: string): string => zoneTopic(o.prefix, o.site, o.node, zone);
  /** (zone, boot/seq) of this node's votes already counted as cast. */
  const castSeen = new Set<string>();
  let signing: Promise<void> = Promise.resolve();
  const send = (m: ZoneFrame): void => {
    const bytes = encodeZoneFrame(m);
    if (m.type === 'vote' && m.vote.voter === o.node) {
      // A live vote goes again each tick with the same seq: only a new seq is a vote cast.
      const key = `${m.vote.zone}\0${m.vote.boot}/${m.vote.seq}`;
      if (!castSeen.has(key)) {
        castSeen.add(key);
        if (castSeen.size > SEEN_COMMANDS) castSeen.delete(castSeen.values().next().value as string);
        votesCast.set(m.vote.zone, (votesCast.get(m.vote.zone) ?? 0) + 1);
      }
    }
    const transmit = (payload: Uint8Array): void => {
      if (o.transport.connected) {
        bump(sent.mqtt, m.type);
        void o.transport.publish(topicOf(messageZone(m)), payload, { qos: 1 }).catch(() => {});
      }
      if (o.segment !== undefined) {
        bump(sent.udp, m.type);
        o.segment.send(encodeZoneDatagram(o.site, o.node, payload));
      }
    };
    const signer = o.signing?.signer;
    if (signer === undefined) transmit(bytes);
    // [FM-ZONE-SIGN-1] Signed in order, so frames leave in the order the engine sent them.
    else
      signing = signing.then(
        () => signer.sign(bytes).then(transmit),
        () => {},
      );
  };
  engine = new ZoneEngine({
    node: o.node,
    zones: o.zones,
    link: { send },
    clock,
    boot: o.boot,
    tickMs: o.tickMs,
    store: new FileZoneStateStore(join(o.dataDir, 'zones.json'), logger),
    pumps,
    ...(o.liveNodes !== undefined ? { reachableVoters: reachableVoters(o.zones, o.node, o.liveNodes) } : {}),
    onRecord: (r) => {
      logger.info({ zone: r.zone, epoch: r.epoch, kind: r.kind, cause: r.cause, reason: r.reason }, `zone ${r.zone}: ${r.kind}`);
      if (r.kind === 'majority') {
        majorityHeld.set(r.zone, 1);
        for (const p of r.pumps ?? []) {
          const owner = o.zones.find((z) => z.pumps.some((x) => x.id === p && x.node === o.node));
          if (owner !== undefined) lastMajority.set(`${owner.id}\0${p}`, r.detections ?? []);
        }
      } else if (r.kind === 'majority-lapsed' || r.kind === 'epoch') majorityHeld.set(r.zone, 0);
      o.onRecord?.({ source: 'zone', record: r });
    },
    onError: (err) => logger.error({ err: describeError(err) }, 'zone engine: a pump operation failed'),
  });
  const zoneEngine = engine;

  const seenCommands = new Set<string>();
  /** Pump states heard, by sender: `since` of the newest, so a late copy from the other link changes nothing. */
  const pumpSince = new Map<string, number>();
  /**
   * A frame both links may carry twice: a command is executed once per id (the engine would run it again);
   * a pump state older than the one known is stale. Everything else the engine takes twice as once
   * (detections by key, votes by boot/seq, held and epoch frames are idempotent).
   */
  const duplicate = (frame: ZoneFrame, sender: string): boolean => {
    if (frame.type === 'command') {
      const key = `${sender}\0${frame.zone}\0${frame.pump}\0${frame.id}`;
      if (seenCommands.has(key)) return true;
      seenCommands.add(key);
      if (seenCommands.size > SEEN_COMMANDS) seenCommands.delete(seenCommands.values().next().value as string);
      return false;
    }
    if (frame.type === 'pumpState') {
      const key = `${sender}\0${frame.zone}\0${frame.pump}`;
      if (frame.since < (pumpSince.get(key) ?? Number.NEGATIVE_INFINITY)) return true;
      pumpSince.set(key, frame.since);
    }
    return false;
  };
  /** Frames and certificates heard, checked one after the other (a certificate before the frames it signs). */
  let inbound: Promise<void> = Promise.resolve();
  /** When a want of each key id last went out on the segment. */
  const wanted = new Map<string, number>();
  let certificateSentAt = Number.NEGATIVE_INFINITY;
  const sendCertificateOnSegment = (): void => {
    const signer = o.signing?.signer;
    if (signer === undefined || o.segment === undefined || clock.now() - certificateSentAt < WANT_INTERVAL_MS) return;
    certificateSentAt = clock.now();
    o.segment.send(encodeZoneDatagram(o.site, o.node, encodeZoneCertificate(signer.certificateDer)));
  };
  /** [FM-ZONE-SIGN-3] A certificate (either link) or a want (the segment) heard from `sender`. */
  const control = (link: ZoneLinkName, c: ZoneControl, sender: string): void => {
    if (c.type === 'want') {
      if (link === 'udp' && c.keyId === o.signing?.signer?.keyId) sendCertificateOnSegment();
      return;
    }
    const authenticator = o.signing?.authenticator;
    if (authenticator === undefined) return;
    inbound = inbound.then(async () => {
      await authenticator.addCertificate(c.der, sender);
    });
  };
  const accept = (link: ZoneLinkName, frame: ZoneFrame, signature: ZoneFrameSignature | undefined, sender: string): void => {
    const authenticator = o.signing?.authenticator;
    if (authenticator === undefined) {
      deliver(link, frame, sender);
      return;
    }
    inbound = inbound.then(async () => {
      const refusal = await authenticator.check(frame, signature, sender);
      if (refusal === undefined) {
        deliver(link, frame, sender);
        return;
      }
      bump(rejected[link], refusal);
      zoneEngine.refuse(frame.type === 'vote' ? frame.vote.zone : frame.zone, refusal, sender);
      logger.debug({ link, sender, type: frame.type, refusal }, 'zone frame refused (signing required)');
      // Ask the segment for a certificate this node has not judged yet (the broker's copy is retained).
      if (
        refusal === 'unknown-certificate' &&
        signature !== undefined &&
        o.segment !== undefined &&
        !authenticator.knows(signature.keyId)
      ) {
        const last = wanted.get(signature.keyId) ?? Number.NEGATIVE_INFINITY;
        if (clock.now() - last >= WANT_INTERVAL_MS) {
          wanted.set(signature.keyId, clock.now());
          o.segment.send(encodeZoneDatagram(o.site, o.node, encodeZoneCertificateWant(signature.keyId)));
        }
      }
    });
  };
  const deliver = (link: ZoneLinkName, frame: ZoneFrame, sender: string): void => {
    if (duplicate(frame, sender)) {
      duplicates[link]++;
      return;
    }
    bump(received[link], frame.type);
    zoneEngine.receive(frame, sender);
  };

  /**
   * [FM-ZONE-LINK] The sender is the node the topic names (the broker lets a node publish only under its own); the
   * router let through only frames of the zone the topic names (the broker lets a node write only the topics of the
   * zones listing it) and control frames.
   */
  const onZoneMessage = (m: ZoneTopicMessage, { topic }: RouteContext<'zone'>): void => {
    if (topic.node === o.node) return;
    if (m.kind === 'control') control('mqtt', m.control, topic.node);
    else accept('mqtt', m.frame, m.signature, topic.node);
  };
  /**
   * [FM-ZONE-LINK-UDP] A zone datagram names its site and sender; the sender is claimed, not proven (UDP
   * authenticates nobody): another site's datagram and one naming this node are ignored, a malformed one is
   * counted and dropped.
   */
  const onDatagram = (bytes: Uint8Array, from: { readonly address: string }): void => {
    const opened = openZoneDatagram(bytes);
    if (!opened.ok) {
      bump(rejected.udp, opened.error.reason);
      logger.debug({ from: from.address, err: opened.error.message }, 'zone datagram rejected');
      return;
    }
    const { site, sender, payload } = opened;
    const decoded = isZoneControl(payload) ? decodeZoneControl(payload) : decodeZoneFrame(payload);
    if (!decoded.ok) {
      bump(rejected.udp, decoded.error.reason);
      logger.debug({ from: from.address, err: decoded.error.message }, 'zone datagram rejected');
      return;
    }
    if (site !== o.site) bump(rejected.udp, 'other-site');
    else if (sender === o.node) bump(rejected.udp, 'own');
    else if ('control' in decoded) control('udp', decoded.control, sender);
    else accept('udp', decoded.frame, decoded.signature, sender);
  };
  o.segment?.onFrame(onDatagram);
  let subscription: Subscription | undefined;
  if (o.zones.length > 0) {
    subscription = o.router.on('zone', onZoneMessage, { site: o.site });
    // Not awaited: the link may come up later (the subscription is made then); a refusal is logged.
    subscription.ready.catch((err: unknown) => logger.warn({ err: describeError(err) }, 'zones: subscribing to the zone topics failed'));
  }
  // [FM-ZONE-SIGN-3] The certificate travels once: retained on each zone topic (a retained message is untouched by
  // the frames published there without retain), and on the segment at start and when wanted.
  // A renewed certificate (the files re-read) replaces the retained one and goes on the segment at once.
  const publishCertificate = (): void => {
    const ownCertificate = o.signing?.signer?.certificateDer;
    if (ownCertificate === undefined || !o.transport.connected) return;
    for (const zone of o.zones) {
      // Only on the topics the broker lets it write: a refused publish closes an MQTT 3.1.1 connection.
      if (!zoneWriters(zone, o.zones).has(o.node)) continue;
      void o.transport.publish(topicOf(zone.id), encodeZoneCertificate(ownCertificate), { qos: 1, retain: true }).catch(() => {});
    }
  };
  let stopAnnouncing = (): void => {};
  if (o.signing !== undefined && o.zones.length > 0) {
    publishCertificate();
    o.transport.on('connected', publishCertificate);
    sendCertificateOnSegment();
    stopAnnouncing =
      o.signing.onSignerChanged?.(() => {
        certificateSentAt = Number.NEGATIVE_INFINITY;
        publishCertificate();
        sendCertificateOnSegment();
      }) ?? stopAnnouncing;
  }
  let timer: TimerHandle | undefined;
  let stopped = false;
  const schedule = (): void => {
    if (stopped) return;
    timer = clock.setTimeout(() => {
      zoneEngine.tick();
      schedule();
    }, o.tickMs);
  };
  schedule();
  logger.info(
    { zones: zoneEngine.zones(), pumps: pumps.map((p) => p.state().pump), links: o.segment ? ['mqtt', 'udp'] : ['mqtt'] },
    `zones: ${zoneEngine.zones().join(', ') || 'none of the configured zones names this node'}; pumps driven here: ${pumps.map((p) => p.state().pump).join(', ') || 'none'}` +
      (o.segment ? `; zone link also on the UDP segment (${o.segment.description})` : ''),
  );

  const total = (by: Record<ZoneLinkName, Counts<string>>): number => {
    let n = 0;
    for (const counts of Object.values(by)) for (const x of Object.values(counts)) n += x ?? 0;
    return n;
  };
  return {
    detect: (d) => zoneEngine.detect(d),
    zones: () => zoneEngine.zones(),
    status: (zone) => zoneEngine.status(zone),
    elect: (zone) => zoneEngine.elect(zone),
    command: (zone, pump, action, by, id) => zoneEngine.command(zone, pump, action, by, id),
    counters: () => ({ framesSent: total(sent), framesReceived: total(received), framesRejected: total(rejected) }),
    refuseFromBroker: (reason) => bump(rejected.mqtt, reason),
    stats: () => ({
      sent: structuredClone(sent),
      received: structuredClone(received),
      rejected: structuredClone(rejected),
      duplicates: { ...duplicates },
      zones: zoneEngine.zones().map((zone) => {
        const status = zoneEngine.status(zone) as ZoneStatus;
        const held = majorityHeld.get(zone);
        const counts = o.zones.find((z) => z.id === zone && (z.pumps.some((p) => p.node === o.node) || drivesActivated(z)));
        return {
          zone,
          epoch: status.epoch,
          votesCast: votesCast.get(zone) ?? 0,
          refusals: { ...status.refusals } as Record<string, number>,
          ...(counts !== undefined ? { majorityHeld: held ?? 0 } : {}),
          participation: status.voters.length === 0 ? 0 : status.voters.filter((v) => v.heardRecently).length / status.voters.length,
        };
      }),
      pumps: pumps.map((p) => {
        const view = p.state();
        const counts = pumpCounts.get(`${view.zone}\0${view.pump}`) ?? { starts: {}, stops: {} };
        return {
          zone: view.zone,
          pump: view.pump,
          running: view.state === 'running',
          starts: { ...counts.starts },
          stops: { ...counts.stops },
          staleEpochRefused: p.counters().staleEpochRefused,
        };
      }),
    }),
    async stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      subscription?.unsubscribe();
      o.transport.off('connected', publishCertificate);
      stopAnnouncing();
      o.segment?.onFrame(() => {});
      await inbound;
      await signing;
      await zoneEngine.idle();
      for (const p of pumps) await p.close();
    },
  };

  /** Whether this node drives a pump of a zone that `z` activates (it then counts z's votes too). */
  function drivesActivated(z: ConfiguredZone): boolean {
    return z.policy.activates.some((a) => o.zones.some((y) => y.id === a && y.pumps.some((p) => p.node === o.node)));
  }
}
