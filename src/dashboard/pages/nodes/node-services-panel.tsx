// The node page's Services panel: the programs the node supervises, from what the hub holds: each
// service's live `fieldmesh_service_up` (a critical series [FM-SERVICE-UP]) and its latest `service_*`
// events (GET /api/v1/events, refreshed by the live feed's events): state, since, restarts, pid, the last
// exit. Operators start, stop or restart one through POST /api/v1/commands (`service ACTION NAME`, after a
// confirmation). "Logs" lists the service's events the hub stored; the stdout/stderr tail stays on the node
// (the command path does not carry it): `fieldmesh node service logs NAME` there.

import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { CommandRunView } from '../../../protocol/node-command.js';
import { api, seg } from '../../api.js';
import { ConfirmDialog, type ConfirmRequest } from '../../components/confirm-dialog.js';
import { Age, ErrorLine } from '../../components/ui.js';
import { MarkBadge } from '../../components/zone-marks.js';
import { formatTime } from '../../format.js';
import { hasRole } from '../../roles.js';
import { deriveServices, SERVICE_EVENT_KINDS, type ServiceRow, serviceEventText } from '../../service-derive.js';
import { onEventMessage, useStore } from '../../store.js';
import type { EventView, NodeValueView } from '../../types.js';

/** Events of each kind read per service panel load. */
const EVENTS_PER_KIND = 50;

type Action = 'start' | 'stop' | 'restart';
const WHAT: Record<Action, string> = {
  start: 'starts it if it is not running',
  stop: 'stops it (SIGTERM, then SIGKILL after its stopTimeout) and keeps it stopped until started again',
  restart: 'stops it and starts it again; its restart count goes up by one',
};

function useServiceEvents(site: string, node: string) {
  const [events, setEvents] = useState<EventView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(
    () =>
      onEventMessage((e) => {
        if (e.site === site && e.node === node && (SERVICE_EVENT_KINDS as readonly string[]).includes(e.kind)) setVersion((v) => v + 1);
      }),
    [site, node],
  );
  useEffect(() => {
    let alive = true;
    Promise.all(
      SERVICE_EVENT_KINDS.map((kind) =>
        api.get<{ events: EventView[] }>(`/api/v1/events?site=${seg(site)}&node=${seg(node)}&kind=${kind}&limit=${EVENTS_PER_KIND}`),
      ),
    ).then(
      (all) => {
        if (!alive) return;
        setEvents(all.flatMap((r) => r.events));
        setError(null);
      },
      (err: unknown) => alive && setError(err instanceof Error ? err.message : String(err)),
    );
    return () => {
      alive = false;
    };
  }, [site, node, version]);
  return { events, error };
}

function ServiceLogs({ row }: { row: ServiceRow }) {
  return (
    <div class="service-logs" data-testid="service-logs" data-service={row.name}>
      {row.events.length === 0 ? (
        <p class="muted">The hub holds no event of this service yet.</p>
      ) : (
        <ol class="log-lines">
          {row.events.map((e) => (
            <li key={e.id} data-kind={e.kind}>
              <span class="muted">{formatTime(e.time)}</span> {serviceEventText(e)}
            </li>
          ))}
        </ol>
      )}
      <p class="muted small">
        These are the service’s events as the hub stored them. Its stdout and stderr tail stays on the node:{' '}
        <code>fieldmesh node service logs {row.name}</code> there, or <code>GET /api/v1/services/{row.name}/logs</code> on its API.
      </p>
    </div>
  );
}

