// Prometheus API parameters: times, steps, match[] as one or many, form bodies, limits, values.
// calendar: parser input; no clock reads it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../../kit/index.js';
import { errorBody } from './envelope.js';
import {
  formatSampleValue,
  limitResults,
  parseFormBody,
  parseStepMs,
  parseTimeMs,
  repeated,
  requestParams,
  single,
  timeParam,
} from './params.js';

test('prometheus params: times are unix seconds (float) or RFC 3339; anything else is refused', () => {
  assert.equal(parseTimeMs('1767225600', 'start'), Date.UTC(2026, 0, 1));
  assert.equal(parseTimeMs('1767225600.25', 'start'), Date.UTC(2026, 0, 1) + 250);
  assert.equal(parseTimeMs('2026-01-01T00:00:00Z', 'end'), Date.UTC(2026, 0, 1));
  assert.equal(parseTimeMs('2026-01-01T01:00:00+01:00', 'end'), Date.UTC(2026, 0, 1));
  assert.throws(
    () => parseTimeMs('yesterday', 'start'),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID') && /invalid parameter "start"/.test(e.message),
  );
  assert.equal(timeParam({}, 'time', 42), 42);
  assert.throws(
    () => timeParam({}, 'start'),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID') && /missing parameter "start"/.test(e.message),
  );
});

test('prometheus params: steps are float seconds or durations, and must be positive', () => {
  assert.equal(parseStepMs('15'), 15_000);
  assert.equal(parseStepMs('0.5'), 500);
  assert.equal(parseStepMs('1m30s'), 90_000);
  assert.equal(parseStepMs('250ms'), 250);
  assert.throws(
    () => parseStepMs('0'),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID') && /zero or negative/.test(e.message),
  );
  assert.throws(
    () => parseStepMs('fast'),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID'),
  );
});

test('prometheus params: form bodies keep repeated keys; match[] reads the same as one or many', () => {
  const body = parseFormBody('match%5B%5D=up&match%5B%5D=x%7Ba%3D%221%22%7D&query=1+1');
  assert.deepEqual(body, { 'match[]': ['up', 'x{a="1"}'], query: '1 1' });
  const params = requestParams({ 'match[]': 'solo', step: '1' }, { step: '15' });
  assert.deepEqual(repeated(params, 'match[]'), ['solo']);
  assert.deepEqual(repeated(requestParams(undefined, body), 'match[]'), ['up', 'x{a="1"}']);
  assert.equal(single(params, 'step'), '15', 'the body wins over the query string');
  assert.deepEqual(repeated(params, 'absent'), []);
});

test('prometheus params: limit keeps the first n, 0 or empty keeps all, a bad limit is refused', () => {
  assert.deepEqual(limitResults([1, 2, 3], { limit: '2' }), [1, 2]);
  assert.deepEqual(limitResults([1, 2, 3], { limit: '0' }), [1, 2, 3]);
  assert.deepEqual(limitResults([1, 2, 3], {}), [1, 2, 3]);
  assert.throws(
    () => limitResults([1], { limit: '-1' }),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID'),
  );
});

test('prometheus envelope: values as Prometheus strings, errors typed by status', () => {
  assert.deepEqual([NaN, Infinity, -Infinity, 1.5].map(formatSampleValue), ['NaN', '+Inf', '-Inf', '1.5']);
  assert.deepEqual(errorBody(400, 'FM_QUERY_INVALID', 'bad'), {
    status: 'error',
    errorType: 'bad_data',
    error: 'bad',
    code: 'FM_QUERY_INVALID',
    message: 'bad',
  });
  assert.equal(errorBody(503, 'FM_TRANSPORT_UNAVAILABLE', 'x').errorType, 'unavailable');
  assert.equal(errorBody(404, 'FM_NOT_FOUND', 'x').errorType, 'not_found');
  assert.equal(errorBody(500, 'FM_HUB_INTERNAL', 'x').errorType, 'internal');
});
