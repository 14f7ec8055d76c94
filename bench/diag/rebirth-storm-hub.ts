// The hub side of bench/diag/rebirth-storm.ts: the real embedded hub (SQLite) in this process, its event loop blocked
// `stallMs` of every 3 s for 40 s after the first birth (as a hub starved of CPU), and each first gap of a session
// recorded with the seq it expected and whether that seq ever arrived. Prints one JSON line at the end.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FleetState, type FrameSource } from '../../src/hub/fleet/fleet-state.js';
import { hubConfigSchema, openHub } from '../../src/hub/index.js';
import type { WireFrame } from '../../src/protocol/index.js';

const url = process.argv[2] as string;
const stallMs = Number(process.argv[3] ?? 0);
const durationS = Number(process.argv[4] ?? 40);
const dir = mkdtempSync(join(tmpdir(), 'fm-rebirth-storm-'));
interface FirstGap {
  readonly key: string;
  readonly reason: string;
  readonly expected: number | undefined;
  readonly got: number;
}
const gaps: FirstGap[] = [];
/** Per node, every birth and data seq in arrival order. */
const seqs = new Map<string, string[]>();
let births = 0;
let rebirths = 0;
const applyFrame = FleetState.prototype.applyFrame;
FleetState.prototype.applyFrame = function (this: FleetState, source: FrameSource, frame: WireFrame, at?: number) {
  const key = `${source.site}/${source.node}`;
  const r = this.get(source.site, source.node);
  const expected = r?.decoder.birth === undefined ? undefined : (r.decoder as unknown as { expectedSeq: number }).expectedSeq;
  const wasBroken = r?.decoder.awaitingBirth === true;
  if (frame.type === 'birth') births++;
  if (frame.type === 'birth' || frame.type === 'data') {
    const list = seqs.get(key) ?? [];
    list.push(`${frame.type}:${frame.seq}`);
    seqs.set(key, list);
  }
  const outcome = applyFrame.call(this, source, frame, at);
  if (outcome.rebirth) rebirths++;
  if (outcome.rejected !== undefined && !wasBroken && 'seq' in frame)
    gaps.push({ key, reason: outcome.rejected, expected, got: frame.seq });
  return outcome;
};
const hub = await openHub(
  hubConfigSchema.parse({
    dataDir: dir,
    mqtt: { url },
    alerts: { enabled: false },
    storage: { path: join(dir, 'hub.db') },
    http: { port: 0 },
  }),
);
await hub.start();
console.log('HUB READY');
let stallsUntil: number | undefined;
const stalls = setInterval(() => {
  if (births === 0 || stallMs === 0) return;
  stallsUntil ??= Date.now() + 40_000;
  if (Date.now() > stallsUntil) return;
  const end = Date.now() + stallMs;
  while (Date.now() < end) {} // a hub starved of CPU: nothing else runs meanwhile
}, 3_000);
setTimeout(async () => {
  clearInterval(stalls);
  const missing: Record<number, number> = {};
  let neverArrived = 0;
  for (const g of gaps) {
    if (g.reason !== 'gap' || g.expected === undefined) continue;
    missing[g.got - g.expected] = (missing[g.got - g.expected] ?? 0) + 1;
    const seen = seqs.get(g.key) ?? [];
    if (!seen.includes(`data:${g.expected}`) && !seen.includes(`birth:${g.expected}`)) neverArrived++;
  }
  const reasons: Record<string, number> = {};
  for (const g of gaps) reasons[g.reason] = (reasons[g.reason] ?? 0) + 1;
  console.log(
    JSON.stringify({
      births,
      rebirthsRequested: rebirths,
      brokenSessions: gaps.length,
      reasons,
      framesMissingPerGap: missing,
      neverArrived,
    }),
  );
  await hub.stop().catch(() => {});
  process.exit(0);
}, durationS * 1000);
