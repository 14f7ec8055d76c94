#!/usr/bin/env node
// The test command: makes sure the real peers the tests need are installed (Debian's mosquitto,
// mosquitto-clients, chromium and nats-server), type checks, lints, builds the package (end-to-end tests drive the
// built binary), then runs every *.test.ts through node:test with tsx. Usage: node scripts/run-tests.mjs [file-or-folder ...]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

let aptUpdated = false;

function ensureDebianPackage(binary, pkg, probe = `command -v ${binary} || test -x /usr/sbin/${binary}`) {
  const found = spawnSync('sh', ['-c', probe], { stdio: 'ignore' });
  if (found.status === 0) return;
  if (process.getuid?.() !== 0) {
    console.error(`tests need ${binary} (Debian package ${pkg}); install it with: sudo apt-get install -y ${pkg}`);
    process.exit(1);
  }
  console.log(`installing Debian package ${pkg} for the tests ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  aptUpdated = true;
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', pkg], { stdio: 'inherit', env });
}

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path).sort()) {
      if (entry === 'node_modules' || entry === 'dist') continue;
      collect(join(path, entry), out);
    }
  } else if (path.endsWith('.test.ts')) {
    out.push(path);
  }
  return out;
}

ensureDebianPackage('mosquitto', 'mosquitto');
// `fieldmesh pub` and `sub` are tested byte for byte against mosquitto_pub and mosquitto_sub.
ensureDebianPackage('mosquitto_sub', 'mosquitto-clients');
// The live page is tested in Debian's Chromium through playwright-core; no browser is downloaded.
ensureDebianPackage('chromium', 'chromium');
// The awareness plane is tested across real network namespaces (ip netns, a bridge, veth pairs).
ensureDebianPackage('ip', 'iproute2');
// The configuration repository is tested as a real git repository, pulled by real hubs and nodes.
ensureDebianPackage('git', 'git');
// The hub's queue path (NATS JetStream) is tested against real nats-servers the tests start on free ports.
ensureDebianPackage('nats-server', 'nats-server');
// The hub's PostgreSQL store is tested on private servers (test/kit/postgres.ts) of Debian's PostgreSQL.
ensureDebianPackage('initdb', 'postgresql', 'ls /usr/lib/postgresql/*/bin/initdb');
// Remote write is tested against real receivers and a real sender (test/kit/victoria-metrics.ts, test/kit/prometheus.ts).
ensureDebianPackage('victoria-metrics', 'victoria-metrics');
ensureDebianPackage('prometheus', 'prometheus');

// Type check everything (tests and benches included), lint, then build what the end-to-end tests run.
for (const [what, args] of [
  ['type check', ['tsc', '-p', 'tsconfig.json', '--noEmit']],
  ['type check of the console', ['tsc', '-p', 'src/dashboard/tsconfig.json']],
  ['lint', ['biome', 'check', 'src', 'test', 'scripts', 'bench']],
  ['build', ['npm', 'run', '--silent', 'build']],
]) {
  const [command, ...rest] = args[0] === 'npm' ? args : ['npx', ...args];
  const step = spawnSync(command, rest, { cwd: root, stdio: 'inherit' });
  if (step.status !== 0) {
    console.error(`${what} failed`);
    process.exit(step.status ?? 1);
  }
}

const targets = process.argv.slice(2);
const files = (targets.length > 0 ? targets : ['src', 'test', 'scripts']).flatMap((t) =>
  existsSync(join(root, t)) ? collect(join(root, t), []) : [],
);
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=180000', ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
