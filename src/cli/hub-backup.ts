// `fieldmesh hub [-c hub.yaml] backup --out FILE` and `fieldmesh hub [-c hub.yaml] restore --from FILE` (src/hub/backup/hub-backup.ts): exit 0 when
// done, 2 for a usage problem (a hub on PostgreSQL: the pg_dump / pg_restore commands are printed; a data folder that
// is not empty; no hub database), 1 for a damaged backup or a failed copy.

import type { Command } from 'commander';
import { backupHub, hubConfigSchema, restoreHub } from '../hub/index.js';
import { isFieldmeshError } from '../kit/index.js';
import { loadConfigFile } from './config-file.js';
import { type CliIo, errorText, exitCodeFor } from './io.js';

function kib(bytes: number): string {
  return `${Math.ceil(bytes / 1024)} KiB`;
}

export function registerHubBackupCommands(hub: Command, io: CliIo): void {
  const config = (file: string | undefined) => loadConfigFile(hubConfigSchema, file ?? process.env.FIELDMESH_CONFIG, process.env);
  const run = async (what: () => Promise<void>) => {
    try {
      await what();
    } catch (err) {
      // Its messages may span lines (the pg_dump commands): printed whole, not as a configuration error's list.
      io.err(isFieldmeshError(err) ? `error: ${err.code}: ${err.message}` : errorText(err));
      process.exitCode = exitCodeFor(err);
    }
  };
  hub
    .command('backup')
    .description("a consistent copy of a running embedded hub's SQLite databases, in one file (on PostgreSQL: prints the pg_dump command)")
    .requiredOption('--out <file>', 'the backup file to write (replaced atomically)')
    .action((opts: { out: string }, command: Command) =>
      run(async () => {
        const done = await backupHub(config(command.optsWithGlobals<{ config?: string }>().config), opts.out);
        io.out(`${opts.out}: ${done.files.map((f) => `${f.name} (${kib(f.bytes)})`).join(', ')}; ${kib(done.bytes)} written`);
      }),
    );
  hub
    .command('restore')
    .description('restore a backup into the empty data folder of hub.yaml (refuses a folder that is not empty)')
    .requiredOption('--from <file>', 'a file written by fieldmesh hub backup')
    .action((opts: { from: string }, command: Command) =>
      run(async () => {
        const done = restoreHub(config(command.optsWithGlobals<{ config?: string }>().config), opts.from);
        io.out(`restored ${done.files.map((f) => f.name).join(', ')} from ${opts.from}; start the hub with the same hub.yaml`);
      }),
    );
}
