// A logger for tests that keeps every warning (its fields and message) and drops the rest.

import type { Logger } from '../../src/kit/index.js';

export interface Warning {
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

/** A Logger whose `warnings` holds each warn call, its children included. */
export function warningLogger(): Logger & { warnings: Warning[] } {
  const warnings: Warning[] = [];
  const logger: Logger & { warnings: Warning[] } = {
    warnings,
    debug() {},
    info() {},
    warn(obj, msg) {
      warnings.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' });
    },
    error() {},
    child: () => logger,
  };
  return logger;
}
