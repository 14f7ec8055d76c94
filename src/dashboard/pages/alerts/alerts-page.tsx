// Alerts (#/alerts): every alert grouped by severity, filterable by state, site and text; acknowledge
// and silence for operators; the silences (expire them) and the alert rules.

import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError, seg } from '../../api.js';
import { AlertsTable } from '../../components/alerts-table.js';
import { Age, Empty, ErrorLine, Until, useNow } from '../../components/ui.js';
import { isPageSeverity, severityOf } from '../../derive.js';
import { formatDuration } from '../../format.js';
import { hasRole } from '../../roles.js';
import { refreshAlerts, useStore } from '../../store.js';
import type { AlertInfo, RuleGroupInfo, SilenceInfo } from '../../types.js';
import { useSlashFocus } from '../overview/overview-page.js';

type StateFilter = 'active' | 'firing' | 'pending' | 'all';

function sevRank(s: string): number {
  return isPageSeverity(s) ? 0 : s === 'warning' ? 1 : s === 'info' ? 3 : 2;
}

function matchesText(a: AlertInfo, q: string): boolean {
  if (q === '') return true;
  const text = [...Object.entries(a.labels), ...Object.entries(a.annotations)]
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
    .toLowerCase();
  return q
    .toLowerCase()
    .split(/\s+/)
    .every((w) => text.includes(w));
}

