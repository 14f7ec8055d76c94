// Finds tests that depend on the calendar: an absolute date (Date.UTC(2026, ...), an ISO date string,
// an epoch literal) in a test file ages: once it is older than a retention, or a clock compares it with
// "now", the test fails on some later day (issue 9: a fixed date broke `npm test` a month after it was
// written). Tests build their data at times relative to now, or run every component they test on a
// manual clock; a file that holds an absolute date says why it cannot age in a file comment
// `// calendar: <why>`. End-to-end tests run real processes on the system clock: no absolute date there.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const ABSOLUTE_DATE = [
  /Date\.UTC\(\s*\d{4}/,
  /(?:new Date|Date\.parse)\(\s*['"`]\d{4}-/,
  /['"`][0-9]{4}-[0-9]{2}-[0-9]{2}[T ]/,
  /\b1[5-9]\d{11}\b/, // epoch milliseconds, 2017 to 2033
  /\b1[5-9]\d{8}\b/, // epoch seconds, 2017 to 2033
];
const REASON = /^\/\/ calendar: \S/m;

function isTestFile(path) {
  return path.endsWith('.test.ts') || path.endsWith('-test-kit.ts') || path.split(sep).includes('test');
}

function walk(dir, out) {
  for (const entry of readdirSync(dir).sort()) {
    if (entry === 'node_modules' || entry === 'dist' || entry === 'dashboard') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (/\.(ts|mjs)$/.test(entry)) out.push(path);
  }
  return out;
}

/** Problems as "file:line: why", for every test file under `roots` (paths relative to `base`). */
export function findCalendarDates(base, roots) {
  const problems = [];
  for (const root of roots) {
    for (const path of walk(join(base, root), [])) {
      const rel = relative(base, path);
      if (!isTestFile(rel) || rel === join('scripts', 'calendar.mjs')) continue;
      const text = readFileSync(path, 'utf8');
      const endToEnd = rel.startsWith(join('test', 'e2e'));
      if (!endToEnd && REASON.test(text)) continue;
      text.split('\n').forEach((line, i) => {
        if (ABSOLUTE_DATE.some((re) => re.test(line))) {
          const why = endToEnd
            ? 'an absolute date in an end-to-end test, whose processes run on the system clock'
            : 'an absolute date in a test without a "// calendar: <why>" comment';
          problems.push(`${rel}:${i + 1}: ${why}: ${line.trim()}`);
        }
      });
    }
  }
  return problems;
}
