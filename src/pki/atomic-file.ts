// Replacing a file of the CA folder atomically: a crash leaves the old content or the new one, never a torn file.

import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The two steps a test may fail on purpose, to show that the old content survives. */
export interface AtomicWriteSteps {
  readonly fsync: (fd: number) => void;
  readonly rename: (from: string, to: string) => void;
}

const REAL_STEPS: AtomicWriteSteps = { fsync: fsyncSync, rename: renameSync };

/**
 * Writes `data` to `path` through a temporary file in the same folder (created with `mode`): write, fsync,
 * rename over `path`, fsync of the folder. On any failure the temporary file is removed and `path` is untouched.
 */
export function writeFileAtomic(path: string, data: string, options: { mode?: number; steps?: AtomicWriteSteps } = {}): void {
  const steps = options.steps ?? REAL_STEPS;
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', options.mode ?? 0o644);
    try {
      writeSync(fd, data);
      steps.fsync(fd);
    } finally {
      closeSync(fd);
    }
    steps.rename(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const dirFd = openSync(dir, 'r');
  try {
    steps.fsync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
