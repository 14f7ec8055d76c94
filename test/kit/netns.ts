// A shared Ethernet segment of real network namespaces for end-to-end tests (root only): one Linux bridge in the
// test's own namespace, one namespace per node joined to it by a veth pair, multicast flooded to every port. The
// test reaches each node's HTTP server over the bridge. `split` cuts the segment in two (one side's ports move to a
// second bridge, so neither side hears the other, multicast or unicast) while the test still reaches every host;
// `join` heals it. Everything is named after the test process's pid and removed on close, at the process's exit,
// and by the next test process if this one was killed outright.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface NetnsHost {
  /** The namespace's name, for `ip netns exec`. */
  readonly ns: string;
  /** Its address on the segment. */
  readonly address: string;
  /** The bridge port of its veth, in the test's namespace. */
  readonly port: string;
}

export interface NetnsSegment {
  readonly hosts: readonly NetnsHost[];
  /** The command that runs a program inside `host`'s namespace (`runFieldmesh`'s wrapper). */
  wrapper(host: NetnsHost): string[];
  /** Multicast and broadcast frames stop (or start again) reaching `host`; what it sends still goes out. */
  deafen(host: NetnsHost, deaf: boolean): void;
  /**
   * A partition: the hosts of `side` hear only each other, the rest only each other (every frame, multicast and
   * unicast). The test still reaches every host's address. One split at a time.
   */
  split(side: readonly NetnsHost[]): void;
  /** Ends the split: every host on the one segment again. */
  join(): void;
  close(): void;
}

const PREFIX = 'fmt';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function tryRun(command: string, args: string[]): void {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
  } catch {
    // Already gone.
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a test process killed outright (a timeout, SIGKILL) left behind: namespaces and links of a dead pid. */
function removeOrphans(): void {
  const names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '');
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '');
  for (const name of [...names, ...links]) {
    const m = new RegExp(`^${PREFIX}(\\d+)[nbv]`).exec(name);
    if (m === null || alive(Number(m[1]))) continue;
    if (names.includes(name)) tryRun('ip', ['netns', 'del', name]);
    else tryRun('ip', ['link', 'del', name]);
  }
}

/** Builds a segment of `count` namespaces (at most 200). Throws, naming the cause, where namespaces are not available. */
export function createNetnsSegment(count: number): NetnsSegment {
  if (process.getuid?.() !== 0) throw new Error('network namespaces need root: run the end-to-end tests as root (CI does)');
  removeOrphans();
  const tag = `${PREFIX}${process.pid}`;
  // 10.254.<pid mod 250>.0/24: a private range, one per test process.
  const net = `10.254.${process.pid % 250}`;
  const bridge = `${tag}b`;
  /** The other side's bridge while split. */
  const island = `${tag}b2`;
  const hosts: NetnsHost[] = Array.from({ length: count }, (_, i) => ({
    ns: `${tag}n${i}`,
    address: `${net}.${i + 2}`,
    port: `${tag}v${i}`,
  }));
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const h of hosts) {
      tryRun('ip', ['link', 'del', h.port]);
      tryRun('ip', ['netns', 'del', h.ns]);
    }
    tryRun('ip', ['link', 'del', island]);
    tryRun('ip', ['link', 'del', bridge]);
    process.off('exit', close);
  };
  process.on('exit', close);
  try {
    ip('link', 'add', bridge, 'type', 'bridge', 'mcast_snooping', '0');
    ip('addr', 'add', `${net}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (const [i, h] of hosts.entries()) {
      const peer = `${tag}p${i}`;
      ip('netns', 'add', h.ns);
      ip('link', 'add', h.port, 'type', 'veth', 'peer', 'name', peer);
      ip('link', 'set', peer, 'netns', h.ns);
      ip('link', 'set', h.port, 'master', bridge);
      ip('link', 'set', h.port, 'up');
      ip('-n', h.ns, 'addr', 'add', `${h.address}/24`, 'dev', peer);
      ip('-n', h.ns, 'link', 'set', peer, 'up');
      ip('-n', h.ns, 'link', 'set', 'lo', 'up');
    }
  } catch (err) {
    close();
    throw new Error(`could not build the namespaces: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`);
  }
  return {
    hosts,
    wrapper: (h) => ['ip', 'netns', 'exec', h.ns],
    deafen(h, deaf) {
      // The bridge stops flooding multicast (and broadcast) out of the host's port: its receive path on the segment
      // is cut, while its own frames still come in through the port and reach the others; unicast (HTTP) still works.
      const flag = deaf ? 'off' : 'on';
      execFileSync('bridge', ['link', 'set', 'dev', h.port, 'mcast_flood', flag, 'bcast_flood', flag], { stdio: 'ignore' });
    },
    split(side) {
      if (side.length === 0 || side.length === hosts.length) throw new Error('a split needs hosts on both sides');
      // The island bridge takes the segment's MAC address (pinned first: a bridge's address follows its ports), so
      // the hosts' neighbour entries for the test's address stay right on both sides and after the join.
      const mac = readFileSync(`/sys/class/net/${bridge}/address`, 'utf8').trim();
      ip('link', 'set', bridge, 'address', mac);
      ip('link', 'add', island, 'type', 'bridge', 'mcast_snooping', '0');
      ip('link', 'set', island, 'address', mac);
      ip('link', 'set', island, 'up');
      for (const h of side) {
        ip('link', 'set', h.port, 'master', island);
        // The test reaches the island's hosts through it, from the segment's own address (which it answers ARP for).
        ip('route', 'add', `${h.address}/32`, 'dev', island, 'src', `${net}.1`);
      }
    },
    join() {
      for (const h of hosts) {
        tryRun('ip', ['route', 'del', `${h.address}/32`, 'dev', island]);
        ip('link', 'set', h.port, 'master', bridge);
      }
      ip('link', 'del', island);
    },
    close,
  };
}
