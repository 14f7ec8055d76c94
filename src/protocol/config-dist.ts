// [FM-CONFIG-DIST] The config distribution protocol: the hub (or a node's own clone of the configuration
// repository) hands a node its desired configuration; the node validates it, applies what it can live, and
// reports through its outbox. The frame: one version byte 0x01, then deflate-raw of UTF-8 JSON
// `{hash, commit, issuedAt, source, config}`, published retained (QoS 1) on `<prefix>/_hub/config/<site>/<node>`.
// An empty retained payload clears the desired config. docs/protocol.md [FM-CONFIG-DIST].
//
// Compression goes through the web streams CompressionStream / DecompressionStream (Node 18+ and browsers),
// so this module stays free of Node built-ins.

import { FieldmeshError } from '../kit/index.js';
import type { NodeIdentityStatus } from './assignment.js';
import { configHashOf } from './config-hash.js';

export const CONFIG_FRAME_VERSION = 0x01;
/** The inflated JSON of a config frame may hold at most this many bytes; larger frames are refused. */
export const MAX_CONFIG_INFLATED_BYTES = 1024 * 1024;

/** What the hub (or the node's own repository clone) wants one node to run. */
export interface DesiredConfig {
  /** configHashOf(config). */
  readonly hash: string;
  /** The repository commit the config was rendered from; null when not from a git repository. */
  readonly commit: string | null;
  /** When the hub issued it, ms since the Unix epoch. */
  readonly issuedAt: number;
  /** Where it came from: `git:<url>@<branch>`, `dir:<path>`. */
  readonly source: string;
  /** The node's effective config as `renderNode(...).config` gives it (before zod defaults). */
  readonly config: Readonly<Record<string, unknown>>;
}

/**
 * Keys only the device can know: taken from the node's own node.yaml (or its environment), never from a
 * distributed config; a distributed value for one of them (or for its `_file` form, `mqtt.password_file`) is
 * ignored and named in the report's warnings. Dot paths into the config.
 */
export const LOCAL_CONFIG_KEYS: readonly string[] = [
  'mqtt.url',
  'mqtt.clientId',
  'mqtt.username',
  'mqtt.password',
  'mqtt.ca',
  'mqtt.cert',
  'mqtt.key',
  'dataDir',
  'http.host',
  'http.port',
  'http.tls',
  'pki',
  'zoneCommands.token',
  'commands.token',
  'reconcile',
];

/** The outbox event kinds of the node's report. */
export const CONFIG_APPLIED_EVENT = 'config_applied';
export const CONFIG_REJECTED_EVENT = 'config_rejected';
/** node.yaml changed on disk (or the node started) and now agrees or disagrees otherwise with the distributed config it runs. */
export const CONFIG_HAND_EDIT_EVENT = 'config_hand_edit';

/** Where a desired config was refused. */
export type ConfigRejectStage = 'decode' | 'identity' | 'schema' | 'apply';

/** Payload of a `config_applied` event. */
export interface ConfigAppliedPayload {
  readonly hash: string;
  readonly commit: string | null;
  /** Top-level keys applied live. */
  readonly applied: readonly string[];
  /** Top-level keys that wait for a restart of the node. */
  readonly pendingRestart: readonly string[];
  /** Local keys the distributed config set, ignored (the node's own values stay). */
  readonly ignoredLocalKeys?: readonly string[];
  /**
   * Top-level keys that node.yaml sets differently from this config (its local keys and `node` aside): hand
   * edits, which do not run. Empty when none; absent from agents older than hand-edit reports.
   */
  readonly handEdited?: readonly string[];
  /**
   * True when the node reports what it runs after a start: the distributed config it started from, nothing
   * applied and nothing waiting (a restart applied what waited for one).
   */
  readonly atStart?: boolean;
}

/**
 * Payload of a `config_hand_edit` event, sent when the node starts running a distributed config and each time
 * node.yaml changes on disk so that `handEdited` changes (or node.yaml stops or starts parsing).
 */
export interface ConfigHandEditPayload {
  /** The distributed config the node runs, which the keys are compared with. */
  readonly hash: string;
  readonly commit: string | null;
  /** Top-level keys node.yaml sets differently from it (sorted; empty: none). */
  readonly handEdited: readonly string[];
  /** node.yaml no longer parses or validates: why (`handEdited` is then what the last readable node.yaml said). */
  readonly nodeYamlError?: string;
}

/** Any payload of the node's config report. */
export type ConfigReportPayload = ConfigAppliedPayload | ConfigRejectedPayload | ConfigHandEditPayload;

/** Payload of a `config_rejected` event; the node keeps its running config. */
export interface ConfigRejectedPayload {
  readonly hash: string;
  readonly commit: string | null;
  readonly stage: ConfigRejectStage;
  readonly error: string;
  readonly problems?: readonly { readonly path: string; readonly message: string }[];
}

/** The node's `GET /api/v1/config` data. */
export interface NodeConfigStatus {
  readonly running: {
    readonly hash: string;
    readonly commit: string | null;
    readonly source: 'file' | 'hub' | 'repo';
    readonly appliedAt: number;
  };
  readonly lastGood: { readonly hash: string; readonly commit: string | null } | null;
  readonly pendingRestart: readonly string[];
  readonly lastRejected: {
    readonly hash: string;
    readonly commit: string | null;
    readonly stage: ConfigRejectStage;
    readonly error: string;
    readonly problems?: readonly { readonly path: string; readonly message: string }[];
    readonly at: number;
  } | null;
  /** The short config version births carry (configVersionOf the effective config the node started with). */
  readonly configVersion: string;
  /**
   * Top-level keys node.yaml (as on disk now) sets differently from the distributed config the node runs: hand
   * edits, which do not run; empty when none, and always when the node runs node.yaml itself.
   */
  readonly handEdited: readonly string[];
  /** node.yaml as last read does not parse or validate: why (nothing of it is applied); null when it does. */
  readonly nodeYamlError: string | null;
  /** The site and zone the node runs under, and whether the hub assigned them. [FM-ASSIGN-4] */
  readonly identity?: NodeIdentityStatus;
}

