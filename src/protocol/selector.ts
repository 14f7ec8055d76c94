// Series selectors in Prometheus syntax: `name{label="v", other=~"re.*", x!="y", y!~"z"}`.
// Shared by the agent (which series are critical) and the hub (queries), so both read the same way.

import { FieldmeshError } from '../kit/index.js';
import { type CompiledRegex, compileRegex } from './promql/regex.js';

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
}

export interface SeriesSelector {
  readonly matchers: readonly LabelMatcher[];
  /** The selector as written, for messages. */
  readonly text: string;
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function fail(text: string, at: number, what: string): never {
  throw new FieldmeshError('FM_QUERY_INVALID', `selector ${JSON.stringify(text)} at character ${at + 1}: ${what}`, {
    details: { selector: text, offset: at },
  });
}

/** Parses a selector; throws FieldmeshError FM_QUERY_INVALID naming the character where it went wrong. */
export function parseSelector(text: string): SeriesSelector {
  const matchers: LabelMatcher[] = [];
  let i = 0;
  const skip = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  skip();
  const name = NAME_RE.exec(text.slice(i));
  if (name) {
    matchers.push({ name: '__name__', op: '=', value: name[0] });
    i += name[0].length;
    skip();
  }
  if (text[i] === '{') {
    i++;
    skip();
    while (text[i] !== '}') {
      const read = readMatcher(text, i);
      matchers.push(read.matcher);
      i = read.end;
      skip();
      if (text[i] === ',') {
        i++;
        skip();
      } else if (text[i] !== '}') fail(text, i, 'expected , or }');
    }
    i++;
    skip();
  }
  if (i !== text.length) fail(text, i, 'unexpected text');
  if (matchers.length === 0) fail(text, 0, 'empty selector');
  if (matchers.every((m) => (m.op.endsWith('~') ? compile(m.value).matches('') : m.value === '') === (m.op[0] === '='))) {
    fail(text, 0, 'a selector must have at least one matcher that does not match the empty string');
  }
  return { matchers, text };
}

/** Reads `label op "value"` at `i` (no leading space); `end` is just after the closing quote. */
function readMatcher(text: string, start: number): { matcher: LabelMatcher; end: number } {
  let i = start;
  const skip = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const label = LABEL_RE.exec(text.slice(i));
  if (!label) fail(text, i, 'expected a label name');
  i += label[0].length;
  skip();
  const op = (['=~', '!~', '!=', '='] as const).find((o) => text.startsWith(o, i));
  if (op === undefined) fail(text, i, 'expected one of =, !=, =~, !~');
  i += op.length;
  skip();
  const quote = text[i];
  if (quote !== '"' && quote !== "'") fail(text, i, 'expected a quoted label value');
  i++;
  let value = '';
  while (i < text.length && text[i] !== quote) {
    if (text[i] === '\\' && i + 1 < text.length) {
      const next = text[i + 1] as string;
      value += next === 'n' ? '\n' : next;
      i += 2;
    } else {
      value += text[i];
      i++;
    }
  }
  if (i >= text.length) fail(text, i, 'unterminated label value');
  i++;
  if (op === '=~' || op === '!~') compile(value, text, i);
  return { matcher: { name: label[0], op, value }, end: i };
}

/**
 * Parses one label matcher as Alertmanager's configuration writes them: `alertname="NodeDown"`,
 * `severity=~"warning|info"`, `site!="lab"`, `zone!~"z[23]"` (a regular expression is anchored).
 * Unlike a selector, a lone matcher may match the empty value. Throws FieldmeshError FM_QUERY_INVALID.
 */
export function parseLabelMatcher(text: string): LabelMatcher {
  let i = 0;
  while (i < text.length && /\s/.test(text[i] as string)) i++;
  try {
    const { matcher, end } = readMatcher(text, i);
    if (text.slice(end).trim() !== '') fail(text, end, 'unexpected text after the matcher');
    return matcher;
  } catch (err) {
    // fail() speaks of selectors; this is one matcher.
    if (err instanceof FieldmeshError && err.message.startsWith('selector '))
      throw new FieldmeshError('FM_QUERY_INVALID', `matcher${err.message.slice('selector'.length)}`, { details: { matcher: text } });
    throw err;
  }
}

/** A matcher's regular expression in RE2 syntax (as Prometheus reads it, `(?i)` included), anchored to the whole value. */
function compile(pattern: string, text = pattern, at = 0): CompiledRegex {
  try {
    return compileRegex(pattern);
  } catch (err) {
    fail(text, at, `invalid regular expression: ${(err as Error).message}`);
  }
}

const TESTS: Record<MatchOp, (actual: string, value: string) => boolean> = {
  '=': (actual, value) => actual === value,
  '!=': (actual, value) => actual !== value,
  '=~': (actual, value) => compile(value).matches(actual),
  '!~': (actual, value) => !compile(value).matches(actual),
};

/** True when `labels` satisfy every matcher (an empty list matches anything); a missing label reads as "". */
export function matchesLabelMatchers(matchers: readonly LabelMatcher[], labels: Readonly<Record<string, string>>): boolean {
  return matchers.every((m) => TESTS[m.op](labels[m.name] ?? '', m.value));
}

/** True when a series (its name and labels) satisfies every matcher; a missing label reads as "". */
export function matchesSelector(selector: SeriesSelector, name: string, labels: Readonly<Record<string, string>>): boolean {
  return selector.matchers.every((m) => TESTS[m.op](m.name === '__name__' ? name : (labels[m.name] ?? ''), m.value));
}
