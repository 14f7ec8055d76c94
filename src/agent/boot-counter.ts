// The node's boot counter: the session epoch of protocol v1, persisted so it grows across restarts.

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const FILE = 'agent-state.json';

/**
 * Reads the previous boot number from `dir`, stores and returns the next one. The file is written
 * to a temporary name, fsynced and renamed, so a crash leaves either the old or the new counter.
 * [FM-SESSION-1]
 */
export function nextBootEpoch(dir: string): number {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, FILE);
  let previous = 0;
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { boot?: unknown };
    if (typeof parsed.boot === 'number' && Number.isSafeInteger(parsed.boot) && parsed.boot >= 0) previous = parsed.boot;
  } catch {
    // First start, or an unreadable file: start over from a time-derived epoch so it still grows.
    previous = Math.floor(Date.now() / 1000);
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
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return boot;
}
