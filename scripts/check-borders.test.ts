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
