// dist/ holds what the fieldmesh command runs and no test fixture: the build's modules are all reachable
// from the package's bin, and dist/ has no compiled file without a module in the build.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
// @ts-expect-error plain ESM script without type declarations
import { strayDistFiles, unreachableModules } from './check-dist.mjs';

const root = join(import.meta.dirname, '..');

test('dist: every module the build compiles is loaded by the fieldmesh command; test fixtures are not built', () => {
  assert.deepEqual(unreachableModules(root), []);
});

test('dist: the built package holds no compiled file without a module in the build (no fixture, nothing stale)', () => {
  assert.ok(existsSync(join(root, 'dist', 'cli', 'main.js')), 'dist/ is missing: run "npm run build" first (npm test does)');
  assert.deepEqual(strayDistFiles(root), []);
});

test('dist: a fixture only a test imports, a child a test spawns and a stale compiled file are reported', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-dist-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  write('package.json', JSON.stringify({ name: 'p', type: 'module', bin: { p: 'dist/cli/main.js' } }));
  write(
    'tsconfig.build.json',
    JSON.stringify({ compilerOptions: { module: 'nodenext', strict: true, types: [] }, include: ['src'], exclude: ['src/**/*.test.ts'] }),
  );
  write('src/cli/main.ts', "import { run } from '../kit/index.js';\nrun();\n");
  write('src/kit/index.ts', "export { run } from './run.js';\n");
  write('src/kit/run.ts', 'export function run(): void {}\n');
  write('src/kit/fixture.ts', "import { run } from './run.js';\nexport const fixture = run;\n");
  write('src/kit/run.test.ts', "import { fixture } from './fixture.js';\nfixture();\n");
  write('src/kit/child.ts', "import { run } from './index.js';\nrun();\n");
  for (const f of ['cli/main', 'kit/index', 'kit/run', 'kit/gone']) write(`dist/${f}.js`, '');
  write('dist/kit/gone.js.map', '');
  write('dist/console/index.js', '');
  assert.deepEqual(unreachableModules(dir), ['src/kit/child.ts', 'src/kit/fixture.ts']);
  assert.deepEqual(strayDistFiles(dir), ['dist/kit/gone.js', 'dist/kit/gone.js.map'], 'the console is left alone');
});
