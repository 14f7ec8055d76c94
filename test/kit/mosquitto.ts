// Starts a real Mosquitto for tests: its own temp config on a free 127.0.0.1 port, ready when it
// logs "running", stopped by its own PID only.

import { type ChildProcess, execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { haltProcess, spawnUntilReady } from './server-process.js';

export interface MosquittoUser {
  readonly username: string;
  readonly password: string;
}

export interface MosquittoOptions {
  /** Port to listen on; a free one when omitted. */
  readonly port?: number;
  /** When given, anonymous clients are refused and these users get a password file. */
  readonly users?: readonly MosquittoUser[];
  /** Text of a Mosquitto ACL file (`user x` / `topic readwrite a/#` / `pattern ...`). */
  readonly acl?: string;
  /** Path of an existing ACL file (wins over `acl`). */
  readonly aclFile?: string;
  /** Extra lines appended to mosquitto.conf. */
  readonly extraConfig?: readonly string[];
  /** How long to wait for the broker to be ready (default 10000 ms). */
  readonly readyTimeoutMs?: number;
  /**
   * Log errors, warnings, notices and connections, not every packet (`log_type all`). For load: the broker writes its
   * log to a pipe this process reads, and a write to a full pipe blocks the broker, so at thousands of messages a
   * second it waits on its own log rather than serving its clients (hub-scale at 10,000 nodes: 1 % of a core busy,
   * megabytes unread in its clients' sockets, blocked in a write).
   */
  readonly quiet?: boolean;
}

export interface MosquittoInstance {
  readonly url: string;
  readonly port: number;
  /** PID of the running process (changes on restart). */
  readonly pid: number;
  /** Everything the broker logged so far, for diagnosis and for asserting on its log. */
  log(): string;
  /** Stops the process (SIGTERM, SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Stops and starts it again on the same port with the same config. */
  restart(): Promise<void>;
  /** Stops the process but keeps its config, for an outage that `resume` ends on the same port. */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

function findBinary(name: string, sbin: boolean): string | undefined {
  const candidates = [sbin ? `/usr/sbin/${name}` : `/usr/bin/${name}`, ...(process.env.PATH ?? '').split(':').map((d) => join(d, name))];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {}
  }
  return undefined;
}

export function mosquittoBinary(): string {
  const bin = findBinary('mosquitto', true);
  if (!bin) throw new Error('mosquitto is not installed (Debian package "mosquitto")');
  return bin;
}

/** Path of a Mosquitto client tool (mosquitto_pub, mosquitto_sub, mosquitto_passwd), if installed. */
export function mosquittoTool(name: 'mosquitto_pub' | 'mosquitto_sub' | 'mosquitto_passwd'): string | undefined {
  return findBinary(name, false);
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoInstance> {
  const binary = mosquittoBinary();
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-mosquitto-'));
  const logTypes = options.quiet ? ['log_type error', 'log_type warning', 'log_type notice', 'log_type information'] : ['log_type all'];
  const conf = [`listener ${port} 127.0.0.1`, 'persistence false', 'log_dest stderr', ...logTypes, 'log_timestamp false'];
  // Started as root, Mosquitto drops to the `mosquitto` user before it reads the password file in this 0700 folder.
  if (process.getuid?.() === 0) conf.push('user root');
  const users = options.users ?? [];
  if (users.length > 0) {
    conf.push('allow_anonymous false');
    const passwd = mosquittoTool('mosquitto_passwd');
    if (passwd) {
      const file = join(dir, 'passwd');
      writeFileSync(file, '', { mode: 0o600 });
      for (const u of users) execFileSync(passwd, ['-b', file, u.username, u.password], { stdio: 'ignore' });
      conf.push(`password_file ${file}`);
    }
  } else {
    conf.push('allow_anonymous true');
  }
  if (options.aclFile) conf.push(`acl_file ${options.aclFile}`);
  else if (options.acl !== undefined) {
    const file = join(dir, 'acl');
    writeFileSync(file, options.acl);
    conf.push(`acl_file ${file}`);
  }
  conf.push(...(options.extraConfig ?? []));
  const confFile = join(dir, 'mosquitto.conf');
  writeFileSync(confFile, `${conf.join('\n')}\n`);

  let child: ChildProcess | undefined;
  let output = '';

  async function launch(): Promise<void> {
    child = await spawnUntilReady(binary, ['-c', confFile], {
      what: 'mosquitto',
      ready: /mosquitto version \S+ running/,
      timeoutMs: options.readyTimeoutMs ?? 10_000,
      onOutput: (text) => {
        output += text;
      },
    });
  }

  async function halt(): Promise<void> {
    const proc = child;
    child = undefined;
    await haltProcess(proc, 'SIGTERM');
  }

  await launch();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid ?? -1;
    },
    log: () => output,
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await halt();
      await launch();
    },
    pause: () => halt(),
    resume: () => launch(),
  };
}
