// `npm run bench -- cert-rotation`: issue 12's "rotation under load". A fleet of in-process agents, each with its
// own certificate of the fleet CA, pushing the standard workload at the seed-004 rate over TLS to a Mosquitto that
// requires certificates, an in-process hub as the online signer. Every node's certificate falls due at the same
// moment (renewAt 0.5 of one-day certificates issued backdated); each node renews over the fleet transport and
// reconnects once with the new one. Reports the acknowledged samples lost (each node's store against the hub,
// exactly), the reconnect gap per node and the time for the whole fleet to rotate. Stops by itself.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Agent } from '../src/agent/index.js';
import { certificateInfo } from '../src/pki/index.js';
import { waitFor } from '../test/kit/wait.js';
import { quantile, samplesMissingAtHub, startTlsFleet, TICK_MS } from './tls-fleet.js';

export interface CertRotationBench {
  readonly nodes: number;
  readonly tickMs: number;
  /** Every node's certificate falls due this long after the fleet connected. */
  readonly dueAfterMs: number;
  /** From the due time to the last node reconnected on its new certificate. */
  readonly fleetRotationMs: number;
  /** Per node, from the link closed for the new certificate to the session up again, ms. */
  readonly reconnectGapMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly renewedNodes: number;
  /** Reconnects not caused by the renewal (should be 0). */
  readonly otherReconnects: number;
  /** Points of the five critical series compared (each node's store against the hub at 100 ms steps), and those that differ. */
  readonly pointsCompared: number;
  readonly acknowledgedSamplesLost: number;
  readonly runSeconds: number;
}

export async function benchCertRotation(nodes = 20, dueAfterMs = 15_000, afterMs = 10_000): Promise<CertRotationBench> {
  const fleet = await startTlsFleet('cert-rotation');
  try {
    const ids = Array.from({ length: nodes }, (_, i) => `bess-${String(i + 1).padStart(2, '0')}`);
    const oldSerials = new Map<string, string>();
    // Issued just before the agents start: due dueAfterMs after the fleet connected (start-up time added below).
    const startupAllowanceMs = 5_000;
    for (const id of ids) {
      const out = await fleet.issueNode(id, dueAfterMs + startupAllowanceMs);
      oldSerials.set(id, certificateInfo(readFileSync(join(out, `${id}.crt`), 'utf8')).serial);
    }
    const dueAt = Date.now() + dueAfterMs + startupAllowanceMs;
    const startedAt = Date.now();
    const running: { id: string; agent: Agent; httpUrl: string; downAt?: number; gaps: number[] }[] = [];
    for (const [i, id] of ids.entries()) {
      const { agent, httpUrl } = await fleet.startAgent(id, i, true);
      const r: (typeof running)[number] = { id, agent, httpUrl, gaps: [] };
      agent.transport.on('disconnected', () => {
        r.downAt = Date.now();
      });
      agent.transport.on('connected', () => {
        if (r.downAt !== undefined) r.gaps.push(Date.now() - r.downAt);
        r.downAt = undefined;
      });
      running.push(r);
    }
    await waitFor(() => running.every((r) => r.agent.transport.connected), { what: 'fleet connected', timeoutMs: 30_000 });
    const renewed = (r: (typeof running)[number]) =>
      certificateInfo(readFileSync(join(fleet.dir, 'tls', r.id, `${r.id}.crt`), 'utf8')).serial !== oldSerials.get(r.id);
    const done = await waitFor(
      () => (running.every((r) => renewed(r) && r.gaps.length > 0 && r.agent.transport.connected) ? Date.now() : undefined),
      { what: 'every node renewed and reconnected', timeoutMs: dueAfterMs + 120_000, intervalMs: 20 },
    );
    const fleetRotationMs = done - dueAt;
    // Keep pushing a while on the new certificates, then let the outboxes drain and compare stores.
    await new Promise((resolve) => setTimeout(resolve, afterMs));
    const endMs = Date.now() - TICK_MS;
    await waitFor(() => running.every((r) => r.agent.stats().outboxFramesInFlight === 0), {
      what: 'history acknowledged',
      timeoutMs: 30_000,
    });
    let recorded = 0;
    let lost = 0;
    for (const r of running) {
      // The hub stores what it acknowledged before the ack goes out; a few retries cover the last in-flight frame.
      let m = await samplesMissingAtHub(fleet.hubUrl, r.id, r.httpUrl, startedAt, endMs);
      for (let k = 0; k < 20 && m.missing > 0; k++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        m = await samplesMissingAtHub(fleet.hubUrl, r.id, r.httpUrl, startedAt, endMs);
      }
      recorded += m.recorded;
      lost += m.missing;
    }
    const gaps = running.map((r) => r.gaps[0] ?? 0).sort((a, b) => a - b);
    return {
      nodes,
      tickMs: TICK_MS,
      dueAfterMs,
      fleetRotationMs,
      reconnectGapMs: { p50: quantile(gaps, 0.5), p99: quantile(gaps, 0.99), max: gaps.at(-1) ?? 0 },
      renewedNodes: running.filter(renewed).length,
      otherReconnects: running.reduce((s, r) => s + r.gaps.length - 1, 0),
      pointsCompared: recorded,
      acknowledgedSamplesLost: lost,
      runSeconds: Math.round((Date.now() - startedAt) / 100) / 10,
    };
  } finally {
    await fleet.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchCertRotation(Number(process.argv[2] ?? 20)), null, 2));
  process.exit(0);
}