export function NodeServicesPanel({ site, node, values }: { site: string; node: string; values: readonly NodeValueView[] }) {
  const s = useStore();
  const operator = hasRole(s.me, 'operator');
  const { events, error } = useServiceEvents(site, node);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [result, setResult] = useState<{ ok: boolean; text: string; service: string } | null>(null);
  const [logsOf, setLogsOf] = useState<string | null>(null);
  const rows = deriveServices(values, events ?? []);

  const ask = (action: Action, name: string) =>
    setConfirm({
      title: `${action[0]?.toUpperCase()}${action.slice(1)} ${name} on ${site}/${node}?`,
      body: `This ${WHAT[action]}. The node does it and answers through the hub.`,
      confirm: `${action[0]?.toUpperCase()}${action.slice(1)} ${name}`,
      danger: action !== 'start',
      run: async () => {
        const run = await api.post<CommandRunView>('/api/v1/commands', {
          target: `node:${site}/${node}`,
          command: 'service',
          args: { action, name },
        });
        const r = run.results[0];
        if (r === undefined || r.status !== 'ok') {
          const why = r === undefined ? 'no result' : `${r.status}${r.error !== undefined ? `: ${r.error.message}` : ''}`;
          setResult({ ok: false, text: `${action} ${name}: ${why}`, service: name });
          return;
        }
        const a = (r.result ?? {}) as { state?: string; pid?: number | null; restarts?: number };
        setResult({
          ok: true,
          text: `${action} ${name}: ${a.state ?? 'done'}${a.pid != null ? `, pid ${a.pid}` : ''}${a.restarts !== undefined ? `, restarts ${a.restarts}` : ''} (${r.ms ?? '?'} ms)`,
          service: name,
        });
      },
    });

  return (
    <section aria-label="services" data-testid="node-services">
      <h2>Services</h2>
      <ErrorLine error={error} />
      {events === null && error === null ? (
        <p class="muted">Loading…</p>
      ) : rows.length === 0 ? (
        <p class="empty">
          The hub has heard of no supervised service on this node (no <code>services:</code>, or none started yet).
        </p>
      ) : (
        <table class="grid" data-testid="services-table">
          <thead>
            <tr>
              <th>service</th>
              <th>state</th>
              <th>up</th>
              <th>since</th>
              <th class="num">restarts</th>
              <th>last exit or check</th>
              <th>
                <span class="sr-only">actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <Fragment key={r.name}>
                <tr data-service={r.name} data-state={r.state} data-restarts={r.restarts ?? ''} data-up={String(r.up)}>
                  <td>
                    <strong>{r.name}</strong>
                    {r.pid !== null && <div class="sub">pid {r.pid}</div>}
                  </td>
                  <td>
                    <MarkBadge mark={{ cls: r.tone, icon: r.icon, word: r.state }} state={r.state} testid="service-state" />
                  </td>
                  <td>{r.up === null ? <span class="muted">no value</span> : r.up ? '1 (up)' : '0 (down)'}</td>
                  <td>{r.since === null ? '–' : <Age time={r.since} />}</td>
                  <td class="num" data-testid="service-restarts">
                    {r.restarts ?? '–'}
                  </td>
                  <td>{r.detail ?? <span class="muted">–</span>}</td>
                  <td class="row-actions">
                    <button
                      type="button"
                      class="small"
                      aria-expanded={logsOf === r.name}
                      onClick={() => setLogsOf(logsOf === r.name ? null : r.name)}
                      data-testid="service-logs-toggle"
                    >
                      Logs
                    </button>
                    {operator &&
                      (['start', 'stop', 'restart'] as const).map((a) => (
                        <button key={a} type="button" class="small" onClick={() => ask(a, r.name)} data-testid={`service-${a}`}>
                          {a[0]?.toUpperCase()}
                          {a.slice(1)}
                        </button>
                      ))}
                  </td>
                </tr>
                {logsOf === r.name && (
                  <tr class="quiet">
                    <td colSpan={7}>
                      <ServiceLogs row={r} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      {result !== null &&
        (result.ok ? (
          <p class="ok-line" role="status" data-testid="service-result" data-service={result.service}>
            ✓ {result.text}
          </p>
        ) : (
          <p class="error-line" role="alert" data-testid="service-result-error" data-service={result.service}>
            ✕ {result.text}
          </p>
        ))}
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </section>
  );
}
