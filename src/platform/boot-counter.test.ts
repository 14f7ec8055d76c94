// Boot counters start at 1, grow by one per start, and never go backwards on a damaged file.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nextBootEpoch } from './boot-counter.js';

test('boot counter: 1 on the first start, then one more per start', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'fm-boot-')), 'nested');
  assert.equal(nextBootEpoch(dir, 'state.json'), 1);
  assert.equal(nextBootEpoch(dir, 'state.json'), 2);
  assert.equal(nextBootEpoch(dir, 'other.json'), 1, 'one counter per file');
});

test('boot counter: a damaged file continues from a time-derived value, above any plausible count', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-boot-'));
  writeFileSync(join(dir, 'state.json'), '{"boot": 4');
  assert.equal(nextBootEpoch(dir, 'state.json', 1_800_000_000_000), 1_800_000_001);
  writeFileSync(join(dir, 'state.json'), '{"boot": "x"}');
  assert.equal(nextBootEpoch(dir, 'state.json', 1_800_000_000_000), 1_800_000_001);
});
