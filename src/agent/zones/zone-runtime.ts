// The zones of one running node: the zone engine with the pumps this node drives, its epochs on disk,
// its tick, and its link to the zone's other members through the broker (`<prefix>/<site>/<node>/zone`,
// QoS 1). [FM-ZONE-LINK] (The shared UDP segment is the next link: its datagrams need the sender's id
// beside the frame, which the awareness plane's envelope will carry.)

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Clock, describeError, type Logger, type TimerHandle } from '../../kit/index.js';
import { writeFileDurably } from '../../platform/index.js';
import type { Detection } from '../../protocol/consensus/types.js';
import type { ConfiguredZone } from '../../protocol/consensus/zone-config.js';
import { decodeZoneFrame, encodeZoneFrame } from '../../protocol/consensus/zone-frames.js';
import { nodeTopic, parseTopic } from '../../protocol/index.js';
import type { Transport, TransportMessage } from '../../transport/index.js';
import type { PumpAction } from '../actuators/pump-controller.js';
import { PumpController, type PumpRecord } from '../actuators/pump-controller.js';
import { createPumpDriver } from '../actuators/pump-driver.js';
import { ZoneEngine, type ZoneRecord, type ZoneStatus } from './zone-engine.js';
import type { StoredZoneState, ZoneMessage, ZoneStateStore } from './zone-messages.js';

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
  /** Pump faults, stale-epoch refusals and vote refusals, for /metrics. */
  counters(): ZoneCounters;
  stop(): Promise<void>;
}

export interface ZoneCounters {
  readonly framesSent: number;
  readonly framesReceived: number;
  readonly framesRejected: number;
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

export async function startZoneRuntime(o: ZoneRuntimeOptions): Promise<ZoneRuntime> {
  const { logger, clock } = o;
  const counters = { framesSent: 0, framesReceived: 0, framesRejected: 0 };
  const pumps: PumpController[] = [];
  for (const zone of o.zones) {
    for (const pump of zone.pumps) {
      if (pump.node !== o.node) continue;
      const driver = createPumpDriver(pump.driver, { pump: pump.id, transport: o.transport, clock, logger });
      pumps.push(
        await PumpController.open({
          zone: zone.id,
          pump,
          driver,
          statePath: join(o.dataDir, 'pumps', `${zone.id}.${pump.id}.json`),
          clock,
          logger: logger.child({ zone: zone.id, pump: pump.id }),
          onRecord: (record) => o.onRecord?.({ source: 'pump', record }),
        }),
      );
    }
  }
  const topic = nodeTopic(o.prefix, o.site, o.node, 'zone');
  const send = (m: ZoneMessage): void => {
    const bytes = encodeZoneFrame(m);
    counters.framesSent++;
    if (o.transport.connected) void o.transport.publish(topic, bytes, { qos: 1 }).catch(() => {});
  };
  const engine = new ZoneEngine({
    node: o.node,
    zones: o.zones,
    link: { send },
    clock,
    boot: o.boot,
    tickMs: o.tickMs,
    store: new FileZoneStateStore(join(o.dataDir, 'zones.json'), logger),
    pumps,
    onRecord: (r) => {
      logger.info({ zone: r.zone, epoch: r.epoch, kind: r.kind, cause: r.cause, reason: r.reason }, `zone ${r.zone}: ${r.kind}`);
      o.onRecord?.({ source: 'zone', record: r });
    },
    onError: (err) => logger.error({ err: describeError(err) }, 'zone engine: a pump operation failed'),
  });

  /** [FM-ZONE-LINK] The sender is the node the topic names: the broker lets a node publish only under its own. */
  const onMessage = (msg: TransportMessage): void => {
    const t = parseTopic(o.prefix, msg.topic);
    if (t?.kind !== 'node' || t.channel !== 'zone' || t.site !== o.site || t.node === o.node) return;
    receive(msg.payload, t.node);
  };
  const receive = (bytes: Uint8Array, sender: string): void => {
    // Zone frames only: other traffic on the channel is counted as rejected, never thrown.
    const decoded = decodeZoneFrame(bytes);
    if (!decoded.ok) {
      counters.framesRejected++;
      logger.debug({ sender, err: decoded.error.message }, 'zone frame rejected');
      return;
    }
    counters.framesReceived++;
    engine.receive(decoded.frame, sender);
  };
  o.transport.on('message', onMessage);
  if (o.zones.length > 0) await o.transport.subscribe(nodeTopic(o.prefix, o.site, '+', 'zone'), 1).catch(() => {});
  let timer: TimerHandle | undefined;
  let stopped = false;
  const schedule = (): void => {
    if (stopped) return;
    timer = clock.setTimeout(() => {
      engine.tick();
      schedule();
    }, o.tickMs);
  };
  schedule();
  logger.info(
    { zones: engine.zones(), pumps: pumps.map((p) => p.state().pump) },
    `zones: ${engine.zones().join(', ') || 'none of the configured zones names this node'}; pumps driven here: ${pumps.map((p) => p.state().pump).join(', ') || 'none'}`,
  );

  return {
    detect: (d) => engine.detect(d),
    zones: () => engine.zones(),
    status: (zone) => engine.status(zone),
    elect: (zone) => engine.elect(zone),
    command: (zone, pump, action, by, id) => engine.command(zone, pump, action, by, id),
    counters: () => ({ ...counters }),
    async stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      o.transport.off('message', onMessage);
      await engine.idle();
      for (const p of pumps) await p.close();
    },
  };
}
