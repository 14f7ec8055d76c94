// Audit (#/audit, admins): who changed what, newest first, with paging.

import { useEffect, useState } from 'preact/hooks';
import { api, describeError } from '../../api.js';
import { Age, Empty, ErrorLine } from '../../components/ui.js';
import { formatTime } from '../../format.js';
import { hasRole } from '../../roles.js';
import { useStore } from '../../store.js';
import type { AuditEntry } from '../../types.js';

const PAGE = 100;

export function AuditPage() {
  const s = useStore();
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [more, setMore] = useState(false);
  const [actor, setActor] = useState('');
  const load = async (before?: number) => {
    try {
      const q = new URLSearchParams({ limit: String(PAGE) });
      if (before !== undefined) q.set('before', String(before));
      if (actor.trim() !== '') q.set('actor', actor.trim());
      const r = await api.get<{ entries: AuditEntry[] }>(`/api/v1/audit?${q}`);
      setEntries((e) => (before === undefined ? r.entries : [...e, ...r.entries]));
      setMore(r.entries.length === PAGE);
      setError(null);
    } catch (err) {
      setError(describeError(err));
    }
  };
  useEffect(() => {
    if (hasRole(s.me, 'admin')) void load();
  }, [s.me?.role]);
  if (s.me !== null && !hasRole(s.me, 'admin'))
    return (
      <section>
        <h1>Audit log</h1>
        <p class="error-line">The audit log is for admins; you are {s.me.role}.</p>
      </section>
    );
  return (
    <div class="audit-page">
      <div class="title-row">
        <h1>Audit log</h1>
        <form
          class="toolbar"
          onSubmit={(e) => {
            e.preventDefault();
            void load();
          }}
        >
          <input
            type="search"
            placeholder="actor"
            aria-label="actor"
            value={actor}
            onInput={(e) => setActor((e.target as HTMLInputElement).value)}
          />
          <button type="submit">Filter</button>
        </form>
      </div>
      <ErrorLine error={error} />
      {entries.length === 0 && error === null ? (
        <Empty>Nothing changed yet.</Empty>
      ) : (
        <table class="grid" data-testid="audit-table">
          <thead>
            <tr>
              <th>when</th>
              <th>who</th>
              <th>role</th>
              <th>request</th>
              <th>target</th>
              <th class="num">status</th>
              <th>result</th>
              <th>from</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} data-audit={e.id} data-result={e.result}>
                <td title={e.time}>
                  {formatTime(e.time)}{' '}
                  <span class="muted">
                    (<Age time={e.time} />)
                  </span>
                </td>
                <td>
                  {e.actor ?? 'anonymous'} <span class="muted">{e.actorKind}</span>
                </td>
                <td>{e.role ?? '–'}</td>
                <td>
                  <code>
                    {e.method} {e.route}
                  </code>
                </td>
                <td>{e.target ?? '–'}</td>
                <td class="num">{e.status}</td>
                <td class={`result ${e.result}`}>{e.result}</td>
                <td>{e.ip ?? '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {more && (
        <button type="button" onClick={() => load(entries.at(-1)?.id)}>
          Older entries
        </button>
      )}
    </div>
  );
}
