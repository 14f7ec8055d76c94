#!/usr/bin/env node
// The import-border lint rule of docs/ARCHITECTURE.md: each area under src/ may import only the
// areas listed for it. Imports are read by the TypeScript compiler (every import and export
// declaration, dynamic import() and require, however many lines they span). Prints every violation
// with file and line and exits 1 when there is any.
import { readdirSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { API } from 'typescript/unstable/sync';

export const ALLOWED = {
  kit: [],
  protocol: ['kit'],
  transport: ['kit'],
  platform: ['kit'],
  awareness: ['protocol', 'kit', 'transport'],
  agent: ['protocol', 'kit', 'transport', 'platform', 'awareness', 'pki'],
  hub: ['protocol', 'kit', 'transport', 'platform', 'awareness', 'pki'],
  broker: ['protocol', 'kit', 'platform'],
  'fleet-config': ['protocol', 'kit', 'agent'],
  client: ['protocol', 'kit'],
  dashboard: ['protocol', 'kit', 'client'],
  pki: ['kit', 'protocol', 'awareness'],
  sim: ['*'],
  cli: ['*'],
};
/** Areas an area may import only through their index.ts (fleet-config reads the agent's config schema). */
const THROUGH_INDEX = { 'fleet-config': ['agent'] };
/** Areas whose code also runs in the browser, so Node built-ins are forbidden there. */
const BROWSER_SAFE = new Set(['kit', 'protocol', 'client', 'dashboard']);

function files(dir, out = []) {
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files(path, out);
    else if (/\.tsx?$/.test(entry)) out.push(path);
  }
  return out;
}

/** Whitespace and comments, which a node's position includes before its first character. */
const TRIVIA = /^(?:\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/)*/;

/**
 * Every module specifier of every file, as the compiler reads them: `{file, spec, line}` (line 1-based,
 * where the specifier is). Files under a tsconfig.json are read in that project, others on their own.
 */
export function readImports(paths, cwd = process.cwd()) {
  const api = new API({ cwd });
  try {
    const snapshot = api.updateSnapshot({ openFiles: paths });
    return paths.flatMap((file) => {
      const source = snapshot.getDefaultProjectForFile(file)?.program.getSourceFile(file);
      if (source === undefined) throw new Error(`${file}: the TypeScript compiler did not read it`);
      return source.imports.map((node) => {
        const start = node.pos + (TRIVIA.exec(source.text.slice(node.pos))?.[0].length ?? 0);
        return { file, spec: node.text, line: source.getLineAndCharacterOfPosition(start).line + 1 };
      });
    });
  } finally {
    api.close();
  }
}

export function checkBorders(srcDir) {
  const problems = [];
  const checked = [];
  for (const file of files(srcDir)) {
    const area = relative(srcDir, file).split(sep)[0];
    if (ALLOWED[area] === undefined) problems.push(`${relative(process.cwd(), file)}: area "${area}" is not in the border table`);
    else checked.push(file);
  }
  for (const { file, spec, line } of readImports(checked)) {
    const area = relative(srcDir, file).split(sep)[0];
    const allowed = ALLOWED[area];
    const where = `${relative(process.cwd(), file)}:${line}`;
    if (isBuiltin(spec) && BROWSER_SAFE.has(area) && !file.endsWith('.test.ts')) {
      problems.push(`${where}: ${area} must not import Node built-in "${spec}" (it runs in the browser)`);
    }
    if (!spec.startsWith('.')) continue;
    const target = relative(srcDir, resolve(dirname(file), spec)).split(sep)[0];
    if (target === area || target.startsWith('..')) continue;
    if (allowed.includes('*')) {
      const rest = relative(srcDir, resolve(dirname(file), spec))
        .split(sep)
        .slice(1)
        .join('/');
      if (rest !== 'index.js' && rest !== 'index.ts' && !file.endsWith('.test.ts')) {
        problems.push(`${where}: ${area} imports "${spec}"; import another area through its index.ts`);
      }
      continue;
    }
    if (!allowed.includes(target)) problems.push(`${where}: ${area} may not import ${target} ("${spec}")`);
    else if (
      THROUGH_INDEX[area]?.includes(target) &&
      !/^[^/]+\/index\.[jt]s$/.test(
        relative(srcDir, resolve(dirname(file), spec))
          .split(sep)
          .join('/'),
      )
    ) {
      problems.push(`${where}: ${area} imports "${spec}"; import ${target} through its index.ts`);
    }
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
