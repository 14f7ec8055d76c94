// `fieldmesh hub nodes pending|approve SITE/NODE [--site S] [--zone Z]|reject SITE/NODE --hub URL`: node
// registrations at a running hub (GET /api/v1/registrations, POST /api/v1/registrations/:site/:node/approve|reject;
// admin token). `--site` / `--zone` assign the node another site and zone at approval [FM-ASSIGN-1].
// Exit codes: pending 1 when a node waits for approval, else 0; approve and reject 0; 2 for usage,
// connection or authorization. docs/registration.md, docs/cli.md "fieldmesh hub nodes".

import type { Command } from 'commander';
import { FieldmeshError, formatAge, isValidId } from '../kit/index.js';
import { type HubToken, type HubTokenFlags, resolveHubToken, tokenFileOption, tokenOption } from './hub-credentials.js';
import { hubRequest } from './hub-request.js';
import { type CliIo, errorText } from './io.js';
import { formatTable } from './status.js';

interface Flags extends HubTokenFlags {
  hub: string;
  json?: boolean;
  site?: string;
  zone?: string;
}

/** A registration as GET /api/v1/registrations answers it (src/hub/registration/registration-gate.ts). */
export interface RegistrationAnswer {
  site: string;
  node: string;
  status: 'pending' | 'rejected' | 'approved';
  zone: string | null;
  agentVersion: string | null;
  bootTime: number | null;
  configVersion: string | null;
  firstSeen: number | null;
  lastSeen: number | null;
  births: number;
  framesIgnored: number;
  decidedBy: string | null;
  decidedAt: number | null;
  origin: string | null;
  assignedSite?: string | null;
  assignedZone?: string | null;
  assignmentState?: 'publish' | 'retained' | 'clear' | null;
  rebirthRequested?: boolean;
  assignmentSent?: boolean;
}
interface ListAnswer {
  mode: 'open' | 'approve';
  registrations: RegistrationAnswer[];
  approved: number;
}

function usage(message: string): FieldmeshError {
  return new FieldmeshError('FM_CLI_USAGE', message);
}

/** "site/node" → its two ids; FM_CLI_USAGE otherwise. */
export function parseNodeRef(ref: string): { site: string; node: string } {
  const parts = ref.split('/');
  if (parts.length !== 2 || !isValidId(parts[0] ?? '') || !isValidId(parts[1] ?? ''))
    throw usage(`${JSON.stringify(ref)}: expected SITE/NODE, e.g. wildfire/edge-west-01 (lowercase ids)`);
  return { site: parts[0] as string, node: parts[1] as string };
}

function request<T>(hub: string, token: HubToken | undefined, path: string, method: 'GET' | 'POST', body?: unknown): Promise<T> {
  return hubRequest<T>(hub, token, path, {
    method,
    ...(body === undefined ? {} : { body }),
    missingRoute: 'has no registrations API (a fieldmesh hub older than this command)',
    forbiddenHint: 'registrations need an admin: fieldmesh hub token create --config <hub.yaml> --name <name> --role admin',
  });
}

const age = (t: number | null, now: number) => (t === null ? '-' : formatAge(now - t));

/** The table of `fieldmesh hub nodes pending`. */
export function formatRegistrations(list: ListAnswer, now: number): string {
  const pending = list.registrations.filter((r) => r.status === 'pending').length;
  const rejected = list.registrations.length - pending;
  const head =
    list.mode === 'open'
      ? 'registration.mode is open: the hub admits every node (set registration.mode: approve in hub.yaml to approve nodes)'
      : `${pending} node${pending === 1 ? '' : 's'} waiting for approval, ${rejected} rejected, ${list.approved} approved (registration.mode approve)`;
  if (list.registrations.length === 0) return head;
  const rows = [['NODE', 'STATUS', 'ZONE', 'AGENT', 'BOOTED', 'CONFIG', 'FIRST SEEN', 'LAST SEEN', 'BIRTHS', 'IGNORED']];
  for (const r of list.registrations)
    rows.push([
      `${r.site}/${r.node}`,
      r.status === 'rejected' && r.decidedBy !== null ? `rejected by ${r.decidedBy}` : r.status,
      r.zone ?? '-',
      r.agentVersion ?? '-',
      age(r.bootTime, now),
      r.configVersion === null || r.configVersion === '' ? '-' : r.configVersion.slice(0, 12),
      age(r.firstSeen, now),
      age(r.lastSeen, now),
      String(r.births),
      String(r.framesIgnored),
    ]);
  return `${head}\n${formatTable(rows)}`;
}

