// Configuration loading shared by every process: YAML text + FIELDMESH_* environment overrides,
// validated once against a zod schema, every problem reported with its path, result frozen.
// File reading happens at the composition root; this module stays free of Node built-ins.

import { parseDocument } from 'yaml';
import { z } from 'zod';
import { parseDurationMs } from './duration.js';
import { FieldmeshError } from './errors.js';
import { resolveSecretFiles, SECRET_FILE_SUFFIX, type SecretFileProblem, secretFileTarget } from './secrets.js';

export interface ConfigSource {
  /** YAML text of the file, or undefined when there is no file. */
  readonly text?: string;
  /** The file name, used in messages. */
  readonly file?: string;
  /** Environment variables to apply (pass process.env at the composition root). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Plain environment names mapped onto config paths, e.g. seed 000's NODE_ID -> "node.id".
   * FIELDMESH_* variables win over these.
   */
  readonly aliases?: Readonly<Record<string, string>>;
  /**
   * Reads the file a secret's `_file` key names (`mqtt.password_file`, FIELDMESH_MQTT__PASSWORD_FILE): pass
   * readFileSync at the composition root. Absent, `_file` keys are not read (and the schema refuses them).
   */
  readonly readFile?: (path: string) => string;
}

export interface ConfigProblem {
  /** Dotted path with indexes: "collectors[2].url". */
  readonly path: string;
  readonly message: string;
}

const ENV_PREFIX = 'FIELDMESH_';
/** FIELDMESH_ variables read by the command line itself, not mapped onto config keys. */
export const PROCESS_ENV_VARIABLES: ReadonlySet<string> = new Set([
  'FIELDMESH_CONFIG',
  'FIELDMESH_LOG_LEVEL',
  'FIELDMESH_HUB_URL',
  // The tokens commands send (hub API, a node's commands.token, its zoneCommands.token): never config keys.
  'FIELDMESH_TOKEN',
  'FIELDMESH_ZONE_TOKEN',
  // The file holding the fleet CA key's passphrase (`fieldmesh pki`).
  'FIELDMESH_PKI_PASSPHRASE_FILE',
]);

