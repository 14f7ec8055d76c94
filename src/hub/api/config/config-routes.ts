// The hub's configuration reconciliation API (docs/hub.md "Configuration"; roles in src/hub/auth/route-access.ts):
//   GET  /api/v1/config                       source, current / last good / last refused revision (with every problem), node states
//   GET  /api/v1/config/nodes                 every node: desired vs published vs reported, state, drift
//   GET  /api/v1/config/nodes/:site/:node     one node, with its effective config and each leaf's provenance
//   POST /api/v1/config/sync                  read the repository now (git fetch + reset, or the folder)
//   POST /api/v1/config/apply                 roll the last good revision out wave by wave {target?, waves?, pauseMs?, timeoutMs?, wait?}
// The POSTs are audited by the auth hooks, with the revision and the run's outcome as the target. Every answer
// has its secrets redacted (docs/security.md): the nodes get them in their desired configs, the API never shows them.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FieldmeshError, parseDurationMs, redactSecrets } from '../../../kit/index.js';
import { parseSelector } from '../../actions/selection.js';
import type { ApplyRequest, ApplyRunView, ConfigReconciler } from '../../config-repo/config-reconciler.js';

/** An apply run waits at most this long per wave for the nodes' reports (`timeoutMs`). */
const MAX_TIMEOUT_MS = 3_600_000;
const MAX_PAUSE_MS = 3_600_000;

function invalid(message: string): FieldmeshError {
  return new FieldmeshError('FM_REQUEST_INVALID', message);
}

function principalName(request: FastifyRequest): string | null {
  const principal = (request as { principal?: { readonly name?: string } | null }).principal;
  return typeof principal?.name === 'string' ? principal.name : null;
}

function duration(value: unknown, field: string, max: number): number {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? parseDurationMs(value) : undefined;
  if (ms === undefined || !Number.isFinite(ms) || ms < 0 || ms > max)
    throw invalid(`field "${field}": expected a duration like "30s" or ms from 0 to ${max}, got ${JSON.stringify(value)}`);
  return Math.round(ms);
}

/** Validates a posted apply request; throws FM_REQUEST_INVALID naming the field. */
export function parseApplyRequest(body: unknown): ApplyRequest & { wait: boolean } {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b !== 'object' || Array.isArray(b)) throw invalid('expected a JSON object {target?, waves?, pauseMs?, timeoutMs?, wait?}');
  for (const k of Object.keys(b))
    if (!['target', 'waves', 'pauseMs', 'timeoutMs', 'wait'].includes(k))
      throw invalid(`field "${k}" is unknown; an apply request has target, waves, pauseMs, timeoutMs, wait`);
  let waves: ApplyRequest['waves'];
  if (Array.isArray(b.waves)) {
    if (b.waves.length === 0 || b.waves.some((n) => !Number.isInteger(n) || (n as number) < 1))
      throw invalid('field "waves": expected a non-empty list of wave sizes (whole numbers >= 1), e.g. [1, 5]');
    waves = b.waves as number[];
  } else if (typeof b.waves === 'object' && b.waves !== null) {
    const size = (b.waves as { size?: unknown }).size;
    if (!Number.isInteger(size) || (size as number) < 1) throw invalid('field "waves.size": expected a whole number >= 1');
    waves = { size: size as number };
  } else if (b.waves !== undefined) throw invalid('field "waves": expected [1, 5] (wave sizes) or {"size": 10}');
  if (b.wait !== undefined && typeof b.wait !== 'boolean') throw invalid('field "wait": expected true or false');
  return {
    ...(b.target === undefined ? {} : { target: parseSelector(b.target) }),
    ...(waves === undefined ? {} : { waves }),
    ...(b.pauseMs === undefined ? {} : { pauseMs: duration(b.pauseMs, 'pauseMs', MAX_PAUSE_MS) }),
    ...(b.timeoutMs === undefined ? {} : { timeoutMs: duration(b.timeoutMs, 'timeoutMs', MAX_TIMEOUT_MS) }),
    wait: b.wait === true,
  };
}

/** "rev 3f2a1c0b9d8e: 12 nodes in 3 waves: done" for the audit log. */
export function applyAuditText(run: ApplyRunView): string {
  const nodes = run.waves.reduce((n, w) => n + w.nodes.length, 0);
  const rev = (run.commit ?? run.revision ?? '').slice(0, 12);
  return `apply rev ${rev}: ${nodes} nodes in ${run.waves.length} waves: ${run.state}${run.stoppedBy === null ? '' : ` (${run.stoppedBy})`} (run ${run.id})`;
}

export function registerConfigRoutes(app: FastifyInstance, reconciler: ConfigReconciler): void {
  app.get('/api/v1/config', async () => ({ status: 'success', data: redactSecrets(reconciler.summary()) }));

  app.get('/api/v1/config/nodes', async () => ({ status: 'success', data: { nodes: redactSecrets(reconciler.nodes()) } }));

  app.get<{ Params: { site: string; node: string } }>('/api/v1/config/nodes/:site/:node', async (request) => {
    const { site, node } = request.params;
    const view = reconciler.node(site, node);
    if (view === undefined)
      throw new FieldmeshError('FM_NOT_FOUND', `node ${site}/${node}: no repository file defines it and the hub has not heard of it`);
    return { status: 'success', data: redactSecrets(view) };
  });

  app.post('/api/v1/config/sync', async (request) => {
    request.auditTarget = `sync ${reconciler.label}`;
    const summary = await reconciler.sync(true);
    const rev = summary.lastRead?.revision.slice(0, 12) ?? 'none';
    request.auditTarget = `sync ${reconciler.label}: rev ${rev}${summary.refused ? ' refused' : ''}`;
    return { status: 'success', data: redactSecrets(summary) };
  });

  app.post<{ Body: unknown }>('/api/v1/config/apply', async (request, reply) => {
    const parsed = parseApplyRequest(request.body);
    const { run, finished } = reconciler.apply(parsed, principalName(request));
    request.auditTarget = applyAuditText(run);
    if (!parsed.wait) {
      void finished.catch(() => {});
      return reply.code(202).send({ status: 'success', data: run });
    }
    const done = await finished;
    request.auditTarget = applyAuditText(done);
    return { status: 'success', data: done };
  });
}