/** `--site` / `--zone` as the approval's body; undefined without either. FM_CLI_USAGE for an id that is not one. */
export function assignmentBody(flags: { site?: string; zone?: string }): { site?: string; zone?: string } | undefined {
  const body: { site?: string; zone?: string } = {};
  for (const name of ['site', 'zone'] as const) {
    const value = flags[name];
    if (value === undefined) continue;
    if (!isValidId(value)) throw usage(`--${name} ${JSON.stringify(value)}: expected an id of lowercase letters, digits, '-' and '_'`);
    body[name] = value;
  }
  return Object.keys(body).length === 0 ? undefined : body;
}

/** The line `approve` prints. */
export function approvalText(r: RegistrationAnswer): string {
  const name = `${r.site}/${r.node}`;
  if (r.assignedSite !== undefined && r.assignedSite !== null && (r.assignmentState ?? null) !== null) {
    const as = `${name} approved as ${r.assignedSite}/${r.node} in zone ${r.assignedZone}`;
    return r.assignmentSent
      ? `${as}: assignment sent; the node restarts under it and its outbox drains to the hub`
      : `${as}; the hub is not on the broker: the assignment goes out when it is`;
  }
  return `${name} approved${r.rebirthRequested ? ': rebirth requested, its outbox drains to the hub' : '; the hub is not on the broker: the node re-announces itself when it is'}`;
}

function fail(io: CliIo, err: unknown): void {
  io.err(errorText(err));
  process.exitCode = 2;
}

function hubOptions(command: Command): Command {
  return command
    .option('--hub <url>', 'hub base URL', process.env.FIELDMESH_HUB_URL ?? 'http://127.0.0.1:18800')
    .option('--json', 'print the answer as JSON')
    .addOption(tokenOption())
    .addOption(tokenFileOption());
}

/** Adds `nodes pending|approve|reject` to `fieldmesh hub`. */
export function registerHubNodesCommands(hub: Command, io: CliIo): void {
  const nodes = hub.command('nodes').description('node registrations at a running hub: pending, approve, reject (admin token)');
  hubOptions(nodes.command('pending').description('nodes waiting for approval, and rejected ones; exit 1 when one is waiting')).action(
    async (flags: Flags) => {
      try {
        const token = resolveHubToken(flags, process.env);
        const list = await request<ListAnswer>(flags.hub, token, '/api/v1/registrations', 'GET');
        io.out(flags.json ? JSON.stringify(list, null, 2) : formatRegistrations(list, Date.now()));
        process.exitCode = list.registrations.some((r) => r.status === 'pending') ? 1 : 0;
      } catch (err) {
        fail(io, err);
      }
    },
  );
  for (const verb of ['approve', 'reject'] as const) {
    const command = hubOptions(
      nodes
        .command(`${verb} <site/node>`)
        .description(
          verb === 'approve'
            ? 'approve a node: the hub admits it, asks it to re-announce itself, and its outbox drains to the hub; --site / --zone assign it another site and zone'
            : 'reject a node: the hub keeps ignoring its frames (until approved)',
        ),
    );
    if (verb === 'approve')
      command
        .option('--site <site>', 'assign the node this site (default: the one it announced)')
        .option('--zone <zone>', 'assign the node this zone (default: the one it announced)');
    command.action(async (ref: string, flags: Flags) => {
      try {
        const { site, node } = parseNodeRef(ref);
        const body = verb === 'approve' ? assignmentBody(flags) : undefined;
        const token = resolveHubToken(flags, process.env);
        const r = await request<RegistrationAnswer>(flags.hub, token, `/api/v1/registrations/${site}/${node}/${verb}`, 'POST', body);
        if (flags.json) io.out(JSON.stringify(r, null, 2));
        else if (verb === 'reject') io.out(`${site}/${node} rejected: the hub ignores its frames until it is approved`);
        else io.out(approvalText(r));
        process.exitCode = 0;
      } catch (err) {
        fail(io, err);
      }
    });
  }
  // main() turns CommanderErrors into exit codes; nested commands must throw them too, not exit.
  nodes.exitOverride();
  for (const c of nodes.commands) c.exitOverride();
}
