// `fieldmesh zone status [ZONE] | pump ZONE PUMP ACTION | elect ZONE`: the zones of a site through one node's
// API (`--node`) or the hub's (`--hub`), the same view from either, and operators' pump commands and
// elections (docs/cli.md#zone, docs/consensus.md). Exit codes: 0 ok; 1 a zone without a visible majority or a
// pump in fault (status); 2 usage, connection, authorization or an unknown zone or pump.

import { userInfo } from 'node:os';
import { type Command, Option } from 'commander';
import { type ErrorCode, FieldmeshError, formatAge } from '../kit/index.js';
import { explainHubAuthError, type HubToken, type HubTokenFlags, resolveHubToken } from './hub-credentials.js';
import { type CliIo, errorText } from './io.js';
import { formatTable } from './status.js';

export const PUMP_ACTIONS = ['start', 'stop', 'estop', 'clear', 'test'] as const;
export type PumpActionName = (typeof PUMP_ACTIONS)[number];

/** Where the command talks to: one node's API or the hub's, with the token it sends (if any). */
export interface ZoneTarget {
  readonly kind: 'node' | 'hub';
  readonly base: string;
  readonly token: HubToken | undefined;
  /** Sent as x-fieldmesh-operator, so the node's audit says who (`api:<name>`). */
  readonly operator: string | undefined;
}

/** One zone in the table (the hub's ZoneSummary; a node's status reduced to it). */
export interface ZoneSummaryView {
  readonly zone: string;
  readonly site: string | null;
  readonly epoch: number;
  readonly voters: number;
  readonly votersOnline: number;
  readonly majorityNeeded: number;
  readonly majorityVisible: boolean;
  /** The evaluator's answer where it ran (a voter, the hub); null when it did not. */
  readonly fire: boolean | null;
  readonly detectionsInWindow: number;
  readonly pumps: number;
  readonly pumpsRunning: number;
  /** Pumps known to be in fault (a node knows its own pumps' state; the hub every pump's). */
  readonly pumpsFaulted: number;
  readonly lastDecisionAt: string | null;
}

export interface ZoneVoterView {
  readonly node: string;
  readonly state: 'online' | 'stale' | 'offline' | 'unknown';
  readonly lastHeard: string | null;
  /** Whether the voter's vote is live; null when not known here (a node knows only its own). */
  readonly voting: boolean | null;
}

export interface ZonePumpView {
  readonly pump: string;
  readonly owner: string;
  readonly state: 'running' | 'stopped' | 'estop' | 'fault' | 'unknown';
  readonly cause: string | null;
  readonly since: string | null;
  /** Null where not known (a node knows the runtime of the pumps it drives only). */
  readonly runtimeSeconds: number | null;
  readonly maxRuntimeSeconds: number | null;
  readonly overRuntime: boolean;
  readonly lastStart: { readonly at: string; readonly cause: string; readonly by: string } | null;
  readonly lastStop: { readonly at: string; readonly reason: string; readonly by: string } | null;
  readonly fault: string | null;
}

/** One zone in detail, from a node or from the hub; times are ISO strings, durations seconds. */
export interface ZoneDetailView extends ZoneSummaryView {
  /** Who answered: `node <url>` or `hub <url>`. */
  readonly source: string;
  readonly voterList: readonly ZoneVoterView[];
  readonly evaluation: {
    readonly at: string;
    readonly fire: boolean;
    readonly missing: readonly string[];
    readonly distinctCameras: number;
    readonly distinctNodes: number;
    readonly score: number;
  } | null;
  readonly detections: readonly {
    readonly id: string;
    readonly time: string;
    readonly camera: string;
    readonly node: string;
    readonly class: string;
    readonly confidence: number;
  }[];
  readonly decisions: readonly {
    readonly at: string;
    readonly node: string;
    readonly kind: string;
    readonly epoch: number;
    readonly cause?: string;
    readonly reason?: string;
  }[];
  readonly pumpList: readonly ZonePumpView[];
}

// ---------------------------------------------------------------------------------------------------------
// Talking to a node or a hub

