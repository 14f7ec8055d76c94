// The CLI's logger: pino JSON lines on stderr (stdout stays for command output), level from --log-level.
// Secrets never reach the log: fields that may hold one are redacted, and so are URL passwords in messages.

import { pino } from 'pino';
import { isSecretKey, type Logger, REDACTED, redactSecrets, redactUrl } from '../kit/index.js';

/**
 * Fields whose value may be or hold a secret (a config, a URL with userinfo, a token, headers, an error's or
 * git's words), at the top of a log line or one level down. Their values pass through redactSecrets.
 */
const REDACTED_FIELDS = ['config', 'url', 'password', 'token', 'headers', 'err', 'reason', 'source'];

/** pino's redact censor: a secret key's value goes, anything else keeps all but its secrets. */
export function censorLogField(value: unknown, path: readonly string[]): unknown {
  if (isSecretKey(path[path.length - 1] ?? '')) return REDACTED;
  if (value instanceof Error) return redactSecrets({ type: value.name, message: value.message, stack: value.stack });
  // pino's serialized errors are objects of their own prototype: copied to a plain one to be walked.
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return redactSecrets({ ...value });
  return redactSecrets(value);
}

export function createCliLogger(level = process.env.FIELDMESH_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: { paths: REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`]), censor: censorLogField },
      hooks: {
        logMethod(args, method) {
          const last = args.length - 1;
          if (typeof args[last] === 'string') args[last] = redactUrl(args[last] as string);
          method.apply(this, args);
        },
      },
    },
    pino.destination(2),
  ) as unknown as Logger;
}
