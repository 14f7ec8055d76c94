// Registrations (#/registrations, admins): nodes waiting for approval and rejected ones, with their facts;
// Approve / Reject after a confirmation; Approve's dialog lets the admin assign another site and zone
// (prefilled with what the node announced, the fleet's sites and zones offered). docs/registration.md,
// docs/console.md "Registrations".

import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api.js';
import { ConfirmDialog, type ConfirmRequest } from '../../components/confirm-dialog.js';
import { Age, Empty, ErrorLine } from '../../components/ui.js';
import { hasRole } from '../../roles.js';
import { useStore } from '../../store.js';
import {
  approvalText,
  assignmentOf,
  decide,
  iso,
  type RegistrationInfo,
  type RegistrationListInfo,
  useRegistrations,
  waitingText,
} from './registrations-data.js';

/**
 * The site and zone fields of the Approve dialog (uncontrolled: read when the admin confirms); the fleet's sites
 * and zones are fetched when the dialog opens, so a node that came online meanwhile is offered too.
 */
function AssignFields(props: {
  r: RegistrationInfo;
  known: RegistrationListInfo['known'];
  site: { current: HTMLInputElement | null };
  zone: { current: HTMLInputElement | null };
}) {
  const [known, setKnown] = useState(props.known);
  useEffect(() => {
    api
      .get<{ data: RegistrationListInfo }>('/api/v1/registrations')
      .then((r) => setKnown(r.data.known))
      .catch(() => {});
  }, []);
  const sites = [...new Set([props.r.site, ...(known?.sites ?? [])])].sort();
  const zones = [...new Set([...(props.r.zone === null ? [] : [props.r.zone]), ...(known?.zones ?? [])])].sort();
  return (
    <>
      <label class="field">
        site
        <input
          ref={props.site}
          defaultValue={props.r.site}
          list="registration-known-sites"
          autocomplete="off"
          spellcheck={false}
          data-testid="registration-assign-site"
        />
      </label>
      <datalist id="registration-known-sites">
        {sites.map((x) => (
          <option key={x} value={x} />
        ))}
      </datalist>
      <label class="field">
        zone
        <input
          ref={props.zone}
          defaultValue={props.r.zone ?? ''}
          list="registration-known-zones"
          autocomplete="off"
          spellcheck={false}
          data-testid="registration-assign-zone"
        />
      </label>
      <datalist id="registration-known-zones">
        {zones.map((x) => (
          <option key={x} value={x} />
        ))}
      </datalist>
    </>
  );
}

export function RegistrationsPage() {
  const s = useStore();
  const admin = hasRole(s.me, 'admin');
  const { list, error, reload } = useRegistrations(admin);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const siteInput = useRef<HTMLInputElement>(null);
  const zoneInput = useRef<HTMLInputElement>(null);
  if (s.me !== null && !admin)
    return (
      <section>
        <h1>Registrations</h1>
        <p class="error-line">Node registrations are for admins; you are {s.me.role}.</p>
      </section>
    );
  const ask = (r: RegistrationInfo, verb: 'approve' | 'reject') => {
    const name = `${r.site}/${r.node}`;
    setConfirm({
      title: verb === 'approve' ? `Approve ${name}?` : `Reject ${name}?`,
      body:
        verb === 'approve' ? (
          <>
            The hub admits {name} and stores what its outbox kept while it waited. It announced site {r.site}, zone {r.zone ?? 'unknown'}:
            keep them, or assign others, and the node restarts under them.
            <AssignFields r={r} known={list?.known} site={siteInput} zone={zoneInput} />
          </>
        ) : (
          `The hub keeps ignoring ${name}: nothing it sends is stored or acknowledged until it is approved.`
        ),
      confirm: verb === 'approve' ? 'Approve' : 'Reject',
      danger: verb === 'reject',
      run: async () => {
        const assignment =
          verb === 'approve' ? assignmentOf(r, siteInput.current?.value ?? r.site, zoneInput.current?.value ?? r.zone ?? '') : undefined;
        const d = await decide(r.site, r.node, verb, assignment);
        setResult(verb === 'reject' ? `${name} rejected.` : approvalText(d));
        await reload();
      },
    });
  };
  const rows = list?.registrations ?? [];
  return (
    <div class="registrations-page" data-testid="registrations-page">
      <div class="title-row">
        <h1>Registrations</h1>
      </div>
      <ErrorLine error={error} />
      {list !== null && list.mode === 'open' && (
        <p class="muted" data-testid="registrations-open">
          <code>registration.mode</code> is <code>open</code>: the hub admits every node that announces itself. Set{' '}
          <code>
            registration: {'{'}mode: approve{'}'}
          </code>{' '}
          in hub.yaml to approve nodes here.
        </p>
      )}
      {list !== null && list.mode === 'approve' && (
        <p data-testid="registrations-summary">
          {waitingText(list) ?? 'No node waiting for approval'}; {list.approved} approved by an admin or grandfathered. Nodes the
          configuration repository defines are admitted without approval.
        </p>
      )}
      {result !== null && (
        <p class="muted" data-testid="registration-result" role="status">
          {result}
        </p>
      )}
      {list !== null && list.mode === 'approve' && rows.length === 0 && error === null ? (
        <Empty>No pending or rejected node.</Empty>
      ) : rows.length > 0 ? (
        <table class="grid" data-testid="registrations-table">
          <thead>
            <tr>
              <th>node</th>
              <th>status</th>
              <th>zone</th>
              <th>agent</th>
              <th>booted</th>
              <th>config</th>
              <th>first seen</th>
              <th>last seen</th>
              <th class="num">births</th>
              <th class="num">frames ignored</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={`${r.site}/${r.node}`} data-registration={`${r.site}/${r.node}`} data-status={r.status}>
                <td>
                  <strong>{r.node}</strong> <span class="muted">{r.site}</span>
                </td>
                <td class={`result ${r.status === 'rejected' ? 'failed' : ''}`}>
                  {r.status}
                  {r.status === 'rejected' && r.decidedBy !== null && <span class="muted"> by {r.decidedBy}</span>}
                </td>
                <td>{r.zone ?? '–'}</td>
                <td>{r.agentVersion ?? '–'}</td>
                <td>{r.bootTime === null ? '–' : <Age time={iso(r.bootTime)} />}</td>
                <td>{r.configVersion === null || r.configVersion === '' ? '–' : <code>{r.configVersion.slice(0, 12)}</code>}</td>
                <td>
                  <Age time={iso(r.firstSeen)} />
                </td>
                <td>
                  <Age time={iso(r.lastSeen)} />
                </td>
                <td class="num">{r.births}</td>
                <td class="num">{r.framesIgnored}</td>
                <td class="row-actions">
                  <button type="button" class="primary" data-testid="registration-approve" onClick={() => ask(r, 'approve')}>
                    Approve
                  </button>
                  {r.status === 'pending' && (
                    <button type="button" data-testid="registration-reject" onClick={() => ask(r, 'reject')}>
                      Reject
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </div>
  );
}
