// `fieldmesh hub user add|list|remove|passwd` and `fieldmesh hub token create|list|revoke`: the console's
// users and API tokens, written straight into the hub's database (storage.path, or the PostgreSQL database of
// storage.url that a scale-out hub's api processes share), running hub or not.

import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import {
  type AuthStore,
  checkName,
  createHubAuth,
  createPostgresAuthStore,
  createSqliteAuthStore,
  type HubAuth,
  hubConfigSchema,
  ROLES,
  type Role,
} from '../hub/index.js';
import { FieldmeshError, systemClock } from '../kit/index.js';
import { loadConfigFile } from './config-file.js';
import type { CliIo } from './io.js';

/** Where a password comes from: tests pass their own; the process reads stdin or asks on the terminal. */
export interface PasswordIo {
  /** Everything on standard input (for --password-stdin). */
  readStdin?(): Promise<string>;
  /** Asks without echo; undefined when there is no terminal to ask on. */
  askHidden?(question: string): Promise<string>;
}

function usage(message: string): FieldmeshError {
  return new FieldmeshError('FM_CLI_USAGE', message);
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a line on the terminal without echoing it. */
function askOnTerminal(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    process.stderr.write(question);
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    // readline echoes what it reads through _writeToOutput; a password must not be shown.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
    rl.once('line', (line) => {
      process.stderr.write('\n');
      rl.close();
      resolve(line);
    });
    rl.once('SIGINT', () => {
      rl.close();
      reject(usage('cancelled'));
    });
  });
}

async function readPassword(io: PasswordIo, fromStdin: boolean | undefined): Promise<string> {
  if (fromStdin) {
    // The first line, so `echo "$PW" | ...` and a file with a trailing newline both work.
    const text = await (io.readStdin ?? readProcessStdin)();
    const password = text.split(/\r?\n/)[0] ?? '';
    if (password === '') throw usage('--password-stdin: standard input is empty');
    return password;
  }
  const ask = io.askHidden ?? (process.stdin.isTTY ? askOnTerminal : undefined);
  if (ask === undefined) throw usage('no terminal to ask for the password on: pipe it in with --password-stdin');
  const first = await ask('password: ');
  const again = await ask('password again: ');
  if (first !== again) throw usage('the two passwords differ');
  return first;
}

function parseRole(value: string): Role {
  if (!(ROLES as readonly string[]).includes(value)) throw usage(`--role must be one of ${ROLES.join(', ')}, got "${value}"`);
  return value as Role;
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'cli';
  }
}

/** Opens the auth tables of the hub configured by --config (or FIELDMESH_CONFIG), runs `work`, closes. */
async function withAuth<T>(command: Command, work: (auth: HubAuth) => Promise<T>): Promise<T> {
  const { config: file } = command.optsWithGlobals<{ config?: string }>();
  const config = loadConfigFile(hubConfigSchema, file ?? process.env.FIELDMESH_CONFIG, process.env);
  // With storage.url the hub keeps its users in PostgreSQL (docs/scale-out.md "Shared stores"), not in storage.path.
  let store: AuthStore;
  if (config.storage.url !== undefined) store = await createPostgresAuthStore({ url: config.storage.url, poolSize: 1 });
  else if (config.storage.path === ':memory:')
    throw usage('storage.path is ":memory:": users and tokens would be lost with the hub process');
  else store = createSqliteAuthStore({ path: config.storage.path });
  try {
    return await work(createHubAuth({ config: config.auth, host: config.http.host, store, clock: systemClock }));
  } finally {
    await store.close();
  }
}

async function audited(auth: HubAuth, route: string, target: string, work: () => Promise<void>): Promise<void> {
  const entry = { actor: osUser(), actorKind: 'cli' as const, role: null, method: 'CLI', route, target, status: 0, ip: null };
  try {
    await work();
  } catch (err) {
    await auth.audit({ ...entry, result: 'failed' });
    throw err;
  }
  await auth.audit({ ...entry, result: 'ok' });
}

const ago = (iso: string | null) => iso ?? '-';

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

