// Many lightweight simulated nodes on a real broker, for commands at scale: each is born with the real
// protocol encoders (a birth with one series), answers the hub's pings ([FM-QUERY-5]) with a reply frame,
// several nodes share one MQTT connection; some never answer (the hub times them out) and some are
// offline (born, then dead). No agent, no store: a few hundred fit in one test process.

import { deflateRawSync } from 'node:zlib';
import { createFrameRouter, encodeDeath, encodeReply, FIELDMESH_VERSION, nodeTopic, SessionEncoder } from '../../src/protocol/index.js';
import { createMqttTransport, type Transport } from '../../src/transport/index.js';
import { waitFor } from './wait.js';

export interface SimRespondersOptions {
  readonly mqttUrl: string;
  readonly site: string;
  readonly count: number;
  /** Nodes per MQTT connection (default 20). */
  readonly perConnection?: number;
  /** Node ids (`n000`...) that are born but never answer a query. */
  readonly silent?: ReadonlySet<string>;
  /** Node ids that are born and then announce their death. */
  readonly offline?: ReadonlySet<string>;
  readonly prefix?: string;
}

export interface SimResponders {
  /** `n000`, `n001`, ... */
  readonly ids: readonly string[];
  /** Pings answered so far, and queries received by silent nodes. */
  readonly stats: { answered: number; ignored: number };
  close(): Promise<void>;
}

/** `n000`..: the id of the i-th simulated node. */
export function simNodeId(i: number): string {
  return `n${String(i).padStart(3, '0')}`;
}

export async function startSimResponders(o: SimRespondersOptions): Promise<SimResponders> {
  const prefix = o.prefix ?? 'fieldmesh';
  const per = o.perConnection ?? 20;
  const ids = Array.from({ length: o.count }, (_, i) => simNodeId(i));
  const stats = { answered: 0, ignored: 0 };
  const links: Transport[] = [];
  const bootTime = Date.now();
  try {
    for (let g = 0; g < ids.length; g += per) {
      const group = ids.slice(g, g + per);
      const link = createMqttTransport({ url: o.mqttUrl, clientId: `sim-responders-${o.site}-${g}` });
      links.push(link);
      const queries = createFrameRouter({ source: link, prefix }).on(
        'cmd/query',
        (query, { topic: t }) => {
          if (!group.includes(t.node)) return;
          if (o.silent?.has(t.node)) {
            stats.ignored++;
            return;
          }
          const nonce = query.params.find(([k]) => k === 'nonce')?.[1] ?? '';
          const body = deflateRawSync(
            Buffer.from(
              JSON.stringify({
                epoch: 1,
                agentVersion: FIELDMESH_VERSION,
                bootTime,
                uptimeMs: Date.now() - bootTime,
                configVersion: '',
                nonce,
              }),
            ),
          );
          const reply = encodeReply({
            requestId: query.requestId,
            status: 'ok',
            body: new Uint8Array(body.buffer, body.byteOffset, body.length),
          });
          stats.answered++;
          void link.publish(nodeTopic(prefix, o.site, t.node, 'reply'), reply, { qos: 1 }).catch(() => {});
        },
        { site: o.site },
      );
      link.start();
      await waitFor(() => link.connected, { what: `sim responders connection ${g / per}`, timeoutMs: 10_000 });
      await queries.ready;
      for (const id of group) {
        const enc = new SessionEncoder(1);
        const birth = enc.birth({
          time: Date.now(),
          zone: 'z1',
          agentVersion: FIELDMESH_VERSION,
          tickMs: 1_000,
          heartbeatMs: 60_000,
          series: [
            {
              alias: 1,
              name: 'battery_soc',
              labels: {},
              type: 'gauge',
              unit: 'percent',
              decimals: 1,
              deadband: { kind: 'none' },
              maxSilenceMs: 600_000,
              value: 50,
            },
          ],
        });
        await link.publish(nodeTopic(prefix, o.site, id, 'birth'), birth, { qos: 1 });
        if (o.offline?.has(id))
          await link.publish(nodeTopic(prefix, o.site, id, 'death'), encodeDeath({ epoch: 1, reason: 'shutdown' }), { qos: 1 });
      }
    }
  } catch (err) {
    await Promise.all(links.map((l) => l.close().catch(() => {})));
    throw err;
  }
  return {
    ids,
    stats,
    async close() {
      await Promise.all(links.map((l) => l.close().catch(() => {})));
    },
  };
}
