// `fieldmesh pub`: publishes one message, with mosquitto_pub's flags; also holds the connection
// flags and the connect step that `fieldmesh sub` shares.

import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { FieldmeshError, type Logger } from '../kit/index.js';
import { createMqttTransport, type QoS, type Transport } from '../transport/index.js';
import type { CliIo } from './io.js';

/** fieldmesh's embedded broker listens here by default (mosquitto_pub defaults to 1883). */
export const DEFAULT_PUB_SUB_PORT = 18830;
/** How long pub and sub wait for the first CONNACK before giving up. */
const CONNECT_WAIT_MS = 10_000;

export interface ConnectionFlags {
  host: string;
  port: string;
  url?: string;
  id?: string;
  username?: string;
  pw?: string;
  qos: string;
  cafile?: string;
  cert?: string;
  key?: string;
}

/** Adds the connection flags mosquitto_pub and mosquitto_sub share; help stays on --help only. */
export function addConnectionFlags(cmd: Command): Command {
  return cmd
    .helpOption('--help', 'show help (-h is the host, as in mosquitto_pub/sub)')
    .option('-h, --host <host>', 'broker host', '127.0.0.1')
    .option('-p, --port <port>', "broker port: the fieldmesh broker's (mosquitto's is 1883)", String(DEFAULT_PUB_SUB_PORT))
    .option('-L, --url <url>', 'mqtt(s)://[user[:password]@]host[:port][/topic] or ws(s)://...; wins over -h/-p')
    .option('-i, --id <clientId>', 'client id (default: fieldmesh-<command>-<pid>)')
    .option('-u, --username <name>', 'username')
    .option('-P, --pw <password>', 'password')
    .addOption(new Option('-q, --qos <qos>', 'quality of service').choices(['0', '1']).default('0'))
    .option('--cafile <file>', 'PEM file of the CA to trust (mqtts://, wss://)')
    .option('--cert <file>', 'PEM client certificate for mutual TLS')
    .option('--key <file>', 'PEM client key for mutual TLS');
}

export interface ResolvedConnection {
  readonly url: string;
  /** The topic from the path of -L, if any. */
  readonly urlTopic?: string;
  readonly username?: string;
  readonly password?: string;
  readonly qos: QoS;
}

function usage(message: string): FieldmeshError {
  return new FieldmeshError('FM_CLI_USAGE', message);
}

function readPem(file: string | undefined, flag: string): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw usage(`${flag} ${file}: ${(err as Error).message}`);
  }
}

export function resolveConnection(flags: ConnectionFlags): ResolvedConnection {
  const qos = Number(flags.qos);
  if (qos !== 0 && qos !== 1) throw usage(`-q must be 0 or 1 (fieldmesh does not use QoS 2), got "${flags.qos}"`);
  if (flags.url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(flags.url);
    } catch {
      throw usage(`-L ${flags.url}: not a URL`);
    }
    if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(parsed.protocol))
      throw usage(`-L ${flags.url}: use mqtt://, mqtts://, ws:// or wss://`);
    const isWs = parsed.protocol.startsWith('ws');
    const path = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    const urlTopic = isWs || path === '' ? undefined : path;
    const username = flags.username ?? (parsed.username === '' ? undefined : decodeURIComponent(parsed.username));
    const password = flags.pw ?? (parsed.password === '' ? undefined : decodeURIComponent(parsed.password));
    const base = isWs ? `${parsed.protocol}//${parsed.host}${parsed.pathname}` : `${parsed.protocol}//${parsed.host}`;
    return {
      url: base,
      qos,
      ...(urlTopic !== undefined ? { urlTopic } : {}),
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
    };
  }
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw usage(`-p must be a port number, got "${flags.port}"`);
  const scheme = flags.cafile !== undefined || flags.cert !== undefined ? 'mqtts' : 'mqtt';
  const host = flags.host.includes(':') ? `[${flags.host}]` : flags.host;
  return {
    url: `${scheme}://${host}:${port}`,
    qos,
    ...(flags.username !== undefined ? { username: flags.username } : {}),
    ...(flags.pw !== undefined ? { password: flags.pw } : {}),
  };
}

