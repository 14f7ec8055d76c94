// "Is everything OK?": one sentence, a line per zone concern (fire, pumps running, no majority), then
// sites by health, nodes by state and alerts by state, each a count, a share and a bar, with the state
// word beside every colour.

import { reasonText, Since } from '../../components/ui.js';
import { HEALTH_RANK, type SiteRow } from '../../derive.js';
import { plural } from '../../format.js';
import { siteHref, zoneHref } from '../../router.js';
import type { OverviewInfo, ZoneSummary } from '../../types.js';
import { zoneLabel, zoneLines } from '../../zone-derive.js';

/** Sites named under the headline with their reasons; the rest are one click away. */
const WORST_SHOWN = 4;

function Bar({ parts }: { parts: ReadonlyArray<{ cls: string; n: number }> }) {
  const total = parts.reduce((t, p) => t + p.n, 0);
  return (
    <div class="bar" aria-hidden="true">
      {total > 0 && parts.map((p) => p.n > 0 && <span key={p.cls} class={`bar-${p.cls}`} style={{ flexGrow: p.n }} />)}
    </div>
  );
}

function Figure(props: { id: string; cls: string; icon: string; n: number; label: string; total?: number; href?: string }) {
  const share = props.total !== undefined && props.total > 0 ? Math.round((props.n / props.total) * 100) : null;
  const body = (
    <>
      <span class={`fig-n ${props.n === 0 ? 'zero' : ''}`} data-testid={props.id}>
        {props.n}
      </span>
      <span class="fig-label">
        <span class={`fig-icon ${props.cls}`} aria-hidden="true">
          {props.icon}
        </span>{' '}
        {props.label}
        {share !== null && <span class="fig-share"> {share}%</span>}
      </span>
    </>
  );
  return props.href !== undefined ? (
    <a class="fig" href={props.href}>
      {body}
    </a>
  ) : (
    <div class="fig">{body}</div>
  );
}

export function headline(f: OverviewInfo, rows: readonly SiteRow[]): { tone: 'green' | 'warn' | 'error'; text: string } {
  if (rows.length === 0) return { tone: 'warn', text: 'No site has reported yet' };
  const bad = f.sites.error;
  const warn = f.sites.warn;
  if (bad > 0) return { tone: 'error', text: `${plural(bad, 'site')} in error${warn > 0 ? `, ${warn} with warnings` : ''}` };
  if (warn > 0) return { tone: 'warn', text: `${plural(warn, 'site')} with warnings; the other ${f.sites.green} OK` };
  return { tone: 'green', text: `All ${plural(f.sites.total, 'site')} OK` };
}

/** Zones that need a look (fire, pumps running, no majority), each zone a link to its page. */
function ZoneLines({ zones }: { zones: readonly ZoneSummary[] }) {
  const lines = zoneLines(zones);
  if (lines.length === 0) return null;
  return (
    <ul class="zone-lines" data-testid="zone-lines">
      {lines.map((l) => (
        <li key={l.lead} class={`mark-line ${l.tone}`} data-line={l.kind}>
          <span aria-hidden="true">{l.icon} </span>
          {l.lead}{' '}
          {l.zones.map((z, i) => (
            <span key={z.zone}>
              {i > 0 && (i === l.zones.length - 1 ? ' and ' : ', ')}
              <a href={zoneHref(z.zone)}>{zoneLabel(z)}</a>
            </span>
          ))}
        </li>
      ))}
    </ul>
  );
}

export function HealthPanel({ f, rows, zones = [] }: { f: OverviewInfo; rows: readonly SiteRow[]; zones?: readonly ZoneSummary[] }) {
  const h = headline(f, rows);
  const worst = rows
    .filter((r) => r.health !== 'green')
    .sort((a, b) => HEALTH_RANK[b.health] - HEALTH_RANK[a.health] || a.name.localeCompare(b.name))
    .slice(0, WORST_SHOWN);
  return (
    <section class="health-panel" data-testid="health-panel" aria-label="fleet health">
      <p class={`headline ${h.tone}`} data-testid="headline">
        <span aria-hidden="true">{h.tone === 'green' ? '✓' : h.tone === 'warn' ? '▲' : '✕'}</span> {h.text}
      </p>
      <ZoneLines zones={zones} />
      {worst.length > 0 && (
        <ul class="worst" data-testid="worst-sites">
          {worst.map((r) => (
            <li key={r.site} class={r.health}>
              <a href={siteHref(r.site)}>{r.name}</a>
              <span class="muted"> · </span>
              {r.reasons.slice(0, 2).map((x, i) => (
                <span key={`${x.code}/${x.node ?? ''}/${x.alert ?? ''}`}>
                  {i > 0 && ' · '}
                  {reasonText(x.text)}
                  {x.since !== null && (
                    <span class="muted">
                      {' '}
                      for <Since time={x.since} />
                    </span>
                  )}
                </span>
              ))}
              {r.reasons.length > 2 && <span class="muted"> · +{r.reasons.length - 2} more</span>}
            </li>
          ))}
        </ul>
      )}
      <div class="panel-groups">
        <div class="panel-group">
          <h2>
            Sites <span class="muted">{f.sites.total}</span>
          </h2>
          <div class="figs">
            <Figure id="health-sites-green" cls="green" icon="✓" n={f.sites.green} label="OK" total={f.sites.total} />
            <Figure id="health-sites-warn" cls="warn" icon="▲" n={f.sites.warn} label="warning" total={f.sites.total} />
            <Figure id="health-sites-error" cls="error" icon="✕" n={f.sites.error} label="error" total={f.sites.total} />
          </div>
          <Bar
            parts={[
              { cls: 'green', n: f.sites.green },
              { cls: 'warn', n: f.sites.warn },
              { cls: 'error', n: f.sites.error },
            ]}
          />
        </div>
        <div class="panel-group">
          <h2>
            Nodes <span class="muted">{f.nodes.total}</span>
          </h2>
          <div class="figs">
            <Figure id="health-nodes-online" cls="online" icon="●" n={f.nodes.online} label="online" total={f.nodes.total} />
            <Figure id="health-nodes-stale" cls="stale" icon="◐" n={f.nodes.stale} label="stale" />
            <Figure id="health-nodes-offline" cls="offline" icon="○" n={f.nodes.offline} label="offline" />
            <Figure id="health-nodes-unknown" cls="unknown" icon="?" n={f.nodes.unknown} label="unknown" />
          </div>
          <Bar
            parts={[
              { cls: 'online', n: f.nodes.online },
              { cls: 'stale', n: f.nodes.stale },
              { cls: 'offline', n: f.nodes.offline },
              { cls: 'unknown', n: f.nodes.unknown },
            ]}
          />
        </div>
        <div class="panel-group">
          <h2>Alerts</h2>
          <div class="figs">
            <Figure id="health-alerts-firing" cls="error" icon="✕" n={f.alerts.firing} label="firing" href="#/alerts" />
            <Figure id="health-alerts-pending" cls="warn" icon="…" n={f.alerts.pending} label="pending" href="#/alerts" />
            <Figure id="health-alerts-acknowledged" cls="muted" icon="✓" n={f.alerts.acknowledged} label="acked" />
            <Figure id="health-alerts-silenced" cls="muted" icon="⊘" n={f.alerts.silenced} label="silenced" />
            <Figure id="health-alerts-inhibited" cls="muted" icon="↧" n={f.alerts.inhibited} label="inhibited" />
          </div>
        </div>
      </div>
    </section>
  );
}
