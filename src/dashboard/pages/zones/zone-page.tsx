// Zone (#/zones/:zone): is there a majority, is there a fire, what runs. The voters and their state, the
// epoch, recent detections, the hub's evaluation with its evidence, each decision with its evidence, a card
// per pump (state, cause, runtime against its limit, last start and stop with who or what), the pump
// history chart, the zone's alerts; operators get the pump buttons and a forced election, each confirmed.
// Loaded on demand with uPlot (like the node page).

import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError, seg } from '../../api.js';
import { ConfirmDialog, type ConfirmRequest } from '../../components/confirm-dialog.js';
import { Age, Empty, ErrorLine, Since, StateBadge, useNow } from '../../components/ui.js';
import { FireBadge, MajorityBadge, MarkBadge, PumpBadge } from '../../components/zone-marks.js';
import { formatNumber, formatTime, plural } from '../../format.js';
import { hasRole } from '../../roles.js';
import { nodeHref, siteHref } from '../../router.js';
import { hubNow, onZoneMessage, store, useStore } from '../../store.js';
import type { HubZoneView, PumpActionName, ZonePumpInfo } from '../../types.js';
import { votersText } from '../../zone-derive.js';
import { ZoneChart } from './zone-chart.js';
import {
  actionBlocked,
  actionCopy,
  causeText,
  decisionEvidence,
  decisionMark,
  electCopy,
  evaluationText,
  historyKey,
  PUMP_ACTIONS,
  policyText,
  pumpRuntimeMs,
  runtimeText,
  runtimeTone,
  ZONE_RANGES,
  type ZoneRangeId,
} from './zone-view.js';

/** The detail is re-read this often while the page is open (a pump's last stop changes no summary). */
const DETAIL_POLL_MS = 5_000;
/** Live messages come in bursts during a fire: at most one detail read per this. */
const REFETCH_MIN_GAP_MS = 400;

interface Detail {
  readonly view: HubZoneView | null;
  /** The hub's clock when the answer came: runtimes tick from there. */
  readonly answeredAt: number;
  readonly error: string | null;
}

function useZoneDetail(zone: string): { detail: Detail; reload: () => void } {
  const [detail, setDetail] = useState<Detail>({ view: null, answeredAt: 0, error: null });
  const last = useRef({ fetchAt: 0, timer: undefined as ReturnType<typeof setTimeout> | undefined });
  const fetchRef = useRef<() => void>(() => {});

  useEffect(() => {
    let cancelled = false;
    const l = last.current;
    const read = () => {
      l.fetchAt = Date.now();
      api.get<{ data: HubZoneView }>(`/api/v1/zones/${seg(zone)}`).then(
        (r) => {
          if (!cancelled) setDetail({ view: r.data, answeredAt: hubNow(), error: null });
        },
        (err: unknown) => {
          if (!cancelled) setDetail((d) => ({ ...d, error: describeError(err) }));
        },
      );
    };
    const soon = () => {
      if (l.timer !== undefined) return;
      const wait = Math.max(0, l.fetchAt + REFETCH_MIN_GAP_MS - Date.now());
      l.timer = setTimeout(() => {
        l.timer = undefined;
        read();
      }, wait);
    };
    fetchRef.current = soon;
    read();
    const off = onZoneMessage((z) => {
      if (z.zone === zone) soon();
    });
    const poll = setInterval(() => {
      if (document.visibilityState === 'visible') soon();
    }, DETAIL_POLL_MS);
    return () => {
      cancelled = true;
      off();
      clearInterval(poll);
      if (l.timer !== undefined) clearTimeout(l.timer);
      l.timer = undefined;
    };
  }, [zone]);

  return { detail, reload: () => fetchRef.current() };
}

function DecisionBadge({ kind }: { kind: string }) {
  return <MarkBadge mark={decisionMark(kind)} state={kind} />;
}

/** The site of a voter, for its link: the zone's, else the node the store knows by that id. */
function siteOfNode(view: HubZoneView, node: string): string | null {
  if (view.site !== null) return view.site;
  for (const n of store.nodes.values()) if (n.node === node) return n.site;
  return null;
}

function NodeLink({ view, node }: { view: HubZoneView; node: string }) {
  const site = siteOfNode(view, node);
  return site === null ? <span>{node}</span> : <a href={nodeHref(site, node)}>{node}</a>;
}

