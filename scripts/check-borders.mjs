#!/usr/bin/env node
// The import-border lint rule of docs/ARCHITECTURE.md: each area under src/ may import only the
// areas listed for it. Prints every violation with file and line and exits 1 when there is any.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

export const ALLOWED = {
  kit: [],
  protocol: ['kit'],
  transport: ['kit'],
  platform: ['kit'],
  awareness: ['protocol', 'kit', 'transport'],
  agent: ['protocol', 'kit', 'transport', 'platform', 'awareness'],
  hub: ['protocol', 'kit', 'transport', 'platform', 'awareness'],
  broker: ['protocol', 'kit', 'platform'],
  client: ['protocol', 'kit'],
  dashboard: ['protocol', 'kit', 'client'],
  sim: ['*'],
  cli: ['*'],
};
/** Areas whose code also runs in the browser, so Node built-ins are forbidden there. */
const BROWSER_SAFE = new Set(['kit', 'protocol', 'client', 'dashboard']);

function files(dir, out = []) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files(path, out);
    else if (/\.tsx?$/.test(entry)) out.push(path);
  }
  return out;
}

export function checkBorders(srcDir) {
  const problems = [];
  for (const file of files(srcDir)) {
    const area = relative(srcDir, file).split(sep)[0];
    const allowed = ALLOWED[area];
    if (allowed === undefined) {
      problems.push(`${relative(process.cwd(), file)}: area "${area}" is not in the border table`);
      continue;
    }
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const m = /^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/.exec(line);
      const spec = m?.[1] ?? m?.[2];
      if (spec === undefined) return;
      const where = `${relative(process.cwd(), file)}:${i + 1}`;
      if (spec.startsWith('node:') && BROWSER_SAFE.has(area) && !file.endsWith('.test.ts')) {
        problems.push(`${where}: ${area} must not import Node built-in "${spec}" (it runs in the browser)`);
      }
      if (!spec.startsWith('.')) return;
      const target = relative(srcDir, resolve(dirname(file), spec)).split(sep)[0];
      if (target === area || target.startsWith('..')) return;
      if (allowed.includes('*')) {
        const rest = relative(srcDir, resolve(dirname(file), spec))
          .split(sep)
          .slice(1)
          .join('/');
        if (rest !== 'index.js' && rest !== 'index.ts' && !file.endsWith('.test.ts')) {
          problems.push(`${where}: ${area} imports "${spec}"; import another area through its index.ts`);
        }
        return;
      }
      if (!allowed.includes(target)) problems.push(`${where}: ${area} may not import ${target} ("${spec}")`);
    });
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problems = checkBorders(resolve(dirname(new URL(import.meta.url).pathname), '..', 'src'));
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`${problems.length} import-border violation(s)`);
    process.exit(1);
  }
}