/** A zod schema for a duration field: accepts "2s" or a number of ms, yields ms. */
export function durationMs(fallback?: string | number) {
  const input = z.union([z.string(), z.number()]);
  return (fallback === undefined ? input : input.default(fallback)).transform((v, ctx) => {
    const ms = parseDurationMs(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration like "500ms", "2s", "5m" or a number of ms, got ${JSON.stringify(v)}` });
      return 0;
    }
    return ms;
  });
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/** Parses an env value: JSON-looking values (numbers, booleans, arrays) as YAML scalars, else a string. */
function envValue(raw: string): unknown {
  const doc = parseDocument(raw);
  if (doc.errors.length > 0) return raw;
  const v = doc.toJS();
  return typeof v === 'number' || typeof v === 'boolean' || Array.isArray(v) || v === null ? v : raw;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let obj = target;
  for (const key of path.slice(0, -1)) {
    const next = obj[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) obj[key] = {};
    obj = obj[key] as Record<string, unknown>;
  }
  obj[path[path.length - 1] as string] = value;
}

function camel(s: string): string {
  return s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** A level of a variable's name as a key; a secret's `..._FILE` keeps its `_file` (FIELDMESH_MQTT__PASSWORD_FILE -> password_file). */
function envKey(level: string): string {
  const key = camel(level);
  if (!/_FILE$/i.test(level)) return key;
  const target = camel(level.slice(0, -SECRET_FILE_SUFFIX.length));
  return secretFileTarget(`${target}${SECRET_FILE_SUFFIX}`) === undefined ? key : `${target}${SECRET_FILE_SUFFIX}`;
}

/** The variable that sets a config path: ['zoneCommands', 'token_file'] -> FIELDMESH_ZONE_COMMANDS__TOKEN_FILE. */
function envName(path: readonly PropertyKey[]): string {
  const level = (p: PropertyKey) =>
    String(p)
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .toUpperCase();
  return `${ENV_PREFIX}${path.map(level).join('__')}`;
}

/**
 * FIELDMESH_NODE__ID=n1 sets node.id; single underscores inside a level become camelCase
 * (FIELDMESH_MQTT__CLIENT_ID -> mqtt.clientId). A secret's FIELDMESH_MQTT__PASSWORD_FILE sets
 * mqtt.password_file, which loadConfig reads like the file's own `_file` keys.
 */
export function envOverrides(
  env: Readonly<Record<string, string | undefined>>,
  aliases: Readonly<Record<string, string>> = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, path] of Object.entries(aliases)) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') setPath(out, path.split('.'), envValue(raw));
  }
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || PROCESS_ENV_VARIABLES.has(name)) continue;
    const path = name.slice(ENV_PREFIX.length).split('__').filter(Boolean).map(envKey);
    if (path.length > 0) setPath(out, path, envValue(raw));
  }
  return out;
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return over;
  if (typeof over !== 'object' || over === null || Array.isArray(over)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(out[k], v);
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Loads and validates a configuration. Throws FieldmeshError FM_CONFIG_UNREADABLE for YAML syntax
 * errors and FM_CONFIG_INVALID listing every problem ("node.yaml: collectors[0].url: ..."). Secrets'
 * `_file` keys are read first (source.readFile), in the file and in the environment each, so a problem
 * names the key or the variable and validation sees the values.
 */
export function loadConfig<S extends z.ZodType>(schema: S, source: ConfigSource): Readonly<z.output<S>> {
  const file = source.file ?? '(defaults)';
  let fromFile: unknown = {};
  if (source.text !== undefined && source.text.trim() !== '') {
    const doc = parseDocument(source.text, { prettyErrors: true });
    if (doc.errors.length > 0) {
      const first = doc.errors[0];
      const where = first?.linePos?.[0] ? `:${first.linePos[0].line}:${first.linePos[0].col}` : '';
      throw new FieldmeshError('FM_CONFIG_UNREADABLE', `${file}${where}: ${first?.message.split('\n')[0]}`, { details: { file } });
    }
    fromFile = doc.toJS() ?? {};
    if (typeof fromFile !== 'object' || Array.isArray(fromFile)) {
      throw new FieldmeshError('FM_CONFIG_INVALID', `${file}: (root): expected a mapping of settings`, { details: { file } });
    }
  }
  const problems: ConfigProblem[] = [];
  const lines: string[] = [];
  const secretProblems = (found: readonly SecretFileProblem[], where: string, name: (path: readonly PropertyKey[]) => string) => {
    for (const p of found) {
      problems.push({ path: formatPath(p.path), message: p.message });
      lines.push(`${where}: ${name(p.path)}: ${p.message}`);
    }
  };
  let fromEnv: unknown = envOverrides(source.env ?? {}, source.aliases);
  if (source.readFile !== undefined) {
    const read = { read: source.readFile };
    const ownFile = resolveSecretFiles(fromFile, read);
    const env = resolveSecretFiles(fromEnv, read);
    fromFile = ownFile.value;
    fromEnv = env.value;
    secretProblems(ownFile.problems, file, formatPath);
    secretProblems(env.problems, 'environment', envName);
  }
  const result = schema.safeParse(deepMerge(fromFile, fromEnv));
  if (!result.success) {
    for (const i of result.error.issues) {
      const p = { path: formatPath(i.path), message: i.message };
      problems.push(p);
      lines.push(`${file}: ${p.path}: ${p.message}`);
    }
  }
  if (problems.length > 0 || !result.success) {
    throw new FieldmeshError('FM_CONFIG_INVALID', lines.join('\n'), { details: { file, problems } });
  }
  return deepFreeze(result.data);
}
