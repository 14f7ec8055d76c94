// PromQL parsing on Prometheus' grammar: the typed tree, Prometheus' type checks, positioned syntax
// errors, and refusals by name of what fieldmesh does not evaluate.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../../kit/index.js';
import { parsePromQL } from './parse.js';

function refusal(query: string): string {
  try {
    parsePromQL(query);
  } catch (err) {
    assert.ok(isFieldmeshError(err, 'FM_QUERY_INVALID'), `${query}: ${String(err)}`);
    return err.message;
  }
  assert.fail(`${query} was accepted`);
}

test('promql parse: a selector with a name and every matcher kind', () => {
  const { expr, type } = parsePromQL('battery_soc{site="s1", node!="a", zone=~"z.*", dev!~"x|y"}');
  assert.equal(type, 'vector');
  assert.deepEqual(expr, {
    type: 'vector',
    name: 'battery_soc',
    matchers: [
      { name: '__name__', op: '=', value: 'battery_soc' },
      { name: 'site', op: '=', value: 's1' },
      { name: 'node', op: '!=', value: 'a' },
      { name: 'zone', op: '=~', value: 'z.*' },
      { name: 'dev', op: '!~', value: 'x|y' },
    ],
    offsetMs: 0,
  });
});

test('promql parse: (battery_soc), offset and unary minus, which the old parser refused as unexpected text', () => {
  assert.equal(parsePromQL('(battery_soc)').expr.type, 'paren');
  const off = parsePromQL('battery_soc offset 5m').expr;
  assert.equal(off.type === 'vector' && off.offsetMs, 300_000);
  const neg = parsePromQL('-battery_soc').expr;
  assert.equal(neg.type, 'unary');
  assert.deepEqual(parsePromQL('-1').expr, { type: 'number', value: -1 });
  // A sign binds looser than offset and @, as in Prometheus: -(x offset 5m).
  const negSel = parsePromQL('-x offset 5m @ 10').expr;
  assert.ok(negSel.type === 'unary' && negSel.expr.type === 'vector' && negSel.expr.offsetMs === 300_000);
  assert.match(refusal('-x[5m]'), /unary expression only allowed on expressions of type scalar or instant vector/);
  const negOff = parsePromQL('x offset -1h30m').expr;
  assert.equal(negOff.type === 'vector' && negOff.offsetMs, -5_400_000);
});

test('promql parse: ranges, subqueries, @ start()/end()/time, and where offset and @ may stand', () => {
  const m = parsePromQL('rate(x[5m] offset 1m @ 100)').expr;
  assert.ok(m.type === 'call' && m.args[0]?.type === 'matrix');
  const sel = m.type === 'call' && m.args[0]?.type === 'matrix' ? m.args[0].selector : undefined;
  assert.equal(sel?.offsetMs, 60_000);
  assert.deepEqual(sel?.at, { kind: 'time', ms: 100_000 });
  const sq = parsePromQL('max_over_time(rate(x[1m])[10m:30s] @ end())').expr;
  assert.ok(sq.type === 'call' && sq.args[0]?.type === 'subquery');
  if (sq.type === 'call' && sq.args[0]?.type === 'subquery') {
    assert.equal(sq.args[0].rangeMs, 600_000);
    assert.equal(sq.args[0].stepMs, 30_000);
    assert.deepEqual(sq.args[0].at, { kind: 'end' });
  }
  assert.match(refusal('sum(x) offset 5m'), /offset must be preceded by an instant vector selector or range vector selector or a subquery/);
  assert.match(refusal('x offset 1m offset 2m'), /offset may not be set multiple times/);
  assert.match(refusal('(x + 1)[5m]'), /ranges only allowed for vector selectors/);
});

test('promql parse: binary operators with bool, on/ignoring and group_left/right', () => {
  const b = parsePromQL('a * on(site) group_left(zone) b').expr;
  assert.deepEqual(b.type === 'binary' && b.matching, { card: 'many-to-one', on: true, labels: ['site'], include: ['zone'] });
  const c = parsePromQL('a > bool ignoring(node) b').expr;
  assert.ok(c.type === 'binary' && c.bool && c.matching?.on === false);
  assert.deepEqual(c.type === 'binary' && c.matching?.labels, ['node']);
  const s = parsePromQL('a and b').expr;
  assert.equal(s.type === 'binary' && s.matching?.card, 'many-to-many');
  // Precedence: ^ is right-associative and binds tighter than *.
  const p = parsePromQL('2 * 3 ^ 2 ^ 1').expr;
  assert.ok(p.type === 'binary' && p.op === '*' && p.rhs.type === 'binary' && p.rhs.op === '^' && p.rhs.rhs.type === 'binary');
});

