// The auth store on SQLite: the auth store contract on a temp file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAuthStoreContract } from './auth-store.contract.js';
import { createSqliteAuthStore } from './sqlite-auth-store.js';

runAuthStoreContract('sqlite', async () => {
  const dirs: string[] = [];
  return {
    async fresh() {
      const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-auth-store-'));
      dirs.push(dir);
      const path = join(dir, 'hub.db');
      return { open: async () => createSqliteAuthStore({ path }) };
    },
    async teardown() {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
});
