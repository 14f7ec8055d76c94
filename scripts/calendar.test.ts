// No test depends on the calendar: the rule holds for the tree, and catches a fixed date where one is.
// calendar: the dates are the rule's own test input, written to files it scans.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
// @ts-expect-error plain ESM script without type declarations
import { findCalendarDates } from './calendar.mjs';

test('calendar: no test file holds an absolute date without saying why it cannot age', () => {
  assert.deepEqual(findCalendarDates(join(import.meta.dirname, '..'), ['src', 'test', 'scripts']), []);
});

test('calendar: a fixed date is reported in a unit test without a reason and in any end-to-end test', () => {
  const base = mkdtempSync(join(tmpdir(), 'fm-calendar-'));
  mkdirSync(join(base, 'src'));
  mkdirSync(join(base, 'test', 'e2e'), { recursive: true });
  writeFileSync(join(base, 'src', 'a.test.ts'), '// a\nconst T0 = Date.UTC(2026, 10, 1);\n');
  writeFileSync(join(base, 'src', 'b.test.ts'), '// b\n// calendar: every part reads a manual clock\nconst T0 = Date.UTC(2026, 10, 1);\n');
  writeFileSync(join(base, 'src', 'c.test.ts'), "// c\nconst line = 'm v=1 1767225600';\n");
  writeFileSync(join(base, 'src', 'd.test.ts'), '// d\nconst T0 = Date.now() - 3_600_000;\n');
  writeFileSync(join(base, 'test', 'e2e', 'e.test.ts'), "// e\n// calendar: no\nconst at = '2026-11-01T00:00:00Z';\n");
  const problems: string[] = findCalendarDates(base, ['src', 'test']);
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.match(problems[0] as string, /^src\/a\.test\.ts:2: an absolute date in a test without/);
  assert.match(problems[1] as string, /^src\/c\.test\.ts:2: /);
  assert.match(problems[2] as string, /^test\/e2e\/e\.test\.ts:3: an absolute date in an end-to-end test/);
});