function Silences({ canAct, version }: { canAct: boolean; version: number }) {
  useNow();
  const [list, setList] = useState<SilenceInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [showExpired, setShowExpired] = useState(false);
  const load = () =>
    api.get<{ silences: SilenceInfo[] }>('/api/v1/silences').then(
      (r) => setList(r.silences),
      (err: unknown) => setError(describeError(err)),
    );
  useEffect(() => {
    void load();
  }, [version]);
  const expire = async (id: string) => {
    try {
      await api.del(`/api/v1/silences/${seg(id)}`);
      await load();
      await refreshAlerts();
    } catch (err) {
      setError(describeError(err));
    }
  };
  const shown = (list ?? []).filter((x) => showExpired || x.status.state !== 'expired');
  return (
    <section aria-label="silences">
      <div class="section-head">
        <h2>Silences</h2>
        <label class="check">
          <input type="checkbox" checked={showExpired} onChange={(e) => setShowExpired((e.target as HTMLInputElement).checked)} /> show
          expired
        </label>
      </div>
      <ErrorLine error={error} />
      {list !== null && shown.length === 0 ? (
        <Empty>No active silence.</Empty>
      ) : (
        <table class="grid" data-testid="silences-table">
          <thead>
            <tr>
              <th>matches</th>
              <th>state</th>
              <th>ends</th>
              <th>by</th>
              <th>comment</th>
              {canAct && (
                <th>
                  <span class="sr-only">actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {shown.map((x) => (
              <tr key={x.id} data-silence={x.id} data-state={x.status.state}>
                <td>
                  {x.matchers.map((m) => (
                    <code key={m.name} class="matcher">
                      {m.name}
                      {m.isEqual === false ? '!' : ''}
                      {m.isRegex ? '=~' : '='}"{m.value}"
                    </code>
                  ))}
                </td>
                <td>{x.status.state}</td>
                <td>{x.status.state === 'expired' ? <Age time={x.endsAt} prefix="ended " /> : <Until time={x.endsAt} />}</td>
                <td>{x.createdBy}</td>
                <td>{x.comment}</td>
                {canAct && (
                  <td>
                    {x.status.state !== 'expired' && (
                      <button type="button" class="small" onClick={() => expire(x.id)} data-testid="expire-silence">
                        Expire
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Rules() {
  const [groups, setGroups] = useState<RuleGroupInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    if (!open || groups !== null) return;
    api.get<{ data: { groups: RuleGroupInfo[] } }>('/api/v1/rules?type=alert').then(
      (r) => setGroups(r.data.groups),
      (err: unknown) => setError(describeError(err)),
    );
  }, [open]);
  return (
    <section aria-label="rules">
      <details onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
        <summary>
          <h2 class="inline">Alert rules</h2>
        </summary>
        <ErrorLine error={error} />
        {groups?.map((g) => (
          <div key={`${g.file}/${g.name}`}>
            <h3>
              {g.name} <span class="muted">{g.file}</span>
            </h3>
            <table class="grid" data-testid="rules-table">
              <thead>
                <tr>
                  <th>rule</th>
                  <th>state</th>
                  <th>expression</th>
                  <th>for</th>
                  <th>severity</th>
                  <th>health</th>
                </tr>
              </thead>
              <tbody>
                {g.rules.map((r) => (
                  <tr key={r.id ?? r.name} data-rule={r.name} data-state={r.state}>
                    <td>{r.name}</td>
                    <td>{r.state}</td>
                    <td>
                      <code>{r.query}</code>
                    </td>
                    <td>{formatDuration(r.duration * 1000)}</td>
                    <td>{r.labels.severity ?? '–'}</td>
                    <td title={r.lastError}>{r.health}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      </details>
    </section>
  );
}

export function AlertsPage() {
  const s = useStore();
  const [state, setState] = useState<StateFilter>('active');
  const [site, setSite] = useState('');
  const [text, setText] = useState('');
  const [resolved, setResolved] = useState<AlertInfo[]>([]);
  const input = useRef<HTMLInputElement>(null);
  useSlashFocus(input);
  useEffect(() => {
    if (state !== 'all') return;
    api.get<{ data: { alerts: AlertInfo[] } }>('/api/v1/alerts?state=resolved').then(
      (r) => setResolved(r.data.alerts),
      () => setResolved([]),
    );
  }, [state]);
  const canAct = hasRole(s.me, 'operator');
  const all = [...s.alerts.values(), ...(state === 'all' ? resolved : [])];
  const sites = [...new Set(all.map((a) => a.labels.site).filter((x): x is string => x !== undefined))].sort();
  const shown = all.filter(
    (a) => (state === 'active' || state === 'all' || a.state === state) && (site === '' || a.labels.site === site) && matchesText(a, text),
  );
  const bySeverity = new Map<string, AlertInfo[]>();
  for (const a of shown) {
    const sev = severityOf(a);
    bySeverity.set(sev, [...(bySeverity.get(sev) ?? []), a]);
  }
  const groups = [...bySeverity].sort((a, b) => sevRank(a[0]) - sevRank(b[0]) || a[0].localeCompare(b[0]));
  return (
    <div class="alerts-page">
      <div class="title-row">
        <h1>Alerts</h1>
      </div>
      <div class="toolbar">
        <div class="seg">
          {(['active', 'firing', 'pending', 'all'] as const).map((x) => (
            <button key={x} type="button" aria-pressed={state === x} onClick={() => setState(x)} data-testid={`alerts-state-${x}`}>
              {x}
            </button>
          ))}
        </div>
        <select value={site} onChange={(e) => setSite((e.target as HTMLSelectElement).value)} aria-label="site" data-testid="alerts-site">
          <option value="">all sites</option>
          {sites.map((x) => (
            <option key={x} value={x}>
              {x}
            </option>
          ))}
        </select>
        <input
          ref={input}
          type="search"
          class="filter"
          placeholder="Filter by label or text  ( / )"
          aria-label="filter alerts"
          value={text}
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
        />
      </div>
      {groups.length === 0 ? (
        <Empty>
          <span aria-hidden="true">✓ </span>
          {all.length === 0 ? 'No alert is pending or firing.' : 'No alert matches these filters.'}
        </Empty>
      ) : (
        groups.map(([sev, list]) => (
          <section key={sev} aria-label={`${sev} alerts`} data-severity={sev}>
            <h2>
              {sev} <span class="muted">{list.length}</span>
            </h2>
            <AlertsTable alerts={list} canAct={canAct} />
          </section>
        ))
      )}
      <Silences canAct={canAct} version={s.silencesVersion} />
      <Rules />
    </div>
  );
}
