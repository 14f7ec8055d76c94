// The import-border rule holds for the whole source tree, and catches a violation when one exists.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
// @ts-expect-error plain ESM script without type declarations
import { checkBorders } from './check-borders.mjs';

test('borders: the source tree has no import-border violations', () => {
  assert.deepEqual(checkBorders(join(import.meta.dirname, '..', 'src')), []);
});

test('borders: the agent importing the hub is reported with file and line', () => {
  const src = mkdtempSync(join(tmpdir(), 'fm-borders-'));
  mkdirSync(join(src, 'agent'));
  mkdirSync(join(src, 'hub'));
  writeFileSync(join(src, 'hub', 'index.ts'), 'export const x = 1;\n');
  writeFileSync(join(src, 'agent', 'a.ts'), "// a\nimport { x } from '../hub/index.js';\n");
  const problems: string[] = checkBorders(src);
  assert.equal(problems.length, 1);
  assert.match(problems[0] as string, /a\.ts:2: agent may not import hub/);
});

test('borders: imports spanning several lines, export-from, dynamic import() and Node built-ins are read; text that only looks like an import is not', () => {
  const src = mkdtempSync(join(tmpdir(), 'fm-borders-'));
  for (const area of ['agent', 'hub', 'kit', 'protocol']) mkdirSync(join(src, area));
  writeFileSync(join(src, 'hub', 'index.ts'), 'export const x = 1;\nexport type Y = number;\n');
  writeFileSync(
    join(src, 'agent', 'multi.ts'),
    [
      '// imports written over several lines, as the formatter writes long ones',
      'import {',
      '  x,',
      '} from',
      "  '../hub/index.js';",
      'export type {',
      '  Y,',
      "} from '../hub/index.js';",
      "const later = await import('../hub/index.js');",
      'const text = `',
      "import { x } from '../hub/index.js';",
      '`;',
      "/* import { y } from '../hub/index.js'; */",
      'export { later, text, x };',
      '',
    ].join('\n'),
  );
  writeFileSync(join(src, 'protocol', 'p.ts'), "import {\n  readFileSync,\n} from 'fs';\nexport const r = readFileSync;\n");
  writeFileSync(join(src, 'kit', 'k.ts'), 'export const k = 1;\n');
  const problems: string[] = checkBorders(src);
  assert.deepEqual(
    problems.map((p) => p.replace(/^.*?(\w+\.ts:\d+)/, '$1')),
    [
      'multi.ts:5: agent may not import hub ("../hub/index.js")',
      'multi.ts:8: agent may not import hub ("../hub/index.js")',
      'multi.ts:9: agent may not import hub ("../hub/index.js")',
      'p.ts:3: protocol must not import Node built-in "fs" (it runs in the browser)',
    ],
  );
});
