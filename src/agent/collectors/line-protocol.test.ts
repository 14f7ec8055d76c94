// Tests of the line-protocol parser: examples from the InfluxDB reference and property tests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type FieldValue, formatLine, type Point, parseLineProtocol, parsePrecision, timestampToMs } from './line-protocol.js';

function parseOk(text: string): Point[] {
  const r = parseLineProtocol(text);
  if (!r.ok) assert.fail(`unexpected error: ${JSON.stringify(r.error)}`);
  return r.points;
}

test('line protocol: escaping in measurement, tags, field keys and string values', () => {
  const [p] = parseOk('my\\ meas\\,x,tag\\ key=val\\=ue\\,2,t2=a\\ b field\\=k="say \\"hi\\" \\\\ \\n, =x",f2=1 1700000000000000000');
  assert.deepEqual(p, {
    measurement: 'my meas,x',
    tags: { 'tag key': 'val=ue,2', t2: 'a b' },
    fields: { 'field=k': { type: 'string', value: 'say "hi" \\ \\n, =x' }, f2: { type: 'float', value: 1 } },
    timestamp: 1_700_000_000_000_000_000n,
  });
});

test('line protocol: value types, comments, blank lines and CRLF', () => {
  const points = parseOk('# a comment\r\n\r\ncpu,host=a i=-12i,u=12u,f=1.5e3,g=.5,b1=t,b2=TRUE,b3=False,b4=f\r\n  mem free=3 -5\n');
  assert.equal(points.length, 2);
  const f = points[0]?.fields as Record<string, FieldValue>;
  assert.deepEqual(f.i, { type: 'integer', value: -12 });
  assert.deepEqual(f.u, { type: 'unsigned', value: 12 });
  assert.deepEqual(f.f, { type: 'float', value: 1500 });
  assert.deepEqual(f.g, { type: 'float', value: 0.5 });
  assert.deepEqual(
    [f.b1, f.b2, f.b3, f.b4].map((b) => b?.value),
    [true, true, false, false],
  );
  assert.equal(points[1]?.timestamp, -5n);
});

test('line protocol: errors name the 1-based line and column', () => {
  const cases: [string, number, number, RegExp][] = [
    ['cpu value=1\ncpu value=1\ncpu,host=a value=abc', 3, 18, /invalid field value "abc"/],
    ['cpu', 1, 4, /missing fields/],
    ['cpu,host value=1', 1, 9, /missing '=' after tag key "host"/],
    ['cpu,host= value=1', 1, 10, /missing value of tag/],
    ['cpu value="open', 1, 11, /unterminated string/],
    ['cpu value=1 12x', 1, 13, /invalid timestamp/],
    ['cpu value=1i2', 1, 11, /invalid field value/],
    ['cpu value=', 1, 11, /missing field value/],
    ['cpu value=99999999999999999999i', 1, 11, /int64 range/],
    [',t=1 v=1', 1, 1, /missing measurement/],
    ['cpu v=1,', 1, 9, /missing field key/],
    ['cpu v="a"x', 1, 10, /unexpected "x"/],
  ];
  for (const [text, line, column, pattern] of cases) {
    const r = parseLineProtocol(text);
    assert.equal(r.ok, false, text);
    if (r.ok) continue;
    assert.equal(r.error.line, line, text);
    assert.equal(r.error.column, column, `${text}: ${r.error.message}`);
    assert.match(r.error.message, pattern, text);
  }
});

test('line protocol: precisions of v1 and v2 convert to milliseconds', () => {
  assert.equal(parsePrecision(undefined), 'ns');
  assert.equal(parsePrecision('n'), 'ns');
  assert.equal(parsePrecision('u'), 'us');
  assert.equal(parsePrecision('ms'), 'ms');
  assert.equal(parsePrecision('fortnight'), undefined);
  assert.equal(timestampToMs(1_700_000_000_123_456_789n, 'ns'), 1_700_000_000_123);
  assert.equal(timestampToMs(1_700_000_000_123_456n, 'us'), 1_700_000_000_123);
  assert.equal(timestampToMs(1_700_000_000n, 's'), 1_700_000_000_000);
  assert.equal(timestampToMs(2n, 'm'), 120_000);
  assert.equal(timestampToMs(1n, 'h'), 3_600_000);
});

const text = fc.string({ unit: fc.constantFrom(...'ab Z0,=\\"#\t-_.é😀'.split(/(?:)/u)), minLength: 1, maxLength: 12 });
const fieldValue: fc.Arbitrary<FieldValue> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => ({ type: 'float' as const, value: Object.is(v, -0) ? 0 : v })),
  fc.maxSafeInteger().map((v) => ({ type: 'integer' as const, value: v })),
  fc.maxSafeNat().map((v) => ({ type: 'unsigned' as const, value: v })),
  fc.boolean().map((v) => ({ type: 'boolean' as const, value: v })),
  fc
    .string({ maxLength: 10 })
    .filter((s) => !/[\r\n]/.test(s))
    .map((v) => ({ type: 'string' as const, value: v })),
);
const point: fc.Arbitrary<Point> = fc.record({
  // A measurement cannot start with '#' (a comment) or whitespace (trimmed).
  measurement: text.filter((s) => !/^[#\s]/.test(s)),
  tags: fc.dictionary(text, text, { maxKeys: 3 }),
  fields: fc.dictionary(text, fieldValue, { minKeys: 1, maxKeys: 4 }),
  timestamp: fc.option(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { nil: undefined }),
});

test('line protocol: random points serialised with escaping parse back unchanged', () => {
  fc.assert(
    fc.property(fc.array(point, { minLength: 1, maxLength: 5 }), (points) => {
      const body = points.map(formatLine).join('\n');
      assert.deepEqual(
        parseOk(body),
        points.map((p) => ({ ...p, tags: { ...p.tags }, fields: { ...p.fields } })),
      );
    }),
    { numRuns: 500 },
  );
});

test('line protocol: random garbage never throws; it parses or returns a typed error', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(...'ab0 ,=\\"#\n\r.-ituTf'.split('')), maxLength: 60 }), (garbage) => {
      const r = parseLineProtocol(garbage);
      if (!r.ok) {
        assert.ok(r.error.line >= 1 && r.error.column >= 1);
        assert.equal(typeof r.error.message, 'string');
      }
    }),
    { numRuns: 2_000 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (s) => void parseLineProtocol(s)),
    { numRuns: 1_000 },
  );
});
