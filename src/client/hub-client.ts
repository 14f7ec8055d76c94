// A typed client for the hub's HTTP API (/api/v1), for the CLI, scripts and the dashboard.

import { type ErrorCode, FieldmeshError } from '../kit/index.js';
import type {
  ActionName,
  ActionParams,
  ActionPreview,
  ActionSelector,
  ActionView,
  CommandArgs,
  CommandName,
  CommandRunView,
  CompletenessView,
  ConsoleView,
  EventPriority,
  EventView,
  KeyValues,
  NodeValueView,
  NodeView,
  OverviewView,
  SiteDetailView,
  SiteView,
} from '../protocol/index.js';
import { authErrorCode, type ClientOptions, clientHeaders } from './client-options.js';

/** A node as the hub's API returns it. */
export type NodeSummary = NodeView;
export type NodeValue = NodeValueView;
export type SiteSummary = SiteView;

export interface MatrixSeries {
  readonly metric: Readonly<Record<string, string>>;
  readonly values: ReadonlyArray<readonly [number, string]>;
}

export interface HubClient {
  nodes(options?: { values?: boolean }): Promise<NodeSummary[]>;
  node(site: string, node: string): Promise<NodeSummary>;
  sites(): Promise<SiteSummary[]>;
  /** One site with its nodes (with values) and its pending and firing alerts; FM_NOT_FOUND when unknown. */
  site(site: string): Promise<SiteDetailView>;
  /** Sites by health, nodes by state, alert counts and the worst sites. */
  overview(): Promise<OverviewView>;
  /** The console's title, site-plan map and site coordinates. */
  consoleSetup(): Promise<ConsoleView>;
  queryRange(query: string, startS: number, endS: number, stepS: number): Promise<MatrixSeries[]>;
  /** The hub's event log, newest first; times are RFC 3339 or Unix seconds. */
  events(filter?: EventsFilter): Promise<EventView[]>;
  /** What the hub holds of a node over [start, end) (default: yesterday in UTC). */
  completeness(site: string, node: string, window?: { start?: string; end?: string }): Promise<CompletenessView>;
  /** What a bulk action would do, node by node (needs an operator); run it with `runAction(preview.previewId)`. */
  previewAction(action: ActionName, selector: ActionSelector, params?: ActionParams): Promise<ActionPreview>;
  /** Runs exactly the previewed targets; answers at once with the running action (follow it with `action(id)`). */
  runAction(previewId: string): Promise<ActionView>;
  /** One bulk action with its targets' progress and results. */
  action(id: string): Promise<ActionView>;
  /** Recent bulk actions, newest first. */
  actions(): Promise<ActionView[]>;
  /**
   * Runs a command on a target's nodes (needs an operator): `detach` answers at once with the running view
   * (follow it with `commandRun(id)`), else once every node has its result. docs/commands.md.
   */
  runCommand(request: CommandRunRequest): Promise<CommandRunView>;
  commandRun(id: string): Promise<CommandRunView>;
  /** A key expression's values (`site/<site>/node/<node>/<key>`, `*` and `**` allowed), from the hub's state or the nodes. */
  getKeys(key: string, options?: { timeout?: string }): Promise<KeyValues>;
}

/** The body of POST /api/v1/commands. */
export interface CommandRunRequest {
  readonly target: string | ActionSelector;
  readonly command: CommandName;
  readonly args?: CommandArgs;
  readonly timeoutMs?: number;
  /** How long to wait for an offline node ("10m"); none: offline nodes fail fast. */
  readonly wait?: string;
  readonly detach?: boolean;
}

export interface EventsFilter {
  readonly site?: string;
  readonly node?: string;
  readonly kind?: string;
  /** Events of this priority or higher. */
  readonly priority?: EventPriority;
  readonly start?: string;
  readonly end?: string;
  readonly limit?: number;
}

function queryString(params: Readonly<Record<string, string | number | undefined>>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const text = q.toString();
  return text === '' ? '' : `?${text}`;
}

/**
 * Errors carry the hub's code and `details.status`; a 401 or 403 without a code (a proxy in front
 * answered) is FM_AUTH_REQUIRED or FM_AUTH_FORBIDDEN.
 */
export function createHubClient(baseUrl: string, options: ClientOptions = {}): HubClient {
  const base = baseUrl.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? fetch;

  /** `post` makes it a JSON POST of that value. */
  async function get<T>(path: string, post?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetchImpl(
        `${base}${path}`,
        post === undefined
          ? { headers: clientHeaders(options) }
          : { method: 'POST', headers: clientHeaders(options, { 'content-type': 'application/json' }), body: JSON.stringify(post) },
      );
    } catch (err) {
      throw new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', `hub at ${base} is unreachable: ${(err as Error).message}`, { cause: err });
    }
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      const code = (
        typeof body.code === 'string'
          ? body.code
          : (authErrorCode(res.status) ?? (res.status === 404 ? 'FM_NOT_FOUND' : 'FM_QUERY_INVALID'))
      ) as ErrorCode;
      const message = typeof body.message === 'string' ? body.message : typeof body.error === 'string' ? body.error : `HTTP ${res.status}`;
      throw new FieldmeshError(code, `${path}: ${message}`, { details: { status: res.status } });
    }
    return body as T;
  }

  return {
    async nodes(options = {}) {
      return (await get<{ nodes: NodeSummary[] }>(`/api/v1/nodes${options.values ? '?values=1' : ''}`)).nodes;
    },
    async node(site, node) {
      return get<NodeSummary>(`/api/v1/nodes/${encodeURIComponent(site)}/${encodeURIComponent(node)}`);
    },
    async sites() {
      return (await get<{ sites: SiteSummary[] }>('/api/v1/sites')).sites;
    },
    async site(site) {
      return get<SiteDetailView>(`/api/v1/sites/${encodeURIComponent(site)}`);
    },
    async overview() {
      return get<OverviewView>('/api/v1/overview');
    },
    async consoleSetup() {
      return get<ConsoleView>('/api/v1/console');
    },
    async queryRange(query, startS, endS, stepS) {
      const q = new URLSearchParams({ query, start: String(startS), end: String(endS), step: String(stepS) });
      const body = await get<{ data: { result: MatrixSeries[] } }>(`/api/v1/query_range?${q}`);
      return body.data.result;
    },
    async events(filter = {}) {
      return (await get<{ events: EventView[] }>(`/api/v1/events${queryString({ ...filter })}`)).events;
    },
    async completeness(site, node, window = {}) {
      return get<CompletenessView>(
        `/api/v1/nodes/${encodeURIComponent(site)}/${encodeURIComponent(node)}/completeness${queryString({ ...window })}`,
      );
    },
    async previewAction(action, selector, params) {
      return get<ActionPreview>('/api/v1/actions/preview', { action, selector, ...(params === undefined ? {} : { params }) });
    },
    async runAction(previewId) {
      return get<ActionView>('/api/v1/actions', { previewId });
    },
    async action(id) {
      return get<ActionView>(`/api/v1/actions/${encodeURIComponent(id)}`);
    },
    async actions() {
      return (await get<{ actions: ActionView[] }>('/api/v1/actions')).actions;
    },
    async runCommand(request) {
      return get<CommandRunView>('/api/v1/commands', request);
    },
    async commandRun(id) {
      return get<CommandRunView>(`/api/v1/commands/${encodeURIComponent(id)}`);
    },
    async getKeys(key, options = {}) {
      return get<KeyValues>(`/api/v1/get${queryString({ key, timeout: options.timeout })}`);
    },
  };
}
