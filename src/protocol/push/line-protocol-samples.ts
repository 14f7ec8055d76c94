// InfluxDB points as samples, the way VictoriaMetrics maps them: `<measurement>_<field>` (a field named `value` is the
// measurement itself), tags as labels, names cleaned to Prometheus' alphabet. Used by a node's `influx` collector and
// by a scale-out hub's ingest tier (docs/collectors.md#influx).

import type { Sample } from '../sample.js';
import { type LineProtocolError, type Point, type Precision, timestampToMs } from './line-protocol.js';

const INVALID_NAME_CHARS = /[^a-zA-Z0-9_:]/g;
const INVALID_LABEL_CHARS = /[^a-zA-Z0-9_]/g;

function metricName(measurement: string, field: string): string {
  const raw = field === 'value' ? measurement : `${measurement}_${field}`;
  const clean = raw.replace(INVALID_NAME_CHARS, '_');
  return /^[0-9]/.test(clean) ? `_${clean}` : clean;
}

function labelName(key: string): string {
  const clean = key.replace(INVALID_LABEL_CHARS, '_');
  return /^[0-9]/.test(clean) ? `_${clean}` : clean;
}

/**
 * Maps points to samples: numbers as they are, booleans as 1/0, strings skipped (counted).
 * `sampleLines[i]` is the line of `samples[i]`. Two tags (or two fields) of a point whose names
 * clean up to the same label (or series) would overwrite each other: that is an error of the line.
 */
export function pointsToSamples(
  points: readonly Point[],
  lines: readonly number[],
  precision: Precision,
  now: number,
): { ok: true; samples: Sample[]; sampleLines: number[]; skippedStrings: number } | { ok: false; error: LineProtocolError } {
  const samples: Sample[] = [];
  const sampleLines: number[] = [];
  let skippedStrings = 0;
  for (const [i, p] of points.entries()) {
    const line = lines[i] as number;
    const fail = (message: string) => ({ ok: false as const, error: { line, column: 1, message } });
    const time = p.timestamp === undefined ? now : timestampToMs(p.timestamp, precision);
    const labels: Record<string, string> = {};
    const tagOf: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.tags)) {
      const label = labelName(k);
      if (label.startsWith('__')) return fail(`tag key ${JSON.stringify(k)} is reserved (label names starting with __ are Prometheus's)`);
      const other = tagOf[label];
      if (other !== undefined) return fail(`tag keys ${JSON.stringify(other)} and ${JSON.stringify(k)} both become label ${label}`);
      tagOf[label] = k;
      labels[label] = v;
    }
    const fieldOf: Record<string, string> = {};
    for (const [field, v] of Object.entries(p.fields)) {
      if (v.type === 'string') {
        skippedStrings++;
        continue;
      }
      const name = metricName(p.measurement, field);
      const other = fieldOf[name];
      if (other !== undefined) return fail(`fields ${JSON.stringify(other)} and ${JSON.stringify(field)} both become series ${name}`);
      fieldOf[name] = field;
      const value = v.type === 'boolean' ? (v.value ? 1 : 0) : v.value;
      samples.push({ name, labels, value, time });
      sampleLines.push(line);
    }
  }
  return { ok: true, samples, sampleLines, skippedStrings };
}
