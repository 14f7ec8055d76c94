// Docs agree with the code: the error list is current.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderErrorsDoc } from './gen-errors-doc.js';

test('docs: docs/errors.md lists exactly the codes in src/kit/errors.ts', () => {
  const onDisk = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  assert.equal(onDisk, renderErrorsDoc(), 'run: npx tsx scripts/gen-errors-doc.ts');
});
