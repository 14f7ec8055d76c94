// Rule files: Prometheus' shape is accepted as written, and every problem is reported at once with
// the file, the path of the field and its line.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FieldmeshError } from '../../kit/index.js';
import { loadRuleFiles, parseRuleFile, parseRules, readRuleFiles } from './rule-file.js';

function problems(text: string): string[] {
  try {
    parseRuleFile(text, 'rules.yaml');
  } catch (err) {
    assert.ok(err instanceof FieldmeshError);
    assert.equal(err.code, 'FM_CONFIG_INVALID');
    return err.message.split('\n');
  }
  assert.fail('expected the rule file to be refused');
}

test('rule file: Prometheus rules load with for, labels, annotations and group interval', () => {
  const rules = parseRuleFile(
    `
groups:
  - name: node
    interval: 1m
    rules:
      - alert: NodeDown
        expr: fieldmesh_node_up == 0
        for: 2m
        labels: {severity: page}
        annotations:
          summary: "{{ $labels.node }} is down"
      - alert: NodeDown
        expr: fieldmesh_node_last_heard_age_seconds > 600
        for: 1h30m
  - name: empty
    rules: []
`,
    'rules.yaml',
  );
  assert.equal(rules.length, 2);
  assert.equal(rules[0]?.forMs, 120_000);
  assert.equal(rules[0]?.intervalMs, 60_000);
  assert.equal(rules[1]?.forMs, 5_400_000);
  assert.deepEqual(
    rules[0]?.labels.map(([k, t]) => [k, t.text]),
    [['severity', 'page']],
  );
  assert.equal(rules[0]?.annotations[0]?.[1].render({ labels: { node: 'n7' }, value: 0, externalUrl: '' }), 'n7 is down');
  assert.deepEqual(parseRuleFile('', 'empty.yaml'), []);
  assert.deepEqual(parseRuleFile('groups: []', 'empty.yaml'), []);
});

test('rule file: each problem names the file, the path and the line', () => {
  const got = problems(`groups:
  - name: power
    rules:
      - alert: LowSOC
        expr: battery_soc < 20
      - alert: Broken
        expr: holt_winters(battery_soc[5m], 0.5, 0.5) > 1
      - alert: BadFor
        expr: battery_soc < 10
        for: five minutes
      - record: job up
        expr: sum(up)
      - alert: ""
        expr: up
        labels:
          alertname: X
          "bad-name": y
        annotations:
          summary: "{{ if $value }}hi{{ end }}"
        keep_firing_for: 5m
        severity: page
  - name: power
    rules: {}
`);
  assert.deepEqual(got, [
    'rules.yaml: groups[0].rules[1].expr: 1:1: parse error: function holt_winters is not supported (line 7)',
    'rules.yaml: groups[0].rules[2].for: expected a duration like "5m" or "1h30m", got "five minutes" (line 10)',
    'rules.yaml: groups[0].rules[3].record: expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), got "job up" (line 11)',
    'rules.yaml: groups[0].rules[4].keep_firing_for: "keep_firing_for" is not supported by this hub (line 20)',
    'rules.yaml: groups[0].rules[4].severity: unknown key; an alerting rule has alert, expr, for, labels, annotations (line 21)',
    'rules.yaml: groups[0].rules[4].alert: expected the alert name (a non-empty string) (line 13)',
    'rules.yaml: groups[0].rules[4].labels.alertname: "alertname" is set from the rule\'s "alert" (line 16)',
    'rules.yaml: groups[0].rules[4].labels.bad-name: "bad-name" is not a valid label name (line 17)',
    'rules.yaml: groups[0].rules[4].annotations.summary: {{ if $value }}: "if" actions are not supported; supported: {{ $labels.name }}, {{ $value }}, {{ .Labels.name }}, {{ .Value }}, {{ $externalURL }}, {{ index $labels "name" }}, pipes to humanize, humanizeDuration, humanizePercentage, printf "<format>", toUpper, toLower (line 19)',
    'rules.yaml: groups[1].name: group "power" is defined twice in this file (line 22)',
    'rules.yaml: groups[1].rules: expected a list of rules (line 23)',
  ]);
});

