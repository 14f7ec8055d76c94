// Node registrations (docs/registration.md; admins only, src/hub/auth/route-access.ts):
//   GET  /api/v1/registrations                         mode, pending and rejected nodes with their facts, known sites and zones
//   POST /api/v1/registrations/:site/:node/approve     admit the node (kept), ask it for a rebirth; an optional body
//                                                      {"site", "zone"} assigns it another site and zone [FM-ASSIGN-1]
//   POST /api/v1/registrations/:site/:node/reject      keep ignoring it
// The POSTs are audited by the auth hooks, the node as the target.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FieldmeshError, isValidId } from '../../../kit/index.js';
import type { ApprovalResult, KnownPlaces, RegistrationAssignment, RegistrationList, RegistrationView } from '../../registration/index.js';

/** What the routes need; the hub (hub.ts) wires it to its registration actions (src/hub/registration/). */
export interface RegistrationsPort {
  list(): RegistrationList & { readonly known?: KnownPlaces };
  /**
   * Approves; with an assignment that differs from what the node announced, publishes it ([FM-ASSIGN-1]), else
   * asks the node for a rebirth (`rebirthRequested` false when the broker is down: the node re-announces on reconnection).
   */
  approve(site: string, node: string, by: string, assignment?: RegistrationAssignment): Promise<ApprovalResult>;
  reject(site: string, node: string, by: string): RegistrationView;
}

const ASSIGNMENT_FIELDS = ['site', 'zone'] as const;

/** The approval's optional body: nothing, `{}`, or `{"site": id, "zone": id}` (either may be left out). */
export function parseAssignmentBody(body: unknown): RegistrationAssignment {
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw new FieldmeshError('FM_REQUEST_INVALID', 'body: expected a JSON object {"site": "...", "zone": "..."} (both optional)');
  const fields = body as Record<string, unknown>;
  for (const name of Object.keys(fields))
    if (!(ASSIGNMENT_FIELDS as readonly string[]).includes(name))
      throw new FieldmeshError('FM_REQUEST_INVALID', `body: unknown field ${JSON.stringify(name)}; an approval takes "site" and "zone"`);
  const out: { site?: string; zone?: string } = {};
  for (const name of ASSIGNMENT_FIELDS) {
    const value = fields[name];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !isValidId(value))
      throw new FieldmeshError(
        'FM_REQUEST_INVALID',
        `body.${name} ${JSON.stringify(value)}: expected an id of lowercase letters, digits, '-' and '_' (1 to 63, starting with a letter or digit)`,
      );
    out[name] = value;
  }
  return out;
}

function ids(params: { site: string; node: string }): { site: string; node: string } {
  for (const [what, value] of [
    ['site', params.site],
    ['node', params.node],
  ] as const)
    if (!isValidId(value))
      throw new FieldmeshError(
        'FM_REQUEST_INVALID',
        `${what} ${JSON.stringify(value)}: expected an id of lowercase letters, digits, '-' and '_'`,
      );
  return params;
}

function actor(request: FastifyRequest): string {
  const principal = (request as { principal?: { readonly name?: string } | null }).principal;
  return typeof principal?.name === 'string' ? principal.name : 'anonymous';
}

export function registerRegistrationsRoutes(app: FastifyInstance, port: RegistrationsPort): void {
  app.get('/api/v1/registrations', async () => ({ status: 'success', data: port.list() }));

  app.post<{ Params: { site: string; node: string } }>('/api/v1/registrations/:site/:node/approve', async (request) => {
    const { site, node } = ids(request.params);
    request.auditTarget = `approve ${site}/${node}`;
    const assignment = parseAssignmentBody(request.body);
    // The audit entry names the assignment asked for: `approve ranch/bravo site farm zone east`.
    const asked = [
      assignment.site === undefined ? '' : ` site ${assignment.site}`,
      assignment.zone === undefined ? '' : ` zone ${assignment.zone}`,
    ];
    request.auditTarget = `approve ${site}/${node}${asked.join('')}`;
    return { status: 'success', data: await port.approve(site, node, actor(request), assignment) };
  });

  app.post<{ Params: { site: string; node: string } }>('/api/v1/registrations/:site/:node/reject', async (request) => {
    const { site, node } = ids(request.params);
    request.auditTarget = `reject ${site}/${node}`;
    return { status: 'success', data: port.reject(site, node, actor(request)) };
  });
}
