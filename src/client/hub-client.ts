// A typed client for the hub's HTTP API (/api/v1), for the CLI, scripts and the dashboard.

import { type ErrorCode, FieldmeshError } from '../kit/index.js';
import type { CompletenessView, EventPriority, EventView, NodeValueView, NodeView, SiteView } from '../protocol/index.js';

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
  queryRange(query: string, startS: number, endS: number, stepS: number): Promise<MatrixSeries[]>;
  /** The hub's event log, newest first; times are RFC 3339 or Unix seconds. */
  events(filter?: EventsFilter): Promise<EventView[]>;
  /** What the hub holds of a node over [start, end) (default: yesterday in UTC). */
  completeness(site: string, node: string, window?: { start?: string; end?: string }): Promise<CompletenessView>;
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

/** `fetchImpl` lets tests and the browser pass their own fetch. */
export function createHubClient(baseUrl: string, fetchImpl: typeof fetch = fetch): HubClient {
  const base = baseUrl.replace(/\/+$/, '');

  async function get<T>(path: string): Promise<T> {
    let res: Response;
    try {
      res = await fetchImpl(`${base}${path}`, { headers: { accept: 'application/json' } });
    } catch (err) {
      throw new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', `hub at ${base} is unreachable: ${(err as Error).message}`, { cause: err });
    }
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      const code = (typeof body.code === 'string' ? body.code : res.status === 404 ? 'FM_NOT_FOUND' : 'FM_QUERY_INVALID') as ErrorCode;
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
  };
}
