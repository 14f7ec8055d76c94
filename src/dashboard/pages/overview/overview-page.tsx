// Overview (#/): the headline and health panel, the sites map (or the list), and the active alerts.

import { useEffect, useRef, useState } from 'preact/hooks';
import { AlertsTable } from '../../components/alerts-table.js';
import { Empty, HealthBadge, reasonText, useNow } from '../../components/ui.js';
import { fleetFigures, HEALTH_RANK, siteRows } from '../../derive.js';
import { formatAge } from '../../format.js';
import { hasRole } from '../../roles.js';
import { siteHref } from '../../router.js';
import { useStore } from '../../store.js';
import { RegistrationsPanel } from '../registrations/registrations-panel.js';
import { HealthPanel } from './health-panel.js';
import { SiteMap } from './site-map.js';
import { matchesFilter, SitesTable } from './sites-table.js';

/** "/" focuses the page's filter box, as in most consoles. */
export function useSlashFocus(ref: { current: HTMLInputElement | null }): void {
  useEffect(() => {
    const on = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.key !== '/' || e.ctrlKey || e.metaKey || t.matches('input, textarea, select')) return;
      e.preventDefault();
      ref.current?.focus();
    };
    addEventListener('keydown', on);
    return () => removeEventListener('keydown', on);
  }, [ref]);
}

export function OverviewPage({ view }: { view: 'map' | 'list' }) {
  const s = useStore();
  useNow();
  const [filter, setFilter] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useSlashFocus(input);
  const rows = siteRows(s);
  const figures = fleetFigures(s, rows);
  const alerts = [...s.alerts.values()];
  const unplaced = rows
    .filter((r) => r.lat === null || r.lon === null)
    .filter((r) => matchesFilter(r, filter))
    .sort((a, b) => HEALTH_RANK[b.health] - HEALTH_RANK[a.health] || a.name.localeCompare(b.name));
  return (
    <div class="overview">
      <RegistrationsPanel />
      <HealthPanel f={figures} rows={rows} zones={[...s.zones.values()]} />
      <section class="sites-section" aria-label="sites">
        <div class="section-head">
          <h2>Sites</h2>
          <div class="seg">
            <a href="#/" aria-current={view === 'map' ? 'true' : undefined} data-testid="view-map">
              Map
            </a>
            <a href="#/?view=list" aria-current={view === 'list' ? 'true' : undefined} data-testid="view-list">
              List
            </a>
          </div>
          <input
            ref={input}
            type="search"
            class="filter"
            placeholder="Filter sites  ( / )"
            aria-label="filter sites"
            data-testid="site-filter"
            value={filter}
            onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
          />
        </div>
        {view === 'list' ? (
          <SitesTable rows={rows} filter={filter} />
        ) : (
          <div class="map-layout">
            <div class="map-box">
              <SiteMap rows={rows.filter((r) => matchesFilter(r, filter))} config={s.console} />
              <p class="legend" aria-hidden="true">
                <span class="health green">● OK</span> <span class="health warn">▲ warning</span> <span class="health error">◆ error</span>
              </p>
            </div>
            {unplaced.length > 0 && (
              <aside class="unplaced" aria-label="sites without coordinates">
                <h3>{rows.every((r) => r.lat === null) ? 'Sites' : 'Not on the map (no coordinates)'}</h3>
                <ul>
                  {unplaced.map((r) => (
                    <li key={r.site} data-testid="site-tile" data-site={r.site} data-health={r.health} class={`tile ${r.health}`}>
                      <a href={siteHref(r.site)}>
                        <span class="tile-name">{r.name}</span>
                        <HealthBadge health={r.health} />
                        <span class="tile-meta">
                          {r.counts.online}/{r.total} online · heard {formatAge(r.lastHeardAgeMs)}
                          {r.openAlerts > 0 ? ` · ${r.openAlerts} alerts` : ''}
                        </span>
                        {r.reasons.length > 0 && <span class="tile-reasons">{r.reasons.map((x) => reasonText(x.text)).join(' · ')}</span>}
                      </a>
                    </li>
                  ))}
                </ul>
              </aside>
            )}
          </div>
        )}
      </section>
      <section aria-label="active alerts">
        <div class="section-head">
          <h2>Active alerts</h2>
          <a href="#/alerts" class="muted">
            all alerts, silences and rules →
          </a>
        </div>
        {alerts.length === 0 ? (
          <Empty>
            <span aria-hidden="true">✓ </span>No alert is pending or firing.
          </Empty>
        ) : (
          <AlertsTable alerts={alerts} canAct={hasRole(s.me, 'operator')} limit={12} />
        )}
      </section>
    </div>
  );
}
