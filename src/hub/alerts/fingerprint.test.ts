// Fingerprints are Alertmanager's: the vectors prometheus/common checks labelSetToFingerprint with.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fingerprint, labelsSignature } from './fingerprint.js';

test('fingerprint: matches prometheus/common for the empty set and a known label set', () => {
  // prometheus/common model's TestMetricToFingerprint: {} -> 14695981039346656037, this pair -> 5799056148416392346.
  assert.equal(labelsSignature({}), 14695981039346656037n);
  assert.equal(labelsSignature({ name: 'garland, briggs', fear: 'love is not enough' }), 5799056148416392346n);
  assert.equal(fingerprint({ name: 'garland, briggs', fear: 'love is not enough' }), '507a62d79ee76c9a');
  assert.equal(fingerprint({}), 'cbf29ce484222325');
});

test('fingerprint: does not depend on label order, does on every name and value', () => {
  const a = fingerprint({ alertname: 'NodeDown', site: 's1', node: 'n1' });
  assert.match(a, /^[0-9a-f]{16}$/);
  assert.equal(fingerprint({ node: 'n1', site: 's1', alertname: 'NodeDown' }), a);
  assert.notEqual(fingerprint({ alertname: 'NodeDown', site: 's1', node: 'n2' }), a);
  // The separator byte keeps "ab"+"c" apart from "a"+"bc".
  assert.notEqual(fingerprint({ ab: 'c' }), fingerprint({ a: 'bc' }));
});
