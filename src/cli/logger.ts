// The CLI's logger: pino JSON lines on stderr (stdout stays for command output), level from --log-level.

import { pino } from 'pino';
import type { Logger } from '../kit/index.js';

export function createCliLogger(level = process.env.FIELDMESH_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: undefined }, pino.destination(2)) as unknown as Logger;
}