test('promql parse: type errors as Prometheus words them', () => {
  assert.match(refusal('rate(x)'), /expected type range vector in call to function "rate", got instant vector/);
  assert.match(refusal('abs(x[5m])'), /expected type instant vector in call to function "abs", got range vector/);
  assert.match(refusal('1 > 2'), /comparisons between scalars must use BOOL modifier/);
  assert.match(refusal('x + bool 1'), /bool modifier can only be used on comparison operators/);
  assert.match(refusal('x and 1'), /set operator "and" not allowed in binary scalar expression/);
  assert.match(refusal('sum(x[5m])'), /expected type instant vector in aggregation expression, got range vector/);
  assert.match(refusal('topk(x, y)'), /expected type scalar in aggregation parameter, got instant vector/);
  assert.match(refusal('x[5m] + 1'), /binary expression must contain only scalar and instant vector types/);
  assert.match(refusal('round(x, 1, 2)'), /expected 1 or 2 argument\(s\) in call to "round", got 3/);
  assert.match(refusal('{a=~".*"}'), /vector selector must contain at least one non-empty matcher/);
  assert.match(refusal('x{a=~"("}'), /invalid regular expression/);
});

test('promql parse: the error for sum(max by (site) (...)) blames nothing that is supported', () => {
  const { expr } = parsePromQL('sum(max by (site) (battery_soc))');
  assert.ok(expr.type === 'aggregate' && expr.op === 'sum' && expr.expr.type === 'aggregate' && expr.expr.op === 'max');
  // A real error inside names its position instead of an aggregation.
  const message = refusal('sum(max by (site) (battery_soc{))');
  assert.match(message, /^1:32: parse error: unexpected "\)"/);
  assert.doesNotMatch(message, /max\(\)/);
});

test('promql parse: syntax errors name line, column and what was expected', () => {
  assert.equal(refusal('1 +'), '1:4: parse error: unexpected end of input, expected an expression after the operator');
  assert.equal(refusal('x{a="b" c="d"}'), '1:9: parse error: unexpected "c", expected a label matcher, "," or "}"');
  assert.match(refusal('sum(x'), /^1:6: parse error: unexpected end of input/);
  assert.match(refusal('x\n  +'), /^2:4: parse error: unexpected end of input/);
  assert.match(refusal('x{a="b}'), /unterminated quoted string|unexpected/);
  assert.equal(refusal(''), 'missing parameter "query"');
});

test('promql parse: functions and features not evaluated are refused by name, not as syntax errors', () => {
  assert.equal(refusal('holt_winters(x[5m], 0.5, 0.5)'), '1:1: parse error: function holt_winters is not supported');
  assert.equal(refusal('sum(no_such_fn(x))'), '1:5: parse error: function no_such_fn is not supported');
  assert.match(refusal('mad_over_time(x[5m])'), /function mad_over_time is not supported/);
  assert.match(refusal('histogram_count(x)'), /function histogram_count is not supported/);
  assert.match(refusal('limitk(2, x)'), /aggregation limitk is not supported/);
  assert.match(refusal('rate(x[5m] smoothed)'), /the smoothed modifier is not supported/);
});

test('promql parse: numbers, strings and durations as the grammar reads them', () => {
  assert.deepEqual(parsePromQL('0x1F').expr, { type: 'number', value: 31 });
  assert.deepEqual(parsePromQL('1_000').expr, { type: 'number', value: 1000 });
  assert.deepEqual(parsePromQL('1e3').expr, { type: 'number', value: 1000 });
  assert.deepEqual(parsePromQL('Inf').expr, { type: 'number', value: Number.POSITIVE_INFINITY });
  assert.deepEqual(parsePromQL('-inf').expr, { type: 'number', value: Number.NEGATIVE_INFINITY });
  assert.ok(Number.isNaN((parsePromQL('NaN').expr as { value: number }).value));
  assert.deepEqual(parsePromQL('"a\\tb\\u00e9"').expr, { type: 'string', value: 'a\tbé' });
  assert.deepEqual(parsePromQL("'it\\'s'").expr, { type: 'string', value: "it's" });
  assert.deepEqual(parsePromQL('`raw\\n`').expr, { type: 'string', value: 'raw\\n' });
  const r = parsePromQL('x[1h30m]').expr;
  assert.equal(r.type === 'matrix' && r.rangeMs, 5_400_000);
});

test('promql parse: RE2 regex syntax such as (?i) is accepted', () => {
  const { expr } = parsePromQL('x{site=~"(?i)S1"}');
  assert.equal(expr.type === 'vector' && expr.matchers[1]?.value, '(?i)S1');
});
