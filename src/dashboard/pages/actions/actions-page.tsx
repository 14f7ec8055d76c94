// Bulk actions (#/actions): pick an action and the nodes (sites, zones, states, a name pattern or an
// explicit list), preview exactly what will happen to each node, confirm, and watch per-node progress.
// "Apply the configuration" to a selection opens the configuration page's Apply dialog with it.

import { useEffect, useState } from 'preact/hooks';
import { api, describeError, seg } from '../../api.js';
import { Age, Empty, ErrorLine, StateBadge, Until, useNow } from '../../components/ui.js';
import { STATES, siteRows } from '../../derive.js';
import { formatTime, plural } from '../../format.js';
import { hasRole } from '../../roles.js';
import { nodeHref } from '../../router.js';
import { putAction, refreshActions, useStore } from '../../store.js';
import type { ActionInfo, ActionName, ActionPreview, ActionSelector, NodeStateName } from '../../types.js';

const ACTIONS: ReadonlyArray<{ id: ActionName; label: string; what: string }> = [
  { id: 'ping', label: 'Ping', what: 'asks each node to answer; measures the round trip over its link' },
  { id: 'rebirth', label: 'Rebirth', what: 'asks each node to resend its birth (alias table) and current values' },
  { id: 'ack-alerts', label: 'Acknowledge alerts', what: 'acknowledges every open alert of each node' },
  { id: 'silence-alerts', label: 'Silence alerts', what: 'silences the alerts of each node for a while' },
];
const DURATIONS = ['1h', '4h', '12h', '24h', '3d'] as const;
/** While an action runs without the live feed's `action` messages, poll it this often. */
const ACTION_POLL_MS = 2_000;