function PumpCard(props: {
  view: HubZoneView;
  pump: ZonePumpInfo;
  answeredAt: number;
  canAct: boolean;
  onAction: (action: PumpActionName) => void;
  result: string | null;
}) {
  const { view, pump: p } = props;
  useNow();
  const runtime = pumpRuntimeMs(p, props.answeredAt, hubNow());
  const tone = runtimeTone(runtime, p.maxRuntimeSeconds);
  const over = p.overRuntime || tone.share >= 1;
  return (
    <article class={`pump-card ${p.state}`} data-testid="pump-card" data-pump={p.pump} data-state={p.state}>
      <header>
        <h3>{p.pump}</h3>
        <PumpBadge state={p.state} />
        {over && <MarkBadge mark={{ cls: 'error', icon: '▲', word: 'over its runtime limit' }} testid="over-runtime" />}
      </header>
      <dl class="facts">
        <dt>driven by</dt>
        <dd>
          <NodeLink view={view} node={p.owner} />
        </dd>
        <dt>cause</dt>
        <dd data-testid="pump-cause">{p.cause ?? '–'}</dd>
        <dt>{p.state === 'running' ? 'running for' : 'since'}</dt>
        <dd>{p.since === null ? '–' : p.state === 'running' ? <Since time={p.since} /> : <Age time={p.since} />}</dd>
        <dt>runtime</dt>
        <dd data-testid="pump-runtime">
          {runtimeText(runtime, p.maxRuntimeSeconds)}{' '}
          <span class="muted small">(at the limit: {p.atMaxRuntime === 'stop' ? 'stops' : 'keeps running, alerts'})</span>
        </dd>
        <dt>last start</dt>
        <dd data-testid="last-start">
          {p.lastStart === null ? (
            'never'
          ) : (
            <>
              <Age time={p.lastStart.at} /> · {causeText(p.lastStart.cause, p.lastStart.by)}
            </>
          )}
        </dd>
        <dt>last stop</dt>
        <dd data-testid="last-stop">
          {p.lastStop === null ? (
            'never'
          ) : (
            <>
              <Age time={p.lastStop.at} /> · {causeText(p.lastStop.reason, p.lastStop.by)}
            </>
          )}
        </dd>
      </dl>
      <div class={`runtime-bar ${tone.tone}`} role="img" aria-label={`runtime ${Math.round(tone.share * 100)} % of the limit`}>
        <span style={{ width: `${Math.min(100, tone.share * 100)}%` }} />
      </div>
      {props.canAct && (
        <div class="pump-actions" data-testid="pump-actions">
          {PUMP_ACTIONS.map((a) => {
            const copy = actionCopy(a, p.pump, view.zone, p.maxRuntimeSeconds);
            const blocked = actionBlocked(a, p.state);
            return (
              <button
                key={a}
                type="button"
                class={copy.danger ? 'primary danger small' : 'small'}
                data-testid={`pump-${a}`}
                disabled={blocked !== null}
                title={blocked ?? copy.title}
                onClick={() => props.onAction(a)}
              >
                {copy.label}
              </button>
            );
          })}
        </div>
      )}
      {props.result !== null && (
        <p class="ok-line small" role="status" data-testid="pump-result">
          ✓ {props.result}
        </p>
      )}
    </article>
  );
}

