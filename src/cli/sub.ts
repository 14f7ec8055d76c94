// `fieldmesh sub`: prints messages like mosquitto_sub (payloads as raw bytes, a newline after each
// unless -N), or with --json decodes fieldmesh frames (one session per node, so data frames show
// series names and values; zone frames on <prefix>/+/+/zone/+ too) one JSON object per line.

import type { Command } from 'commander';
import { FieldmeshError } from '../kit/index.js';
import {
  decodeWireFrame,
  decodeZoneFrame,
  type FrameError,
  frameToJson,
  parseTopic,
  SessionDecoder,
  zoneFrameToJson,
} from '../protocol/index.js';
import type { TransportMessage } from '../transport/index.js';
import { type CliIo, writeStdout } from './io.js';
import { addConnectionFlags, type ConnectionFlags, connectForCli, resolveConnection } from './pub.js';

interface SubFlags extends ConnectionFlags {
  topic: string[];
  verbose?: boolean;
  eol: boolean;
  count?: string;
  timeout?: string;
  json?: boolean;
  prefix: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function usage(message: string): FieldmeshError {
  return new FieldmeshError('FM_CLI_USAGE', message);
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw usage(`${flag} must be a positive whole number, got "${value}"`);
  return n;
}

/** A payload as text when it is valid UTF-8, else as base64. */
function renderPayload(payload: Uint8Array): string | { base64: string } {
  try {
    return utf8.decode(payload);
  } catch {
    return { base64: Buffer.from(payload).toString('base64') };
  }
}

const NEWLINE = Uint8Array.of(0x0a);

/**
 * A message as mosquitto_sub prints it: the payload's bytes as received (`topic payload` with -v), then
 * a newline unless -N, so `sub -N -C 1 > frame.bin` saves a frame that `pub -f frame.bin` sends again.
 */
export function rawMessage(message: TransportMessage, verbose: boolean, eol: boolean): Uint8Array {
  const parts: Uint8Array[] = verbose ? [Buffer.from(`${message.topic} `, 'utf8'), message.payload] : [message.payload];
  if (eol) parts.push(NEWLINE);
  return Buffer.concat(parts);
}

function frameErrorJson(err: FrameError): { code: string; reason: string; offset: number; message: string } {
  return { code: err.code, reason: err.reason, offset: err.offset, message: err.message };
}

/** Turns messages into the JSON lines of `sub --json`, keeping one session decoder per node. */
export function createJsonRenderer(prefix: string): (message: TransportMessage) => Record<string, unknown> {
  const sessions = new Map<string, SessionDecoder>();
  return ({ topic, payload }) => {
    const parsed = parseTopic(prefix, topic);
    // Alert notifications are JSON (Alertmanager's webhook payload), not a wire frame.
    if (parsed === undefined || (parsed.kind === 'hub' && parsed.channel === 'alerts')) return { topic, payload: renderPayload(payload) };
    const where =
      parsed.kind === 'hub'
        ? { channel: parsed.channel }
        : parsed.kind === 'zone'
          ? { site: parsed.site, node: parsed.node, channel: 'zone', zone: parsed.zone }
          : { site: parsed.site, node: parsed.node, channel: parsed.kind === 'node' ? parsed.channel : `cmd/${parsed.command}` };
    // [FM-ZONE-FRAME-1] Zone frames (types 18 to 23) on <prefix>/<site>/<node>/zone/<zone>: the sender is the topic's node.
    if (parsed.kind === 'zone') {
      const zone = decodeZoneFrame(payload);
      return zone.ok ? { topic, ...where, frame: zoneFrameToJson(zone.frame) } : { topic, ...where, error: frameErrorJson(zone.error) };
    }
    const decoded = decodeWireFrame(payload);
    if (!decoded.ok) return { topic, ...where, error: frameErrorJson(decoded.error) };
    const frame = decoded.frame;
    if (parsed.kind !== 'node') return { topic, ...where, frame: frameToJson(frame) };
    const key = `${parsed.site}/${parsed.node}`;
    let session = sessions.get(key);
    if (session === undefined) {
      session = new SessionDecoder();
      sessions.set(key, session);
    }
    if (frame.type === 'birth') {
      session.applyBirth(frame);
      return { topic, ...where, frame: frameToJson(frame) };
    }
    if (frame.type === 'data' && 'timeDelta' in frame) {
      const outcome = session.applyData(frame);
      if (outcome.kind === 'applied') return { topic, ...where, frame: frameToJson(outcome.frame, session) };
      // Without the birth (or after a gap) values cannot be resolved: show the coded frame and why.
      return { topic, ...where, frame: frameToJson(frame), session: outcome };
    }
    return { topic, ...where, frame: frameToJson(frame) };
  };
}

export function registerSub(program: Command, io: CliIo): void {
  const cmd = program.command('sub').description('subscribe and print messages (flags as mosquitto_sub; --json decodes fieldmesh frames)');
  addConnectionFlags(cmd)
    .option('-t, --topic <filter>', 'topic filter to subscribe to (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('-v, --verbose', 'print "topic payload" instead of the payload only')
    .option('-N, --no-eol', 'do not add a newline after each payload (raw output; as mosquitto_sub -N)')
    .option('-C, --count <n>', 'exit after receiving n messages')
    .option('-W, --timeout <seconds>', 'exit after this many seconds (exit code 0)')
    .option('--json', 'print one JSON object per message, decoding fieldmesh frames')
    .option('--prefix <prefix>', 'fieldmesh topic prefix for --json', 'fieldmesh')
    .action(async (flags: SubFlags) => {
      const connection = resolveConnection(flags);
      const filters = flags.topic.length > 0 ? flags.topic : connection.urlTopic !== undefined ? [connection.urlTopic] : [];
      if (filters.length === 0) throw usage('-t <filter> is required (repeatable), or a topic in the path of -L');
      const count = positiveInt(flags.count, '-C');
      const timeoutS = positiveInt(flags.timeout, '-W');
      const render = flags.json ? createJsonRenderer(flags.prefix) : undefined;
      const writeBytes = io.bytes ?? writeStdout;
      let received = 0;
      let finish: () => void = () => {};
      const done = new Promise<void>((resolve) => {
        finish = resolve;
      });
      /** Messages printed: one delivery for two overlapping filters is printed once. */
      const printed = new WeakSet<TransportMessage>();
      const onMessage = (m: TransportMessage) => {
        if (printed.has(m)) return;
        printed.add(m);
        if (count !== undefined && received >= count) return;
        received++;
        if (render) io.out(JSON.stringify(render(m)));
        else writeBytes(rawMessage(m, flags.verbose === true, flags.eol));
        if (count !== undefined && received >= count) finish();
      };
      const { transport } = await connectForCli(flags, `fieldmesh-sub-${process.pid}`);
      try {
        // Subscribing once connected makes a refused filter (SUBACK 0x80) an error, not silence.
        for (const f of filters) await transport.subscribe(f, onMessage, { qos: connection.qos }).ready;
      } catch (err) {
        await transport.close({ graceful: true });
        throw err;
      }
      const timer = timeoutS === undefined ? undefined : setTimeout(finish, timeoutS * 1000);
      process.once('SIGINT', finish);
      process.once('SIGTERM', finish);
      try {
        await done;
      } finally {
        clearTimeout(timer);
        process.off('SIGINT', finish);
        process.off('SIGTERM', finish);
        await transport.close({ graceful: true });
      }
    });
}
