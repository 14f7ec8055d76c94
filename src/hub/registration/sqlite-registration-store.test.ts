// The registration store on SQLite: the registration store contract on a temp file.
import { tempFileTarget } from '../storage/contract-test-kit.js';
import { runRegistrationStoreContract } from './registration-store.contract.js';
import { createSqliteRegistrationStore } from './registration-store.js';

runRegistrationStoreContract('sqlite', async () => tempFileTarget('hub.db', (path) => createSqliteRegistrationStore({ path })));