function usage(message: string): FieldmeshError {
  return new FieldmeshError('FM_CLI_USAGE', message);
}

/** The token to send: `--token`, `--token-file`, else FIELDMESH_TOKEN (hub) or FIELDMESH_ZONE_TOKEN (node). */
export function resolveZoneToken(
  kind: ZoneTarget['kind'],
  flags: HubTokenFlags,
  env: Readonly<Record<string, string | undefined>>,
): HubToken | undefined {
  if (kind === 'hub') return resolveHubToken(flags, env);
  const given = resolveHubToken(flags, {});
  if (given !== undefined) return given;
  const fromEnv = env.FIELDMESH_ZONE_TOKEN?.trim();
  return fromEnv === undefined || fromEnv === '' ? undefined : { token: fromEnv, source: 'FIELDMESH_ZONE_TOKEN' };
}

interface TargetFlags extends HubTokenFlags {
  node?: string;
  hub?: string;
  by?: string;
}

export function resolveTarget(flags: TargetFlags, env: Readonly<Record<string, string | undefined>>): ZoneTarget {
  if (flags.node !== undefined && flags.hub !== undefined) throw usage('give --node or --hub, not both');
  const kind = flags.node !== undefined ? 'node' : 'hub';
  const raw = flags.node ?? flags.hub ?? env.FIELDMESH_HUB_URL ?? 'http://127.0.0.1:18800';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usage(`--${kind} ${raw}: expected an http:// or https:// URL, e.g. http://127.0.0.1:${kind === 'node' ? 18801 : 18800}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage(`--${kind} ${raw}: expected an http:// or https:// URL`);
  const by = flags.by ?? env.USER ?? safeUserName();
  return { kind, base: raw.replace(/\/+$/, ''), token: resolveZoneToken(kind, flags, env), operator: by === '' ? undefined : by };
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

const NODE_TOKEN_HINT = "pass the node's zoneCommands.token with --token-file <file>, --token or FIELDMESH_ZONE_TOKEN";

/** A node's 401/403 as one line saying what to do. */
function explainNodeAuth(status: number, message: string, target: ZoneTarget): FieldmeshError {
  const from = target.token === undefined ? 'no token was given' : `the token from ${target.token.source} was refused`;
  if (status === 401)
    return new FieldmeshError(
      'FM_AUTH_REQUIRED',
      `the node at ${target.base} asks for its zone command token (${from}): ${NODE_TOKEN_HINT}`,
    );
  return new FieldmeshError('FM_AUTH_FORBIDDEN', `the node at ${target.base} refused the command: ${message}`);
}

/** GET (or POST with no body) `path` and return the answer's `data`; errors as FieldmeshErrors that say what to do. */
export async function zoneRequest<T>(target: ZoneTarget, path: string, method: 'GET' | 'POST' = 'GET'): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.token !== undefined) headers.authorization = `Bearer ${target.token.token}`;
  if (method === 'POST' && target.operator !== undefined) headers['x-fieldmesh-operator'] = target.operator;
  let res: Response;
  try {
    res = await fetch(`${target.base}${path}`, { method, headers });
  } catch (err) {
    const why = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new FieldmeshError(
      'FM_TRANSPORT_UNAVAILABLE',
      `${target.kind} at ${target.base} is unreachable: ${why?.code ?? why?.message ?? (err as Error).message}`,
      { cause: err },
    );
  }
  const body = (await res.json().catch(() => ({}))) as { data?: T; code?: string; message?: string; error?: string };
  if (res.ok && body.data !== undefined) return body.data;
  const message = body.message ?? body.error ?? `HTTP ${res.status}`;
  if (res.ok) throw new FieldmeshError('FM_REQUEST_INVALID', `${target.base}${path} answered ${res.status} without data`);
  if (res.status === 401 || res.status === 403) {
    if (target.kind === 'node') throw explainNodeAuth(res.status, message, target);
    const code: ErrorCode = res.status === 401 ? 'FM_AUTH_REQUIRED' : 'FM_AUTH_FORBIDDEN';
    throw explainHubAuthError(new FieldmeshError(code, message, { details: { status: res.status } }), target.base, target.token);
  }
  if (res.status === 404 && /^no route /.test(message))
    throw new FieldmeshError(
      'FM_NOT_FOUND',
      `the ${target.kind} at ${target.base} has no zone API (${message}): is it an older fieldmesh?`,
    );
  const code = (typeof body.code === 'string' ? body.code : res.status === 404 ? 'FM_NOT_FOUND' : 'FM_REQUEST_INVALID') as ErrorCode;
  throw new FieldmeshError(code, `the ${target.kind} at ${target.base} answered ${res.status}: ${message}`, {
    details: { status: res.status },
  });
}