test('rule file: any PromQL giving an instant vector is a rule expression; the rest is refused by name', () => {
  const one = (expr: string) => problems(`groups: [{name: g, rules: [{alert: A, expr: ${JSON.stringify(expr)}}]}]`)[0] ?? '';
  for (const ok of ['battery_soc > bool 20', 'a > b', 'a > 1 < 3', '1 > bool 2', 'sum by (site) (a) * 2', 'topk(3, rate(x[5m]))'])
    assert.doesNotThrow(() => parseRuleFile(`groups: [{name: g, rules: [{alert: A, expr: ${JSON.stringify(ok)}}]}]`, 'rules.yaml'), ok);
  assert.match(one('1 > 2'), /expr: 1:3: parse error: comparisons between scalars must use BOOL modifier/);
  assert.match(one('battery_soc{site="s1" < 20'), /groups\[0\]\.rules\[0\]\.expr: 1:\d+: parse error: unexpected/);
  assert.match(one('holt_winters(a[5m], 0.1, 0.1)'), /function holt_winters is not supported/);
  assert.match(one('a[5m]'), /a rule expression must give an instant vector, this one gives a range vector/);
});

test('rule file: the root and groups must have the documented shape', () => {
  assert.deepEqual(problems('- a\n- b\n'), ['rules.yaml: (root): expected a mapping with "groups" (line 1)']);
  assert.deepEqual(problems('groups: {}\nrules: []\n'), [
    'rules.yaml: rules: unknown key; a rule file holds "groups" (line 2)',
    'rules.yaml: groups: expected a list of groups (line 1)',
  ]);
  assert.deepEqual(problems('groups:\n  - rules: []\n    interval: soon\n    limit: 10\n'), [
    'rules.yaml: groups[0].limit: "limit" is not supported by this hub (line 4)',
    'rules.yaml: groups[0].name: expected a non-empty group name (line 2)',
    'rules.yaml: groups[0].interval: expected a duration like "30s" or "1m", got "soon" (line 3)',
  ]);
});

test('rule file: YAML syntax errors and missing files are FM_CONFIG_UNREADABLE with the position', () => {
  assert.throws(
    () => parseRuleFile('groups:\n  - name: [unclosed\n', 'rules.yaml'),
    (err: unknown) => err instanceof FieldmeshError && err.code === 'FM_CONFIG_UNREADABLE' && /^rules\.yaml:\d+:\d+: /.test(err.message),
  );
  assert.throws(
    () => loadRuleFiles(['/nonexistent/rules.yaml'], async () => []),
    (err: unknown) =>
      err instanceof FieldmeshError &&
      err.code === 'FM_CONFIG_UNREADABLE' &&
      err.message === '/nonexistent/rules.yaml: no such file (alerts.ruleFiles)',
  );
});

