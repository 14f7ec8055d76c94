// Two api processes of a scale-out hub behind one load balancer share one PostgreSQL: a user added through one logs
// in through the other, a session or an API token opened on one is known to the other, a node approved on one is
// admitted by the other (the registration sync), and a silence made on one is in the shared alert store. Real
// Mosquitto, nats-server and PostgreSQL, started by the test on free ports.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startMosquitto } from '../../../test/kit/mosquitto.js';
import { startNatsServer } from '../../../test/kit/nats.js';
import { startPostgres } from '../../../test/kit/postgres.js';
import { waitFor } from '../../../test/kit/wait.js';
import { createPostgresAlertStore } from '../alerts/postgres/postgres-alert-store.js';
import { hubConfigSchema } from '../config.js';
import type { Hub } from '../hub.js';
import { openHub } from '../open-hub.js';

test('scale-out api processes share users, sessions, tokens, registrations and silences through PostgreSQL', async () => {
  const mosquitto = await startMosquitto();
  const nats = await startNatsServer();
  const pg = await startPostgres();
  const hubs: Hub[] = [];
  const dirs: string[] = [];
  try {
    const url = await pg.createDatabase();
    const open = async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'fm-shared-stores-'));
      dirs.push(dataDir);
      const hub = await openHub(
        hubConfigSchema.parse({
          dataDir,
          mqtt: { url: mosquitto.url },
          storage: { path: join(dataDir, 'hub.db'), url },
          queue: { url: nats.urls.join(',') },
          roles: ['api'],
          leader: { lease: '3s' },
          registration: { mode: 'approve' },
        }),
      );
      hubs.push(hub);
      await hub.start({ listen: false });
      return hub;
    };
    const a = await open();
    const b = await open();

    // Users, sessions and tokens: written through one, read through the other.
    await a.auth.addUser('ops', 'admin', 'correct horse battery');
    const login = await b.auth.login('ops', 'correct horse battery', '127.0.0.1');
    assert.equal((await a.auth.sessionPrincipal(login.sessionId))?.name, 'ops', 'a session opened on b is known to a');
    const { token } = await b.auth.createToken('ci', 'viewer', 'ops');
    assert.equal((await a.auth.tokenPrincipal(token))?.role, 'viewer', 'a token made on b opens on a');

    // A node approved through a is admitted by b within the sync interval, with no restart.
    assert.equal(b.registrations.isApproved('lab', 'rig-9'), false);
    a.registrations.approve('lab', 'rig-9', 'ops');
    await waitFor(() => b.registrations.isApproved('lab', 'rig-9'), { what: 'b admits the node a approved', timeoutMs: 10_000 });
    assert.equal(b.registrations.get('lab', 'rig-9')?.decidedBy, 'ops');
    b.registrations.reject('lab', 'rig-9', 'ops');
    await waitFor(() => !a.registrations.isApproved('lab', 'rig-9'), { what: 'a refuses the node b rejected', timeoutMs: 10_000 });

    // Silences are in the shared alert store, not in a file of the process that took the request.
    const silence = await a.alerts?.createSilence({
      matchers: [{ name: 'site', value: 'lab', isRegex: false, isEqual: true }],
      startsAt: Date.now(),
      endsAt: Date.now() + 3_600_000,
      createdBy: 'ops',
      comment: 'maintenance',
    });
    const store = await createPostgresAlertStore({ url, poolSize: 1 });
    try {
      assert.deepEqual(
        (await store.loadSilences()).map((s) => s.id),
        [silence?.id],
      );
    } finally {
      await store.close();
    }
  } finally {
    for (const hub of hubs) await hub.stop().catch(() => {});
    await pg.stop();
    await nats.stop();
    await mosquitto.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
