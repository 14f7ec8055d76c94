// The shape check of the repository's alert rule files (Prometheus' `groups[].rules[]` with `alert`,
// `expr`, `for`, `labels`, `annotations`). The hub's own loader (src/hub/alerts/rule-file.ts) checks
// expressions and templates too; the borders keep it out of this area, so callers that may use it
// (the CLI, the hub) pass it to validateConfigRepo, and this check is the default.

import { at } from './repo.js';
import { formatPath, parseConfigFile, type Tree } from './tree.js';
import type { AlertRuleFile, ConfigRepoProblem } from './types.js';

const GROUP_KEYS = ['name', 'interval', 'labels', 'rules'];
const RULE_KEYS = ['alert', 'expr', 'for', 'labels', 'annotations'];

/** Every shape problem of one rule file, with file, line, column and path. */
export function checkAlertRuleFile(file: AlertRuleFile): ConfigRepoProblem[] {
  const parsed = parseConfigFile(file.text, file.file, 'fleet');
  const problems: ConfigRepoProblem[] = [...parsed.problems];
  if (parsed.problems.length > 0) return problems;
  const problem = (tree: Tree, path: (string | number)[], message: string): void => {
    problems.push(at('alerts', tree, formatPath(path), message));
  };
  const root = parsed.tree;
  if (root === undefined) return problems;
  if (root.kind !== 'map') return [at('alerts', root, '(root)', 'expected a mapping with "groups"')];
  for (const k of root.entries.keys())
    if (k !== 'groups') problem({ at: root.keys.get(k) } as Tree, [k], 'unknown key; a rule file holds "groups"');
  const groups = root.entries.get('groups');
  if (groups === undefined) return problems;
  if (groups.kind !== 'list') return [...problems, at('alerts', groups, 'groups', 'expected a list of groups')];
  for (const [gi, g] of groups.items.entries()) {
    const gp = ['groups', gi];
    if (g.kind !== 'map') {
      problem(g, gp, 'expected a mapping with "name" and "rules"');
      continue;
    }
    for (const [k, v] of g.entries)
      if (!GROUP_KEYS.includes(k))
        problem({ at: g.keys.get(k) ?? v.at } as Tree, [...gp, k], `unknown key; a group has ${GROUP_KEYS.join(', ')}`);
    const name = g.entries.get('name');
    if (name?.kind !== 'scalar' || typeof name.value !== 'string' || name.value.trim() === '') {
      problem(name ?? g, [...gp, 'name'], 'expected a non-empty group name');
    }
    const rules = g.entries.get('rules');
    if (rules?.kind !== 'list') {
      problem(rules ?? g, [...gp, 'rules'], 'expected a list of rules');
      continue;
    }
    for (const [ri, r] of rules.items.entries()) {
      const rp = [...gp, 'rules', ri];
      if (r.kind !== 'map') {
        problem(r, rp, 'expected a mapping with "alert" and "expr"');
        continue;
      }
      for (const [k, v] of r.entries)
        if (!RULE_KEYS.includes(k))
          problem({ at: r.keys.get(k) ?? v.at } as Tree, [...rp, k], `unknown key; an alerting rule has ${RULE_KEYS.join(', ')}`);
      for (const key of ['alert', 'expr']) {
        const v = r.entries.get(key);
        if (v?.kind !== 'scalar' || typeof v.value !== 'string' || v.value.trim() === '') {
          problem(v ?? r, [...rp, key], `expected ${key === 'alert' ? 'the alert name' : 'an expression'} (a non-empty string)`);
        }
      }
    }
  }
  return problems;
}
