// The overview's list view: every site in one sortable, filterable table.

import { useState } from 'preact/hooks';
import { HealthBadge, reasonText, type Sort, SortHeader, StateBadge, useNow } from '../../components/ui.js';
import { HEALTH_RANK, type SiteRow } from '../../derive.js';
import { formatAge, formatDuration } from '../../format.js';
import { siteHref } from '../../router.js';
import type { NodeStateName } from '../../types.js';

type Key = 'health' | 'name' | 'online' | 'worst' | 'heard' | 'alerts' | 'backlog';

const STATE_RANK: Record<NodeStateName, number> = { online: 0, unknown: 1, stale: 2, offline: 3 };

function sortValue(r: SiteRow, k: Key): number | string {
  switch (k) {
    case 'health':
      return HEALTH_RANK[r.health];
    case 'name':
      return r.name.toLowerCase();
    case 'online':
      return r.total === 0 ? 1 : r.counts.online / r.total;
    case 'worst':
      return STATE_RANK[r.worst];
    case 'heard':
      return r.lastHeardAgeMs ?? Number.POSITIVE_INFINITY;
    case 'alerts':
      return r.openAlerts;
    case 'backlog':
      return r.backlogAgeMs ?? -1;
  }
}

export function matchesFilter(r: SiteRow, q: string): boolean {
  if (q === '') return true;
  const text = `${r.site} ${r.name} ${r.health} ${r.worst} ${r.address ?? ''} ${r.zones.map((z) => z.name).join(' ')}`.toLowerCase();
  return q
    .toLowerCase()
    .split(/\s+/)
    .every((w) => text.includes(w));
}

export function SitesTable({ rows, filter }: { rows: readonly SiteRow[]; filter: string }) {
  useNow();
  const [sort, setSort] = useState<Sort<Key>>({ key: 'health', dir: -1 });
  const shown = rows
    .filter((r) => matchesFilter(r, filter))
    .sort((a, b) => {
      const va = sortValue(a, sort.key);
      const vb = sortValue(b, sort.key);
      return (va < vb ? -1 : va > vb ? 1 : 0) * sort.dir || a.name.localeCompare(b.name);
    });
  return (
    <table class="grid sites" data-testid="sites-table">
      <thead>
        <tr>
          <SortHeader label="health" k="health" sort={sort} onSort={setSort} />
          <SortHeader label="site" k="name" sort={sort} onSort={setSort} />
          <SortHeader label="nodes online" k="online" sort={sort} onSort={setSort} num />
          <SortHeader label="worst node" k="worst" sort={sort} onSort={setSort} />
          <SortHeader label="last heard" k="heard" sort={sort} onSort={setSort} />
          <SortHeader label="open alerts" k="alerts" sort={sort} onSort={setSort} num />
          <SortHeader label="oldest backlog" k="backlog" sort={sort} onSort={setSort} />
        </tr>
      </thead>
      <tbody>
        {shown.map((r) => (
          <tr key={r.site} data-site={r.site} data-health={r.health}>
            <td>
              <HealthBadge health={r.health} />
            </td>
            <td>
              <a href={siteHref(r.site)}>{r.name}</a>
              {r.reasons.length > 0 && <div class="sub">{r.reasons.map((x) => reasonText(x.text)).join(' · ')}</div>}
            </td>
            <td class="num">
              {r.counts.online}/{r.total}
            </td>
            <td>
              <StateBadge state={r.worst} />
            </td>
            <td class="age">{formatAge(r.lastHeardAgeMs)}</td>
            <td class="num">{r.openAlerts > 0 ? <strong>{r.openAlerts}</strong> : <span class="muted">0</span>}</td>
            <td class="age">{r.backlogAgeMs === null ? <span class="muted">none</span> : formatDuration(r.backlogAgeMs)}</td>
          </tr>
        ))}
        {shown.length === 0 && (
          <tr>
            <td colSpan={7} class="empty">
              {rows.length === 0 ? 'No site has reported yet.' : `No site matches "${filter}".`}
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}
