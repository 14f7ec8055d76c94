// The registration store on a private PostgreSQL: the registration store contract, what another hub
// process wrote read by refresh, and a failed write reported without stopping the ones after it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type PostgresInstance, postgresTarget, startPostgres } from '../../../test/kit/postgres.js';
import { createPostgresRegistrationStore } from './postgres-registration-store.js';
import { runRegistrationStoreContract } from './registration-store.contract.js';
import { blankRegistration, type RegistrationRecord } from './registration-store.js';

runRegistrationStoreContract('postgres', () => postgresTarget((url) => createPostgresRegistrationStore({ url })));

let server: PostgresInstance;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

const record = (site: string, node: string): RegistrationRecord => ({
  ...blankRegistration(site, node),
  firstSeen: 1,
  lastSeen: 1,
  births: 1,
});

test('postgres registration store: refresh reads what another hub process wrote', async () => {
  const url = await server.createDatabase();
  const a = await createPostgresRegistrationStore({ url });
  const b = await createPostgresRegistrationStore({ url });
  try {
    a.put(record('s1', 'n1'));
    a.setLastMode('approve');
    await a.flush();
    assert.deepEqual(b.list(), [], 'b holds what it loaded');
    await b.refresh();
    assert.deepEqual(b.list(), [record('s1', 'n1')]);
    assert.equal(b.lastMode(), 'approve');
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('postgres registration store: a write the database refuses is reported, and the puts after it are written', async () => {
  const url = await server.createDatabase();
  const errors: unknown[] = [];
  const store = await createPostgresRegistrationStore({ url, onError: (err) => errors.push(err) });
  // PostgreSQL text holds no NUL character.
  store.put(record('s1', 'bad\u0000node'));
  store.put(record('s1', 'n2'));
  await store.close();
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /0x00/);
  const again = await createPostgresRegistrationStore({ url });
  try {
    assert.deepEqual(
      again.list().map((r) => r.node),
      ['n2'],
    );
  } finally {
    await again.close();
  }
});
