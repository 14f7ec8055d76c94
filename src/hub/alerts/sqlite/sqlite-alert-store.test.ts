// The alert store on SQLite: the alert store contract on a temp file.
import { tempFileTarget } from '../../storage/contract-test-kit.js';
import { runAlertStoreContract } from '../alert-store.contract.js';
import { createSqliteAlertStore } from './sqlite-alert-store.js';

runAlertStoreContract('sqlite', async () => tempFileTarget('alerts.db', (path) => createSqliteAlertStore({ path })));
