// [FM-CONFIG-DIST] The config frame: round trip, version byte, the 1 MiB inflate limit, garbage, the hash
// verification; the shared config hash against node:crypto, whatever the key order.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { isFieldmeshError } from '../kit/index.js';
import {
  CONFIG_FRAME_VERSION,
  canonicalJson,
  configHashOf,
  decodeConfigFrame,
  desiredConfigOf,
  encodeConfigFrame,
  hubConfigTopic,
  MAX_CONFIG_INFLATED_BYTES,
  sha256Hex,
  verifyConfigHash,
} from './index.js';

const config = { node: { id: 'r1', site: 'ranch' }, critical: [{ match: 'battery_soc', deadband: 0.5 }], collectors: [] };

function frameOf(json: string, version = CONFIG_FRAME_VERSION): Uint8Array {
  const body = deflateRawSync(Buffer.from(json, 'utf8'));
  return Uint8Array.from([version, ...body]);
}

describe('config distribution frame', () => {
  test('config frame: round trip keeps hash, commit, issuedAt, source and config', async () => {
    const desired = desiredConfigOf(config, { commit: 'abc123', source: 'git:https://example.org/fleet.git@main', issuedAt: 1_000 });
    const frame = await encodeConfigFrame(desired);
    assert.equal(frame[0], 0x01);
    assert.deepEqual(await decodeConfigFrame(frame), desired);
    verifyConfigHash(await decodeConfigFrame(frame));
  });

  test('config frame: the payload is deflate-raw of the JSON (what another implementation can write)', async () => {
    const desired = desiredConfigOf(config, { commit: null, source: 'dir:/srv/fleet', issuedAt: 5 });
    const decoded = await decodeConfigFrame(frameOf(JSON.stringify(desired)));
    assert.deepEqual(decoded, desired);
  });

  test('config frame: another version byte, garbage, non-JSON and a wrong shape are refused with the reason', async () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(0), /empty/],
      [frameOf('{}', 2), /version 2 is not supported/],
      [Uint8Array.from([1, 0xff, 0xfe, 0x00, 0x13]), /does not inflate/],
      [frameOf('not json'), /not UTF-8 JSON/],
      [frameOf('[1]'), /not an object/],
      [frameOf(JSON.stringify({ hash: 'x', commit: null, issuedAt: 1, source: 's', config: {} })), /"hash" must be 64/],
      [frameOf(JSON.stringify({ hash: configHashOf({}), commit: 5, issuedAt: 1, source: 's', config: {} })), /"commit"/],
      [
        frameOf(JSON.stringify({ hash: configHashOf({}), commit: null, issuedAt: 1, source: 's', config: [] })),
        /"config" must be an object/,
      ],
    ];
    for (const [bytes, reason] of cases) {
      await assert.rejects(
        decodeConfigFrame(bytes),
        (err: unknown) => isFieldmeshError(err, 'FM_CONFIG_FRAME_INVALID') && reason.test(err.message),
      );
    }
  });

  test('config frame: more than 1 MiB inflated is refused, however small the frame', async () => {
    const big = JSON.stringify({
      hash: configHashOf({}),
      commit: null,
      issuedAt: 1,
      source: 's',
      config: { pad: ' '.repeat(MAX_CONFIG_INFLATED_BYTES) },
    });
    const frame = frameOf(big);
    assert.ok(frame.byteLength < 20_000, `a 1 MiB run of spaces deflates small (${frame.byteLength} B)`);
    await assert.rejects(
      decodeConfigFrame(frame),
      (err: unknown) => isFieldmeshError(err, 'FM_CONFIG_FRAME_TOO_LARGE') && /1 MiB/.test(err.message),
    );
    await assert.rejects(
      encodeConfigFrame(desiredConfigOf({ pad: 'x'.repeat(MAX_CONFIG_INFLATED_BYTES) }, { commit: null, source: 's', issuedAt: 1 })),
      (err: unknown) => isFieldmeshError(err, 'FM_CONFIG_FRAME_TOO_LARGE'),
    );
  });

  test("config frame: a hash that is not its config's is refused", () => {
    const desired = {
      ...desiredConfigOf(config, { commit: null, source: 's', issuedAt: 1 }),
      config: { ...config, collectors: [{ type: 'host' }] },
    };
    assert.throws(
      () => verifyConfigHash(desired),
      (err: unknown) => isFieldmeshError(err, 'FM_CONFIG_HASH_MISMATCH'),
    );
  });

  test('config frame: the topic is <prefix>/_hub/config/<site>/<node>', () => {
    assert.equal(hubConfigTopic('fieldmesh', 'ranch', 'r1'), 'fieldmesh/_hub/config/ranch/r1');
  });
});

describe('config hash', () => {
  test('config hash: SHA-256 of the canonical JSON, as node:crypto computes it, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const expected = createHash('sha256').update(canonicalJson(value)).digest('hex');
        assert.equal(configHashOf(value), expected);
      }),
      { numRuns: 300 },
    );
    for (const text of ['', 'abc', 'x'.repeat(55), 'x'.repeat(56), 'x'.repeat(64), 'é😀'.repeat(100)]) {
      assert.equal(sha256Hex(text), createHash('sha256').update(text, 'utf8').digest('hex'));
    }
  });

  test('config hash: key order does not change it, any changed value does', () => {
    assert.equal(configHashOf({ a: 1, b: { c: 2, d: [1, 2] } }), configHashOf({ b: { d: [1, 2], c: 2 }, a: 1 }));
    assert.notEqual(configHashOf({ a: 1, b: { c: 2, d: [1, 2] } }), configHashOf({ a: 1, b: { c: 2, d: [2, 1] } }));
  });
});
