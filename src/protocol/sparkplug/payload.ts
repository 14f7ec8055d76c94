// Sparkplug B payloads (Eclipse Sparkplug 3.0): the Payload and Payload.Metric messages as protobufjs reflection
// types, written from the field numbers of the official schema (sparkplug_b.proto of the Eclipse Tahu project,
// package org.eclipse.tahu.protobuf, proto2). Only the scalar metric values fieldmesh sends are declared; the others
// (metadata, properties, DataSet, Template, extensions) are skipped as unknown fields when decoding.

import protobuf from 'protobufjs';

/** Sparkplug B data type ids (the comment block of sparkplug_b.proto). */
export const SPARKPLUG_DATATYPE = Object.freeze({
  Int32: 3,
  Int64: 4,
  UInt64: 8,
  Float: 9,
  Double: 10,
  Boolean: 11,
  String: 12,
} as const);

// proto2 (explicit presence): an optional field set to 0 (the NBIRTH's seq, a bdSeq of 0) is still written.
const descriptor = {
  edition: 'proto2',
  nested: {
    org: {
      nested: {
        eclipse: {
          nested: {
            tahu: {
              nested: {
                protobuf: {
                  nested: {
                    Payload: {
                      edition: 'proto2',
                      fields: {
                        timestamp: { type: 'uint64', id: 1 },
                        metrics: { rule: 'repeated', type: 'Metric', id: 2 },
                        seq: { type: 'uint64', id: 3 },
                        uuid: { type: 'string', id: 4 },
                        body: { type: 'bytes', id: 5 },
                      },
                      nested: {
                        Metric: {
                          edition: 'proto2',
                          oneofs: {
                            value: {
                              oneof: ['intValue', 'longValue', 'floatValue', 'doubleValue', 'booleanValue', 'stringValue', 'bytesValue'],
                            },
                          },
                          fields: {
                            name: { type: 'string', id: 1 },
                            alias: { type: 'uint64', id: 2 },
                            timestamp: { type: 'uint64', id: 3 },
                            datatype: { type: 'uint32', id: 4 },
                            isHistorical: { type: 'bool', id: 5 },
                            isTransient: { type: 'bool', id: 6 },
                            isNull: { type: 'bool', id: 7 },
                            intValue: { type: 'uint32', id: 10 },
                            longValue: { type: 'uint64', id: 11 },
                            floatValue: { type: 'float', id: 12 },
                            doubleValue: { type: 'double', id: 13 },
                            booleanValue: { type: 'bool', id: 14 },
                            stringValue: { type: 'string', id: 15 },
                            bytesValue: { type: 'bytes', id: 16 },
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};
const root = protobuf.Root.fromJSON(descriptor as protobuf.INamespace);
const PayloadType = root.lookupType('org.eclipse.tahu.protobuf.Payload');

export type SparkplugValue = number | boolean | string;

/** One metric as fieldmesh writes it: a name on births, an alias on data, always a datatype on births. */
export interface SparkplugMetric {
  readonly name?: string;
  readonly alias?: number;
  /** ms since the Unix epoch. */
  readonly timestamp?: number;
  readonly datatype?: number;
  /** Absent with isNull. */
  readonly value?: SparkplugValue;
  readonly isNull?: boolean;
}

export interface SparkplugPayload {
  /** ms since the Unix epoch. */
  readonly timestamp?: number;
  readonly seq?: number;
  readonly metrics: readonly SparkplugMetric[];
}

function valueField(datatype: number | undefined, value: SparkplugValue): Record<string, unknown> {
  switch (datatype) {
    case SPARKPLUG_DATATYPE.Boolean:
      return { booleanValue: Boolean(value) };
    case SPARKPLUG_DATATYPE.String:
      return { stringValue: String(value) };
    case SPARKPLUG_DATATYPE.Int64:
    case SPARKPLUG_DATATYPE.UInt64:
      return { longValue: Number(value) };
    case SPARKPLUG_DATATYPE.Int32:
      return { intValue: Number(value) >>> 0 };
    case SPARKPLUG_DATATYPE.Float:
      return { floatValue: Number(value) };
    default:
      return { doubleValue: Number(value) };
  }
}

/** Protobuf bytes of a Sparkplug B payload. */
export function encodeSparkplugPayload(payload: SparkplugPayload): Uint8Array {
  const message = PayloadType.fromObject({
    ...(payload.timestamp === undefined ? {} : { timestamp: payload.timestamp }),
    ...(payload.seq === undefined ? {} : { seq: payload.seq }),
    metrics: payload.metrics.map((m) => ({
      ...(m.name === undefined ? {} : { name: m.name }),
      ...(m.alias === undefined ? {} : { alias: m.alias }),
      ...(m.timestamp === undefined ? {} : { timestamp: m.timestamp }),
      ...(m.datatype === undefined ? {} : { datatype: m.datatype }),
      ...(m.isNull ? { isNull: true } : {}),
      ...(m.value === undefined || m.isNull ? {} : valueField(m.datatype, m.value)),
    })),
  });
  return PayloadType.encode(message).finish();
}

/** A payload back from bytes (longs as numbers); throws protobufjs' error on bad bytes. */
export function decodeSparkplugPayload(bytes: Uint8Array): SparkplugPayload {
  const o = PayloadType.toObject(PayloadType.decode(bytes), { longs: Number, oneofs: true }) as {
    timestamp?: number;
    seq?: number;
    metrics?: Record<string, unknown>[];
  };
  return {
    ...(o.timestamp === undefined ? {} : { timestamp: o.timestamp }),
    ...(o.seq === undefined ? {} : { seq: o.seq }),
    metrics: (o.metrics ?? []).map((m) => {
      const field = m.value as string | undefined;
      return {
        ...(m.name === undefined ? {} : { name: m.name as string }),
        ...(m.alias === undefined ? {} : { alias: m.alias as number }),
        ...(m.timestamp === undefined ? {} : { timestamp: m.timestamp as number }),
        ...(m.datatype === undefined ? {} : { datatype: m.datatype as number }),
        ...(m.isNull ? { isNull: true } : {}),
        ...(field === undefined ? {} : { value: m[field] as SparkplugValue }),
      };
    }),
  };
}
