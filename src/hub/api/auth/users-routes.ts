// Admin routes for users and API tokens: GET/POST /api/v1/auth/users, PATCH/DELETE
// /api/v1/auth/users/:name, GET/POST /api/v1/auth/tokens, DELETE /api/v1/auth/tokens/:name.

import type { FastifyInstance } from 'fastify';
import { checkRole, type HubAuth } from '../../auth/index.js';
import { jsonObject } from './auth-routes.js';

export function registerUsersRoutes(app: FastifyInstance, auth: HubAuth): void {
  app.get('/api/v1/auth/users', async () => ({ users: await auth.listUsers() }));

  app.post('/api/v1/auth/users', async (request, reply) => {
    const body = jsonObject(request, '{"name": "...", "role": "viewer|operator|admin", "password": "..."}');
    request.auditTarget = typeof body.name === 'string' ? body.name.slice(0, 64) : null;
    const user = await auth.addUser(body.name as string, checkRole(body.role), body.password as string);
    return reply.code(201).send({ user });
  });

  app.patch<{ Params: { name: string } }>('/api/v1/auth/users/:name', async (request) => {
    const body = jsonObject(request, '{"role": "viewer|operator|admin"} and/or {"password": "..."}');
    const change = {
      ...(body.role !== undefined ? { role: checkRole(body.role) } : {}),
      ...(body.password !== undefined ? { password: body.password as string } : {}),
    };
    return { user: await auth.updateUser(request.params.name, change) };
  });

  app.delete<{ Params: { name: string } }>('/api/v1/auth/users/:name', async (request, reply) => {
    await auth.removeUser(request.params.name);
    return reply.code(204).send();
  });

  app.get('/api/v1/auth/tokens', async () => ({ tokens: await auth.listTokens() }));

  app.post('/api/v1/auth/tokens', async (request, reply) => {
    const body = jsonObject(request, '{"name": "...", "role": "viewer|operator|admin"}');
    request.auditTarget = typeof body.name === 'string' ? body.name.slice(0, 64) : null;
    const { token, view } = await auth.createToken(body.name as string, checkRole(body.role), request.principal?.name ?? null);
    // The only time the token is shown: the hub keeps a digest of it.
    return reply
      .code(201)
      .header('cache-control', 'no-store')
      .send({ ...view, token });
  });

  app.delete<{ Params: { name: string } }>('/api/v1/auth/tokens/:name', async (request, reply) => {
    await auth.revokeToken(request.params.name);
    return reply.code(204).send();
  });
}
