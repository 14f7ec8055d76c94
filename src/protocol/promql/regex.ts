// Regular expressions as Prometheus runs them: RE2 syntax (Go's regexp, so `(?i)` and friends work),
// fully anchored (a match is of the whole value), `.` not matching a newline (Prometheus 2; Prometheus 3
// lets it). re2js is a pure-JS port of RE2.

import { RE2JS } from 're2js';

export interface CompiledRegex {
  /** True when the whole of `s` matches. */
  matches(s: string): boolean;
}

const cache = new Map<string, CompiledRegex>();
const CACHE_MAX = 1_000;

/** Compiles `pattern` (cached); throws an Error with RE2's message when it is not valid RE2. */
export function compileRegex(pattern: string): CompiledRegex {
  let re = cache.get(pattern);
  if (re === undefined) {
    const compiled = RE2JS.compile(pattern);
    re = { matches: (s) => compiled.matches(s) };
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(pattern, re);
  }
  return re;
}

/** The whole-value match of `pattern` on `s` with its groups (numbered and named), or undefined. */
export function matchGroups(pattern: string, s: string): { groups: string[]; named: Record<string, string> } | undefined {
  const compiled = RE2JS.compile(pattern);
  const m = compiled.matcher(s);
  if (!m.matches()) return undefined;
  const groups: string[] = [];
  for (let i = 0; i <= m.groupCount(); i++) groups.push(m.group(i) ?? '');
  const named: Record<string, string> = {};
  for (const name of Object.keys(compiled.namedGroups())) named[name] = m.group(name) ?? '';
  return { groups, named };
}
