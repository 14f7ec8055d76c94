// The auth store on SQLite: the auth store contract on a temp file.
import { tempFileTarget } from '../storage/contract-test-kit.js';
import { runAuthStoreContract } from './auth-store.contract.js';
import { createSqliteAuthStore } from './sqlite-auth-store.js';

runAuthStoreContract('sqlite', async () => tempFileTarget('hub.db', (path) => createSqliteAuthStore({ path })));