test('rule file: several files load together; problems of every file are listed; ids stay unique', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-rules-'));
  try {
    const a = join(dir, 'a.yaml');
    const b = join(dir, 'b.yaml');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(a, 'groups: [{name: g, rules: [{alert: X, expr: up == 0}, {alert: X, expr: up == 2}]}]');
    writeFileSync(b, 'groups: [{name: g, rules: [{alert: X, expr: up == 1}]}]');
    writeFileSync(bad, 'groups: [{name: g, rules: [{alert: Y}]}]');
    assert.deepEqual(
      loadRuleFiles([a, b], async () => []).map((r) => r.id),
      ['g/X', 'g/X#2', 'g/X#3'],
    );
    const line = `${bad}: groups[0].rules[0].expr: expected an expression (a non-empty string) (line 1)`;
    assert.throws(
      () => loadRuleFiles([bad, a, bad], async () => []),
      (err: unknown) => err instanceof FieldmeshError && err.code === 'FM_CONFIG_INVALID' && err.message === `${line}\n${line}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rule file: the example in docs/alerts.md loads', () => {
  const doc = readFileSync(new URL('../../../docs/alerts.md', import.meta.url), 'utf8');
  const block = /<!-- rule-file-example[^>]*-->\n```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/alerts.md has the marked rule-file example');
  const rules = parseRuleFile(block, 'docs/alerts.md');
  assert.deepEqual(
    rules.map((r) => `${r.group}/${r.name}`),
    ['power/BusVoltageHigh', 'power/InverterHot', 'fleet/NodeSilent'],
  );
});

test("rule file: recording rules are read beside alerting rules, with the group interval and labels (the rule's win)", () => {
  const parsed = parseRules(
    `groups:
  - name: probe-windows
    interval: 1m
    labels: {tier: processing, window: 1m}
    rules:
      - record: probe:rtt_ms:avg5m
        expr: avg_over_time(rtt_ms[5m])
        labels: {window: 5m}
      - alert: RttHigh
        expr: probe:rtt_ms:avg5m > 200
      - record: site:rtt_ms:p95_5m
        expr: max by (site) (quantile_over_time(0.95, rtt_ms[5m]))
  - name: zone
    rules:
      - record: zone:battery_soc:min
        expr: min by (site, zone) (battery_soc)
`,
    'rules.yaml',
  );
  assert.deepEqual(
    parsed.alerting.map((r) => r.name),
    ['RttHigh'],
  );
  assert.deepEqual(
    parsed.recording.map((r) => [
      r.group,
      r.index,
      r.record,
      r.intervalMs,
      r.labels,
      r.expr.query.expr.type === 'call' ? r.expr.query.expr.func : null,
      r.expr.query.expr.type === 'aggregate' ? r.expr.query.expr.op : null,
    ]),
    [
      ['probe-windows', 0, 'probe:rtt_ms:avg5m', 60_000, { tier: 'processing', window: '5m' }, 'avg_over_time', null],
      ['probe-windows', 2, 'site:rtt_ms:p95_5m', 60_000, { tier: 'processing', window: '1m' }, null, 'max'],
      ['zone', 0, 'zone:battery_soc:min', undefined, {}, null, 'min'],
    ],
  );
});

test('rule file: a bad recording rule names the file, group and rule index, the field and the line', () => {
  const got = problems(`groups:
  - name: aggregates
    rules:
      - record: site:rtt:avg
        expr: avg by (site) (avg_over_time(rtt_ms[5m]))
      - record: "site rtt"
        expr: avg(rtt_ms)
      - record: site:rtt:p95
        expr: quantile_over_time(rtt_ms[5m])
      - record: site:rtt:max
        alert: RttMax
        expr: max(rtt_ms)
        for: 5m
        annotations: {summary: x}
      - record: site:rtt:min
        labels: {__name__: x, "bad-label": y, ok: [1]}
`);
  assert.deepEqual(got, [
    'rules.yaml: groups[0].rules[1].record: expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), got "site rtt" (line 6)',
    'rules.yaml: groups[0].rules[2].expr: 1:1: parse error: expected 2 argument(s) in call to "quantile_over_time", got 1 (line 9)',
    'rules.yaml: groups[0].rules[3].alert: a rule has either "alert" (an alerting rule) or "record" (a recording rule), not both (line 11)',
    'rules.yaml: groups[0].rules[3].for: unknown key; a recording rule has record, expr, labels (line 13)',
    'rules.yaml: groups[0].rules[3].annotations: unknown key; a recording rule has record, expr, labels (line 14)',
    'rules.yaml: groups[0].rules[4].expr: expected an expression (a non-empty string) (line 15)',
    'rules.yaml: groups[0].rules[4].labels.__name__: "__name__" is not a valid label name (line 16)',
    'rules.yaml: groups[0].rules[4].labels.bad-label: "bad-label" is not a valid label name (line 16)',
    'rules.yaml: groups[0].rules[4].labels.ok: expected a string (line 16)',
  ]);
});

test('rule file: the recording rules example in docs/alerts.md loads', () => {
  const doc = readFileSync(new URL('../../../docs/alerts.md', import.meta.url), 'utf8');
  const block = /<!-- recording-rule-example[^>]*-->\n```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/alerts.md has the marked recording rules example');
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-rules-'));
  try {
    const file = join(dir, 'aggregates.yaml');
    writeFileSync(file, block);
    const { alerting, recording } = readRuleFiles([file]);
    assert.ok(recording.length >= 3);
    assert.ok(alerting.length >= 1, 'an alert reads a recorded series');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
