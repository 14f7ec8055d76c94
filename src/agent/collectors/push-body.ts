// The push collectors' answers that depend on the node's store: a failed record, and a push the store kept only
// part of. The HTTP plumbing they share with the hub's ingest tier is in platform/push-http.ts.

import type { FastifyReply } from 'fastify';
import { describeError, type ErrorCode, isFieldmeshError, type Logger } from '../../kit/index.js';
import { type PushErrorBody, refuse } from '../../platform/index.js';
import { seriesText } from '../../protocol/index.js';
import type { RecordOutcome, RejectReason, Sample, SampleRefusal } from './collector.js';
import { countRefusals, timeText } from './sample-window.js';

/**
 * The answer when recording failed. A sample the store cannot hold is the client's fault and
 * permanent: 400, which clients do not retry. Anything else is the node's: 503, retry later (a
 * producer that buffers, as seed 001's probes do, keeps the data).
 */
export function sendRecordFailure(
  reply: FastifyReply,
  err: unknown,
  invalidCode: ErrorCode,
  reject: (reason: RejectReason) => void,
  logger: Logger,
): FastifyReply {
  if (isFieldmeshError(err, 'FM_STORE_SAMPLE_INVALID')) {
    return refuse(reply, { status: 400, reason: 'invalid', body: { code: invalidCode, message: err.message } }, reject);
  }
  logger.error({ err: describeError(err) }, 'push could not be recorded');
  return reply.code(503).send({ message: `not recorded, retry later: ${describeError(err)}` });
}

/** How a push names the parts of its body that share one time: InfluxDB lines, or JSON array elements. */
export interface PushUnits {
  /** "line" or "element". */
  readonly noun: string;
  /** The unit of each sample given to `record`, in order (a line number, an element index). */
  readonly ofSample: readonly number[];
  /** How many units the body had. */
  readonly total: number;
}

/** Ranges [first, last] of ascending unit numbers. */
function ranges(units: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const u of units) {
    const last = out.at(-1);
    if (last !== undefined && u === last[1] + 1) last[1] = u;
    else if (last === undefined || u !== last[1]) out.push([u, u]);
  }
  return out;
}

const MAX_LISTED = 5;

/**
 * The 400 answer to a push whose samples the store kept only in part (InfluxDB answers such a write
 * "partial write: ... dropped=N", and clients do not retry a 4xx): which units were refused and why,
 * as ranges, and what was kept. Every sample of a unit shares its time, so a unit is kept or refused whole.
 */
export function partialWriteBody(
  samples: readonly Sample[],
  outcome: RecordOutcome,
  units: PushUnits,
  alsoKept: Readonly<Record<string, number>> = {},
): PushErrorBody {
  const reasonOf = new Map<number, SampleRefusal>();
  const exampleOf = new Map<number, Sample>();
  for (const r of outcome.refused) {
    const unit = units.ofSample[r.index] as number;
    if (!reasonOf.has(unit)) {
      reasonOf.set(unit, r.reason);
      exampleOf.set(unit, samples[r.index] as Sample);
    }
  }
  const refusedUnits = [...reasonOf.keys()].sort((a, b) => a - b);
  const counts = countRefusals(outcome);
  const byReason = (reason: SampleRefusal) => ({
    [`${units.noun}s`]: ranges(refusedUnits.filter((u) => reasonOf.get(u) === reason)),
    samples: counts[reason],
  });
  // Runs of consecutive units refused for one reason, in body order.
  const runs = (['too-old', 'too-new'] as const)
    .flatMap((reason) => ranges(refusedUnits.filter((u) => reasonOf.get(u) === reason)))
    .sort((a, b) => a[0] - b[0]);
  const listed = runs.slice(0, MAX_LISTED).map(([first, last]) => {
    const example = exampleOf.get(first) as Sample;
    const what = reasonOf.get(first) === 'too-old' ? 'older than the retention' : 'too far ahead';
    const where = first === last ? `${units.noun} ${first}` : `${units.noun}s ${first}-${last}`;
    return `${where} (${what}: ${seriesText(example)} at ${timeText(example.time)})`;
  });
  const more = runs.length - listed.length;
  const dropped = outcome.refused.length;
  const { oldestMs, newestMs } = outcome.window;
  const message =
    `partial write: points outside the time range this node keeps dropped=${dropped}; ` +
    `the samples of ${refusedUnits.length} of ${units.total} ${units.noun}s were refused: ${listed.join(', ')}${more > 0 ? ` and ${more} more` : ''}; ` +
    `the node keeps ${timeText(oldestMs)} to ${timeText(newestMs)}; everything else was recorded`;
  return {
    code: 'FM_PUSH_OUT_OF_BOUNDS',
    message,
    kept: { [`${units.noun}s`]: units.total - refusedUnits.length, samples: samples.length - dropped, ...alsoKept },
    refused: {
      [`${units.noun}s`]: refusedUnits.length,
      samples: dropped,
      // [first, last] ranges of the refused units, by reason.
      'too-old': byReason('too-old'),
      'too-new': byReason('too-new'),
    },
    window: { oldest: timeText(oldestMs), newest: timeText(newestMs) },
  };
}
