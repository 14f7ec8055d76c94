// A node's effective configuration with provenance (#/config/nodes/:site/:node): every leaf of the config
// the last good revision renders for it, with its value and the layer and file:line that set it (fleet-config's
// provenance, from GET /api/v1/config/nodes/:site/:node), searchable by path, value, layer or file.

import { useState } from 'preact/hooks';
import { ErrorLine } from '../../components/ui.js';
import { filesOf, leafRows, leafText, searchLeaves, short } from '../../config-derive.js';
import { nodeHref, siteHref } from '../../router.js';
import { configApi, useLiveLoad } from './config-api.js';
import { AgoMs, ConfigStateBadge } from './config-marks.js';

export function ProvenancePage({ site, node }: { site: string; node: string }) {
  const { data, error } = useLiveLoad(() => configApi.node(site, node), [site, node]);
  const [q, setQ] = useState('');
  const crumbs = (
    <p class="crumbs">
      <a href="#/config">Configuration</a> › <a href={siteHref(site)}>{site}</a> › <a href={nodeHref(site, node)}>{node}</a> › effective
      config
    </p>
  );
  if (data === null)
    return (
      <section>
        {crumbs}
        <h1>{node}: effective config</h1>
        {error !== null ? <ErrorLine error={error} /> : <p class="muted">Loading…</p>}
      </section>
    );
  const rows = data.config === null ? [] : leafRows(data.config, data.provenance);
  const shown = searchLeaves(rows, q);
  return (
    <div class="provenance-page" data-testid="provenance-page" data-node={`${site}/${node}`}>
      {crumbs}
      <div class="title-row">
        <h1>{node}: effective config</h1>
        <ConfigStateBadge state={data.state} />
      </div>
      <ErrorLine error={error} />
      <dl class="facts wide">
        <dt>desired</dt>
        <dd>
          <code title={data.desired?.hash}>{short(data.desired?.hash)}</code>{' '}
          <span class="muted">commit {short(data.desired?.commit)}</span>
        </dd>
        <dt>reported</dt>
        <dd>
          <code title={data.reported?.hash}>{short(data.reported?.hash)}</code>{' '}
          {data.reported !== null && (
            <span class="muted">
              {data.reported.kind} <AgoMs at={data.reported.at} />
            </span>
          )}
        </dd>
        <dt>files</dt>
        <dd data-testid="provenance-files">
          {filesOf(rows).map((f) => (
            <span key={f.file} class="tag" title={`${f.layer} layer`}>
              {f.file} <span class="muted">({f.leaves})</span>
            </span>
          ))}
        </dd>
      </dl>
      {data.config === null ? (
        <p class="empty">No repository file defines this node: the hub has no effective config for it.</p>
      ) : (
        <>
          <div class="toolbar">
            <input
              type="search"
              class="filter"
              aria-label="search the effective config"
              value={q}
              placeholder="search: path, value, layer or file (e.g. retention, sites/north.yaml)"
              onInput={(e) => setQ((e.target as HTMLInputElement).value)}
              data-testid="provenance-search"
            />
          </div>
          <p class="muted small">
            {shown.length} of {rows.length} leaves. Later layers override earlier ones: fleet, site, zone, node.
          </p>
          <table class="grid provenance" data-testid="provenance-table">
            <thead>
              <tr>
                <th>key</th>
                <th>value</th>
                <th>layer</th>
                <th>set at</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr
                  key={r.path}
                  data-path={r.path}
                  data-layer={r.origin?.layer ?? ''}
                  data-file={r.origin?.file ?? ''}
                  data-line={r.origin?.line ?? ''}
                >
                  <td style={{ paddingLeft: `${0.5 + r.depth}em` }}>
                    <code>{r.path}</code>
                  </td>
                  <td class="value">
                    <code>{leafText(r.value)}</code>
                  </td>
                  <td>{r.origin?.layer ?? <span class="muted">–</span>}</td>
                  <td data-testid="leaf-origin">
                    {r.origin === null ? (
                      <span class="muted">not in a file</span>
                    ) : (
                      <code>
                        {r.origin.file}:{r.origin.line}:{r.origin.col}
                      </code>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
