// Rule expressions (alerting and recording rules): any PromQL expression (src/protocol/promql) whose
// result is an instant vector (or a scalar, taken as one element without labels, as Prometheus takes
// it), evaluated at one instant with Prometheus' semantics. Every element of the result is an active
// alert (or, for a recording rule, a sample to store).

import { FieldmeshError } from '../../kit/index.js';
import { evaluateInstant, type ParsedQuery, parsePromQL, type SeriesSource } from '../../protocol/promql/index.js';
import type { AlertSample } from './alert.js';

export type { SeriesSource } from '../../protocol/promql/index.js';

export interface AlertExpression {
  readonly text: string;
  readonly query: ParsedQuery;
}

/**
 * Parses a rule expression; throws FieldmeshError FM_QUERY_INVALID with Prometheus' parse or type
 * error, the unsupported function named, or the result type when it is not an instant vector or scalar.
 */
export function parseAlertExpression(input: string): AlertExpression {
  const text = input.trim();
  const query = parsePromQL(text);
  if (query.type !== 'vector' && query.type !== 'scalar') {
    const got = query.type === 'matrix' ? 'range vector' : query.type;
    throw new FieldmeshError('FM_QUERY_INVALID', `a rule expression must give an instant vector, this one gives a ${got}`, {
      details: { query: text },
    });
  }
  return { text, query };
}

/** The elements of an expression at `nowMs`: labels without `__name__`, and their values. */
export async function evaluateAlertExpression(expr: AlertExpression, source: SeriesSource, nowMs: number): Promise<AlertSample[]> {
  const r = await evaluateInstant(expr.query, source, nowMs);
  if (r.resultType === 'scalar') return [{ labels: {}, value: r.result }];
  if (r.resultType !== 'vector') return [];
  return r.result.map((s) => {
    const { __name__: _, ...labels } = s.metric;
    return { labels, value: s.value };
  });
}
