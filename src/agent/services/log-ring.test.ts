// The log ring holds exactly the newest lines of the output, however it is cut into chunks and streams.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LogRing, MAX_LOG_LINE_CHARS } from './log-ring.js';

test('log ring: the tail is the newest lines of each stream, whatever the chunking (property)', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          stream: fc.constantFrom('stdout' as const, 'stderr' as const),
          text: fc.string({ unit: fc.constantFrom('a', 'b', ' ', 'é', '\n', '\r'), maxLength: 40 }),
        }),
        {
          maxLength: 60,
        },
      ),
      fc.integer({ min: 1, max: 20 }),
      (chunks, capacity) => {
        const ring = new LogRing(capacity);
        const whole = { stdout: '', stderr: '' };
        const order: { stream: 'stdout' | 'stderr'; line: string }[] = [];
        for (const c of chunks) {
          ring.write(c.stream, c.text, 0);
          // The reference: whole lines in the order their newline arrived.
          whole[c.stream] += c.text;
          for (;;) {
            const nl = whole[c.stream].indexOf('\n');
            if (nl < 0) break;
            order.push({ stream: c.stream, line: whole[c.stream].slice(0, nl).replace(/\r$/, '') });
            whole[c.stream] = whole[c.stream].slice(nl + 1);
          }
        }
        const expected = order.slice(-capacity);
        assert.deepEqual(
          ring.tail().map((l) => ({ stream: l.stream, line: l.line })),
          expected,
        );
        assert.equal(ring.written, order.length);
        const n = Math.max(1, Math.floor(capacity / 2));
        assert.deepEqual(
          ring.tail(n).map((l) => l.line),
          expected.slice(-n).map((l) => l.line),
        );
      },
    ),
    { numRuns: 300 },
  );
});

test('log ring: a line without newline is cut at MAX_LOG_LINE_CHARS; flush ends partial lines; resize keeps the newest', () => {
  const ring = new LogRing(10);
  ring.write('stdout', 'x'.repeat(MAX_LOG_LINE_CHARS * 2 + 5), 1);
  assert.deepEqual(
    ring.tail().map((l) => l.line.length),
    [MAX_LOG_LINE_CHARS, MAX_LOG_LINE_CHARS],
  );
  ring.write('stderr', 'no newline yet', 2);
  ring.flush(3);
  assert.deepEqual(
    ring.tail(2).map((l) => [l.stream, l.line.length, l.time]),
    [
      ['stdout', 5, 3],
      ['stderr', 14, 3],
    ],
  );
  ring.resize(1);
  assert.deepEqual(
    ring.tail().map((l) => l.line),
    ['no newline yet'],
  );
});
