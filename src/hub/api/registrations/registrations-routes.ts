// Node registrations (docs/registration.md; admins only, src/hub/auth/route-access.ts):
//   GET  /api/v1/registrations                         mode, pending and rejected nodes with their facts
//   POST /api/v1/registrations/:site/:node/approve     admit the node (kept), ask it for a rebirth
//   POST /api/v1/registrations/:site/:node/reject      keep ignoring it
// The POSTs are audited by the auth hooks, the node as the target.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FieldmeshError, isValidId } from '../../../kit/index.js';
import type { RegistrationList, RegistrationView } from '../../registration/index.js';

/** What the routes need; the hub (hub.ts) wires it to its registration gate and its rebirth path. */
export interface RegistrationsPort {
  list(): RegistrationList;
  /** Approves and asks the node for a rebirth; `rebirthRequested` false when the broker is down (the node re-announces on reconnection). */
  approve(site: string, node: string, by: string): Promise<RegistrationView & { readonly rebirthRequested: boolean }>;
  reject(site: string, node: string, by: string): RegistrationView;
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
    return { status: 'success', data: await port.approve(site, node, actor(request)) };
  });

  app.post<{ Params: { site: string; node: string } }>('/api/v1/registrations/:site/:node/reject', async (request) => {
    const { site, node } = ids(request.params);
    request.auditTarget = `reject ${site}/${node}`;
    return { status: 'success', data: port.reject(site, node, actor(request)) };
  });
}
