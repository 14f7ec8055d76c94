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

test('line protocol: a key twice in one line, or one field with two types in one batch, is an error of the later one', () => {
  const cases: [string, number, number, RegExp][] = [
    ['cpu,host=a,host=b v=1', 1, 12, /tag key "host" appears twice/],
    ['cpu,host=a,host=a v=1', 1, 12, /tag key "host" appears twice/],
    ['cpu v=1,w=2,v=3', 1, 13, /field key "v" appears twice/],
    ['cpu v=1\ncpu v=2i', 2, 7, /field type conflict: field "v" of measurement "cpu" is an integer here and a float on line 1/],
    ['cpu v=1u\n\nmem v=1\ncpu v=t', 4, 7, /is a boolean here and an unsigned integer on line 1/],
    ['cpu v="a"\ncpu w=1,v=2', 2, 11, /is a float here and a string on line 1/],
  ];
  for (const [text, line, column, pattern] of cases) {
    const r = parseLineProtocol(text);
    assert.equal(r.ok, false, text);
    if (r.ok) continue;
    assert.deepEqual([r.error.line, r.error.column], [line, column], `${text}: ${r.error.message}`);
    assert.match(r.error.message, pattern, text);
  }
  const sameFieldOtherMeasurement = parseLineProtocol('cpu v=1\nmem v=1i\ncpu v=2');
  assert.ok(sameFieldOtherMeasurement.ok, 'types are per measurement');
  assert.deepEqual(sameFieldOtherMeasurement.lines, [1, 2, 3]);
});

test('line protocol: with a precision, timestamps must fall between 1970 and 2^52 ms, with a hint at the precision sent', () => {
  const now = 1_767_225_600n; // seconds
  const ok = parseLineProtocol(`m v=1 ${now}\n# note\nm v=2 ${now * 1_000n}`, { precision: 'ms' });
  assert.ok(ok.ok);
  assert.deepEqual(ok.lines, [1, 3]);
  const cases: [string, 'ns' | 'us' | 'ms' | 's', RegExp][] = [
    [`m v=1 ${now * 1_000_000_000n}`, 's', /after the year 144683.*precision ns/],
    [`m v=1 ${now * 1_000_000_000n}`, 'ms', /after the year 144683.*precision ns/],
    [`m v=1 ${now * 1_000_000n}`, 's', /after the year 144683.*precision us/],
    ['m v=1 -1', 'ms', /before 1970/],
    ['m v=1 -1000000', 'ns', /before 1970/],
  ];
  for (const [text, precision, pattern] of cases) {
    const r = parseLineProtocol(text, { precision });
    assert.equal(r.ok, false, text);
    if (r.ok) continue;
    assert.deepEqual([r.error.line, r.error.column], [1, 7], text);
    assert.match(r.error.message, pattern, `${text}: ${r.error.message}`);
  }
  assert.ok(parseLineProtocol('m v=1 -1').ok, 'without a precision the parser keeps InfluxDB’s int64 range');
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

/** A batch where no measurement has one field with two types (that is a "field type conflict"). */
function hasNoTypeConflict(points: readonly Point[]): boolean {
  const types = new Map<string, string>();
  return points.every((p) =>
    Object.entries(p.fields).every(([k, v]) => {
      const id = JSON.stringify([p.measurement, k]);
      return (types.get(id) ?? types.set(id, v.type).get(id)) === v.type;
    }),
  );
}

test('line protocol: random points serialised with escaping parse back unchanged', () => {
  fc.assert(
    fc.property(fc.array(point, { minLength: 1, maxLength: 5 }).filter(hasNoTypeConflict), (points) => {
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
