// Test support for the store's tests, never built into dist: store files in temporary directories
// removed after the test file, and a logger that records what it says.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { Logger } from '../../kit/index.js';

/**
 * Registers an `after` that removes every directory it made, and returns the maker of fresh store
 * paths (`<tmp>/<prefix>XXXXXX/store.db`). Call once at the top of a test file.
 */
export function tempStorePaths(prefix: string): () => string {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return join(dir, 'store.db');
  };
}

/** A logger that appends every info, warn and error message to `lines`. */
export function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug() {},
    info(_o, msg) {
      if (msg) lines.push(msg);
    },
    warn(_o, msg) {
      if (msg) lines.push(msg);
    },
    error(_o, msg) {
      if (msg) lines.push(msg);
    },
    child: () => logger,
  };
  return logger;
}
