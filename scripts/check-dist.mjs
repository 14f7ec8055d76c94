#!/usr/bin/env node
// What the build puts in dist/ is what the fieldmesh command runs, and no test fixture: every module
// tsconfig.build.json compiles must be reachable, import by import, from the package's bin (a module
// only tests load, such as a fixture or a child process a test spawns, is excluded there), and dist/
// holds no compiled file without a module in the build (one left from a file since renamed or
// excluded). Prints both; `--prune` deletes the stray files, as the build does after compiling.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { API } from 'typescript/unstable/sync';
import { readImports } from './check-borders.mjs';

/** The src/ modules tsconfig.build.json compiles, as absolute paths. */
export function buildModules(root) {
  const config = join(root, 'tsconfig.build.json');
  const api = new API({ cwd: root });
  try {
    const project = api.updateSnapshot({ openProjects: [config] }).getProject(config);
    if (project === undefined) throw new Error(`${config}: the TypeScript compiler did not load it`);
    return project.program.getSourceFileNames().filter((f) => f.startsWith(join(root, 'src') + sep));
  } finally {
    api.close();
  }
}

/** The source module a relative specifier names (`./x.js` is `./x.ts` or `./x.tsx`; a folder its index). */
function sourceOf(from, spec) {
  const path = resolve(dirname(from), spec);
  const candidates = [path.replace(/\.js$/, '.ts'), path.replace(/\.js$/, '.tsx'), path, join(path, 'index.ts')];
  return candidates.find((c) => /\.tsx?$/.test(c) && existsSync(c));
}

/** The package's entry modules: src/ of every bin in package.json. */
function entryModules(root) {
  const { bin = {} } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const bins = typeof bin === 'string' ? [bin] : Object.values(bin);
  return bins.map((b) => join(root, b.replace(/^(\.\/)?dist\//, 'src/').replace(/\.js$/, '.ts')));
}

/** Modules of the build that the package's bin cannot reach (relative to root, sorted). */
export function unreachableModules(root) {
  const modules = buildModules(root);
  const edges = new Map();
  for (const { file, spec } of readImports(modules, root)) {
    const target = spec.startsWith('.') ? sourceOf(file, spec) : undefined;
    if (target !== undefined) edges.set(file, [...(edges.get(file) ?? []), target]);
  }
  const reached = new Set();
  const pending = entryModules(root);
  while (pending.length > 0) {
    const file = pending.pop();
    if (reached.has(file)) continue;
    reached.add(file);
    pending.push(...(edges.get(file) ?? []));
  }
  return modules
    .filter((m) => !reached.has(m))
    .map((m) => relative(root, m))
    .sort();
}

function files(dir, out = []) {
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files(path, out);
    else out.push(path);
  }
  return out;
}

/** Compiled files in dist/ (the console aside) whose module is not in the build (relative to root). */
export function strayDistFiles(root) {
  const dist = join(root, 'dist');
  if (!existsSync(dist)) return [];
  const modules = new Set(buildModules(root).map((m) => relative(join(root, 'src'), m).replace(/\.tsx?$/, '')));
  return files(dist)
    .filter((f) => !relative(dist, f).startsWith(`console${sep}`))
    .filter((f) => /\.(js|js\.map|d\.ts|d\.ts\.map)$/.test(f))
    .filter((f) => !modules.has(relative(dist, f).replace(/\.(js|js\.map|d\.ts|d\.ts\.map)$/, '')))
    .map((f) => relative(root, f));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
  const stray = strayDistFiles(root);
  if (process.argv.includes('--prune')) {
    for (const f of stray) {
      rmSync(join(root, f));
      console.log(`${f}: not compiled from a module of the build; deleted`);
    }
  } else {
    const unreachable = unreachableModules(root);
    for (const f of stray) console.error(`${f}: not compiled from a module of the build (npm run build deletes it)`);
    for (const m of unreachable) {
      console.error(`${m}: built into dist/ but the fieldmesh command never loads it (a test fixture? exclude it in tsconfig.build.json)`);
    }
    if (stray.length + unreachable.length > 0) process.exit(1);
  }
}