/** A desired config for `config`, its hash computed. */
export function desiredConfigOf(
  config: Readonly<Record<string, unknown>>,
  meta: { readonly commit: string | null; readonly source: string; readonly issuedAt: number },
): DesiredConfig {
  return { hash: configHashOf(config), commit: meta.commit, issuedAt: meta.issuedAt, source: meta.source, config };
}

async function pipeBytes(bytes: Uint8Array, transform: CompressionStream | DecompressionStream, limit: number): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(transform);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw new FieldmeshError(
        'FM_CONFIG_FRAME_TOO_LARGE',
        `config frame inflates to more than ${limit} bytes (the limit is ${MAX_CONFIG_INFLATED_BYTES / 1024 / 1024} MiB)`,
        { details: { limit } },
      );
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The frame for `desired`: 0x01 then deflate-raw of its UTF-8 JSON. Throws FM_CONFIG_FRAME_TOO_LARGE past 1 MiB. */
export async function encodeConfigFrame(desired: DesiredConfig): Promise<Uint8Array> {
  const json = new TextEncoder().encode(
    JSON.stringify({
      hash: desired.hash,
      commit: desired.commit,
      issuedAt: desired.issuedAt,
      source: desired.source,
      config: desired.config,
    }),
  );
  if (json.byteLength > MAX_CONFIG_INFLATED_BYTES) {
    throw new FieldmeshError(
      'FM_CONFIG_FRAME_TOO_LARGE',
      `config JSON is ${json.byteLength} bytes; the limit is ${MAX_CONFIG_INFLATED_BYTES}`,
    );
  }
  const deflated = await pipeBytes(json, new CompressionStream('deflate-raw'), Number.POSITIVE_INFINITY);
  const frame = new Uint8Array(1 + deflated.byteLength);
  frame[0] = CONFIG_FRAME_VERSION;
  frame.set(deflated, 1);
  return frame;
}

function invalid(message: string, cause?: unknown): FieldmeshError {
  return new FieldmeshError('FM_CONFIG_FRAME_INVALID', message, cause === undefined ? {} : { cause });
}

/**
 * Decodes a config frame: version, inflate (refusing more than `limit` bytes, default 1 MiB), JSON, shape.
 * Throws FM_CONFIG_FRAME_INVALID (or FM_CONFIG_FRAME_TOO_LARGE) naming what is wrong. An empty payload is
 * not a frame: callers treat it as "desired config cleared" before decoding.
 */
export async function decodeConfigFrame(bytes: Uint8Array, limit = MAX_CONFIG_INFLATED_BYTES): Promise<DesiredConfig> {
  if (bytes.byteLength === 0) throw invalid('config frame is empty');
  if (bytes[0] !== CONFIG_FRAME_VERSION) {
    throw new FieldmeshError(
      'FM_CONFIG_FRAME_INVALID',
      `config frame version ${bytes[0]} is not supported (this build speaks ${CONFIG_FRAME_VERSION})`,
    );
  }
  let inflated: Uint8Array;
  try {
    inflated = await pipeBytes(bytes.subarray(1), new DecompressionStream('deflate-raw'), limit);
  } catch (err) {
    if (err instanceof FieldmeshError) throw err;
    throw invalid(`config frame does not inflate (deflate-raw): ${(err as Error).message}`, err);
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(inflated));
  } catch (err) {
    throw invalid(`config frame is not UTF-8 JSON: ${(err as Error).message}`, err);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('config frame JSON is not an object');
  const v = value as Record<string, unknown>;
  if (typeof v.hash !== 'string' || !/^[0-9a-f]{64}$/.test(v.hash))
    throw invalid('config frame: "hash" must be 64 lowercase hex characters');
  if (v.commit !== null && typeof v.commit !== 'string') throw invalid('config frame: "commit" must be a string or null');
  if (typeof v.issuedAt !== 'number' || !Number.isFinite(v.issuedAt)) throw invalid('config frame: "issuedAt" must be a number (ms)');
  if (typeof v.source !== 'string') throw invalid('config frame: "source" must be a string');
  if (typeof v.config !== 'object' || v.config === null || Array.isArray(v.config))
    throw invalid('config frame: "config" must be an object');
  return { hash: v.hash, commit: v.commit, issuedAt: v.issuedAt, source: v.source, config: v.config as Record<string, unknown> };
}

/** Throws FM_CONFIG_HASH_MISMATCH when `desired.hash` is not the hash of its config. */
export function verifyConfigHash(desired: DesiredConfig): void {
  const actual = configHashOf(desired.config);
  if (actual !== desired.hash) {
    throw new FieldmeshError(
      'FM_CONFIG_HASH_MISMATCH',
      `config hash ${desired.hash.slice(0, 12)}… does not match its config (${actual.slice(0, 12)}…)`,
      {
        details: { claimed: desired.hash, actual },
      },
    );
  }
}
