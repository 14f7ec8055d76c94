// The base error of fieldmesh: every error we throw carries a stable code listed in docs/errors.md.

/** Every stable error code, with the area it belongs to. Keep in step with docs/errors.md. */
export const ERROR_CODES = {
  FM_CONFIG_INVALID: 'a configuration file or environment override failed validation',
  FM_CONFIG_UNREADABLE: 'a configuration file could not be read or parsed as YAML',
  FM_FRAME_TRUNCATED: 'a frame ended before a field it announced',
  FM_FRAME_MALFORMED: 'a frame field holds a value the protocol does not allow',
  FM_FRAME_OVERSIZED: 'a frame is larger than the protocol maximum',
  FM_FRAME_VERSION: 'a frame carries a protocol version this build does not speak',
  FM_TOPIC_INVALID: 'a topic does not follow the fieldmesh namespace',
  FM_PUSH_UNAUTHORIZED: 'an HTTP push had no valid bearer token',
  FM_PUSH_TOO_LARGE: 'an HTTP push body is larger than the configured limit',
  FM_PUSH_INVALID: 'an HTTP push body could not be parsed',
  FM_LINE_PROTOCOL_INVALID: 'an InfluxDB line-protocol body has a malformed line',
  FM_SCRAPE_FAILED: 'a Prometheus scrape target could not be fetched or parsed',
  FM_QUERY_INVALID: 'a query parameter is missing or malformed',
  FM_NOT_FOUND: 'the requested resource does not exist',
  FM_TRANSPORT_UNAVAILABLE: 'the MQTT broker could not be reached',
  FM_TRANSPORT_REFUSED: 'the MQTT broker refused a subscription',
  FM_PORT_IN_USE: 'a listening port is taken and no fallback was allowed',
  FM_BROKER_ACL_DENIED: 'the embedded broker refused a publish by its topic ACL',
  FM_CLI_USAGE: 'a command-line argument is missing or malformed',
  FM_HUB_INTERNAL: 'the hub failed unexpectedly while answering a request; its log has the details',
  FM_AGENT_INTERNAL: 'the node failed unexpectedly while answering a request; its log has the details',
  FM_STORE_SAMPLE_INVALID: 'a sample given to the local store has a timestamp or value it cannot hold',
  FM_STORE_CHUNK_CORRUPT: 'a stored chunk of samples could not be decoded; it is skipped and counted',
  FM_STORE_CLOSED: 'the local store was used after it was closed',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A fieldmesh failure with a stable `code`; `details` holds structured context (paths, offsets). */
export class FieldmeshError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FieldmeshError';
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

export function isFieldmeshError(err: unknown, code?: ErrorCode): err is FieldmeshError {
  return err instanceof FieldmeshError && (code === undefined || err.code === code);
}

/** A one-line description of any thrown value, for logs and CLI output. */
export function describeError(err: unknown): string {
  if (err instanceof FieldmeshError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
