// The Apply dialog of the configuration page: which nodes (sites, "site/node" names, a glob: the bulk
// actions' selector, ANDed as the hub does), in which waves ("1, 5" then the rest, "each 10"), the pause
// between waves; a preview of exactly those waves from the hub's node table, then POST /api/v1/config/apply
// and the run's progress per wave and node as the hub reports it (live `config` messages), stopping at
// the first failing wave. Also the run view the page shows for the last apply.

import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError } from '../../api.js';
import { ErrorLine } from '../../components/ui.js';
import { MarkBadge } from '../../components/zone-marks.js';
import { parseWaves, planWaves, selectApplyNodes, selectorIsEmpty, short } from '../../config-derive.js';
import type { ApplyNodeResult, ApplyRequestBody, ApplyRun, ConfigNodeRow, ConfigSummary } from '../../config-types.js';
import { nodeHref } from '../../router.js';
import type { ActionSelector, NodeStateName } from '../../types.js';
import { AgoMs } from './config-marks.js';

export interface ApplyPrefill {
  readonly sites: readonly string[];
  readonly nodes: readonly string[];
  readonly match: string;
  /** From the bulk actions' selection: zones and fleet states, ANDed with the rest. */
  readonly zones?: readonly string[];
  readonly states?: readonly string[];
}

const RESULT_MARK: Record<ApplyNodeResult, { cls: 'ok' | 'warn' | 'error' | 'unknown'; icon: string }> = {
  waiting: { cls: 'unknown', icon: '…' },
  applied: { cls: 'ok', icon: '✓' },
  'pending-restart': { cls: 'warn', icon: '↻' },
  failed: { cls: 'error', icon: '✕' },
  timeout: { cls: 'error', icon: '⧗' },
  offline: { cls: 'unknown', icon: '○' },
  skipped: { cls: 'unknown', icon: '–' },
};
const WAVE_MARK = {
  waiting: { cls: 'unknown', icon: '…' },
  running: { cls: 'active', icon: '▶' },
  ok: { cls: 'ok', icon: '✓' },
  failed: { cls: 'error', icon: '✕' },
  skipped: { cls: 'unknown', icon: '–' },
} as const;

