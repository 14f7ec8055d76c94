// Site (#/sites/:site): health with its reasons, zones, the consensus zones' panel, the nodes table
// (select nodes for a bulk action), each node's link to the hub, and the site's alerts.

import { useEffect, useState } from 'preact/hooks';
import { api, seg } from '../../api.js';
import { AlertsTable } from '../../components/alerts-table.js';
import { Age, Empty, HealthBadge, reasonText, Since, StateBadge, useNow } from '../../components/ui.js';
import { ZonesTable } from '../../components/zones-table.js';
import { siteRows } from '../../derive.js';
import { formatBytes, formatCount, formatDuration, plural } from '../../format.js';
import { hasRole } from '../../roles.js';
import { nodeHref } from '../../router.js';
import { ageOf, applyAlerts, applyNodes, changed, nodeKey, store, useStore } from '../../store.js';
import type { NodeInfo, SiteDetailView } from '../../types.js';
import { zonesOfSite } from '../../zone-derive.js';

/** Fetches the site's detail once (its nodes with values, its alerts); the feed keeps it fresh after. */
function useSiteDetail(site: string): void {
  useEffect(() => {
    api.get<SiteDetailView>(`/api/v1/sites/${seg(site)}`).then(
      (d) => {
        const { nodeViews, alerts, ...info } = d;
        applyNodes(nodeViews, false);
        applyAlerts(alerts, false);
        store.sites.set(site, info);
        changed();
      },
      // A site the hub does not know yet: the page says so from the store.
      () => {},
    );
  }, [site]);
}

function heartbeatRatio(n: NodeInfo): string {
  const age = ageOf(n.lastHeard);
  if (age === null || n.heartbeatMs === null || n.heartbeatMs <= 0) return '–';
  return `${(age / n.heartbeatMs).toFixed(1)}×`;
}

