// The hub's boot counter (dataDir/hub-state.json): the epoch of its hubState frames, greater on every start.

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const HUB_STATE_FILE = 'hub-state.json';

/**
 * Reads the previous boot number, stores and returns the next one; written to a temporary file,
 * fsynced and renamed, so a crash leaves the old or the new counter, never a torn one.
 */
export function nextHubEpoch(dir: string, nowMs = Date.now()): number {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, HUB_STATE_FILE);
  let previous = 0;
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { boot?: unknown };
    if (typeof parsed.boot === 'number' && Number.isSafeInteger(parsed.boot) && parsed.boot >= 0) previous = parsed.boot;
  } catch (err) {
    // An unreadable file must not make the epoch go backwards: continue from a time-derived value.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') previous = Math.floor(nowMs / 1000);
  }
  const boot = previous + 1;
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, `${JSON.stringify({ boot })}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return boot;
}
