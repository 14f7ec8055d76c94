// Configuration (#/config): the fleet's configuration repository as the hub reconciles it: the source and
// its revisions (current, last good, when read), a refused revision with every problem, every node's state
// (in-sync, pending, pending-restart, failed, offline, unknown-node, removed), drift with its reason and hashes, filterable
// by state and site; operators get Sync now and Apply (target, waves, pause; the run's progress per wave
// and node, as the hub reports it). Prefill: `#/config?state=failed&site=north`, `?apply=1&sites=..&nodes=..&match=..`.

import { useEffect, useState } from 'preact/hooks';
import { describeError } from '../../api.js';
import { ErrorLine } from '../../components/ui.js';
import { MarkBadge } from '../../components/zone-marks.js';
import {
  CONFIG_STATE_MARK,
  CONFIG_STATES,
  countStates,
  driftLine,
  filterConfigNodes,
  problemLine,
  short,
  sinceOf,
  syncHeadline,
} from '../../config-derive.js';
import type { ApplyRun, ConfigNodeRow, ConfigSummary } from '../../config-types.js';
import { formatTime } from '../../format.js';
import { hasRole } from '../../roles.js';
import { configNodeHref, nodeHref } from '../../router.js';
import { useStore } from '../../store.js';
import { ApplyDialog, type ApplyPrefill, RunView } from './apply-dialog.js';
import { configApi, useLiveLoad } from './config-api.js';
import { AgoMs, ConfigStateBadge } from './config-marks.js';

