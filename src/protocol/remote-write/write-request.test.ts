import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeWriteRequest,
  decodeWriteRequestProto,
  encodeWriteRequest,
  encodeWriteRequestProto,
  RemoteWriteDecodeError,
  snappyCompress,
} from './write-request.js';

test('remote write codec round-trips series, labels sorted with __name__ first, and the stale marker', () => {
  const body = encodeWriteRequest({
    timeseries: [
      {
        labels: { site: 's1', __name__: 'battery_soc', node: 'n1', Zed: 'upper' },
        samples: [
          { timestampMs: 1_700_000_000_000, value: 51.5 },
          { timestampMs: 1_700_000_001_000, value: Number.NaN },
          { timestampMs: 1_700_000_002_000, value: null },
        ],
      },
    ],
    metadata: [{ type: 'gauge', metricFamilyName: 'battery_soc', help: 'state of charge', unit: 'percent' }],
  });
  const decoded = decodeWriteRequest(body, 1 << 20);
  const [series] = decoded.timeseries;
  assert.ok(series);
  // Byte order: upper-case letters before `_`, `_` before lower-case (Prometheus' labels sort the same way).
  assert.deepEqual(Object.keys(series.labels), ['Zed', '__name__', 'node', 'site']);
  assert.equal(series.samples[0]?.value, 51.5);
  assert.ok(Number.isNaN(series.samples[1]?.value));
  assert.equal(series.samples[2]?.value, null);
  assert.equal(series.samples[2]?.timestampMs, 1_700_000_002_000);
  assert.deepEqual(decoded.metadata, [{ type: 'gauge', metricFamilyName: 'battery_soc', help: 'state of charge', unit: 'percent' }]);
});

test('remote write codec writes the stale marker as Prometheus StaleNaN bits 0x7ff0000000000002', () => {
  const proto = encodeWriteRequestProto({ timeseries: [{ labels: { __name__: 'x' }, samples: [{ timestampMs: 1, value: null }] }] });
  const hex = Buffer.from(proto).toString('hex');
  // Sample: tag 0x09 (field 1, fixed64) then the double little-endian.
  assert.ok(hex.includes('090200000000'.concat('00f07f')), hex);
  const normal = Buffer.from(
    encodeWriteRequestProto({ timeseries: [{ labels: { __name__: 'x' }, samples: [{ timestampMs: 1, value: Number.NaN }] }] }),
  ).toString('hex');
  assert.ok(!normal.includes('0200000000' + '00f07f'), normal);
});

test('remote write codec refuses a body that is not snappy, naming the byte', () => {
  assert.throws(
    () => decodeWriteRequest(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 1 << 20),
    (err: unknown) => err instanceof RemoteWriteDecodeError && err.layer === 'snappy' && /at byte 5/.test(err.message),
  );
  assert.throws(
    () => decodeWriteRequest(Uint8Array.from([0x80, 0x80, 0x80, 0x02]), 1 << 20),
    (err: unknown) => err instanceof RemoteWriteDecodeError && /more than the limit/.test(err.message),
  );
});

test('remote write codec refuses a protobuf that overruns, naming the series and the offset', () => {
  const good = encodeWriteRequestProto({
    timeseries: [
      { labels: { __name__: 'a' }, samples: [{ timestampMs: 1, value: 1 }] },
      { labels: { __name__: 'b' }, samples: [{ timestampMs: 2, value: 2 }] },
    ],
  });
  const truncated = good.subarray(0, good.length - 3);
  assert.throws(
    () => decodeWriteRequest(snappyCompress(truncated), 1 << 20),
    (err: unknown) => err instanceof RemoteWriteDecodeError && err.layer === 'protobuf' && /timeseries\[1\]/.test(err.message),
  );
  assert.equal(decodeWriteRequestProto(good).timeseries.length, 2);
});
