// Selectors: Prometheus syntax parses, matches like Prometheus (anchored regexes), and errors point at a character.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { isFieldmeshError } from '../kit/index.js';
import { matchesLabelMatchers, matchesSelector, parseLabelMatcher, parseSelector } from './selector.js';
import { FIELDMESH_VERSION } from './version.js';

test('selector: name and label matchers of all four kinds', () => {
  const s = parseSelector('dc_voltage{device="battery", node=~"node0.*", site!="lab",zone!~"z[23]"}');
  assert.equal(s.matchers.length, 5);
  assert.ok(matchesSelector(s, 'dc_voltage', { device: 'battery', node: 'node001', site: 'farm', zone: 'z1' }));
  assert.ok(!matchesSelector(s, 'dc_voltage', { device: 'battery', node: 'xnode001', site: 'farm' }), 'regex is anchored');
  assert.ok(!matchesSelector(s, 'dc_voltage', { device: 'battery', node: 'node001', site: 'lab' }));
  assert.ok(!matchesSelector(s, 'dc_voltage', { device: 'battery', node: 'node001', zone: 'z2' }));
  assert.ok(!matchesSelector(s, 'dc_current', { device: 'battery', node: 'node001' }));
});

test('selector: a bare label selector and the seed-004 critical regex', () => {
  const s = parseSelector('{__name__=~"victron_(battery_soc|dc_voltage|dc_current|ac_.*_l1_power)"}');
  assert.ok(matchesSelector(s, 'victron_ac_in_l1_power', {}));
  assert.ok(!matchesSelector(s, 'victron_ac_in_l2_power', {}));
});

test('selector: errors name the character where parsing stopped', () => {
  const cases: Array<[string, RegExp]> = [
    ['up{job="x"', /character 11: expected , or }/],
    ['up{job=x}', /character 8: expected a quoted label value/],
    ['up{job~"x"}', /character 7: expected one of/],
    ['{job=~"("}', /invalid regular expression/],
    ['{job=""}', /at least one matcher/],
    ['', /empty selector/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseSelector(text),
      (err: unknown) => isFieldmeshError(err, 'FM_QUERY_INVALID') && re.test((err as Error).message),
      text,
    );
  }
});

test('selector: a lone label matcher parses as Alertmanager writes it, and may match the empty value', () => {
  assert.deepEqual(parseLabelMatcher('alertname="NodeDown"'), { name: 'alertname', op: '=', value: 'NodeDown' });
  assert.deepEqual(parseLabelMatcher(' severity =~ "warning|info" '), { name: 'severity', op: '=~', value: 'warning|info' });
  const notCritical = parseLabelMatcher('severity!="critical"');
  assert.ok(matchesLabelMatchers([notCritical], {}), 'a missing label reads as ""');
  assert.ok(!matchesLabelMatchers([notCritical], { severity: 'critical' }));
  const re = parseLabelMatcher('alertname=~"NodeDown|BacklogAge"');
  assert.ok(matchesLabelMatchers([re], { alertname: 'BacklogAge' }));
  assert.ok(!matchesLabelMatchers([re], { alertname: 'NodeDownX' }), 'regular expressions are anchored');
  assert.ok(matchesLabelMatchers([parseLabelMatcher("zone!~'z[23]'")], { zone: 'z1' }));
  const cases: Array<[string, RegExp]> = [
    ['alertname=NodeDown', /^matcher "alertname=NodeDown" at character 11: expected a quoted label value/],
    ['alertname="a", site="b"', /character 14: unexpected text after the matcher/],
    ['alertname=~"("', /invalid regular expression/],
    ['', /expected a label name/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(
      () => parseLabelMatcher(text),
      (err: unknown) => isFieldmeshError(err, 'FM_QUERY_INVALID') && expected.test((err as Error).message),
      text,
    );
  }
});

test('version: FIELDMESH_VERSION equals package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(FIELDMESH_VERSION, pkg.version);
});