export function ZonePage({ zone }: { zone: string }) {
  const s = useStore();
  useNow();
  const { detail, reload } = useZoneDetail(zone);
  const [range, setRange] = useState<ZoneRangeId>('1h');
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [results, setResults] = useState<Record<string, string>>({});
  const [electResult, setElectResult] = useState<string | null>(null);
  const v = detail.view;
  const summary = s.zones.get(zone);
  const site = v?.site ?? summary?.site ?? null;

  const crumbs = (
    <p class="crumbs">
      <a href="#/">Overview</a> › {site !== null && <a href={siteHref(site)}>{site}</a>}
      {site !== null && ' › '}zone
    </p>
  );
  if (v === null)
    return (
      <section class="zone-page" data-zone={zone}>
        {crumbs}
        <h1>{zone}</h1>
        {detail.error !== null ? <ErrorLine error={detail.error} /> : <p class="muted">Loading…</p>}
      </section>
    );

  const canAct = hasRole(s.me, 'operator');
  const askPump = (pump: ZonePumpInfo, action: PumpActionName) => {
    const copy = actionCopy(action, pump.pump, v.zone, pump.maxRuntimeSeconds);
    setConfirm({
      title: copy.title,
      body: copy.body,
      confirm: copy.confirm,
      danger: copy.danger,
      run: async () => {
        const r = await api.post<{ data: { action: string; id: string; via: string } }>(
          `/api/v1/zones/${seg(v.zone)}/pumps/${seg(pump.pump)}/${action}`,
        );
        setResults((x) => ({
          ...x,
          [pump.pump]: `${copy.label} sent through ${r.data.via} (command ${r.data.id}); the pump's node carries it out`,
        }));
        reload();
      },
    });
  };
  const askElect = () => {
    const copy = electCopy(v);
    setConfirm({
      ...copy,
      danger: false,
      run: async () => {
        const r = await api.post<{ data: { via: string; epoch: number } }>(`/api/v1/zones/${seg(v.zone)}/elect`);
        setElectResult(`${r.data.via} elected epoch ${r.data.epoch}`);
        reload();
      },
    });
  };
  const onlineVoters = v.voters.filter((x) => x.state === 'online').length;
  return (
    <div class="zone-page" data-zone={zone} data-epoch={v.epoch}>
      {crumbs}
      <div class="title-row">
        <h1>{v.zone}</h1>
        <MajorityBadge visible={v.majorityVisible} />
        <FireBadge fire={v.fire} />
        <span class="muted" data-testid="epoch">
          epoch {v.epoch}
        </span>
        <span class="spacer" />
        {canAct && (
          <button type="button" onClick={askElect} data-testid="elect">
            Force election
          </button>
        )}
      </div>
      {electResult !== null && (
        <p class="ok-line" role="status" data-testid="elect-result">
          ✓ {electResult}
        </p>
      )}
      {detail.error !== null && <ErrorLine error={`could not refresh: ${detail.error}`} />}
      <dl class="facts wide" data-testid="zone-facts">
        <dt>voters</dt>
        <dd>{votersText(v.votersOnline ?? onlineVoters, v.voters.length, v.majorityNeeded)}</dd>
        <dt>epoch</dt>
        <dd>{v.epoch}</dd>
        <dt>last decision</dt>
        <dd>
          <Age time={v.lastDecisionAt} />
        </dd>
        <dt>overlaps</dt>
        <dd>{v.overlaps.join(', ') || 'none'}</dd>
        <dt>a fire here also starts</dt>
        <dd>{v.activates.join(', ') || 'no other zone'}</dd>
        <dt>isolated fallback</dt>
        <dd>{v.policy.isolatedFallback ? 'on' : 'off'}</dd>
      </dl>
      <p class="muted small" data-testid="policy">
        Policy: {policyText(v.policy)}.
      </p>

      <section aria-label="pumps">
        <h2>Pumps</h2>
        {v.pumps.length === 0 ? (
          <Empty>This zone drives no pump of its own (a fire here may start an overlapping zone's).</Empty>
        ) : (
          <div class="pump-cards">
            {v.pumps.map((p) => (
              <PumpCard
                key={p.pump}
                view={v}
                pump={p}
                answeredAt={detail.answeredAt}
                canAct={canAct}
                onAction={(a) => askPump(p, a)}
                result={results[p.pump] ?? null}
              />
            ))}
          </div>
        )}
        {!canAct && <p class="muted small">Pump buttons need the operator role.</p>}
      </section>

      <section aria-label="voters">
        <h2>
          Voters <span class="muted">{votersText(onlineVoters, v.voters.length, v.majorityNeeded)}</span>
        </h2>
        <table class="grid" data-testid="voters-table">
          <thead>
            <tr>
              <th>node</th>
              <th>state</th>
              <th>last heard</th>
              <th>voting</th>
              <th>last vote</th>
            </tr>
          </thead>
          <tbody>
            {v.voters.map((x) => (
              <tr key={x.node} data-voter={x.node} data-state={x.state} data-voting={x.voting ? 'yes' : 'no'}>
                <td>
                  <NodeLink view={v} node={x.node} />
                </td>
                <td>
                  <StateBadge state={x.state} />
                </td>
                <td>
                  <Age time={x.lastHeard} />
                </td>
                <td>
                  {x.voting ? (
                    <MarkBadge mark={{ cls: 'active', icon: '●', word: 'voting fire' }} />
                  ) : (
                    <MarkBadge mark={{ cls: 'unknown', icon: '○', word: 'not voting' }} />
                  )}
                </td>
                <td>
                  {x.lastVote === null ? (
                    <span class="muted">none</span>
                  ) : (
                    <>
                      <Age time={x.lastVote.at} /> · epoch {x.lastVote.epoch}, #{x.lastVote.seq}
                      {x.lastVote.evidence.length > 0 && (
                        <span class="muted" title={x.lastVote.evidence.join('\n')}>
                          {' '}
                          · {plural(x.lastVote.evidence.length, 'detection')}
                        </span>
                      )}
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section aria-label="evaluation" data-testid="evaluation">
        <h2>The hub’s evaluation</h2>
        {v.evaluation === null ? (
          <Empty>Nothing evaluated yet: no detection in the window.</Empty>
        ) : (
          <>
            <p>
              <FireBadge fire={v.evaluation.fire} /> <span data-testid="evaluation-text">{evaluationText(v.evaluation, v.policy)}</span>
              <span class="muted">
                {' '}
                · evaluated <Age time={v.evaluation.at} />
              </span>
            </p>
            {v.evaluation.missing.length > 0 && (
              <ul class="missing" data-testid="missing">
                {v.evaluation.missing.map((m) => (
                  <li key={m}>
                    <span aria-hidden="true">▲ </span>missing: {m}
                  </li>
                ))}
              </ul>
            )}
            {v.evaluation.evidence.cameras.length > 0 && (
              <table class="grid" data-testid="evidence-table">
                <thead>
                  <tr>
                    <th>camera counted</th>
                    <th>node</th>
                    <th class="num">weight</th>
                    <th class="num">confidence</th>
                    <th class="num">weight × confidence</th>
                  </tr>
                </thead>
                <tbody>
                  {v.evaluation.evidence.cameras.map((c) => (
                    <tr key={c.camera} data-camera={c.camera}>
                      <td>{c.camera}</td>
                      <td>{c.node}</td>
                      <td class="num">{formatNumber(c.weight)}</td>
                      <td class="num">{formatNumber(c.confidence)}</td>
                      <td class="num">{formatNumber(c.weight * c.confidence)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </>
        )}
        <p class="muted small">The nodes decide; the hub evaluates the same detections with the same rules, for display.</p>
      </section>

      <section aria-label="detections">
        <h2>
          Recent detections <span class="muted">{v.detections.length > 0 ? `newest first, ${v.detections.length}` : ''}</span>
        </h2>
        {v.detections.length === 0 ? (
          <Empty>No detection in the last hour.</Empty>
        ) : (
          <table class="grid" data-testid="detections-table">
            <thead>
              <tr>
                <th>camera</th>
                <th>node</th>
                <th>class</th>
                <th class="num">confidence</th>
                <th>age</th>
              </tr>
            </thead>
            <tbody>
              {v.detections.map((d) => (
                <tr key={d.id} data-detection={d.id} data-camera={d.camera}>
                  <td>{d.camera}</td>
                  <td>{d.node}</td>
                  <td>{d.class}</td>
                  <td class="num">{formatNumber(d.confidence)}</td>
                  <td>
                    <Age time={d.time} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-label="pump history">
        <div class="section-head">
          <h2>Pump history</h2>
          <div class="seg" data-testid="range-picker">
            {ZONE_RANGES.map((r) => (
              <button key={r} type="button" aria-pressed={range === r} onClick={() => setRange(r)}>
                {r}
              </button>
            ))}
          </div>
        </div>
        <ZoneChart zone={v.zone} range={range} reloadKey={historyKey(v)} />
      </section>

      <section aria-label="decisions">
        <h2>Decisions</h2>
        {v.decisions.length === 0 ? (
          <Empty>No decision recorded yet.</Empty>
        ) : (
          <table class="grid" data-testid="decisions-table">
            <thead>
              <tr>
                <th>when</th>
                <th>what</th>
                <th class="num">epoch</th>
                <th>node</th>
                <th>evidence</th>
              </tr>
            </thead>
            <tbody>
              {v.decisions.map((d, i) => (
                <tr key={`${d.at}/${d.node}/${d.kind}/${i}`} data-decision={d.kind}>
                  <td title={formatTime(d.at)}>
                    <Age time={d.at} />
                  </td>
                  <td>
                    <DecisionBadge kind={d.kind} />
                  </td>
                  <td class="num">{d.epoch}</td>
                  <td>{d.node}</td>
                  <td class="small" title={d.detections?.join('\n')}>
                    {decisionEvidence(d) || <span class="muted">–</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-label="alerts of this zone">
        <h2>Alerts</h2>
        {v.alerts.length === 0 ? (
          <Empty>
            <span aria-hidden="true">✓ </span>No alert is pending or firing for this zone.
          </Empty>
        ) : (
          <table class="grid" data-testid="zone-alerts">
            <thead>
              <tr>
                <th>alert</th>
                <th>state</th>
                <th>severity</th>
                <th>active for</th>
                <th>summary</th>
              </tr>
            </thead>
            <tbody>
              {v.alerts.map((a) => (
                <tr key={`${a.name}/${a.activeAt ?? ''}`} data-alert={a.name} data-state={a.state}>
                  <td>
                    <a href="#/alerts">{a.name}</a>
                  </td>
                  <td>
                    <span class={`astate ${a.state}`}>
                      <span aria-hidden="true">{a.state === 'firing' ? '✕' : '…'}</span> {a.state}
                    </span>
                  </td>
                  <td>
                    <span class={`sev sev-${a.severity}`}>{a.severity}</span>
                  </td>
                  <td>
                    <Since time={a.activeAt} />
                  </td>
                  <td>{a.summary}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </div>
  );
}