// ---------------------------------------------------------------------------------------------------------
// A node's answers, in the hub's shapes

/** What GET /api/v1/zones/:zone of a node answers (src/agent/zones/zone-engine.ts ZoneStatus). */
interface NodeZoneStatus {
  readonly zone: string;
  readonly epoch: number;
  readonly voters: readonly { readonly id: string; readonly heardRecently: boolean; readonly lastHeard: number | null }[];
  readonly majorityNeeded: number;
  readonly majorityVisible: boolean;
  readonly detections: readonly { id: string; camera: string; node: string; class: string; confidence: number; time: number }[];
  readonly evaluation?: {
    readonly at: number;
    readonly fire: boolean;
    readonly missing: readonly string[];
    readonly evidence: { readonly distinctCameras: number; readonly distinctNodes: number; readonly score: number };
  };
  readonly voting: boolean;
  readonly decisions: readonly { at: number; node: string; kind: string; epoch: number; cause?: string; reason?: string }[];
  readonly pumps: readonly {
    readonly id: string;
    readonly owner: string;
    readonly running: boolean;
    /** Absent from nodes before the engine reported remote pumps' states. */
    readonly state?: ZonePumpView['state'];
    readonly since?: number | null;
    readonly cause: string | null;
    readonly view?: {
      readonly state: ZonePumpView['state'];
      readonly cause: string | null;
      readonly since: number;
      readonly runtimeMs: number;
      readonly overRuntime: boolean;
      readonly fault: string | null;
      readonly lastStart: { at: number; cause: string; by: string } | null;
      readonly lastStop: { at: number; reason: string; by: string } | null;
    };
  }[];
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** A node's status in the hub's shapes: what the node cannot know (others' votes and runtimes) is null. */
export function nodeZoneDetail(s: NodeZoneStatus, source: string, self?: string): ZoneDetailView {
  const voterList = s.voters.map((v): ZoneVoterView => {
    const me = v.id === self;
    return {
      node: v.id,
      state: v.lastHeard === null ? 'unknown' : v.heardRecently ? 'online' : 'stale',
      lastHeard: iso(v.lastHeard),
      voting: me ? s.voting : null,
    };
  });
  const pumpList = s.pumps.map((p): ZonePumpView => {
    const v = p.view;
    if (v === undefined)
      return {
        pump: p.id,
        owner: p.owner,
        state: p.state ?? (p.running ? 'running' : 'stopped'),
        cause: p.cause,
        since: iso(p.since),
        runtimeSeconds: null,
        maxRuntimeSeconds: null,
        overRuntime: false,
        lastStart: null,
        lastStop: null,
        fault: null,
      };
    return {
      pump: p.id,
      owner: p.owner,
      state: v.state,
      cause: v.cause,
      since: iso(v.since),
      runtimeSeconds: Math.round(v.runtimeMs / 1000),
      maxRuntimeSeconds: null,
      overRuntime: v.overRuntime,
      lastStart: v.lastStart === null ? null : { ...v.lastStart, at: iso(v.lastStart.at) as string },
      lastStop: v.lastStop === null ? null : { ...v.lastStop, at: iso(v.lastStop.at) as string },
      fault: v.fault,
    };
  });
  const decisions = [...s.decisions]
    .sort((a, b) => b.at - a.at)
    .map((d) => ({
      at: iso(d.at) as string,
      node: d.node,
      kind: d.kind,
      epoch: d.epoch,
      ...(d.cause === undefined ? {} : { cause: d.cause }),
      ...(d.reason === undefined ? {} : { reason: d.reason }),
    }));
  const detections = [...s.detections]
    .sort((a, b) => b.time - a.time)
    .map((d) => ({ id: d.id, time: iso(d.time) as string, camera: d.camera, node: d.node, class: d.class, confidence: d.confidence }));
  const e = s.evaluation;
  return {
    source,
    zone: s.zone,
    site: null,
    epoch: s.epoch,
    voters: s.voters.length,
    votersOnline: voterList.filter((v) => v.state === 'online').length,
    majorityNeeded: s.majorityNeeded,
    majorityVisible: s.majorityVisible,
    fire: e === undefined ? null : e.fire,
    detectionsInWindow: s.detections.length,
    pumps: pumpList.length,
    pumpsRunning: pumpList.filter((p) => p.state === 'running').length,
    pumpsFaulted: pumpList.filter((p) => p.state === 'fault').length,
    lastDecisionAt: decisions[0]?.at ?? null,
    voterList,
    evaluation:
      e === undefined
        ? null
        : {
            at: iso(e.at) as string,
            fire: e.fire,
            missing: e.missing,
            distinctCameras: e.evidence.distinctCameras,
            distinctNodes: e.evidence.distinctNodes,
            score: e.evidence.score,
          },
    detections,
    decisions,
    pumpList,
  };
}

/** The hub's GET /api/v1/zones/:zone (HubZoneView of the zone API contract). */
interface HubZoneDetail {
  readonly zone: string;
  readonly site: string | null;
  readonly epoch: number;
  readonly majorityNeeded: number;
  readonly majorityVisible: boolean;
  readonly fire: boolean;
  readonly detectionsInWindow: number;
  readonly lastDecisionAt: string | null;
  readonly voters: readonly { node: string; state: ZoneVoterView['state']; lastHeard: string | null; voting: boolean }[];
  readonly detections: readonly { id: string; camera: string; node: string; class: string; confidence: number; time: string }[];
  readonly evaluation: {
    readonly at: string;
    readonly fire: boolean;
    readonly missing: readonly string[];
    readonly evidence: { readonly distinctCameras: number; readonly distinctNodes: number; readonly score: number };
  } | null;
  readonly decisions: readonly { at: string; node: string; kind: string; epoch: number; cause?: string; reason?: string }[];
  readonly pumps: readonly {
    pump: string;
    owner: string;
    state: ZonePumpView['state'];
    cause: string | null;
    since: string | null;
    runtimeSeconds: number;
    maxRuntimeSeconds: number;
    overRuntime: boolean;
    lastStart: ZonePumpView['lastStart'];
    lastStop: ZonePumpView['lastStop'];
  }[];
}

export function hubZoneDetail(h: HubZoneDetail, source: string): ZoneDetailView {
  const pumpList = h.pumps.map((p): ZonePumpView => ({ ...p, fault: null }));
  return {
    source,
    zone: h.zone,
    site: h.site,
    epoch: h.epoch,
    voters: h.voters.length,
    votersOnline: h.voters.filter((v) => v.state === 'online').length,
    majorityNeeded: h.majorityNeeded,
    majorityVisible: h.majorityVisible,
    fire: h.fire,
    detectionsInWindow: h.detectionsInWindow,
    pumps: pumpList.length,
    pumpsRunning: pumpList.filter((p) => p.state === 'running').length,
    pumpsFaulted: pumpList.filter((p) => p.state === 'fault').length,
    lastDecisionAt: h.lastDecisionAt,
    voterList: h.voters.map((v) => ({ node: v.node, state: v.state, lastHeard: v.lastHeard, voting: v.voting })),
    evaluation:
      h.evaluation === null
        ? null
        : {
            at: h.evaluation.at,
            fire: h.evaluation.fire,
            missing: h.evaluation.missing,
            distinctCameras: h.evaluation.evidence.distinctCameras,
            distinctNodes: h.evaluation.evidence.distinctNodes,
            score: h.evaluation.evidence.score,
          },
    detections: h.detections.map((d) => ({
      id: d.id,
      time: d.time,
      camera: d.camera,
      node: d.node,
      class: d.class,
      confidence: d.confidence,
    })),
    decisions: h.decisions,
    pumpList,
  };
}

/** Every zone in detail, from either kind of target. */
export async function fetchZones(target: ZoneTarget): Promise<ZoneDetailView[]> {
  const source = `${target.kind} ${target.base}`;
  if (target.kind === 'node') {
    const { zones } = await zoneRequest<{ zones: NodeZoneStatus[] }>(target, '/api/v1/zones');
    return zones.map((z) => nodeZoneDetail(z, source, selfOf(z)));
  }
  const { zones } = await zoneRequest<{ zones: { zone: string }[] }>(target, '/api/v1/zones');
  // The summary has no pump states: the details say whether a pump is in fault.
  return Promise.all(zones.map((z) => fetchZone(target, z.zone)));
}

export async function fetchZone(target: ZoneTarget, zone: string): Promise<ZoneDetailView> {
  const path = `/api/v1/zones/${encodeURIComponent(zone)}`;
  const source = `${target.kind} ${target.base}`;
  if (target.kind === 'node') {
    const s = await zoneRequest<NodeZoneStatus>(target, path);
    return nodeZoneDetail(s, source, selfOf(s));
  }
  return hubZoneDetail(await zoneRequest<HubZoneDetail>(target, path), source);
}

/** The node that answered: the voter it counts as heard "now" (its own lastHeard is the time of the answer). */
function selfOf(s: NodeZoneStatus): string | undefined {
  const newest = Math.max(...s.voters.map((v) => v.lastHeard ?? Number.NEGATIVE_INFINITY));
  const candidates = s.voters.filter((v) => v.lastHeard === newest);
  return candidates.length === 1 ? candidates[0]?.id : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Output

/** 0 every zone sees a majority and no pump is in fault; 1 otherwise. */
export function zoneStatusExitCode(zones: readonly Pick<ZoneSummaryView, 'majorityVisible' | 'pumpsFaulted'>[]): number {
  return zones.some((z) => !z.majorityVisible || z.pumpsFaulted > 0) ? 1 : 0;
}

const age = (at: string | null, nowMs: number): string => (at === null ? 'never' : formatAge(Math.max(0, nowMs - Date.parse(at))));
const yesNo = (v: boolean | null): string => (v === null ? '-' : v ? 'yes' : 'no');

export function formatZoneTable(zones: readonly ZoneSummaryView[], nowMs: number): string[] {
  const rows = [['ZONE', 'SITE', 'EPOCH', 'VOTERS', 'MAJORITY', 'FIRE', 'DETECTIONS', 'PUMPS', 'LAST DECISION']];
  for (const z of zones) {
    rows.push([
      z.zone,
      z.site ?? '-',
      String(z.epoch),
      `${z.votersOnline}/${z.voters} online`,
      `${z.majorityNeeded} needed, ${z.majorityVisible ? 'visible' : 'NOT VISIBLE'}`,
      yesNo(z.fire),
      String(z.detectionsInWindow),
      `${z.pumpsRunning}/${z.pumps} running${z.pumpsFaulted > 0 ? `, ${z.pumpsFaulted} FAULT` : ''}`,
      age(z.lastDecisionAt, nowMs),
    ]);
  }
  const lines = [formatTable(rows)];
  const blind = zones.filter((z) => !z.majorityVisible).map((z) => z.zone);
  lines.push(`${zones.length - blind.length}/${zones.length} zones see a majority of their voters`);
  if (blind.length > 0) lines.push(`no majority visible: ${blind.join(', ')} (a fire there cannot start its pumps by vote)`);
  return lines;
}

function clock(at: string): string {
  return at.slice(11, 19);
}

function runtime(p: ZonePumpView): string {
  if (p.runtimeSeconds === null) return '-';
  const whole = Math.round(p.runtimeSeconds);
  const m = Math.floor(whole / 60);
  const s = whole % 60;
  const text = m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
  const max = p.maxRuntimeSeconds === null ? '' : ` of ${Math.round(p.maxRuntimeSeconds / 60)}m`;
  return `${text}${max}${p.overRuntime ? ' OVER LIMIT' : ''}`;
}

/** `fieldmesh zone status ZONE`: everything an operator asks about one zone, newest first. */
export function formatZoneDetail(z: ZoneDetailView, nowMs: number, limit = 10): string[] {
  const out: string[] = [];
  out.push(`zone ${z.zone}${z.site === null ? '' : ` (site ${z.site})`}  epoch ${z.epoch}  (from ${z.source})`);
  out.push(
    `majority: ${z.majorityNeeded} of ${z.voters} voters needed, ${z.votersOnline} online: ${z.majorityVisible ? 'visible' : 'NOT VISIBLE (a fire here cannot start the pumps by vote)'}`,
  );
  out.push(
    '',
    formatTable([
      ['VOTER', 'STATE', 'LAST HEARD', 'VOTING'],
      ...z.voterList.map((v) => [v.node, v.state, age(v.lastHeard, nowMs), yesNo(v.voting)]),
    ]),
  );
  const e = z.evaluation;
  out.push(
    '',
    e === null
      ? 'evaluation: none here (this node is not a voter of the zone)'
      : e.fire
        ? `evaluation: FIRE (${e.distinctCameras} cameras on ${e.distinctNodes} nodes, score ${e.score.toFixed(3)}) at ${clock(e.at)}`
        : `evaluation: no fire${e.missing.length > 0 ? `: missing ${e.missing.join(', ')}` : ''}`,
  );
  out.push(`detections in the window: ${z.detectionsInWindow}`);
  if (z.detections.length > 0) {
    const rows = [['TIME', 'CAMERA', 'NODE', 'CLASS', 'CONFIDENCE']];
    for (const d of z.detections.slice(0, limit)) rows.push([clock(d.time), d.camera, d.node, d.class, d.confidence.toFixed(2)]);
    out.push(formatTable(rows));
  }
  out.push('', `decisions (newest first${z.decisions.length > limit ? `, ${limit} of ${z.decisions.length}` : ''}):`);
  if (z.decisions.length === 0) out.push('  none yet');
  else {
    const rows = [['TIME', 'NODE', 'KIND', 'EPOCH', 'CAUSE / REASON']];
    for (const d of z.decisions.slice(0, limit))
      rows.push([clock(d.at), d.node, d.kind, String(d.epoch), [d.cause, d.reason].filter((x) => x !== undefined).join(': ') || '-']);
    out.push(formatTable(rows));
  }
  out.push('', 'pumps:');
  const rows = [['PUMP', 'OWNER', 'STATE', 'CAUSE', 'RUNTIME', 'LAST START', 'LAST STOP']];
  for (const p of z.pumpList) {
    rows.push([
      p.pump,
      p.owner,
      p.fault === null ? p.state : `${p.state}: ${p.fault}`,
      p.cause ?? '-',
      runtime(p),
      p.lastStart === null ? '-' : `${age(p.lastStart.at, nowMs)} (${p.lastStart.cause}, by ${p.lastStart.by})`,
      p.lastStop === null ? '-' : `${age(p.lastStop.at, nowMs)} (${p.lastStop.reason}, by ${p.lastStop.by})`,
    ]);
  }
  out.push(formatTable(rows));
  if (z.source.startsWith('node ') && z.pumpList.some((p) => p.runtimeSeconds === null))
    out.push("(a node knows the runtime and history of the pumps it drives; ask the pump's owner or the hub for the others)");
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The commands

/** Errors exit 2 (usage, connection, authorization, an unknown zone or pump): 1 is for zones in trouble. */
async function run(io: CliIo, action: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await action();
  } catch (err) {
    io.err(errorText(err));
    process.exitCode = 2;
  }
}

function targetOptions(command: Command): Command {
  return command
    .option('--node <url>', "a node's HTTP API (its zones as it sees them)")
    .option('--hub <url>', 'the hub (FIELDMESH_HUB_URL, default http://127.0.0.1:18800)')
    .addOption(
      new Option(
        '--token <token>',
        "the hub's API token (FIELDMESH_TOKEN), or with --node the node's zoneCommands.token (FIELDMESH_ZONE_TOKEN); prefer --token-file",
      ),
    )
    .addOption(new Option('--token-file <path>', 'read the token from the first line of this file'));
}

export function registerZone(program: Command, io: CliIo): void {
  const zone = program
    .command('zone')
    .description("a site's fire zones: status, pump commands, elections (through a node's API or the hub)");

  targetOptions(
    zone
      .command('status [zone]')
      .description('every zone as a table, or one zone in detail; exit 0 ok, 1 a zone without a visible majority or a pump in fault')
      .option('--json', 'print the zones as JSON (times ISO 8601, durations in seconds)'),
  ).action(async (name: string | undefined, opts: TargetFlags & { json?: boolean }) => {
    await run(io, async () => {
      const target = resolveTarget(opts, process.env);
      const now = Date.now();
      if (name !== undefined) {
        const detail = await fetchZone(target, name);
        if (opts.json) io.out(JSON.stringify(detail, null, 2));
        else for (const line of formatZoneDetail(detail, now)) io.out(line);
        return zoneStatusExitCode([detail]);
      }
      const zones = await fetchZones(target);
      if (opts.json) io.out(JSON.stringify({ zones }, null, 2));
      else if (zones.length === 0) io.out(`no zones at ${target.base}`);
      else for (const line of formatZoneTable(zones, now)) io.out(line);
      return zoneStatusExitCode(zones);
    });
  });

  targetOptions(
    zone
      .command('pump <zone> <pump> <action>')
      .description(`an operator's command to a pump: ${PUMP_ACTIONS.join('|')} (estop latches until clear)`)
      .option('--by <name>', 'the operator named in the audit (default: your user name)')
      .option('--json', 'print the answer as JSON'),
  ).action(async (zoneId: string, pump: string, action: string, opts: TargetFlags & { json?: boolean }) => {
    await run(io, async () => {
      if (!(PUMP_ACTIONS as readonly string[]).includes(action))
        throw usage(`pump action "${action}": expected one of ${PUMP_ACTIONS.join(', ')}`);
      const target = resolveTarget(opts, process.env);
      const path = `/api/v1/zones/${encodeURIComponent(zoneId)}/pumps/${encodeURIComponent(pump)}/${action}`;
      const data = await zoneRequest<{ id: string; epoch?: number; via?: string }>(target, path, 'POST');
      if (opts.json) io.out(JSON.stringify(data, null, 2));
      else {
        const where = data.via === undefined ? `node ${target.base}` : `node ${data.via}`;
        io.out(
          `${action} of pump ${pump} in zone ${zoneId} accepted by ${where} (command ${data.id}${data.epoch === undefined ? '' : `, epoch ${data.epoch}`}); ` +
            `the pump's owner carries it out: fieldmesh zone status ${zoneId} shows its state`,
        );
      }
      return 0;
    });
  });

  targetOptions(
    zone
      .command('elect <zone>')
      .description("force a new voting round: the zone's epoch goes one above the highest seen; votes of older epochs stop counting")
      .option('--by <name>', 'the operator named in the audit (default: your user name)')
      .option('--json', 'print the answer as JSON'),
  ).action(async (zoneId: string, opts: TargetFlags & { json?: boolean }) => {
    await run(io, async () => {
      const target = resolveTarget(opts, process.env);
      const data = await zoneRequest<{ zone: string; epoch: number; via?: string }>(
        target,
        `/api/v1/zones/${encodeURIComponent(zoneId)}/elect`,
        'POST',
      );
      if (opts.json) io.out(JSON.stringify(data, null, 2));
      else
        io.out(
          `zone ${zoneId}: epoch ${data.epoch} elected at node ${data.via ?? target.base}; voters re-vote in it, older votes no longer count`,
        );
      return 0;
    });
  });
}
