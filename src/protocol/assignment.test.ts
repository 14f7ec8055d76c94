// [FM-ASSIGN-1..3] The assignment's topic and payload: UTF-8 JSON {site, zone, by, at}, validated with zod; a bad
// one is refused naming what is wrong.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeAssignment, encodeAssignment, hubAssignTopic } from './assignment.js';

const bytes = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

// calendar: the assignment's `at` is a fixed time only encoded and decoded; nothing compares it with now.
test('assignment: the topic is <prefix>/_hub/assign/<site>/<node>; the payload round-trips', () => {
  assert.equal(hubAssignTopic('fieldmesh', 'ranch', 'bravo'), 'fieldmesh/_hub/assign/ranch/bravo');
  const a = { site: 'farm', zone: 'east', by: 'ada', at: 1_700_000_000_000 };
  assert.deepEqual(decodeAssignment(encodeAssignment(a)), a);
  assert.equal(new TextDecoder().decode(encodeAssignment(a)), '{"site":"farm","zone":"east","by":"ada","at":1700000000000}');
});

test('assignment: fields a newer hub adds are ignored', () => {
  assert.deepEqual(decodeAssignment(bytes({ site: 'farm', zone: 'east', by: 'ada', at: 5, reason: 'moved' })), {
    site: 'farm',
    zone: 'east',
    by: 'ada',
    at: 5,
  });
});

test('assignment: a bad payload is refused with FM_ASSIGNMENT_INVALID naming each problem', () => {
  const refused = (payload: unknown, message: RegExp) =>
    assert.throws(() => decodeAssignment(bytes(payload)), { code: 'FM_ASSIGNMENT_INVALID', message });
  refused('{"site": "farm"', /not UTF-8 JSON/);
  refused([1, 2], /expected an object \{site, zone, by, at\}/);
  refused({ site: 'Farm', zone: 'east', by: 'ada', at: 5 }, /site: expected an id/);
  refused({ site: 'farm', zone: 'east west', by: 'ada', at: 5 }, /zone: expected an id/);
  refused({ site: 'farm', zone: 'east', by: '', at: 5 }, /by: expected a name/);
  refused({ site: 'farm', zone: 'east', by: 'ada', at: 'now' }, /at: expected a number/);
  refused({ site: 'farm', by: 'ada', at: -1 }, /zone: expected a string.*at: expected ms/);
  assert.throws(() => decodeAssignment(new Uint8Array([0xff, 0xfe])), { code: 'FM_ASSIGNMENT_INVALID', message: /not UTF-8/ });
});
