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
  FM_PUSH_ENCODING_UNSUPPORTED: 'an HTTP push body has a Content-Encoding other than gzip (or none); answered 415',
  FM_PUSH_OUT_OF_BOUNDS:
    "an HTTP push held samples older than the node's retention or more than 2 days ahead of its clock; those were refused, the others recorded",
  FM_LINE_PROTOCOL_INVALID: 'an InfluxDB line-protocol body has a malformed line',
  FM_REMOTE_WRITE_INVALID: 'a remote write body is not snappy, not a protobuf WriteRequest, or has a series without __name__',
  FM_SCRAPE_FAILED: 'a Prometheus scrape target could not be fetched or parsed',
  FM_QUERY_INVALID: 'a query parameter is missing or malformed',
  FM_REQUEST_INVALID: 'an HTTP request body is not a JSON object, or a field of it is missing or malformed',
  FM_NOT_FOUND: 'the requested resource does not exist',
  FM_TRANSPORT_UNAVAILABLE: 'the MQTT broker could not be reached',
  FM_TRANSPORT_REFUSED: 'the MQTT broker refused a subscription',
  FM_QUEUE_UNAVAILABLE:
    'NATS JetStream could not be reached, or did not confirm storing a frame in time (no PubAck); nothing was acknowledged to the node, which resends',
  FM_PORT_IN_USE: 'a listening port is taken and no fallback was allowed',
  FM_BROKER_ACL_DENIED: 'the embedded broker refused a publish by its topic ACL',
  FM_CLI_USAGE: 'a command-line argument is missing or malformed',
  FM_BACKUP_INVALID: 'a file given to `fieldmesh hub restore` is not a hub backup, or is damaged (size or checksum); nothing was restored',
  FM_HUB_INTERNAL: 'the hub failed unexpectedly while answering a request; its log has the details',
  FM_AGENT_INTERNAL: 'the node failed unexpectedly while answering a request; its log has the details',
  FM_STORE_SAMPLE_INVALID: 'a sample given to the local store has a timestamp or value it cannot hold',
  FM_STORE_CHUNK_CORRUPT: 'a stored chunk of samples could not be decoded; it is skipped and counted',
  FM_STORE_CLOSED: 'the local store was used after it was closed',
  FM_AUTH_REQUIRED: 'the hub asks for a login: the request carried no valid session cookie or API token',
  FM_AUTH_FAILED: 'a login (or a password change) gave a wrong user name or password',
  FM_AUTH_FORBIDDEN: 'the logged-in user or API token has a role too low for this request',
  FM_AUTH_CSRF: 'a state-changing request authenticated by cookie lacked the x-csrf-token header of its session, or sent another',
  FM_AUTH_RATE_LIMITED: 'too many failed logins for this user name or client address; wait for the window to pass',
  FM_AUTH_CONFLICT: 'a user or API token of that name exists already, or the change would leave the hub without an admin',
  FM_NODE_OFFLINE: 'the hub holds the node offline (its death or will arrived), so a query or ping to it is refused at once',
  FM_NODE_TIMEOUT: 'the node did not answer a query or ping through the broker within the timeout',
  FM_NODE_QUERY_FAILED: "the node answered a query with an error, or with a reply the hub could not read; the message is the node's",
  FM_NODE_BUSY: 'the node is answering as many queries as it takes at once and its queue is full; try again shortly',
  FM_NODE_REPLY_TOO_LARGE: 'the answer to a query is larger than a reply frame carries; narrow the range or raise step',
  FM_ACTION_CONFLICT: 'a bulk action preview was run already; make a new preview to act again',
  FM_ACTION_UNAVAILABLE: 'a bulk action needs a part of the hub that is off (alerts disabled) or stopping',
  FM_COMMAND_UNSUPPORTED:
    'the node does not carry out this command: an older agent, or a part it does not run (no service supervisor, reload-config before its time)',
  FM_COMMAND_FAILED:
    'a node command was understood but did not succeed there (a collector that does not start again); the message says why',
  FM_PUMP_DRIVER_FAILED:
    "a pump driver could not start, stop or read its pump (a command exited non-zero or timed out, a publish failed); the pump's controller holds it in fault",
  FM_ZONE_UNKNOWN:
    'no zone of that id takes this node (or hub) as a member: it is not in zones: of its node.yaml (hub.yaml), or names other nodes only; answered 404',
  FM_FLEET_CONFIG_UNREADABLE:
    'a configuration repository (fleet.yaml, zones/, sites/, nodes/, alerts/, or fleet-config/ and site-config-<site>/) could not be read, or the folder is none; `fieldmesh config` exits 2',
  FM_FLEET_CONFIG_INVALID:
    'a configuration repository has problems (YAML syntax, schema, unknown keys, list merges, node identity, zones naming unknown nodes, alert files); the message lists every one as file:line:col: path: message',
  FM_CONFIG_FRAME_INVALID:
    'a distributed config frame could not be decoded (version byte, deflate-raw, UTF-8 JSON, or its fields); the node keeps its running config',
  FM_CONFIG_FRAME_TOO_LARGE: 'a distributed config frame inflates to more than 1 MiB; the node refuses it and keeps its running config',
  FM_CONFIG_HASH_MISMATCH: "a distributed config's hash is not the SHA-256 of its canonical JSON; the node refuses it",
  FM_CONFIG_IDENTITY_MISMATCH: "a distributed config names another node.id or node.site than the node's own; the node refuses it",
  FM_CONFIG_APPLY_FAILED:
    'a valid distributed config failed while the node applied it live; what was applied is rolled back and the node keeps its last good config',
  FM_FLEET_CONFIG_NODE_UNKNOWN: 'no node file of the configuration repository defines the node asked for',
  FM_PKI_INVALID:
    "a file or argument of `fieldmesh pki` is missing, unreadable or malformed (a PEM, the CA folder's pki.json or index.json, a passphrase file, a SAN, a node id); the message names the file; exit 2",
  FM_PKI_PASSPHRASE:
    "the fleet CA's key is encrypted and no passphrase was given (--passphrase-file, FIELDMESH_PKI_PASSPHRASE_FILE), or the passphrase is wrong; exit 2",
  FM_PKI_REFUSED:
    'the fleet CA refused: a CSR whose signature, common name or key type is wrong, a node that holds a valid certificate already (renew it) or none to renew or revoke, a CA folder that exists already; exit 1',
  FM_ASSIGNMENT_INVALID:
    'an identity assignment from the hub (site and zone at approval) is not UTF-8 JSON {site, zone, by, at} with valid ids; the node refuses it and keeps its identity',
  FM_CERT_INVALID:
    'a certificate request or answer on the fleet transport is not the UTF-8 JSON of [FM-CERT-1..3] (too large, a field missing or wrong); the hub or the node refuses it, logs and counts it',
  FM_LEADER_DEPOSED:
    "a singleton duty's write was refused: this hub process no longer holds the leader lease of that epoch (another took over, or it stopped renewing); nothing was written",
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
