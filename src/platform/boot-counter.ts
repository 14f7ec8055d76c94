// Boot counters: the session epoch of a node or a hub, persisted so it grows across restarts.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from './durable-file.js';

/**
 * Reads the previous boot number from `dir/file`, stores and returns the next one. The first start
 * gives 1, so the epoch costs one byte on the wire for the first 127 boots. The file is written to a
 * temporary name, fsynced, renamed and the directory fsynced, so a crash leaves the old or the new
 * counter, never a torn one. An unreadable file must not make the epoch go backwards: the count goes
 * on from a time-derived value then. [FM-SESSION-1]
 */
export function nextBootEpoch(dir: string, file: string, nowMs = Date.now()): number {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, file);
  let previous = 0;
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { boot?: unknown };
    if (typeof parsed.boot === 'number' && Number.isSafeInteger(parsed.boot) && parsed.boot >= 0) previous = parsed.boot;
    else previous = Math.floor(nowMs / 1000);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') previous = Math.floor(nowMs / 1000);
  }
  const boot = previous + 1;
  writeFileDurably(path, `${JSON.stringify({ boot })}\n`);
  return boot;
}
