// Node (#/nodes/:site/:node): facts (state and since, versions, uptime, backlog), live critical values,
// charts per critical series with a range picker, any other series from the node's own store, and Ping;
// its services and its configuration (node-services-panel.tsx, node-config-panel.tsx).

import { useEffect, useState } from 'preact/hooks';
import { withoutTargetLabels } from '../../../protocol/prometheus/target-labels.js';
import { api, describeError, seg } from '../../api.js';
import { AlertsTable } from '../../components/alerts-table.js';
import { Age, Empty, ErrorLine, StateBadge, useNow } from '../../components/ui.js';
import { formatBytes, formatCount, formatDuration, formatTime, formatValue } from '../../format.js';
import { hasRole } from '../../roles.js';
import { siteHref } from '../../router.js';
import { ageOf, applyNodes, hubNow, nodeKey, useStore } from '../../store.js';
import type { NodeInfo, PingResult } from '../../types.js';
import { NodeChart, RANGES, type RangeId, type SeriesRef, type Source } from './node-chart.js';
import { NodeConfigPanel } from './node-config-panel.js';
import { NodeServicesPanel } from './node-services-panel.js';

function labelText(labels: Readonly<Record<string, string>>): string {
  const e = Object.entries(labels);
  return e.length === 0 ? '' : `{${e.map(([k, v]) => `${k}="${v}"`).join(', ')}}`;
}

function PingButton({ site, node }: { site: string; node: string }) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const ping = async () => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const r = await api.post<PingResult>(`/api/v1/nodes/${seg(site)}/${seg(node)}/ping`);
      setResult(
        `answered in ${Math.round(r.rttMs)} ms${r.agentVersion ? ` · agent ${r.agentVersion}` : ''}${
          r.uptimeMs != null ? ` · up ${formatDuration(r.uptimeMs)}` : ''
        }${r.epoch != null ? ` · epoch ${r.epoch}` : ''}`,
      );
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="ping">
      <button type="button" onClick={ping} disabled={busy} data-testid="ping">
        {busy ? 'Pinging…' : 'Ping'}
      </button>
      {result !== null && (
        <span class="ok-line" data-testid="ping-result" role="status">
          ✓ {result}
        </span>
      )}
      {error !== null && (
        <span class="error-line inline" role="alert" data-testid="ping-error">
          ✕ {error}
        </span>
      )}
    </span>
  );
}

function uptime(n: NodeInfo): string {
  if (n.bootTime != null) return formatDuration(ageOf(n.bootTime));
  if (n.uptimeMs != null) return formatDuration(n.uptimeMs);
  return '–';
}