function list(q: URLSearchParams, key: string): string[] {
  return (q.get(key) ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

function Revision({ r, testid }: { r: { revision: string; commit: string | null; at: number } | null; testid: string }) {
  if (r === null) return <span data-testid={testid}>none yet</span>;
  return (
    <span data-testid={testid} data-commit={r.commit ?? ''} data-revision={r.revision}>
      <code title={r.commit ?? r.revision}>{short(r.commit ?? r.revision)}</code>
      {r.commit === null && <span class="muted"> (folder revision)</span>} <span class="muted">read</span> <AgoMs at={r.at} />
    </span>
  );
}

function RepoPanel({ s }: { s: ConfigSummary }) {
  return (
    <dl class="facts wide" data-testid="config-repo">
      <dt>source</dt>
      <dd>
        <code>{s.source}</code>
      </dd>
      <dt>rollout</dt>
      <dd>
        {s.rollout === 'auto' ? 'auto: a valid revision goes to every node at once' : 'manual: a valid revision waits for Apply'}
        {s.awaitingApply && (
          <>
            {' '}
            <MarkBadge mark={{ cls: 'warn', icon: '…', word: 'awaiting apply' }} testid="awaiting-apply" />
          </>
        )}
      </dd>
      <dt>current</dt>
      <dd>
        <Revision r={s.lastRead} testid="current-revision" />
        {s.refused && (
          <>
            {' '}
            <MarkBadge mark={{ cls: 'error', icon: '✕', word: 'refused' }} testid="current-refused" />
          </>
        )}
      </dd>
      <dt>last good</dt>
      <dd>
        <Revision r={s.lastGood} testid="last-good-revision" />
      </dd>
      <dt>synced</dt>
      <dd data-testid="synced">
        <AgoMs at={s.lastRead?.at} />
        {s.lastError !== null && (
          <span class="error-line inline" role="alert" data-testid="repo-error">
            {' '}
            ✕ read failed <AgoMs at={s.lastError.at} />: {s.lastError.message}
          </span>
        )}
      </dd>
    </dl>
  );
}

function RefusedPanel({ s }: { s: ConfigSummary }) {
  const r = s.lastRefused;
  if (r === null) return null;
  return (
    <section
      aria-label="refused revision"
      class={s.refused ? 'refused current' : 'refused'}
      data-testid="refused"
      data-current={String(s.refused)}
    >
      <h2>
        <span aria-hidden="true">✕ </span>
        {s.refused ? 'The newest revision is refused' : 'An earlier revision was refused'}{' '}
        <code data-testid="refused-revision">{short(r.commit ?? r.revision)}</code>
      </h2>
      <p class="muted">
        Read <AgoMs at={r.at} />.{' '}
        {s.refused ? 'No node got anything from it: every node keeps the last good revision.' : 'A later valid revision replaced it.'}{' '}
        {r.problems.length} {r.problems.length === 1 ? 'problem' : 'problems'}:
      </p>
      <ul class="problems" data-testid="problems">
        {r.problems.map((p) => (
          <li key={problemLine(p)} data-file={p.file} data-line={p.line} data-path={p.path}>
            <code>{problemLine(p)}</code>
            {p.node !== undefined && <span class="muted"> (node {p.node})</span>}
          </li>
        ))}
      </ul>
    </section>
  );
}

function NodesTable({ rows }: { rows: readonly ConfigNodeRow[] }) {
  return (
    <table class="grid" data-testid="config-nodes">
      <thead>
        <tr>
          <th>site</th>
          <th>node</th>
          <th>state</th>
          <th>drift</th>
          <th>desired</th>
          <th>reported</th>
          <th>since</th>
          <th>
            <span class="sr-only">effective config</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => {
          const since = sinceOf(r);
          return (
            <tr key={`${r.site}/${r.node}`} data-node={`${r.site}/${r.node}`} data-state={r.state} data-drift={String(r.drift)}>
              <td>{r.site}</td>
              <td>
                <a href={nodeHref(r.site, r.node)}>{r.node}</a>
              </td>
              <td>
                <ConfigStateBadge state={r.state} />
                {r.reported?.kind === 'rejected' && r.reported.error !== undefined && (
                  <div class="sub" data-testid="rejection" data-stage={r.reported.stage ?? ''}>
                    {r.reported.stage}: {r.reported.error}
                  </div>
                )}
                {r.state === 'pending-restart' && (r.reported?.pendingRestart.length ?? 0) > 0 && (
                  <div class="sub" data-testid="pending-keys" data-keys={r.reported?.pendingRestart.join(',')}>
                    waits for a restart: {r.reported?.pendingRestart.join(', ')}
                  </div>
                )}
              </td>
              <td>
                {r.drift ? (
                  <>
                    <MarkBadge mark={{ cls: 'error', icon: '≠', word: 'drift' }} testid="drift" title={driftLine(r) ?? undefined} />
                    <div
                      class="sub"
                      data-testid="drift-reason"
                      data-kind={r.driftReason?.kind ?? ''}
                      data-keys={r.driftReason?.kind === 'hand-edit' ? r.driftReason.keys.join(',') : ''}
                    >
                      {driftLine(r)}
                    </div>
                  </>
                ) : (
                  <span class="muted">none</span>
                )}
              </td>
              <td data-testid="desired-hash" data-hash={r.desired?.hash ?? ''}>
                <code title={r.desired?.hash}>{short(r.desired?.hash)}</code>
                <div class="sub">commit {short(r.desired?.commit)}</div>
              </td>
              <td data-testid="reported-hash" data-hash={r.reported?.hash ?? ''}>
                <code title={r.reported?.hash}>{short(r.reported?.hash)}</code>
                <div class="sub">commit {short(r.reported?.commit)}</div>
              </td>
              <td>
                {since === null ? '–' : formatTime(new Date(since).toISOString())}{' '}
                <span class="muted">{since === null ? '' : <AgoMs at={since} />}</span>
              </td>
              <td>{r.desired !== null && <a href={configNodeHref(r.site, r.node)}>provenance</a>}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function ConfigPage({ query }: { query: URLSearchParams }) {
  const s = useStore();
  const operator = hasRole(s.me, 'operator');
  const [run, setRun] = useState<ApplyRun | null>(null);
  const { data, error, reload } = useLiveLoad(
    async () => {
      const [summary, nodes] = await Promise.all([configApi.summary(), configApi.nodes()]);
      return { summary, nodes };
    },
    [],
    (r) => setRun((cur) => (cur === null || cur.id === r.id || r.startedAt >= cur.startedAt ? r : cur)),
  );
  const [states, setStates] = useState<string[]>(() => list(query, 'state'));
  const [site, setSite] = useState(query.get('site') ?? '');
  const [syncing, setSyncing] = useState(false);
  const [syncError, setSyncError] = useState<string | null>(null);
  const [prefill, setPrefill] = useState<ApplyPrefill | null>(() =>
    query.get('apply') === '1'
      ? {
          sites: list(query, 'sites'),
          nodes: list(query, 'nodes'),
          match: query.get('match') ?? '',
          zones: list(query, 'zones'),
          states: list(query, 'states'),
        }
      : null,
  );

  // The summary's last run is the newest the hub holds: show it until the live feed brings a newer one.
  useEffect(() => {
    const last = data?.summary.lastRun ?? null;
    if (last !== null) setRun((cur) => (cur === null || cur.id === last.id || last.startedAt > cur.startedAt ? last : cur));
  }, [data?.summary.lastRun?.id, data?.summary.lastRun?.state, data?.summary.lastRun?.finishedAt]);

  const sync = async () => {
    setSyncing(true);
    setSyncError(null);
    try {
      await configApi.sync();
      await reload();
    } catch (err) {
      setSyncError(describeError(err));
    } finally {
      setSyncing(false);
    }
  };

  if (data === null)
    return (
      <section class="config-page">
        <h1>Configuration</h1>
        {error !== null ? (
          <ErrorLine
            error={error.includes('404') || error.includes('not found') ? `${error} (this hub has no configRepo: in hub.yaml)` : error}
          />
        ) : (
          <p class="muted">Loading…</p>
        )}
      </section>
    );

  const { summary, nodes } = data;
  const counts = countStates(nodes);
  const sites = [...new Set(nodes.map((n) => n.site))].sort();
  const shown = filterConfigNodes(nodes, { states, site });
  const headline = syncHeadline(nodes);
  const allIn = nodes.length > 0 && counts['in-sync'] === nodes.filter((n) => n.state !== 'removed' && n.state !== 'unknown-node').length;
  // A refused newest revision or a failed node is an error even while every node runs the last good one.
  const tone = summary.refused || counts.failed > 0 ? 'error' : allIn ? 'green' : 'warn';
  return (
    <div class="config-page" data-testid="config-page">
      <div class="title-row">
        <h1>Configuration</h1>
        <span class="spacer" />
        {operator && (
          <span class="buttons">
            <button type="button" onClick={sync} disabled={syncing} data-testid="config-sync">
              {syncing ? 'Reading the repository…' : 'Sync now'}
            </button>
            <button
              type="button"
              class="primary"
              onClick={() => setPrefill({ sites: [], nodes: [], match: '' })}
              disabled={summary.lastGood === null}
              data-testid="config-apply"
            >
              Apply…
            </button>
          </span>
        )}
      </div>
      <ErrorLine error={syncError} />
      <ErrorLine error={error} />
      <p class={`headline ${tone}`} data-testid="config-headline" data-tone={tone}>
        <span aria-hidden="true">{tone === 'green' ? '✓ ' : tone === 'error' ? '✕ ' : '▲ '}</span>
        {headline}
        {summary.refused ? ' · the newest revision is refused' : ''}
      </p>
      <RepoPanel s={summary} />
      <RefusedPanel s={summary} />
      {run !== null && (
        <section aria-label="last apply">
          <h2>{run.state === 'running' ? 'Apply in progress' : 'Last apply'}</h2>
          <RunView run={run} />
        </section>
      )}
      <section aria-label="nodes">
        <div class="section-head">
          <h2>Nodes</h2>
          <div class="seg" data-testid="config-state-filter">
            <button type="button" aria-pressed={states.length === 0} onClick={() => setStates([])} data-state="all">
              all {nodes.length}
            </button>
            {CONFIG_STATES.filter((st) => counts[st] > 0 || states.includes(st)).map((st) => (
              <button
                key={st}
                type="button"
                aria-pressed={states.includes(st)}
                data-state={st}
                onClick={() => setStates(states.includes(st) ? states.filter((x) => x !== st) : [...states, st])}
              >
                <span aria-hidden="true">{CONFIG_STATE_MARK[st].icon} </span>
                {st} {counts[st]}
              </button>
            ))}
          </div>
          <label class="field">
            site{' '}
            <select value={site} onChange={(e) => setSite((e.target as HTMLSelectElement).value)} data-testid="config-site-filter">
              <option value="">every site</option>
              {sites.map((x) => (
                <option key={x} value={x}>
                  {x}
                </option>
              ))}
            </select>
          </label>
        </div>
        {shown.length === 0 ? <p class="empty">No node matches.</p> : <NodesTable rows={shown} />}
        {summary.nodes.drift > 0 && (
          <p class="error-line">
            ≠ {summary.nodes.drift} {summary.nodes.drift === 1 ? 'node drifts' : 'nodes drift'} from the repository: a config the hub never
            issued, or a hand edit of node.yaml (the reason is in its row).
          </p>
        )}
      </section>
      {prefill !== null && operator && (
        <ApplyDialog
          prefill={prefill}
          nodes={nodes}
          summary={summary}
          run={run}
          onStarted={setRun}
          onClose={() => {
            setPrefill(null);
            if (query.get('apply') === '1') history.replaceState(null, '', '#/config');
          }}
        />
      )}
    </div>
  );
}
