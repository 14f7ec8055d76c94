// Secret settings: which keys hold one, `<key>_file` keys read from a file (Docker secrets, systemd credentials),
// and the one redaction every output uses (logs, `/api` answers, `fieldmesh config render`). docs/security.md
// "Secrets". Free of Node built-ins: the caller passes the file reader.

/** What a secret value is replaced with wherever it would be shown. */
export const REDACTED = '<redacted>';

/** `password_file: /run/secrets/mqtt` stands for `password: <the file's content>`. */
export const SECRET_FILE_SUFFIX = '_file';

/** The last word of a key that holds a secret: `password`, `DB_PASSWORD`, `clientSecret`, `commands.token`. */
const SECRET_WORDS: ReadonlySet<string> = new Set(['password', 'passphrase', 'secret', 'token', 'credentials']);
/** Whole key names (case and separators folded) that hold a secret: HTTP headers and API keys. */
const SECRET_NAMES: ReadonlySet<string> = new Set(['apikey', 'xapikey', 'authorization', 'proxyauthorization', 'cookie']);
/** Keys whose value may carry credentials in its userinfo and may come from a file too (`url_file`). */
const FILE_VALUED_KEYS: ReadonlySet<string> = new Set(['url']);
/** A map key as configs spell them; a path such as `collectors[0].token` (a provenance key) is not one. */
const KEY_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Whether a config key (or an environment variable, or an HTTP header name) holds a secret. */
export function isSecretKey(name: string): boolean {
  if (!KEY_NAME.test(name)) return false;
  const w = words(name);
  return SECRET_WORDS.has(w[w.length - 1] ?? '') || SECRET_NAMES.has(w.join(''));
}

/** `mqtt://user:pass@host` -> `mqtt://user:<redacted>@host`, for every URL in `text`; `https://TOKEN@host` loses the user too. */
export function redactUrl(text: string): string {
  return text.replace(
    /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:]*)(?::([^\s/?#@]*))?@/gi,
    (whole, scheme: string, user: string, password: string | undefined) => {
      if (password !== undefined) return password === '' ? whole : `${scheme}${user}:${REDACTED}@`;
      // A user name alone over HTTP is how git hosts take a token (https://<token>@github.com/...).
      return /^https?:\/\/$/i.test(scheme) && user !== '' ? `${scheme}${REDACTED}@` : whole;
    },
  );
}

/**
 * A copy of `value` to show: every secret key's value (see isSecretKey) is REDACTED, and every string has the
 * passwords of its URLs redacted. `_file` keys stay (a path is no secret). Arrays and nested maps are walked.
 */
export function redactSecrets<T>(value: T): T {
  return redact(value, undefined) as T;
}

function redact(value: unknown, key: string | undefined): unknown {
  if (key !== undefined && isSecretKey(key) && value !== undefined && value !== null) return REDACTED;
  if (typeof value === 'string') return redactUrl(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, undefined));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redact(v, k);
    return out;
  }
  return value;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A problem of a `_file` key, at its path (`['mqtt', 'password_file']`). */
export interface SecretFileProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export interface ResolveSecretFilesOptions {
  /**
   * Reads a file as UTF-8 (throwing as fs does, with a `code` such as ENOENT). Absent: nothing is read, the
   * `_file` keys are only checked and taken out (what the configuration repository's validation does: the
   * files are on the node, not where the repository is rendered).
   */
  readonly read?: (path: string) => string;
}

/** The key a `_file` key stands for (`password_file` -> `password`), or undefined when it is no secret's. */
export function secretFileTarget(key: string): string | undefined {
  if (!key.endsWith(SECRET_FILE_SUFFIX)) return undefined;
  const target = key.slice(0, -SECRET_FILE_SUFFIX.length);
  return isSecretKey(target) || FILE_VALUED_KEYS.has(target) ? target : undefined;
}

function readProblem(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(err);
}

/**
 * Replaces every `<key>_file: <path>` of a secret key (and of `url`) by `<key>: <the file's content>`, line
 * breaks at its end removed, anywhere in `tree` (nested maps, lists). Problems, each at the `_file` key's path:
 * both `<key>` and `<key>_file` given, a path that is no string, a file that cannot be read or is empty. A new
 * tree is returned; `tree` is not changed.
 */
export function resolveSecretFiles(
  tree: unknown,
  options: ResolveSecretFilesOptions = {},
): { value: unknown; problems: SecretFileProblem[] } {
  const problems: SecretFileProblem[] = [];
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (Array.isArray(node)) return node.map((v, i) => walk(v, [...path, i]));
    if (!isPlainObject(node)) return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      const target = secretFileTarget(k);
      if (target === undefined) {
        out[k] = walk(v, [...path, k]);
        continue;
      }
      const at = [...path, k];
      if (typeof v !== 'string' || v === '') {
        problems.push({ path: at, message: `expected the path of a file holding ${target}` });
      } else if (node[target] !== undefined) {
        problems.push({ path: at, message: `give ${target} or ${k} (${v}), not both` });
      } else if (options.read !== undefined) {
        let text: string | undefined;
        try {
          text = options.read(v).replace(/[\r\n]+$/, '');
        } catch (err) {
          problems.push({ path: at, message: `cannot read ${v} (${readProblem(err)})` });
        }
        if (text === '') problems.push({ path: at, message: `${v} is empty` });
        else if (text !== undefined) out[target] = text;
      }
    }
    return out;
  };
  return { value: walk(tree, []), problems };
}
