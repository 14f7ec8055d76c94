// The alert API: GET /api/v1/alerts (Prometheus' shape plus state, ack, silencing), GET one by
// fingerprint, POST/DELETE its acknowledgement, GET/POST/DELETE /api/v1/silences, and Prometheus'
// GET /api/v1/rules. Who may call them is decided before the handler (the hub's route table); who
// acts is the authenticated caller when there is one (`request.principal`, a session or an API
// token), otherwise the body's `by` / `createdBy`.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FieldmeshError } from '../../../kit/index.js';
import { repeated, requestParams } from '../../../protocol/index.js';
import type { AlertEngine } from '../../alerts/alert-engine.js';
import { ALERT_STATES, type AlertState, parsePromDurationMs, parseSilenceInput } from '../../alerts/index.js';
import type { HubApiDeps } from '../api-deps.js';
import { type RuleFilter, toAlertView, toRuleGroups, toSilenceView } from './alert-view.js';

const FINGERPRINT_RE = /^[0-9a-f]{16}$/;

function invalid(message: string): FieldmeshError {
  return new FieldmeshError('FM_REQUEST_INVALID', message);
}

function parseStates(query: unknown): AlertState[] {
  const raw = repeated(requestParams(query, undefined), 'state').flatMap((s) => s.split(','));
  if (raw.length === 0) return ['pending', 'firing'];
  if (raw.includes('all')) return [...ALERT_STATES];
  for (const s of raw)
    if (!(ALERT_STATES as readonly string[]).includes(s))
      throw new FieldmeshError(
        'FM_QUERY_INVALID',
        `parameter "state" must be pending, firing, resolved or all (comma-separated), got "${s}"`,
      );
  return raw as AlertState[];
}

/** Prometheus' `type` parameter of /api/v1/rules: `alert` or `record`; absent or empty lists both. */
function parseRuleType(query: unknown): RuleFilter {
  const types = repeated(requestParams(query, undefined), 'type');
  const type = types.at(-1) ?? '';
  if (type === '') return { alerting: true, recording: true };
  if (type === 'alert') return { alerting: true, recording: false };
  if (type === 'record') return { alerting: false, recording: true };
  throw new FieldmeshError('FM_QUERY_INVALID', `parameter "type" must be alert or record, got "${type}"`);
}

function fingerprintParam(fp: string): string {
  if (!FINGERPRINT_RE.test(fp))
    throw new FieldmeshError('FM_NOT_FOUND', `no alert with fingerprint ${fp} (a fingerprint is 16 hex digits)`);
  return fp;
}

function bodyObject(body: unknown, shape: string): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw invalid(`the body must be a JSON object: ${shape}`);
  return body as Record<string, unknown>;
}

/**
 * The authenticated caller's name: a logged-in user or an API token. Undefined without
 * authentication (or in demo mode), and the body says who acts.
 */
export function actorOf(request: FastifyRequest): string | undefined {
  const principal = (request as { principal?: { readonly kind?: string; readonly name?: string } | null }).principal;
  return (principal?.kind === 'session' || principal?.kind === 'token') && typeof principal.name === 'string' ? principal.name : undefined;
}

export function registerAlertsRoutes(app: FastifyInstance, deps: HubApiDeps, engine: AlertEngine): void {
  const actor = actorOf;

  app.get('/api/v1/alerts', async (request) => {
    const alerts = engine.list(parseStates(request.query)).map(toAlertView);
    return { status: 'success', data: { alerts } };
  });

  app.get<{ Params: { fingerprint: string } }>('/api/v1/alerts/:fingerprint', async (request) => {
    const found = engine.find(fingerprintParam(request.params.fingerprint));
    if (found.length === 0) throw new FieldmeshError('FM_NOT_FOUND', `no alert with fingerprint ${request.params.fingerprint}`);
    return { status: 'success', data: { alerts: found.map(toAlertView) } };
  });

  app.post<{ Params: { fingerprint: string }; Body: unknown }>('/api/v1/alerts/:fingerprint/ack', async (request) => {
    const fp = fingerprintParam(request.params.fingerprint);
    const body = bodyObject(request.body, '{"by": "who", "comment": "why" (optional)}');
    for (const k of Object.keys(body))
      if (k !== 'by' && k !== 'comment') throw invalid(`field "${k}" is unknown; an acknowledgement has by, comment`);
    const by = actor(request) ?? (typeof body.by === 'string' ? body.by.trim() : '');
    if (by === '') throw invalid('field "by": expected who acknowledges (a non-empty string)');
    if (body.comment !== undefined && typeof body.comment !== 'string') throw invalid('field "comment": expected a string');
    const acked = await engine.acknowledge(fp, by, (body.comment as string | undefined)?.trim() ?? '');
    return { status: 'success', data: { alerts: acked.map(toAlertView) } };
  });

  app.delete<{ Params: { fingerprint: string } }>('/api/v1/alerts/:fingerprint/ack', async (request) => {
    const alerts = await engine.unacknowledge(fingerprintParam(request.params.fingerprint));
    return { status: 'success', data: { alerts: alerts.map(toAlertView) } };
  });

  app.get('/api/v1/silences', async () => {
    const now = deps.clock.now();
    return { silences: engine.listSilences().map((s) => toSilenceView(s, now)) };
  });

  app.get<{ Params: { id: string } }>('/api/v1/silences/:id', async (request) => {
    const s = engine.getSilence(request.params.id);
    if (s === undefined) throw new FieldmeshError('FM_NOT_FOUND', `no silence with id ${request.params.id}`);
    return { silence: toSilenceView(s, deps.clock.now()) };
  });

  app.post<{ Body: unknown }>('/api/v1/silences', async (request) => {
    const now = deps.clock.now();
    const input = parseSilenceInput(request.body, now, parsePromDurationMs, actor(request));
    const silence = await engine.createSilence(input);
    return { silenceID: silence.id, silence: toSilenceView(silence, now) };
  });

  app.delete<{ Params: { id: string } }>('/api/v1/silences/:id', async (request) => {
    const s = await engine.expireSilence(request.params.id);
    if (s === undefined) throw new FieldmeshError('FM_NOT_FOUND', `no silence with id ${request.params.id}`);
    return { silence: toSilenceView(s, deps.clock.now()) };
  });

  app.get('/api/v1/rules', async (request) => ({
    status: 'success',
    data: {
      groups: toRuleGroups(
        engine.ruleHealth(),
        engine.list([...ALERT_STATES]),
        engine.evaluationIntervalMs,
        deps.recordingRules?.ruleHealth() ?? [],
        parseRuleType(request.query),
      ),
    },
  }));
}
