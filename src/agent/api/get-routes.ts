// GET /api/v1/get?key=K: this node's values under a key below it (`battery_soc`, `fleet`, `health`,
// `config/publish/tick`, with `*` one segment and `**` any), as `fieldmesh get --node URL` reads them.
// The same handler answers the hub's `get` command [FM-QUERY-7]; secrets of the config are redacted.

import type { FastifyInstance } from 'fastify';
import { errorAnswer } from '../../protocol/index.js';
import type { NodeIdentity } from '../collectors/collector.js';
import type { NodeCommandHandler } from '../commands/node-command-handlers.js';

export function registerGetRoute(app: FastifyInstance, commands: NodeCommandHandler, identity: NodeIdentity): void {
  app.get<{ Querystring: { key?: string } }>('/api/v1/get', async (request, reply) => {
    try {
      const answer = (await commands('get', { key: request.query.key ?? '' }, `api:${request.ip}`)) as { values: unknown[] };
      return { status: 'success', data: { site: identity.site, node: identity.node, values: answer.values } };
    } catch (err) {
      const a = errorAnswer(err, 'FM_AGENT_INTERNAL');
      return reply.status(a.status).send(a.body);
    }
  });
}
