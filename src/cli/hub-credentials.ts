// The API token a command sends to a hub (`--token`, `--token-file`, FIELDMESH_TOKEN), and the one line
// that tells the user what to do when the hub refuses the request (401, 403).

import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import { FieldmeshError, isFieldmeshError } from '../kit/index.js';

export interface HubTokenFlags {
  token?: string;
  tokenFile?: string;
}

/** A token and where it came from, to name it when the hub refuses it. */
export interface HubToken {
  readonly token: string;
  readonly source: string;
}

const CREATE_HINT = 'create one with fieldmesh hub token create --config <hub.yaml> --name <name>';

function usage(message: string): FieldmeshError {
  return new FieldmeshError('FM_CLI_USAGE', message);
}

/** `--token` and `--token-file`, for a command that talks to a hub: `.addOption(tokenOption()).addOption(tokenFileOption())`. */
export function tokenOption(): Option {
  return new Option('--token <token>', 'API token for the hub (FIELDMESH_TOKEN; on the command line it shows in ps: prefer --token-file)');
}

export function tokenFileOption(): Option {
  return new Option('--token-file <path>', 'read the API token for the hub from the first line of this file');
}

function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new FieldmeshError('FM_CLI_USAGE', `--token-file ${path}: ${why}`, { cause: err });
  }
  const first = (text.split('\n', 1)[0] ?? '').trim();
  if (first === '') throw usage(`--token-file ${path}: the first line is empty`);
  return first;
}

/**
 * The token for a hub: `--token`, else the first line of `--token-file`, else FIELDMESH_TOKEN; undefined
 * when none is given (a hub in demo mode or with `auth.mode: off` needs none). Both flags at once is usage.
 */
export function resolveHubToken(flags: HubTokenFlags, env: Readonly<Record<string, string | undefined>>): HubToken | undefined {
  if (flags.token !== undefined && flags.tokenFile !== undefined) throw usage('give --token or --token-file, not both');
  if (flags.token !== undefined) {
    const token = flags.token.trim();
    if (token === '') throw usage('--token is empty');
    return { token, source: '--token' };
  }
  if (flags.tokenFile !== undefined) return { token: readTokenFile(flags.tokenFile), source: `--token-file ${flags.tokenFile}` };
  const fromEnv = env.FIELDMESH_TOKEN?.trim();
  return fromEnv === undefined || fromEnv === '' ? undefined : { token: fromEnv, source: 'FIELDMESH_TOKEN' };
}

/** `--node` talks to a node, whose API takes no token: a hub's token must not go there. */
export function refuseTokenForNode(flags: HubTokenFlags): void {
  if (flags.token !== undefined || flags.tokenFile !== undefined)
    throw usage("--token and --token-file are for --hub: a node's HTTP API takes no token");
}

/**
 * A hub's 401 or 403 as one line saying what to do; other errors as they are. The codes stay
 * FM_AUTH_REQUIRED and FM_AUTH_FORBIDDEN (exit 1, as for an unreachable hub).
 */
export function explainHubAuthError(err: unknown, hubUrl: string, token: HubToken | undefined): unknown {
  const hub = hubUrl.replace(/\/+$/, '');
  if (isFieldmeshError(err, 'FM_AUTH_REQUIRED')) {
    const message =
      token === undefined
        ? `the hub at ${hub} needs a token: set FIELDMESH_TOKEN or pass --token-file; ${CREATE_HINT}`
        : `the hub at ${hub} refused the token from ${token.source} (unknown, revoked or made for another hub): ` +
          `set FIELDMESH_TOKEN or pass --token-file with a valid one; ${CREATE_HINT}`;
    return new FieldmeshError('FM_AUTH_REQUIRED', message, { cause: err, details: err.details });
  }
  if (isFieldmeshError(err, 'FM_AUTH_FORBIDDEN')) {
    const from = token === undefined ? '' : ` (token from ${token.source})`;
    return new FieldmeshError(
      'FM_AUTH_FORBIDDEN',
      `the hub at ${hub} refused the request${from}: ${err.message}; use a token with a higher role: ${CREATE_HINT} --role operator`,
      { cause: err, details: err.details },
    );
  }
  return err;
}