/** The node's other series, listed by its own store through the hub (on demand: it costs the node's link). */
function NodeSeriesPicker(props: { site: string; node: string; critical: readonly SeriesRef[]; onPick: (s: SeriesRef) => void }) {
  const [list, setList] = useState<SeriesRef[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const load = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.get<{ data: Array<Record<string, string>> }>(`/api/v1/nodes/${seg(props.site)}/${seg(props.node)}/series`);
      const crit = new Set(props.critical.map((c) => `${c.name}${labelText(c.labels)}`));
      setList(
        (r.data ?? [])
          .map((m) => {
            const { __name__: name = '?', ...labels } = m;
            return { name, labels: withoutTargetLabels(labels, ['site', 'node', 'zone']), unit: '' };
          })
          .filter((s) => !crit.has(`${s.name}${labelText(s.labels)}`))
          .sort((a, b) => a.name.localeCompare(b.name)),
      );
    } catch (err) {
      const e = err as { status?: number };
      setError(
        e.status === 409 || e.status === 503
          ? 'node offline: its own history is unreachable until it reconnects'
          : e.status === 504
            ? 'the node did not answer in time'
            : describeError(err),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="series-picker">
      {list === null ? (
        <button type="button" onClick={load} disabled={busy} data-testid="load-node-series">
          {busy ? 'Asking the node…' : 'More series from the node’s own store…'}
        </button>
      ) : list.length === 0 ? (
        <p class="muted">The node keeps no other series.</p>
      ) : (
        <label class="field">
          Chart another series{' '}
          <select
            data-testid="node-series"
            onChange={(e) => {
              const i = Number((e.target as HTMLSelectElement).value);
              const s = list[i];
              if (s !== undefined) props.onPick(s);
            }}
          >
            <option value="">choose ({list.length})</option>
            {list.map((s, i) => (
              <option key={`${s.name}${labelText(s.labels)}`} value={i}>
                {s.name}
                {labelText(s.labels)}
              </option>
            ))}
          </select>
        </label>
      )}
      {error !== null && (
        <p class="error-line" role="alert" data-testid="node-store-error">
          ✕ {error}
        </p>
      )}
    </div>
  );
}

export function NodePage({ site, node }: { site: string; node: string }) {
  const s = useStore();
  useNow();
  const [range, setRange] = useState<RangeId>('1h');
  const [sources, setSources] = useState<Record<string, Source>>({});
  const [extra, setExtra] = useState<SeriesRef[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);
  const key = nodeKey(site, node);
  const n = s.nodes.get(key);

  useEffect(() => {
    api.get<NodeInfo>(`/api/v1/nodes/${seg(site)}/${seg(node)}`).then(
      (v) => applyNodes([v], false),
      (err: unknown) => setLoadError(describeError(err)),
    );
  }, [site, node]);

  if (n === undefined)
    return (
      <section>
        <p class="crumbs">
          <a href="#/">Overview</a> › <a href={siteHref(site)}>{site}</a> ›
        </p>
        <h1>{node}</h1>
        {loadError !== null ? <ErrorLine error={loadError} /> : <p class="muted">Loading…</p>}
      </section>
    );

  const values = n.values ?? [];
  const critical: SeriesRef[] = values.map((v) => ({ name: v.name, labels: v.labels, unit: v.unit }));
  const alerts = [...s.alerts.values()].filter((a) => a.labels.site === site && a.labels.node === node);
  const seriesKey = (x: SeriesRef) => `${x.name}${labelText(x.labels)}`;
  const sourceOf = (x: SeriesRef): Source => sources[seriesKey(x)] ?? 'hub';
  return (
    <div class="node-page" data-node={key}>
      <p class="crumbs">
        <a href="#/">Overview</a> › <a href={siteHref(site)}>{site}</a> › node
      </p>
      <div class="title-row">
        <h1>{node}</h1>
        <StateBadge state={n.state} certificate={n.certificate} />
        <span class="muted">
          {n.since !== null ? (
            <>
              since {formatTime(n.since)} (<Age time={n.since} prefix="" />)
            </>
          ) : null}
        </span>
        <span class="spacer" />
        {hasRole(s.me, 'operator') && <PingButton site={site} node={node} />}
      </div>
      <dl class="facts wide" data-testid="node-facts">
        <dt>last heard</dt>
        <dd>
          <Age time={n.lastHeard} />
        </dd>
        <dt>zone</dt>
        <dd>{n.zone}</dd>
        <dt>agent version</dt>
        <dd>{n.agentVersion ?? '–'}</dd>
        <dt>booted</dt>
        <dd>{n.bootTime != null ? `${formatTime(n.bootTime)} (up ${uptime(n)})` : n.uptimeMs != null ? `up ${uptime(n)}` : '–'}</dd>
        <dt>config version</dt>
        <dd>{n.configVersion ?? '–'}</dd>
        <dt>epoch</dt>
        <dd>{n.epoch ?? '–'}</dd>
        <dt>heartbeat</dt>
        <dd>{n.heartbeatMs === null ? '–' : `every ${formatDuration(n.heartbeatMs)}`}</dd>
        <dt>backlog</dt>
        <dd>
          {n.backlogRows == null
            ? 'not reported'
            : n.backlogRows === 0
              ? 'none: everything sent'
              : `${formatCount(n.backlogRows)} rows, ${formatBytes(n.backlogBytes)}`}
          {n.backlogOldest != null && n.backlogRows !== 0 && (
            <>
              , oldest <Age time={n.backlogOldest} />
            </>
          )}
        </dd>
        <dt>series</dt>
        <dd>{n.series}</dd>
      </dl>

      <section aria-label="live values">
        <h2>Critical values</h2>
        {values.length === 0 ? (
          <Empty>No critical value received yet.</Empty>
        ) : (
          <table class="grid values" data-testid="values-table">
            <thead>
              <tr>
                <th>series</th>
                <th class="num">value</th>
                <th>age</th>
              </tr>
            </thead>
            <tbody>
              {values.map((v) => {
                const age = ageOf(v.time) ?? v.ageMs;
                return (
                  <tr key={seriesKey(v)} data-series={v.name}>
                    <td>
                      {v.name}
                      <span class="muted">{labelText(v.labels)}</span>
                    </td>
                    <td class="num value">{formatValue(v.value, v.unit)}</td>
                    <td class={n.heartbeatMs !== null && age > 3 * n.heartbeatMs ? 'age old' : 'age'}>{formatDuration(age)} ago</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>

      <NodeServicesPanel site={site} node={node} values={values} />
      <NodeConfigPanel site={site} node={node} />

      <section aria-label="history">
        <div class="section-head">
          <h2>History</h2>
          <div class="seg" data-testid="range-picker">
            {RANGES.map((r) => (
              <button key={r.id} type="button" aria-pressed={range === r.id} onClick={() => setRange(r.id)}>
                {r.id}
              </button>
            ))}
          </div>
        </div>
        <p class="muted small">
          Critical series come from the hub’s store and grow live; anything else, or older than the hub keeps, comes from the node’s own
          store over its link (only while it is online).
        </p>
        <div class="charts">
          {[...critical, ...extra].map((x, i) => (
            <div key={seriesKey(x)}>
              <NodeChart
                site={site}
                node={node}
                zone={n.zone}
                series={x}
                range={range}
                source={i >= critical.length ? 'node' : sourceOf(x)}
                onAskNode={() => setSources({ ...sources, [seriesKey(x)]: 'node' })}
              />
              {i < critical.length && sourceOf(x) === 'node' && (
                <button type="button" class="link small" onClick={() => setSources({ ...sources, [seriesKey(x)]: 'hub' })}>
                  back to the hub’s store
                </button>
              )}
            </div>
          ))}
        </div>
        <NodeSeriesPicker
          site={site}
          node={node}
          critical={critical}
          onPick={(x) => setExtra((e) => (e.some((y) => seriesKey(y) === seriesKey(x)) ? e : [...e, x]))}
        />
      </section>

      <section aria-label="alerts of this node">
        <h2>Alerts</h2>
        {alerts.length === 0 ? (
          <Empty>
            <span aria-hidden="true">✓ </span>No alert is pending or firing for this node.
          </Empty>
        ) : (
          <AlertsTable alerts={alerts} canAct={hasRole(s.me, 'operator')} showSite={false} />
        )}
      </section>
      <p class="muted small">Hub time {formatTime(new Date(hubNow()).toISOString())}</p>
    </div>
  );
}
