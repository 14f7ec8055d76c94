// The reaper: one per test process, in a process group of its own. It reads "+PGID" and "-PGID" lines on
// standard input, and when that input ends (the test process exited, however it ended: a timeout, a
// crash, SIGKILL), it SIGKILLs every process group still listed, then exits.
const groups = new Set();
let pending = '';

function reapAll() {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  process.exit(0);
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) {
    const pgid = Number(line.slice(1));
    if (!Number.isSafeInteger(pgid) || pgid <= 1) continue;
    if (line.startsWith('+')) groups.add(pgid);
    else if (line.startsWith('-')) groups.delete(pgid);
  }
});
process.stdin.on('end', reapAll);
process.stdin.on('error', reapAll);
process.on('SIGTERM', reapAll);
process.on('SIGHUP', reapAll);
