// Tests of the Prometheus text exposition parser.
// calendar: parser input; no clock reads it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExposition } from './exposition.js';

test('exposition: escapes, NaN, ±Inf, timestamps, CRLF and comments', () => {
  const text = [
    '# HELP a some help with \\n escape',
    '# TYPE a gauge',
    'a{l="x\\"y\\\\z\\n",m="2",} NaN 1700000000000',
    'a +Inf',
    'a{l="neg"} -Inf\r',
    '',
    'plain_untyped 1.5e3',
  ].join('\n');
  const r = parseExposition(text);
  assert.ok(r.ok);
  assert.equal(r.samples.length, 4);
  const [first, second, third, fourth] = r.samples;
  assert.deepEqual(first?.labels, { l: 'x"y\\z\n', m: '2' });
  assert.ok(Number.isNaN(first?.value));
  assert.equal(first?.timestampMs, 1_700_000_000_000);
  assert.equal(first?.type, 'gauge');
  assert.equal(second?.value, Number.POSITIVE_INFINITY);
  assert.equal(second?.timestampMs, undefined);
  assert.equal(third?.value, Number.NEGATIVE_INFINITY);
  assert.equal(fourth?.value, 1500);
  assert.equal(fourth?.type, undefined);
});

test('exposition: histograms and summaries stay flat series like Prometheus stores them', () => {
  const text = [
    '# TYPE rtt_seconds histogram',
    'rtt_seconds_bucket{le="0.1"} 2',
    'rtt_seconds_bucket{le="+Inf"} 3',
    'rtt_seconds_sum 0.42',
    'rtt_seconds_count 3',
    '# TYPE lat summary',
    'lat{quantile="0.5"} 0.2',
    'lat_sum 1',
    'lat_count 5',
    '# TYPE reqs_total counter',
    'reqs_total{code="200"} 7 1700000000123',
  ].join('\n');
  const r = parseExposition(text);
  assert.ok(r.ok);
  assert.deepEqual(
    r.samples.map((s) => [s.name, s.labels, s.value, s.type]),
    [
      ['rtt_seconds_bucket', { le: '0.1' }, 2, 'counter'],
      ['rtt_seconds_bucket', { le: '+Inf' }, 3, 'counter'],
      ['rtt_seconds_sum', {}, 0.42, 'counter'],
      ['rtt_seconds_count', {}, 3, 'counter'],
      ['lat', { quantile: '0.5' }, 0.2, 'gauge'],
      ['lat_sum', {}, 1, 'counter'],
      ['lat_count', {}, 5, 'counter'],
      ['reqs_total', { code: '200' }, 7, 'counter'],
    ],
  );
  assert.equal(r.samples[7]?.timestampMs, 1_700_000_000_123);
});

test('exposition: a bad line fails the whole parse with its line number', () => {
  for (const [text, pattern] of [
    ['ok 1\nbad{l="x} 1', /line 2: unterminated/],
    ['ok 1\n\nm{l=x} 1', /line 3: expected '"'/],
    ['m abc', /line 1: invalid value "abc"/],
    ['m 1 12.5', /invalid timestamp/],
    ['m{a="1",a="2"} 1', /duplicate label a/],
    ['9m 1', /expected a metric name/],
    ['m', /missing value/],
  ] as const) {
    const r = parseExposition(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.message, pattern);
  }
});