export function registerHubAuthCommands(hub: Command, io: CliIo & PasswordIo): void {
  const user = hub.command('user').description("manage the console's users (in the hub database: storage.url, else storage.path)");
  user
    .command('add')
    .description('add a user; the password is asked for on the terminal, or read with --password-stdin')
    .requiredOption('--name <name>', 'user name')
    .option('--role <role>', `${ROLES.join(', ')}`, 'viewer')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(async (opts: { name: string; role: string; passwordStdin?: boolean }, command: Command) => {
      const role = parseRole(opts.role);
      checkName(opts.name, 'user');
      await withAuth(command, async (auth) => {
        const password = await readPassword(io, opts.passwordStdin);
        await audited(auth, 'hub user add', opts.name, async () => {
          await auth.addUser(opts.name, role, password);
        });
        io.out(`user ${opts.name} added (${role})`);
      });
    });
  user
    .command('list')
    .description('list users and their roles')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const users = await withAuth(command, (auth) => auth.listUsers());
      if (opts.json) io.out(JSON.stringify(users, null, 2));
      else if (users.length === 0) io.out('no users: the hub runs without login on loopback (auth.mode auto)');
      else
        io.out(table([['NAME', 'ROLE', 'CREATED', 'LAST LOGIN'], ...users.map((u) => [u.name, u.role, u.createdAt, ago(u.lastLoginAt)])]));
    });
  user
    .command('remove')
    .description('remove a user and end their sessions')
    .requiredOption('--name <name>', 'user name')
    .action(async (opts: { name: string }, command: Command) => {
      await withAuth(command, (auth) => audited(auth, 'hub user remove', opts.name, () => auth.removeUser(opts.name)));
      io.out(`user ${opts.name} removed`);
    });
  user
    .command('passwd')
    .description("set a user's password (their sessions end); asked for on the terminal, or --password-stdin")
    .requiredOption('--name <name>', 'user name')
    .option('--role <role>', `also change the role: ${ROLES.join(', ')}`)
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(async (opts: { name: string; role?: string; passwordStdin?: boolean }, command: Command) => {
      const role = opts.role === undefined ? undefined : parseRole(opts.role);
      await withAuth(command, async (auth) => {
        if ((await auth.store.getUser(opts.name)) === undefined) throw new FieldmeshError('FM_NOT_FOUND', `no user "${opts.name}"`);
        const password = await readPassword(io, opts.passwordStdin);
        await audited(auth, 'hub user passwd', opts.name, async () => {
          await auth.updateUser(opts.name, { password, ...(role !== undefined ? { role } : {}) });
        });
      });
      io.out(`password of ${opts.name} changed${role !== undefined ? `, role ${role}` : ''}; their sessions ended`);
    });

  const token = hub.command('token').description('manage API tokens for scripts (Authorization: Bearer <token>)');
  token
    .command('create')
    .description('create an API token and print it, once: the hub keeps only a digest')
    .requiredOption('--name <name>', 'a label, e.g. ci or grafana')
    .option('--role <role>', `${ROLES.join(', ')}`, 'viewer')
    .action(async (opts: { name: string; role: string }, command: Command) => {
      const role = parseRole(opts.role);
      const created = await withAuth(command, async (auth) => {
        let result: Awaited<ReturnType<HubAuth['createToken']>> | undefined;
        await audited(auth, 'hub token create', opts.name, async () => {
          result = await auth.createToken(opts.name, role, 'cli');
        });
        return result as NonNullable<typeof result>;
      });
      io.err(`API token ${opts.name} (${role}) created; it is shown only this once:`);
      io.out(created.token);
    });
  token
    .command('list')
    .description('list API tokens (names and roles; never the tokens)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const tokens = await withAuth(command, (auth) => auth.listTokens());
      if (opts.json) io.out(JSON.stringify(tokens, null, 2));
      else if (tokens.length === 0) io.out('no API tokens');
      else
        io.out(table([['NAME', 'ROLE', 'CREATED', 'LAST USED'], ...tokens.map((t) => [t.name, t.role, t.createdAt, ago(t.lastUsedAt)])]));
    });
  token
    .command('revoke')
    .description('revoke an API token at once')
    .requiredOption('--name <name>', 'token name')
    .action(async (opts: { name: string }, command: Command) => {
      await withAuth(command, (auth) => audited(auth, 'hub token revoke', opts.name, () => auth.revokeToken(opts.name)));
      io.out(`API token ${opts.name} revoked`);
    });

  // main() turns CommanderErrors into exit codes; nested commands must throw them too, not exit.
  for (const group of [user, token]) {
    group.exitOverride();
    for (const c of group.commands) c.exitOverride();
  }
}
