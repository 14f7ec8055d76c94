// A table of alerts: severity, name, where, state, how long, who acknowledged, what mutes it (silenced,
// inhibited by another alert); ack and silence buttons for operators. Used by the overview, the site page and the alerts page.

import { useState } from 'preact/hooks';
import { compareAlerts, inhibitorNames, severityOf } from '../derive.js';
import { nodeHref, siteHref } from '../router.js';
import { store } from '../store.js';
import type { AlertInfo } from '../types.js';
import { type AlertDialog, AlertDialogs } from './alert-dialogs.js';
import { Since } from './ui.js';

const SEV_ICON: Record<string, string> = { critical: '✕', page: '✕', error: '✕', warning: '▲', info: 'i' };

export function SeverityBadge({ severity }: { severity: string }) {
  return (
    <span class={`sev sev-${severity}`}>
      <span aria-hidden="true">{SEV_ICON[severity] ?? '•'}</span> {severity}
    </span>
  );
}

export function AlertStateBadge({ alert }: { alert: AlertInfo }) {
  return (
    <span class={`astate ${alert.state}`}>
      {alert.state}
      {alert.silenced && <span class="tag">silenced</span>}
      {alert.inhibited && (
        <span
          class="tag"
          data-testid="inhibited"
          title={`inhibited by ${alert.inhibitedBy.join(', ')}: notifies nobody while that alert fires`}
        >
          inhibited by {inhibitorNames(alert, store.alerts).join(', ')}
        </span>
      )}
      {alert.ack !== null && (
        <span class="tag" title={`acknowledged by ${alert.ack.by}${alert.ack.comment ? `: ${alert.ack.comment}` : ''}`}>
          ack {alert.ack.by}
        </span>
      )}
    </span>
  );
}

export function AlertsTable(props: { alerts: readonly AlertInfo[]; canAct: boolean; showSite?: boolean; limit?: number }) {
  const [dialog, setDialog] = useState<AlertDialog>(null);
  const sorted = [...props.alerts].sort(compareAlerts);
  const shown = props.limit === undefined ? sorted : sorted.slice(0, props.limit);
  return (
    <>
      <table class="grid alerts" data-testid="alerts-table">
        <thead>
          <tr>
            <th>severity</th>
            <th>alert</th>
            {props.showSite !== false && <th>where</th>}
            <th>state</th>
            <th>for</th>
            {props.canAct && (
              <th>
                <span class="sr-only">actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {shown.map((a) => {
            const name = a.labels.alertname ?? a.rule ?? 'alert';
            const summary = a.annotations.summary ?? a.annotations.description;
            const { site, node } = a.labels;
            return (
              <tr
                key={a.fingerprint}
                data-alert={name}
                data-state={a.state}
                data-fingerprint={a.fingerprint}
                class={a.silenced || a.inhibited ? 'quiet' : undefined}
              >
                <td>
                  <SeverityBadge severity={severityOf(a)} />
                </td>
                <td>
                  <strong>{name}</strong>
                  {summary !== undefined && <div class="sub">{summary}</div>}
                </td>
                {props.showSite !== false && (
                  <td>
                    {site !== undefined ? <a href={siteHref(site)}>{site}</a> : '–'}
                    {site !== undefined && node !== undefined && (
                      <>
                        {' / '}
                        <a href={nodeHref(site, node)}>{node}</a>
                      </>
                    )}
                  </td>
                )}
                <td>
                  <AlertStateBadge alert={a} />
                </td>
                <td class="age">
                  {a.state === 'firing' ? (
                    <>
                      firing <Since time={a.firedAt ?? a.activeAt} />
                    </>
                  ) : a.state === 'pending' ? (
                    <>
                      pending <Since time={a.activeAt} />
                    </>
                  ) : (
                    <>resolved</>
                  )}
                </td>
                {props.canAct && (
                  <td class="row-actions">
                    {a.ack === null && a.state !== 'resolved' && (
                      <button type="button" class="small" data-testid="ack" onClick={() => setDialog({ kind: 'ack', alert: a })}>
                        Ack
                      </button>
                    )}
                    {!a.silenced && a.state !== 'resolved' && (
                      <button type="button" class="small" data-testid="silence" onClick={() => setDialog({ kind: 'silence', alert: a })}>
                        Silence
                      </button>
                    )}
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      {props.limit !== undefined && sorted.length > props.limit && (
        <p class="more">
          <a href="#/alerts">all {sorted.length} alerts →</a>
        </p>
      )}
      {props.canAct && <AlertDialogs dialog={dialog} onClose={() => setDialog(null)} />}
    </>
  );
}
