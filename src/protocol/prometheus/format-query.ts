// /api/v1/format_query (Grafana's "Format query" button): the expression once it parses. fieldmesh has
// no PromQL pretty-printer, so the text comes back as written (trimmed); a query it cannot parse is
// refused as /api/v1/query refuses it.

import { parseQuery } from './evaluate-query.js';
import { type Params, single } from './params.js';

export function formatQueryData(params: Params): string {
  const text = single(params, 'query');
  parseQuery(text);
  return (text ?? '').trim();
}