export function SitePage({ site }: { site: string }) {
  const s = useStore();
  useNow();
  useSiteDetail(site);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const row = siteRows(s).find((r) => r.site === site);
  if (row === undefined)
    return (
      <section>
        <p class="crumbs">
          <a href="#/">Overview</a> ›
        </p>
        <h1>{site}</h1>
        <Empty>This hub knows no site called "{site}" (yet). Nodes of a new site show up here when they first report.</Empty>
      </section>
    );
  const alerts = [...s.alerts.values()].filter((a) => a.labels.site === site);
  const consensusZones = zonesOfSite(s.zones.values(), site);
  const canAct = hasRole(s.me, 'operator');
  const allKeys = row.nodes.map((n) => nodeKey(n.site, n.node));
  const toggle = (key: string, on: boolean) => {
    const next = new Set(picked);
    if (on) next.add(key);
    else next.delete(key);
    setPicked(next);
  };
  const actionHref =
    picked.size > 0 ? `#/actions?nodes=${encodeURIComponent([...picked].join(','))}` : `#/actions?sites=${encodeURIComponent(site)}`;
  return (
    <div class="site-page" data-site={site}>
      <p class="crumbs">
        <a href="#/">Overview</a> › site
      </p>
      <div class="title-row">
        <h1>{row.name}</h1>
        <HealthBadge health={row.health} />
        {row.address !== null && <span class="muted">{row.address}</span>}
        {row.lat !== null && row.lon !== null && (
          <span class="muted">
            {row.lat.toFixed(4)}, {row.lon.toFixed(4)}
          </span>
        )}
      </div>
      <section class="facts-row" aria-label="site health" data-testid="site-health">
        <div class="reasons">
          {row.reasons.length === 0 ? (
            <p class="ok-line">
              <span aria-hidden="true">✓ </span>Every node online, no alert firing.
            </p>
          ) : (
            <ul>
              {row.reasons.map((r) => (
                <li key={`${r.code}/${r.node ?? ''}/${r.alert ?? ''}`} data-reason={r.code} class={`reason ${r.level}`}>
                  <span aria-hidden="true">{r.level === 'error' ? '✕ ' : '▲ '}</span>
                  {reasonText(r.text)}
                  {r.since != null && (
                    <span class="muted">
                      {' '}
                      · for <Since time={r.since} />
                    </span>
                  )}
                </li>
              ))}
            </ul>
          )}
        </div>
        <dl class="facts">
          <dt>nodes online</dt>
          <dd>
            {row.counts.online}/{row.total}
          </dd>
          <dt>last heard</dt>
          <dd>{row.lastHeardAgeMs === null ? 'never' : `${formatDuration(row.lastHeardAgeMs)} ago`}</dd>
          <dt>open alerts</dt>
          <dd>{row.openAlerts}</dd>
          <dt>oldest backlog</dt>
          <dd>{row.backlogAgeMs === null ? 'none' : formatDuration(row.backlogAgeMs)}</dd>
          <dt>zones</dt>
          <dd>{row.zones.map((z) => `${z.name} (${z.nodes})`).join(', ') || '–'}</dd>
        </dl>
      </section>

      {consensusZones.length > 0 && (
        <section aria-label="zones" data-testid="site-zones">
          <h2>Zones</h2>
          <ZonesTable zones={consensusZones} />
        </section>
      )}

      <section aria-label="nodes">
        <div class="section-head">
          <h2>Nodes</h2>
          {canAct && (
            <a class="button" href={actionHref} data-testid="bulk-action">
              {picked.size > 0 ? `Act on ${plural(picked.size, 'selected node')}…` : 'Act on this site…'}
            </a>
          )}
        </div>
        <table class="grid nodes" data-testid="nodes-table">
          <thead>
            <tr>
              {canAct && (
                <th>
                  <input
                    type="checkbox"
                    aria-label="select all nodes"
                    checked={picked.size > 0 && picked.size === allKeys.length}
                    onChange={(e) => setPicked(new Set((e.target as HTMLInputElement).checked ? allKeys : []))}
                  />
                </th>
              )}
              <th>node</th>
              <th>state</th>
              <th>last heard</th>
              <th>zone</th>
              <th>version</th>
              <th class="num">backlog</th>
              <th class="num">series</th>
            </tr>
          </thead>
          <tbody>
            {row.nodes.map((n) => {
              const key = nodeKey(n.site, n.node);
              return (
                <tr key={key} data-node={key} data-state={n.state}>
                  {canAct && (
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`select ${n.node}`}
                        checked={picked.has(key)}
                        onChange={(e) => toggle(key, (e.target as HTMLInputElement).checked)}
                      />
                    </td>
                  )}
                  <td>
                    <a href={nodeHref(n.site, n.node)}>{n.node}</a>
                  </td>
                  <td>
                    <StateBadge state={n.state} certificate={n.certificate} />
                    {n.since !== null && (
                      <span class="sub-inline">
                        {' '}
                        for <Since time={n.since} />
                      </span>
                    )}
                  </td>
                  <td>
                    <Age time={n.lastHeard} />
                  </td>
                  <td>{n.zone}</td>
                  <td>{n.agentVersion ?? '–'}</td>
                  <td class="num">
                    {n.backlogRows === null || n.backlogRows === undefined ? (
                      <span class="muted">–</span>
                    ) : n.backlogRows === 0 ? (
                      <span class="muted">0</span>
                    ) : (
                      <>
                        {formatCount(n.backlogRows)} rows, <Age time={n.backlogOldest ?? null} prefix="oldest " />
                      </>
                    )}
                  </td>
                  <td class="num">{n.series}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>

      <section aria-label="links">
        <h2>Links to the hub</h2>
        <table class="grid links" data-testid="links-table">
          <thead>
            <tr>
              <th>link</th>
              <th>state</th>
              <th>last frame</th>
              <th class="num">heartbeat</th>
              <th class="num">silence / heartbeat</th>
              <th class="num">backlog bytes</th>
            </tr>
          </thead>
          <tbody>
            {row.nodes.map((n) => (
              <tr key={n.node} data-link={nodeKey(n.site, n.node)}>
                <td>
                  {n.node} <span class="muted">→ hub (MQTT)</span>
                </td>
                <td>
                  <StateBadge state={n.state} certificate={n.certificate} />
                </td>
                <td>
                  <Age time={n.lastHeard} />
                </td>
                <td class="num">{n.heartbeatMs === null ? '–' : formatDuration(n.heartbeatMs)}</td>
                <td class="num">{heartbeatRatio(n)}</td>
                <td class="num">{formatBytes(n.backlogBytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section aria-label="alerts of this site">
        <h2>Alerts</h2>
        {alerts.length === 0 ? (
          <Empty>
            <span aria-hidden="true">✓ </span>No alert is pending or firing at this site.
          </Empty>
        ) : (
          <AlertsTable alerts={alerts} canAct={canAct} showSite />
        )}
      </section>
    </div>
  );
}
