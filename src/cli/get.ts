// `fieldmesh get KEY`: values under a key expression over `site/<site>/node/<node>/<key>` (`*` one
// segment, `**` any), in the spirit of zenoh's get: from the hub (`--hub`: its live state, else the
// nodes' own answer) or from one node (`--node`: its GET /api/v1/get). A table, or --json. Exit 0 when
// values came and every asked node answered, 1 when none matched or a node did not answer, 2 for usage
// or connection errors. docs/commands.md "fieldmesh get".

import type { Command } from 'commander';
import { createHubClient } from '../client/index.js';
import { FieldmeshError, isFieldmeshError } from '../kit/index.js';
import { type KeyValue, type KeyValues, parseKeyExpr, segmentMatches } from '../protocol/index.js';
import {
  explainHubAuthError,
  type HubTokenFlags,
  refuseTokenForNode,
  resolveHubToken,
  tokenFileOption,
  tokenOption,
} from './hub-credentials.js';
import { type CliIo, errorText } from './io.js';
import { formatTable } from './status.js';

const VALUE_WIDTH = 80;

interface GetFlags extends HubTokenFlags {
  hub: string;
  node?: string;
  timeout: string;
  json?: boolean;
}

/** A node's own answer (GET /api/v1/get), its keys made full and filtered by the site and node patterns. */
export async function getFromNode(url: string, expr: string): Promise<KeyValues> {
  const parsed = parseKeyExpr(expr);
  if (typeof parsed === 'string') throw new FieldmeshError('FM_CLI_USAGE', parsed);
  const base = url.replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/api/v1/get?${new URLSearchParams({ key: parsed.rest.join('/') })}`);
  } catch (err) {
    throw new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', `node at ${base} is unreachable: ${(err as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as {
    error?: string;
    code?: string;
    data?: { site: string; node: string; values: Array<Omit<KeyValue, 'source'>> };
  };
  if (!res.ok || body.data === undefined) {
    // The node answered: a key it has no value for is a finding (exit 1), not a usage error.
    return {
      values: [],
      errors: [
        {
          site: '?',
          node: base,
          status: 'failed',
          ms: null,
          error: { code: body.code ?? `HTTP ${res.status}`, message: body.error ?? '' },
        },
      ],
    };
  }
  const { site, node, values } = body.data;
  if (!segmentMatches(parsed.site, site) || !segmentMatches(parsed.node, node)) return { values: [], errors: [] };
  const full = values.map((v) => ({ ...v, key: `site/${site}/node/${node}/${v.key}`, source: 'node' as const }));
  // Sorted by key, as the hub answers.
  full.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { values: full, errors: [] };
}

function show(value: unknown): string {
  const text = typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
  return text.length > VALUE_WIDTH ? `${text.slice(0, VALUE_WIDTH - 1)}…` : text;
}

/** The values as a table (KEY, LABELS, VALUE, AGE, SOURCE), then a line per node that did not answer. */
export function formatKeyValues(kv: KeyValues, now: number): string {
  const rows = [['KEY', 'LABELS', 'VALUE', 'AGE', 'SOURCE']];
  for (const v of kv.values) {
    const labels =
      v.labels === undefined
        ? ''
        : Object.entries(v.labels)
            .map(([k, x]) => `${k}=${x}`)
            .join(',');
    const age = v.time === undefined ? '' : `${Math.max(0, Math.round((now - v.time) / 1000))}s`;
    rows.push([v.key, labels, show(v.value), age, v.source]);
  }
  const lines = [kv.values.length === 0 ? 'no value matched' : formatTable(rows)];
  for (const e of kv.errors) lines.push(`${e.site}/${e.node}: ${e.status}: ${e.error?.code ?? ''} ${e.error?.message ?? ''}`.trimEnd());
  return lines.join('\n');
}

export function registerGet(program: Command, io: CliIo): void {
  program
    .command('get')
    .description(
      'read values by key expression: site/<site>/node/<node>/<metric | health | fleet | config/<path>>, * one segment, ** any; ' +
        'exit 0 values, 1 none matched or a node did not answer, 2 usage or connection',
    )
    .argument('<key>', 'e.g. site/north/node/*/battery_soc, site/*/node/*/health, site/x/node/y/config/publish/tick')
    .option('--hub <url>', 'hub base URL', process.env.FIELDMESH_HUB_URL ?? 'http://127.0.0.1:18800')
    .option('--node <url>', "one node's HTTP URL: read its own values")
    .option('--timeout <duration>', 'how long the hub waits for the nodes it asks', '5s')
    .option('--json', 'print {values, errors} as JSON')
    .addOption(tokenOption())
    .addOption(tokenFileOption())
    .action(async (key: string, flags: GetFlags) => {
      let kv: KeyValues;
      let token: ReturnType<typeof resolveHubToken>;
      try {
        const parsed = parseKeyExpr(key);
        if (typeof parsed === 'string') throw new FieldmeshError('FM_CLI_USAGE', parsed);
        if (flags.node !== undefined) {
          refuseTokenForNode(flags);
          kv = await getFromNode(flags.node, key);
        } else {
          token = resolveHubToken(flags, process.env);
          const client = createHubClient(flags.hub, token === undefined ? {} : { token: token.token });
          kv = await client.getKeys(key, { timeout: flags.timeout });
        }
      } catch (err) {
        io.err(errorText(isFieldmeshError(err) && flags.node === undefined ? explainHubAuthError(err, flags.hub, token) : err));
        process.exitCode = 2;
        return;
      }
      io.out(flags.json === true ? JSON.stringify(kv, null, 2) : formatKeyValues(kv, Date.now()));
      process.exitCode = kv.values.length > 0 && kv.errors.length === 0 ? 0 : 1;
    });
}