/** An apply run: its state, why it stopped, each wave and each node's result. */
export function RunView({ run }: { run: ApplyRun }) {
  const nodes = run.waves.reduce((n, w) => n + w.nodes.length, 0);
  const done = run.waves.reduce((n, w) => n + w.nodes.filter((x) => x.result !== 'waiting').length, 0);
  const runMark =
    run.state === 'done' ? { cls: 'ok', icon: '✓' } : run.state === 'stopped' ? { cls: 'error', icon: '✕' } : { cls: 'active', icon: '▶' };
  return (
    <div class="apply-run" data-testid="apply-run" data-run={run.id} data-state={run.state}>
      <p>
        <MarkBadge mark={{ cls: runMark.cls as 'ok', icon: runMark.icon, word: run.state }} testid="apply-run-state" state={run.state} />{' '}
        revision <code>{short(run.commit ?? run.revision)}</code> · {nodes} {nodes === 1 ? 'node' : 'nodes'} in {run.waves.length}{' '}
        {run.waves.length === 1 ? 'wave' : 'waves'} · {done} of {nodes} reported · by {run.by ?? 'the hub'}, started{' '}
        <AgoMs at={run.startedAt} />
      </p>
      {run.stoppedBy !== null && (
        <p class="error-line" role="alert" data-testid="apply-stopped">
          ✕ Stopped at {run.stoppedBy}; later waves were not sent.
        </p>
      )}
      <ol class="waves">
        {run.waves.map((w) => (
          <li key={w.index} data-testid="apply-wave" data-wave={w.index + 1} data-state={w.state}>
            <span>Wave {w.index + 1}</span>{' '}
            <MarkBadge mark={{ cls: WAVE_MARK[w.state].cls, icon: WAVE_MARK[w.state].icon, word: w.state }} state={w.state} />
            <ul>
              {w.nodes.map((n) => (
                <li key={`${n.site}/${n.node}`} data-testid="apply-node" data-node={`${n.site}/${n.node}`} data-result={n.result}>
                  <a href={nodeHref(n.site, n.node)}>
                    {n.site}/{n.node}
                  </a>{' '}
                  <MarkBadge mark={{ ...RESULT_MARK[n.result], word: n.result }} state={n.result} />
                  {n.error !== undefined && <span class="muted"> {n.error}</span>}
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ol>
    </div>
  );
}

function toggle(set: readonly string[], v: string, on: boolean): string[] {
  return on ? [...new Set([...set, v])] : set.filter((x) => x !== v);
}

export function ApplyDialog(props: {
  prefill: ApplyPrefill;
  nodes: readonly ConfigNodeRow[];
  summary: ConfigSummary;
  run: ApplyRun | null;
  onStarted: (run: ApplyRun) => void;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [sites, setSites] = useState<string[]>([...props.prefill.sites]);
  const [names, setNames] = useState(props.prefill.nodes.join(', '));
  const [match, setMatch] = useState(props.prefill.match);
  const [waves, setWaves] = useState('');
  const [pause, setPause] = useState('0');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [started, setStarted] = useState<string | null>(null);
  const [zones, setZones] = useState<readonly string[]>(props.prefill.zones ?? []);
  const [states, setStates] = useState<readonly string[]>(props.prefill.states ?? []);

  useEffect(() => {
    const d = ref.current;
    if (d !== null && !d.open) d.showModal();
  }, []);

  const selector: ActionSelector = {
    ...(sites.length > 0 ? { sites } : {}),
    ...(names.trim() !== ''
      ? {
          nodes: names
            .split(/[\s,]+/)
            .map((x) => x.trim())
            .filter((x) => x !== ''),
        }
      : {}),
    ...(match.trim() !== '' ? { match: match.trim() } : {}),
    ...(zones.length > 0 ? { zones } : {}),
    ...(states.length > 0 ? { states: states as NodeStateName[] } : {}),
  };
  const picked = selectApplyNodes(props.nodes, selector);
  const parsed = parseWaves(waves);
  const plan = 'error' in parsed ? [] : planWaves(picked, parsed.waves);
  const pauseS = Number(pause);
  const pauseError = !Number.isFinite(pauseS) || pauseS < 0 || pauseS > 3600 ? 'pause: seconds from 0 to 3600' : null;
  const allSites = [...new Set(props.nodes.filter((n) => n.desired !== null).map((n) => n.site))].sort();
  const run = started !== null && props.run?.id === started ? props.run : null;

  const submit = async (e: Event) => {
    e.preventDefault();
    if ('error' in parsed || pauseError !== null || picked.length === 0) return;
    setBusy(true);
    setError(null);
    try {
      const body: ApplyRequestBody = {
        ...(selectorIsEmpty(selector) ? {} : { target: selector }),
        ...(parsed.waves === undefined ? {} : { waves: parsed.waves }),
        ...(pauseS > 0 ? { pauseMs: Math.round(pauseS * 1000) } : {}),
      };
      const r = await api.post<{ data: ApplyRun }>('/api/v1/config/apply', body);
      setStarted(r.data.id);
      props.onStarted(r.data);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={ref} class="modal wide" onClose={props.onClose} aria-labelledby="apply-title" data-testid="apply-dialog">
      <form onSubmit={submit}>
        <h2 id="apply-title">
          Apply revision <code>{short(props.summary.lastGood?.commit ?? props.summary.lastGood?.revision)}</code>
        </h2>
        {run !== null ? (
          <RunView run={run} />
        ) : (
          <>
            <p class="muted">
              Publishes the last good revision’s config to the chosen nodes wave by wave; each wave waits for every node’s report (or its
              timeout) and the run stops at the first wave with a failure. Leave everything empty for every node.
            </p>
            <fieldset class="field">
              <legend>sites</legend>
              {allSites.map((x) => (
                <label key={x} class="check">
                  <input
                    type="checkbox"
                    checked={sites.includes(x)}
                    data-testid="apply-site"
                    data-site={x}
                    onChange={(ev) => setSites(toggle(sites, x, (ev.target as HTMLInputElement).checked))}
                  />{' '}
                  {x}
                </label>
              ))}
            </fieldset>
            <label class="field">
              nodes (site/node, comma-separated)
              <input value={names} onInput={(ev) => setNames((ev.target as HTMLInputElement).value)} data-testid="apply-nodes" />
            </label>
            <label class="field">
              glob over site/node (e.g. north/n*)
              <input value={match} onInput={(ev) => setMatch((ev.target as HTMLInputElement).value)} data-testid="apply-match" />
            </label>
            {(zones.length > 0 || states.length > 0) && (
              <p data-testid="apply-extra">
                and {zones.length > 0 && <>zones {zones.join(', ')} </>}
                {states.length > 0 && <>fleet states {states.join(', ')} </>}
                <button
                  type="button"
                  class="link small"
                  onClick={() => {
                    setZones([]);
                    setStates([]);
                  }}
                >
                  drop these
                </button>
              </p>
            )}
            <label class="field">
              waves (empty: one wave; "1, 5": 1 then 5 then the rest; "each 10")
              <input value={waves} onInput={(ev) => setWaves((ev.target as HTMLInputElement).value)} data-testid="apply-waves" />
            </label>
            <label class="field">
              pause between waves, seconds
              <input
                value={pause}
                inputMode="numeric"
                onInput={(ev) => setPause((ev.target as HTMLInputElement).value)}
                data-testid="apply-pause"
              />
            </label>
            <ErrorLine error={'error' in parsed ? parsed.error : pauseError} />
            <h3>
              Preview: {picked.length} {picked.length === 1 ? 'node' : 'nodes'} in {plan.length} {plan.length === 1 ? 'wave' : 'waves'}
            </h3>
            <ol class="waves" data-testid="apply-preview">
              {plan.map((w, i) => (
                <li key={w.map((n) => `${n.site}/${n.node}`).join()} data-wave={i + 1}>
                  Wave {i + 1}:{' '}
                  {w.map((n) => (
                    <span key={`${n.site}/${n.node}`} class="tag" data-testid="apply-preview-node" data-node={`${n.site}/${n.node}`}>
                      {n.site}/{n.node}
                    </span>
                  ))}
                </li>
              ))}
            </ol>
          </>
        )}
        <ErrorLine error={error} />
        <div class="buttons">
          <button type="button" onClick={() => ref.current?.close()} data-testid="apply-close">
            {run !== null ? 'Close' : 'Cancel'}
          </button>
          {run === null && (
            <button
              type="submit"
              class="primary"
              disabled={busy || picked.length === 0 || 'error' in parsed || pauseError !== null}
              data-testid="apply-confirm"
            >
              {busy ? 'Starting…' : `Apply to ${picked.length} ${picked.length === 1 ? 'node' : 'nodes'}`}
            </button>
          )}
        </div>
      </form>
    </dialog>
  );
}
