// Query selectors: plain selectors parse; PromQL beyond them gets a clear FM_QUERY_INVALID.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../../kit/index.js';
import { parseQuerySelector } from './query-selector.js';

test('query selector: name with =, !=, =~ and !~ matchers parses', () => {
  const s = parseQuerySelector('battery_soc{site="s1", node=~"n.*", zone!="z9", device!~"x|y"}');
  assert.deepEqual(
    s.matchers.map((m) => `${m.name}${m.op}${m.value}`),
    ['__name__=battery_soc', 'site=s1', 'node=~n.*', 'zone!=z9', 'device!~x|y'],
  );
  assert.equal(parseQuerySelector('{node="a+b>c"}').matchers.length, 1, 'operators inside values are fine');
});

test('query selector: functions, range vectors, operators and numbers are refused with what is supported', () => {
  for (const [query, says] of [
    ['rate(x[5m])', /functions and aggregations such as rate\(\)/],
    ['sum by (site) (x)', /such as sum\(\)/],
    ['x[5m]', /range vectors/],
    ['x > 5', /numbers and operators/],
    ['1+1', /numbers and operators/],
    ['x{a="1"} / y', /numbers and operators/],
  ] as const) {
    assert.throws(
      () => parseQuerySelector(query),
      (e) => isFieldmeshError(e, 'FM_QUERY_INVALID') && says.test(e.message) && /series selectors only/.test(e.message),
      query,
    );
  }
});

test('query selector: syntax errors name the character, and an empty query is missing', () => {
  assert.throws(
    () => parseQuerySelector('x{a="1"'),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID') && /character/.test(e.message),
  );
  assert.throws(
    () => parseQuerySelector('{a=~""}'),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID'),
  );
  assert.throws(
    () => parseQuerySelector(''),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID') && /missing parameter "query"/.test(e.message),
  );
  assert.throws(
    () => parseQuerySelector(undefined),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID'),
  );
});
