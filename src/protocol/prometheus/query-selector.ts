// The query language of the hub: one series selector in Prometheus syntax, nothing else. Parsing
// itself is the protocol's `parseSelector`; this adds clear answers for PromQL not spoken yet.

import { FieldmeshError, isFieldmeshError } from '../../kit/index.js';
import { parseSelector, type SeriesSelector } from '../selector.js';

const SUPPORTED = 'this version answers series selectors only, like battery_soc{site="s1",node=~"n.*"}';

/** A refusal that names what is unsupported and says what is. */
export function unsupportedQuery(query: string, what: string, supported = SUPPORTED): FieldmeshError {
  return new FieldmeshError('FM_QUERY_INVALID', `${what} in ${JSON.stringify(query)} are not supported; ${supported}`, {
    details: { query },
  });
}

/**
 * Parses a query; throws FieldmeshError FM_QUERY_INVALID with a message that says what is supported
 * (`supported` replaces the hub's sentence for servers that speak more).
 */
export function parseQuerySelector(query: string | undefined, supported = SUPPORTED): SeriesSelector {
  if (query === undefined || query.trim() === '') throw new FieldmeshError('FM_QUERY_INVALID', 'missing parameter "query"');
  const text = query.trim();
  const fn = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\(|(by|without)\s*\()/.exec(text);
  if (fn) throw unsupportedQuery(text, `PromQL functions and aggregations such as ${fn[1]}()`, supported);
  if (/\[[^\]]*\]\s*$/.test(text) || /\]\s*(offset|@)/.test(text)) throw unsupportedQuery(text, 'range vectors', supported);
  if (/^[-+]?(\d|\.\d)/.test(text) || /[}\w)]\s*([-+*/%^]|==|!=|>=|<=|>|<|\band\b|\bor\b|\bunless\b)\s*[\w{(.]/.test(stripQuoted(text))) {
    throw unsupportedQuery(text, 'numbers and operators', supported);
  }
  try {
    return parseSelector(text);
  } catch (err) {
    if (isFieldmeshError(err, 'FM_QUERY_INVALID'))
      throw new FieldmeshError('FM_QUERY_INVALID', `${err.message}; ${supported}`, { cause: err });
    throw err;
  }
}

/** The query with quoted label values blanked, so operators inside values are not mistaken for PromQL. */
function stripQuoted(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
}
