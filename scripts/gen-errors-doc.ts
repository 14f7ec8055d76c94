// Writes docs/errors.md from ERROR_CODES, so the list and the code cannot drift (a test checks it).
import { writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../src/kit/errors.js';

export function renderErrorsDoc(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, meaning]) => `| \`${code}\` | ${meaning} |`);
  return [
    '# Error codes',
    '',
    'Every error fieldmesh raises carries a stable code `FM_<AREA>_<WHAT>`. The CLI prints',
    '`error: <code>: <message>` on one line (a configuration error lists every problem, one per line)',
    'and exits 2 for bad usage or configuration, 1 otherwise. The hub answers HTTP errors as',
    '`{"code": "...", "message": "..."}` (the Prometheus-compatible endpoints use Prometheus\'s',
    '`{status: "error", errorType, error}` envelope). Agents log the code and keep running when a',
    'peer or a payload is at fault.',
    '',
    'This page is generated from `src/kit/errors.ts` by `npx tsx scripts/gen-errors-doc.ts`.',
    '',
    '| code | meaning |',
    '|---|---|',
    ...rows,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsDoc());
}