function list(q: URLSearchParams, key: string): string[] {
  return (q.get(key) ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

/** The configuration page's Apply dialog, prefilled with this selection (it previews the waves and applies). */
function applyConfigHref(sel: ActionSelector): string {
  const q = new URLSearchParams({ apply: '1' });
  for (const k of ['sites', 'zones', 'nodes', 'states'] as const) if ((sel[k]?.length ?? 0) > 0) q.set(k, (sel[k] ?? []).join(','));
  if (sel.match !== undefined) q.set('match', sel.match);
  return `#/config?${q.toString()}`;
}

function toggle(set: readonly string[], v: string, on: boolean): string[] {
  return on ? [...new Set([...set, v])] : set.filter((x) => x !== v);
}

function Progress({ a }: { a: ActionInfo }) {
  const total = a.targets.length;
  const done = a.counts.ok + a.counts.failed + a.counts.skipped;
  const pct = total === 0 ? 100 : Math.round((done / total) * 100);
  return (
    <div class="progress" data-testid="action-progress" data-state={a.state}>
      <div
        class="progress-bar"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={done}
        aria-label={`${done} of ${total} nodes done`}
      >
        <span class="bar-ok" style={{ flexGrow: a.counts.ok }} />
        <span class="bar-failed" style={{ flexGrow: a.counts.failed }} />
        <span class="bar-skipped" style={{ flexGrow: a.counts.skipped }} />
        <span class="bar-pending" style={{ flexGrow: a.counts.pending }} />
      </div>
      <p>
        <strong>{a.state === 'done' ? 'Done' : `Running: ${pct}%`}</strong> · <span class="ok">✓ {a.counts.ok} ok</span> ·{' '}
        <span class="failed">✕ {a.counts.failed} failed</span> · <span class="muted">{a.counts.skipped} skipped</span> ·{' '}
        <span class="muted">{a.counts.pending} pending</span>
      </p>
    </div>
  );
}

function ActionResult({ a }: { a: ActionInfo }) {
  return (
    <section aria-label="action progress" data-testid="action-result" data-action-id={a.id}>
      <h2>
        {ACTIONS.find((x) => x.id === a.action)?.label ?? a.action} <span class="muted">by {a.createdBy}</span>
      </h2>
      <Progress a={a} />
      <table class="grid" data-testid="action-targets">
        <thead>
          <tr>
            <th>node</th>
            <th>status</th>
            <th>detail</th>
            <th class="num">rtt</th>
            <th>at</th>
          </tr>
        </thead>
        <tbody>
          {a.targets.map((t) => (
            <tr key={`${t.site}/${t.node}`} data-target={`${t.site}/${t.node}`} data-status={t.status}>
              <td>
                <a href={nodeHref(t.site, t.node)}>
                  {t.site}/{t.node}
                </a>
              </td>
              <td>
                <span class={`tstatus ${t.status}`}>
                  <span aria-hidden="true">
                    {t.status === 'ok' ? '✓ ' : t.status === 'failed' ? '✕ ' : t.status === 'running' ? '… ' : ''}
                  </span>
                  {t.status}
                </span>
              </td>
              <td>{t.detail ?? ''}</td>
              <td class="num">{t.rttMs != null ? `${Math.round(t.rttMs)} ms` : ''}</td>
              <td>{t.at !== null ? formatTime(t.at) : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function ActionsPage({ query }: { query: URLSearchParams }) {
  const s = useStore();
  useNow();
  const rows = siteRows(s);
  const [action, setAction] = useState<ActionName>('ping');
  const [sites, setSites] = useState<string[]>(() => list(query, 'sites'));
  const [zones, setZones] = useState<string[]>(() => list(query, 'zones'));
  const [nodes, setNodes] = useState<string[]>(() => list(query, 'nodes'));
  const [states, setStates] = useState<string[]>(() => list(query, 'states'));
  const [match, setMatch] = useState(query.get('match') ?? '');
  const [comment, setComment] = useState('');
  const [duration, setDuration] = useState<string>('4h');
  const [preview, setPreview] = useState<ActionPreview | null>(null);
  const [running, setRunning] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [historyError, setHistoryError] = useState<string | null>(null);

  useEffect(() => {
    refreshActions().catch((err: unknown) => setHistoryError(describeError(err)));
  }, []);
  // A new choice invalidates the preview: what was previewed is what gets confirmed.
  useEffect(() => setPreview(null), [action, sites.join(), zones.join(), nodes.join(), states.join(), match, comment, duration]);

  const current = running !== null ? s.actions.get(running) : undefined;
  // The feed's `action` messages carry the progress; while it is down, ask now and then instead.
  const feedLive = s.conn === 'live';
  useEffect(() => {
    if (running === null || current?.state === 'done' || feedLive) return;
    const t = setInterval(() => {
      api.get<ActionInfo>(`/api/v1/actions/${seg(running)}`).then(putAction, () => {});
    }, ACTION_POLL_MS);
    return () => clearInterval(t);
  }, [running, current?.state, feedLive]);

  if (!hasRole(s.me, 'operator'))
    return (
      <section>
        <h1>Bulk actions</h1>
        <p class="muted">Bulk actions need the operator role{s.me !== null ? `; you are ${s.me.role}` : ''}. Recent actions:</p>
        <History />
      </section>
    );

  const selector: { -readonly [K in keyof ActionSelector]: ActionSelector[K] } = {};
  if (sites.length > 0) selector.sites = sites;
  if (zones.length > 0) selector.zones = zones;
  if (nodes.length > 0) selector.nodes = nodes;
  if (states.length > 0) selector.states = states as NodeStateName[];
  if (match.trim() !== '') selector.match = match.trim();
  const params: Record<string, string> = {};
  if ((action === 'ack-alerts' || action === 'silence-alerts') && comment.trim() !== '') params.comment = comment.trim();
  if (action === 'silence-alerts') params.duration = duration;
  const allZones = [
    ...new Set([...s.nodes.values()].filter((n) => sites.length === 0 || sites.includes(n.site)).map((n) => n.zone)),
  ].sort();
  const empty = Object.keys(selector).length === 0;

  const doPreview = async () => {
    setBusy(true);
    setError(null);
    try {
      setPreview(
        await api.post<ActionPreview>('/api/v1/actions/preview', {
          action,
          selector,
          ...(Object.keys(params).length > 0 ? { params } : {}),
        }),
      );
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const confirm = async () => {
    if (preview === null) return;
    setBusy(true);
    setError(null);
    try {
      const a = await api.post<ActionInfo>('/api/v1/actions', { previewId: preview.previewId });
      putAction(a);
      setRunning(a.id);
      setPreview(null);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="actions-page">
      <div class="title-row">
        <h1>Bulk actions</h1>
      </div>
      <div class="action-builder">
        <fieldset class="action-choice" data-testid="action-choice">
          <legend>1. Action</legend>
          {ACTIONS.map((a) => (
            <label key={a.id} class="radio">
              <input
                type="radio"
                name="action"
                value={a.id}
                checked={action === a.id}
                onChange={() => setAction(a.id)}
                data-testid={`action-${a.id}`}
              />
              <span>
                <strong>{a.label}</strong> <span class="muted">{a.what}</span>
              </span>
            </label>
          ))}
          {(action === 'ack-alerts' || action === 'silence-alerts') && (
            <label class="field">
              Comment{action === 'silence-alerts' ? ' (required)' : ''}
              <input
                type="text"
                value={comment}
                onInput={(e) => setComment((e.target as HTMLInputElement).value)}
                data-testid="action-comment"
              />
            </label>
          )}
          {action === 'silence-alerts' && (
            <label class="field">
              For{' '}
              <select value={duration} onChange={(e) => setDuration((e.target as HTMLSelectElement).value)}>
                {DURATIONS.map((d) => (
                  <option key={d}>{d}</option>
                ))}
              </select>
            </label>
          )}
        </fieldset>
        <fieldset class="selector" data-testid="action-selector">
          <legend>2. Nodes</legend>
          <p class="muted small">Every condition you set must hold; none set means no node.</p>
          <div class="sel-group">
            <span class="sel-label">sites</span>
            {rows
              .slice()
              .sort((a, b) => a.name.localeCompare(b.name))
              .map((r) => (
                <label key={r.site} class="chip">
                  <input
                    type="checkbox"
                    checked={sites.includes(r.site)}
                    onChange={(e) => setSites(toggle(sites, r.site, (e.target as HTMLInputElement).checked))}
                    data-testid="sel-site"
                    data-site={r.site}
                  />{' '}
                  {r.name}
                </label>
              ))}
          </div>
          {allZones.length > 0 && (
            <div class="sel-group">
              <span class="sel-label">zones</span>
              {allZones.map((z) => (
                <label key={z} class="chip">
                  <input
                    type="checkbox"
                    checked={zones.includes(z)}
                    onChange={(e) => setZones(toggle(zones, z, (e.target as HTMLInputElement).checked))}
                  />{' '}
                  {z}
                </label>
              ))}
            </div>
          )}
          <div class="sel-group">
            <span class="sel-label">states</span>
            {STATES.map((st) => (
              <label key={st} class="chip">
                <input
                  type="checkbox"
                  checked={states.includes(st)}
                  onChange={(e) => setStates(toggle(states, st, (e.target as HTMLInputElement).checked))}
                  data-testid="sel-state"
                  data-state={st}
                />{' '}
                <StateBadge state={st as NodeStateName} />
              </label>
            ))}
          </div>
          {nodes.length > 0 && (
            <div class="sel-group">
              <span class="sel-label">nodes</span>
              {nodes.map((n) => (
                <span key={n} class="chip picked">
                  {n}{' '}
                  <button type="button" class="link" aria-label={`remove ${n}`} onClick={() => setNodes(nodes.filter((x) => x !== n))}>
                    ×
                  </button>
                </span>
              ))}
            </div>
          )}
          <label class="field">
            name pattern{' '}
            <span class="muted">
              (glob on "site/node", e.g. <code>solar-*/bess-0?</code>)
            </span>
            <input type="text" value={match} onInput={(e) => setMatch((e.target as HTMLInputElement).value)} data-testid="sel-match" />
          </label>
        </fieldset>
      </div>
      <div class="buttons left">
        <button type="button" class="primary" onClick={doPreview} disabled={busy || empty} data-testid="action-preview">
          3. Preview
        </button>
        {empty && <span class="muted">Choose at least one site, zone, state, node or pattern.</span>}
        {!empty && (
          <a href={applyConfigHref(selector)} class="small" data-testid="action-apply-config">
            or apply the configuration to these nodes (wave by wave) ›
          </a>
        )}
      </div>
      <ErrorLine error={error} />
      {preview !== null && (
        <section class="preview" aria-label="preview" data-testid="preview">
          <h2>
            Preview: {ACTIONS.find((x) => x.id === preview.action)?.label ?? preview.action} on {plural(preview.counts.act, 'node')}
            {preview.counts.skip > 0 && <span class="muted">, {preview.counts.skip} skipped</span>}
          </h2>
          <p class="muted small">
            Nothing has been done yet. This preview expires <Until time={preview.expiresAt} /> (at {formatTime(preview.expiresAt)}).
          </p>
          {preview.targets.length === 0 ? (
            <Empty>No node matches.</Empty>
          ) : (
            <table class="grid" data-testid="preview-table">
              <thead>
                <tr>
                  <th>node</th>
                  <th>zone</th>
                  <th>state</th>
                  <th>what will happen</th>
                </tr>
              </thead>
              <tbody>
                {preview.targets.map((t) => (
                  <tr
                    key={`${t.site}/${t.node}`}
                    data-target={`${t.site}/${t.node}`}
                    data-skip={t.skip !== null ? 'true' : 'false'}
                    class={t.skip !== null ? 'quiet' : undefined}
                  >
                    <td>
                      {t.site}/{t.node}
                    </td>
                    <td>{t.zone ?? '–'}</td>
                    <td>
                      {t.state !== undefined && (STATES as readonly string[]).includes(t.state) ? (
                        <StateBadge state={t.state as NodeStateName} />
                      ) : (
                        (t.state ?? '–')
                      )}
                    </td>
                    <td>{t.skip !== null ? <span class="muted">skipped: {t.skip}</span> : t.plan}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <div class="buttons left">
            <button
              type="button"
              class="primary danger"
              onClick={confirm}
              disabled={busy || preview.counts.act === 0}
              data-testid="action-confirm"
            >
              Confirm: {ACTIONS.find((x) => x.id === preview.action)?.label ?? preview.action} {plural(preview.counts.act, 'node')}
            </button>
            <button type="button" onClick={() => setPreview(null)}>
              Cancel
            </button>
          </div>
        </section>
      )}
      {current !== undefined && <ActionResult a={current} />}
      <ErrorLine error={historyError} />
      <History />
    </div>
  );
}

function History() {
  const s = useStore();
  const list = [...s.actions.values()].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)).slice(0, 20);
  return (
    <section aria-label="recent actions">
      <h2>Recent actions</h2>
      {list.length === 0 ? (
        <Empty>No bulk action yet.</Empty>
      ) : (
        <table class="grid" data-testid="actions-history">
          <thead>
            <tr>
              <th>when</th>
              <th>action</th>
              <th>by</th>
              <th>state</th>
              <th class="num">ok</th>
              <th class="num">failed</th>
              <th class="num">skipped</th>
            </tr>
          </thead>
          <tbody>
            {list.map((a) => (
              <tr key={a.id} data-action-id={a.id} data-state={a.state}>
                <td>
                  <Age time={a.createdAt} />
                </td>
                <td>{ACTIONS.find((x) => x.id === a.action)?.label ?? a.action}</td>
                <td>{a.createdBy}</td>
                <td>{a.state}</td>
                <td class="num">{a.counts.ok}</td>
                <td class="num">{a.counts.failed > 0 ? <strong class="failed">{a.counts.failed}</strong> : 0}</td>
                <td class="num">{a.counts.skipped}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
