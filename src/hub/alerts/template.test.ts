// Annotation templates render as Prometheus renders them: Go's number formatting and its functions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatGoFloat, formatGoG, goSprintf, humanize, humanizeDuration, humanizePercentage } from './go-format.js';
import { compileTemplate } from './template.js';

const data = { labels: { site: 'bess-a', node: 'n1' }, value: 12.345, externalUrl: 'http://hub:18800' };
const render = (t: string, value = data.value) => compileTemplate(t).render({ ...data, value });

test('template: labels, value and external URL, in both spellings', () => {
  assert.equal(render('{{ $labels.site }}/{{$labels.node}} at {{ $value }}'), 'bess-a/n1 at 12.345');
  assert.equal(render('{{ .Labels.site }} {{ .Value }} {{ $externalURL }}'), 'bess-a 12.345 http://hub:18800');
  assert.equal(render('{{ index $labels "node" }}'), 'n1');
  assert.equal(render('{{ $labels.missing }}'), '<no value>');
  assert.equal(render('no actions at all'), 'no actions at all');
  assert.equal(render('a  {{- $labels.node -}}  b'), 'an1b');
});

test('template: pipes and functions', () => {
  assert.equal(render('{{ $value | humanize }}', 1_234_567), '1.235M');
  assert.equal(render('{{ humanizeDuration $value }}', 3_725), '1h 2m 5s');
  assert.equal(render('{{ $value | humanizePercentage }}', 0.1234), '12.34%');
  assert.equal(render('{{ printf "%.1f" $value }} %'), '12.3 %');
  assert.equal(render('{{ printf "%s is %.0f%%" $labels.node $value }}'), 'n1 is 12%');
  assert.equal(render('{{ $labels.site | toUpper }}'), 'BESS-A');
});

test('template: what Prometheus would refuse or we do not speak is refused when the rule loads', () => {
  for (const [text, why] of [
    ['{{ if $value }}x{{ end }}', /"if" actions are not supported/],
    ['{{ $labels }}', /name a label/],
    ['{{ $foo }}', /unknown name "\$foo"/],
    ['{{ $value | frobnicate }}', /unknown function "frobnicate"/],
    ['{{ printf "%x" $value }}', /only %v %s %d %f %g %e/],
    ['{{ $value', /unclosed action/],
    ['{{ "unterminated }}', /unterminated string/],
  ] as const) {
    assert.throws(() => compileTemplate(text), why, text);
  }
});

test('go format: %v, %g, humanize and durations print as Go does', () => {
  assert.equal(formatGoFloat(15), '15');
  assert.equal(formatGoFloat(0.1), '0.1');
  assert.equal(formatGoFloat(123456), '123456');
  assert.equal(formatGoFloat(1234567), '1.234567e+06');
  assert.equal(formatGoFloat(0.00001), '1e-05');
  assert.equal(formatGoFloat(Number.NaN), 'NaN');
  assert.equal(formatGoFloat(Number.NEGATIVE_INFINITY), '-Inf');
  assert.equal(formatGoG(20, 4), '20');
  assert.equal(formatGoG(12345, 4), '1.234e+04');
  assert.equal(formatGoG(0.000012345, 4), '1.234e-05');
  assert.equal(humanize(0), '0');
  assert.equal(humanize(999), '999');
  assert.equal(humanize(1500), '1.5k');
  assert.equal(humanize(0.0012), '1.2m');
  assert.equal(humanizeDuration(0), '0s');
  assert.equal(humanizeDuration(59), '59s');
  assert.equal(humanizeDuration(125), '2m 5s');
  assert.equal(humanizeDuration(90_061), '1d 1h 1m 1s');
  assert.equal(humanizeDuration(0.25), '250ms');
  assert.equal(humanizePercentage(0.5), '50%');
  assert.equal(goSprintf('%d items, %v', [3.7, 'x']), '3 items, x');
  assert.equal(goSprintf('%e', [1234.5]), '1.234500e+03');
});