/** A logger that remembers why the last connection attempt failed, for one clear error line. */
function failureLogger(onFailure: (reason: string) => void): Logger {
  const logger: Logger = {
    debug(obj, msg) {
      const reason = (obj as { reason?: string }).reason;
      if (msg === 'connection attempt failed' && reason !== undefined) onFailure(reason);
    },
    info() {},
    warn() {},
    error() {},
    child: () => logger,
  };
  return logger;
}

/**
 * Creates a transport, lets `prepare` subscribe, starts it and waits for the session. Unlike the
 * agent, a command-line tool gives up on the first failed attempt, as mosquitto_pub does.
 */
export async function connectForCli(
  flags: ConnectionFlags,
  clientId: string,
  prepare: (t: Transport) => Promise<void> = async () => {},
): Promise<{ transport: Transport; connection: ResolvedConnection }> {
  const connection = resolveConnection(flags);
  let fail: (reason: string) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = (reason) => reject(new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', `cannot connect to ${connection.url}: ${reason}`));
  });
  failed.catch(() => {});
  const ca = readPem(flags.cafile, '--cafile');
  const cert = readPem(flags.cert, '--cert');
  const key = readPem(flags.key, '--key');
  const transport = createMqttTransport({
    url: connection.url,
    clientId: flags.id ?? clientId,
    ...(connection.username !== undefined ? { username: connection.username } : {}),
    ...(connection.password !== undefined ? { password: connection.password } : {}),
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    logger: failureLogger((reason) => fail(reason)),
  });
  await prepare(transport);
  let timer: NodeJS.Timeout | undefined;
  const connected = new Promise<void>((resolve, reject) => {
    transport.on('connected', () => resolve());
    timer = setTimeout(
      () =>
        reject(
          new FieldmeshError(
            'FM_TRANSPORT_UNAVAILABLE',
            `cannot connect to ${connection.url}: no answer within ${CONNECT_WAIT_MS / 1000} s`,
          ),
        ),
      CONNECT_WAIT_MS,
    );
  });
  transport.start();
  try {
    await Promise.race([connected, failed]);
  } catch (err) {
    await transport.close({ graceful: false });
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { transport, connection };
}

interface PubFlags extends ConnectionFlags {
  topic?: string;
  message?: string;
  file?: string;
  nullMessage?: boolean;
  stdinFile?: boolean;
  retain?: boolean;
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function payloadOf(flags: PubFlags): Promise<Uint8Array> {
  const given = [flags.message !== undefined, flags.file !== undefined, flags.nullMessage === true, flags.stdinFile === true].filter(
    Boolean,
  ).length;
  if (given !== 1) throw usage('give exactly one of -m <message>, -f <file>, -s (stdin) or -n (empty message)');
  if (flags.message !== undefined) return new TextEncoder().encode(flags.message);
  if (flags.file !== undefined) {
    try {
      return readFileSync(flags.file);
    } catch (err) {
      throw usage(`-f ${flags.file}: ${(err as Error).message}`);
    }
  }
  if (flags.stdinFile) return readStdin();
  return new Uint8Array(0);
}

/** `io` is unused: like mosquitto_pub, pub prints nothing on success and errors go through main. */
export function registerPub(program: Command, _io: CliIo): void {
  const cmd = program.command('pub').description('publish one MQTT message (flags as mosquitto_pub)');
  addConnectionFlags(cmd)
    .option('-t, --topic <topic>', 'topic to publish to')
    .option('-m, --message <text>', 'message text')
    .option('-f, --file <file>', 'send the contents of a file (binary safe)')
    .option('-s, --stdin-file', 'send everything read from stdin')
    .option('-n, --null-message', 'send an empty message (with -r: clears a retained message)')
    .option('-r, --retain', 'ask the broker to retain the message')
    .action(async (flags: PubFlags) => {
      const connection = resolveConnection(flags);
      const topic = flags.topic ?? connection.urlTopic;
      if (topic === undefined || topic === '') throw usage('-t <topic> is required (or a topic in the path of -L)');
      if (/[+#]/.test(topic)) throw usage(`-t ${topic}: wildcards are not allowed when publishing`);
      const payload = await payloadOf(flags);
      const { transport } = await connectForCli(flags, `fieldmesh-pub-${process.pid}`);
      try {
        await transport.publish(topic, payload, { qos: connection.qos, retain: flags.retain === true });
      } finally {
        await transport.close({ graceful: true });
      }
    });
}
