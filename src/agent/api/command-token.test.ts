// commands.token, the node's generic operator token: the service commands need it, and the zone commands
// take it beside zoneCommands.token; with neither configured, both answer 403.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { ManualClock } from '../../kit/index.js';
import { createServiceSupervisor } from '../services/supervisor.js';
import type { ZoneRuntime } from '../zones/zone-runtime.js';
import { registerServiceRoutes } from './service-routes.js';
import { registerZoneRoutes } from './zone-routes.js';

const COMMANDS = 'commands-token-0123456789';
const ZONES = 'zone-commands-token-0123456789';

/** Just enough of a zone runtime for an election. */
const zones = {
  zones: () => ['north'],
  status: (id: string) => (id === 'north' ? { zone: 'north', epoch: 4, pumps: [] } : undefined),
  elect: () => 5,
} as unknown as ZoneRuntime;

function app(tokens: { zone?: string; commands?: string }) {
  const a = Fastify();
  registerZoneRoutes(a, () => zones, { token: tokens.zone, commandsToken: tokens.commands });
  const supervisor = createServiceSupervisor({
    services: [],
    spawn: () => ({ pid: undefined, kill() {} }),
    probe: async () => ({ ok: true, detail: '' }),
    clock: new ManualClock(),
  });
  registerServiceRoutes(a, supervisor, { token: tokens.commands });
  return a;
}

const elect = (a: ReturnType<typeof app>, token?: string) =>
  a.inject({ method: 'POST', url: '/api/v1/zones/north/elect', headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

test('zone commands take zoneCommands.token or commands.token', async () => {
  const both = app({ zone: ZONES, commands: COMMANDS });
  assert.equal((await elect(both, ZONES)).statusCode, 200);
  assert.equal((await elect(both, COMMANDS)).statusCode, 200);
  assert.equal((await elect(both, 'another-token-0123456789')).statusCode, 401);
  assert.equal((await elect(both)).statusCode, 401);
  const commandsOnly = app({ commands: COMMANDS });
  assert.equal((await elect(commandsOnly, COMMANDS)).json().data.epoch, 5);
  const zoneOnly = app({ zone: ZONES });
  assert.equal((await elect(zoneOnly, ZONES)).statusCode, 200);
  assert.equal((await elect(zoneOnly, COMMANDS)).statusCode, 401);
});

test('with no token configured, zone and service commands answer 403 saying which key to set', async () => {
  const none = app({});
  const zone = await elect(none, COMMANDS);
  assert.equal(zone.statusCode, 403);
  assert.match(zone.json().error, /zoneCommands\.token or commands\.token/);
  const service = await none.inject({
    method: 'POST',
    url: '/api/v1/services/cam/start',
    headers: { authorization: `Bearer ${COMMANDS}` },
  });
  assert.equal(service.statusCode, 403);
  assert.equal(service.json().code, 'FM_AUTH_FORBIDDEN');
  assert.match(service.json().error, /set commands\.token in node\.yaml/);
});
