// The node page's Configuration panel: what the configuration repository wants for this node and what it
// runs (GET /api/v1/config/nodes/:site/:node): state, drift, the applied commit and hash, keys waiting for
// a restart, and the last rejection with its reason (the node's report, else its last `config_rejected`
// event), with a link to the provenance view. Says so plainly on a hub without a configuration repository.

import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, seg } from '../../api.js';
import { ErrorLine } from '../../components/ui.js';
import { MarkBadge } from '../../components/zone-marks.js';
import { driftLine, short } from '../../config-derive.js';
import { configNodeHref } from '../../router.js';
import type { EventView } from '../../types.js';
import { configApi, useLiveLoad } from '../config/config-api.js';
import { AgoMs, ConfigStateBadge } from '../config/config-marks.js';

interface Rejection {
  readonly at: number;
  readonly stage: string;
  readonly error: string;
  readonly hash: string | null;
  readonly problems: readonly { path: string; message: string }[];
}

export function NodeConfigPanel({ site, node }: { site: string; node: string }) {
  // `view` null: a 404 (no configuration repository, or none defines the node); `loaded` null: still loading.
  const { data: loaded, error } = useLiveLoad(
    () =>
      configApi.node(site, node).then(
        (view) => ({ view }),
        (err: unknown) => {
          if (err instanceof ApiError && err.status === 404) return { view: null };
          throw err;
        },
      ),
    [site, node],
  );
  const data = loaded === null ? undefined : loaded.view;
  const [rejection, setRejection] = useState<Rejection | null>(null);
  const reportedKey = `${data?.reported?.kind}:${data?.reported?.at}`;
  useEffect(() => {
    if (data === null || data === undefined) return;
    const r = data.reported;
    if (r?.kind === 'rejected') {
      setRejection({ at: r.at, stage: r.stage ?? '?', error: r.error ?? '', hash: r.hash, problems: r.problems ?? [] });
      return;
    }
    // The last report is an apply: an earlier rejection is in the event log.
    api
      .get<{ events: EventView[] }>(`/api/v1/events?site=${seg(site)}&node=${seg(node)}&kind=config_rejected&limit=1`)
      .then((res) => {
        const e = res.events[0];
        const p = (e?.payload ?? {}) as Record<string, unknown>;
        setRejection(
          e === undefined
            ? null
            : {
                at: Date.parse(e.time),
                stage: String(p.stage ?? '?'),
                error: String(p.error ?? ''),
                hash: typeof p.hash === 'string' ? p.hash : null,
                problems: Array.isArray(p.problems) ? (p.problems as Rejection['problems']) : [],
              },
        );
      })
      .catch(() => setRejection(null));
  }, [site, node, reportedKey]);

  return (
    <section aria-label="configuration" data-testid="node-config">
      <div class="section-head">
        <h2>Configuration</h2>
        {data !== null && data !== undefined && data.desired !== null && (
          <a href={configNodeHref(site, node)} data-testid="provenance-link">
            effective config and where each value comes from ›
          </a>
        )}
      </div>
      <ErrorLine error={error} />
      {data === undefined ? (
        <p class="muted">Loading…</p>
      ) : data === null ? (
        <p class="empty" data-testid="node-config-none">
          Not managed by a configuration repository (this hub has no <code>configRepo:</code>, or no repository file defines this node).
        </p>
      ) : (
        <dl class="facts wide" data-state={data.state}>
          <dt>state</dt>
          <dd>
            <ConfigStateBadge state={data.state} />{' '}
            {data.drift && (
              <>
                <MarkBadge mark={{ cls: 'error', icon: '≠', word: 'drift' }} testid="drift" title={driftLine(data) ?? undefined} />{' '}
                <span data-testid="drift-reason" data-kind={data.driftReason?.kind ?? ''}>
                  {driftLine(data)}
                </span>
              </>
            )}
          </dd>
          <dt>applied</dt>
          <dd data-testid="node-config-applied" data-hash={data.reported?.kind === 'applied' ? data.reported.hash : ''}>
            {data.reported === null ? (
              'no report yet'
            ) : (
              <>
                commit <code>{short(data.reported.commit)}</code> · hash <code title={data.reported.hash}>{short(data.reported.hash)}</code>{' '}
                · {data.reported.kind} <AgoMs at={data.reported.at} />
              </>
            )}
          </dd>
          <dt>desired</dt>
          <dd data-testid="node-config-desired" data-hash={data.desired?.hash ?? ''}>
            {data.desired === null ? (
              'none: no repository file defines this node'
            ) : (
              <>
                commit <code>{short(data.desired.commit)}</code> · hash <code title={data.desired.hash}>{short(data.desired.hash)}</code>
              </>
            )}
          </dd>
          <dt>waiting for a restart</dt>
          <dd data-testid="pending-restart">
            {(data.reported?.pendingRestart.length ?? 0) === 0 ? (
              <span class="muted">nothing</span>
            ) : (
              data.reported?.pendingRestart.map((k) => (
                <code key={k} class="tag">
                  {k}
                </code>
              ))
            )}
          </dd>
          <dt>last rejection</dt>
          <dd data-testid="last-rejection">
            {rejection === null ? (
              <span class="muted">none</span>
            ) : (
              <>
                <span aria-hidden="true">✕ </span>
                {rejection.stage}: {rejection.error} <span class="muted">(hash {short(rejection.hash)},</span> <AgoMs at={rejection.at} />
                <span class="muted">)</span>
                {rejection.problems.length > 0 && (
                  <ul class="problems">
                    {rejection.problems.map((p) => (
                      <li key={`${p.path}${p.message}`}>
                        <code>{p.path}</code>: {p.message}
                      </li>
                    ))}
                  </ul>
                )}
              </>
            )}
          </dd>
        </dl>
      )}
    </section>
  );
}
