// Rule files in Prometheus' shape (`groups[].rules[]`: alerting rules with `alert`, `expr`, `for`, `labels`,
// `annotations`; recording rules with `record`, `expr`, `labels`), read and validated once: every problem is
// reported with its file, path and line (`rules.yaml: groups[0].rules[2].expr: ... (line 14)`), so an operator
// can paste existing rules and fix what this hub does not speak.

import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { FieldmeshError } from '../../kit/index.js';
import type { AlertRule, Template } from './alert.js';
import { type AlertExpression, evaluateAlertExpression, parseAlertExpression, type SeriesSource } from './alert-expr.js';
import { parsePromDurationMs } from './prom-duration.js';
import { compileTemplate } from './template.js';

const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const GROUP_KEYS = ['name', 'interval', 'labels', 'rules'];
const RULE_KEYS = ['alert', 'expr', 'for', 'labels', 'annotations'];
const RECORD_KEYS = ['record', 'expr', 'labels'];
/** Prometheus' metric names (model.IsValidMetricName): what a recording rule's `record` may be. */
const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

interface Problem {
  readonly path: string;
  readonly message: string;
  readonly line: number | undefined;
}

/** An alerting rule as written, before it is bound to a series source. */
export interface RuleDefinition {
  readonly group: string;
  readonly file: string;
  readonly name: string;
  /** The rule's index in its group (groups[g].rules[index]); absent for built-ins. */
  readonly index?: number;
  readonly expr: string;
  readonly forMs: number;
  readonly intervalMs: number | undefined;
  readonly labels: ReadonlyArray<readonly [string, Template]>;
  readonly annotations: ReadonlyArray<readonly [string, Template]>;
}

/** A recording rule as written: its result is stored as the series `record` (docs/alerts.md "Recording rules"). */
export interface RecordingRuleDefinition {
  readonly group: string;
  readonly file: string;
  /** The rule's index in its group (groups[g].rules[index]). */
  readonly index: number;
  /** The metric name of the series it records. */
  readonly record: string;
  readonly expr: AlertExpression;
  /** How often its group is evaluated, ms; undefined: alerts.evaluationInterval. */
  readonly intervalMs: number | undefined;
  /** The group's labels and the rule's (the rule's win), set over the result's labels. */
  readonly labels: Readonly<Record<string, string>>;
}

/** Every rule of one or more files: alerting and recording. */
export interface ParsedRules {
  readonly alerting: RuleDefinition[];
  readonly recording: RecordingRuleDefinition[];
}

function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(root)' : out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The alerting rules of one rule file's text (see parseRules). */
export function parseRuleFile(text: string, file: string): RuleDefinition[] {
  return parseRules(text, file).alerting;
}

/** Parses and validates one rule file's text; throws FM_CONFIG_UNREADABLE (YAML) or FM_CONFIG_INVALID (every problem). */
export function parseRules(text: string, file: string): ParsedRules {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const pos = first?.linePos?.[0];
    throw new FieldmeshError('FM_CONFIG_UNREADABLE', `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: ${first?.message.split('\n')[0]}`, {
      details: { file },
    });
  }
  const problems: Problem[] = [];
  // The line of the field, or of the nearest enclosing one that exists (a missing "expr": its rule's).
  const lineOf = (path: readonly (string | number)[]): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range !== undefined) return lineCounter.linePos(range[0]).line;
    }
    return undefined;
  };
  const problem = (path: readonly (string | number)[], message: string) =>
    problems.push({ path: formatPath(path), message, line: lineOf(path) });

  const root: unknown = doc.toJS() ?? {};
  const rules: RuleDefinition[] = [];
  const recording: RecordingRuleDefinition[] = [];
  if (!isRecord(root)) {
    problem([], 'expected a mapping with "groups"');
  } else {
    for (const k of Object.keys(root)) if (k !== 'groups') problem([k], 'unknown key; a rule file holds "groups"');
    const groups = root.groups ?? [];
    if (!Array.isArray(groups)) problem(['groups'], 'expected a list of groups');
    const seen = new Set<string>();
    (Array.isArray(groups) ? groups : []).forEach((g: unknown, gi) => {
      const gp = ['groups', gi];
      if (!isRecord(g)) {
        problem(gp, 'expected a mapping with "name" and "rules"');
        return;
      }
      for (const k of Object.keys(g)) {
        if (k === 'limit' || k === 'query_offset') problem([...gp, k], `"${k}" is not supported by this hub`);
        else if (!GROUP_KEYS.includes(k)) problem([...gp, k], `unknown key; a group has ${GROUP_KEYS.join(', ')}`);
      }
      const name = typeof g.name === 'string' ? g.name.trim() : '';
      if (name === '') problem([...gp, 'name'], 'expected a non-empty group name');
      else if (seen.has(name)) problem([...gp, 'name'], `group "${name}" is defined twice in this file`);
      seen.add(name);
      let intervalMs: number | undefined;
      if (g.interval !== undefined) {
        intervalMs = typeof g.interval === 'string' ? parsePromDurationMs(g.interval) : undefined;
        if (intervalMs === undefined || intervalMs === 0)
          problem([...gp, 'interval'], `expected a duration like "30s" or "1m", got ${JSON.stringify(g.interval)}`);
      }
      const groupLabels = readLabels(g.labels, [...gp, 'labels'], problem);
      if (!Array.isArray(g.rules)) {
        problem([...gp, 'rules'], 'expected a list of rules');
        return;
      }
      g.rules.forEach((r: unknown, ri) => {
        const rp = [...gp, 'rules', ri];
        if (!isRecord(r)) {
          problem(rp, 'expected a mapping with "alert" and "expr"');
          return;
        }
        if ('record' in r) {
          const def = readRecordingRule(r, rp, problem, groupLabels);
          if (def !== undefined) recording.push({ group: name, file, index: ri, intervalMs, ...def });
          return;
        }
        for (const k of Object.keys(r)) {
          if (k === 'keep_firing_for') problem([...rp, k], '"keep_firing_for" is not supported by this hub');
          else if (!RULE_KEYS.includes(k)) problem([...rp, k], `unknown key; an alerting rule has ${RULE_KEYS.join(', ')}`);
        }
        const alert = typeof r.alert === 'string' ? r.alert.trim() : '';
        if (alert === '') problem([...rp, 'alert'], 'expected the alert name (a non-empty string)');
        let expr = '';
        if (typeof r.expr !== 'string' || r.expr.trim() === '') problem([...rp, 'expr'], 'expected an expression (a non-empty string)');
        else {
          expr = r.expr.trim();
          try {
            parseAlertExpression(expr);
          } catch (err) {
            problem([...rp, 'expr'], (err as Error).message);
          }
        }
        let forMs = 0;
        if (r.for !== undefined) {
          const ms = typeof r.for === 'string' ? parsePromDurationMs(r.for) : undefined;
          if (ms === undefined) problem([...rp, 'for'], `expected a duration like "5m" or "1h30m", got ${JSON.stringify(r.for)}`);
          else forMs = ms;
        }
        const labels = [
          ...groupLabels.filter(([k]) => !(isRecord(r.labels) && k in r.labels)),
          ...readLabels(r.labels, [...rp, 'labels'], problem),
        ];
        const annotations = readTemplates(r.annotations, [...rp, 'annotations'], problem, false);
        rules.push({ group: name, file, name: alert, index: ri, expr, forMs, intervalMs, labels, annotations });
      });
    });
  }
  if (problems.length > 0) {
    const lines = problems.map((p) => `${file}: ${p.path}: ${p.message}${p.line === undefined ? '' : ` (line ${p.line})`}`);
    throw new FieldmeshError('FM_CONFIG_INVALID', lines.join('\n'), { details: { file, problems } });
  }
  return { alerting: rules, recording };
}

type ProblemAt = (path: readonly (string | number)[], message: string) => void;

/** A recording rule's own fields, checked; undefined when any is wrong (each problem reported). */
function readRecordingRule(
  r: Record<string, unknown>,
  rp: readonly (string | number)[],
  problem: ProblemAt,
  groupLabels: ReadonlyArray<readonly [string, Template]>,
): Pick<RecordingRuleDefinition, 'record' | 'expr' | 'labels'> | undefined {
  let ok = true;
  const bad: ProblemAt = (path, message) => {
    ok = false;
    problem(path, message);
  };
  for (const k of Object.keys(r)) {
    if (k === 'alert') bad([...rp, k], 'a rule has either "alert" (an alerting rule) or "record" (a recording rule), not both');
    else if (!RECORD_KEYS.includes(k)) bad([...rp, k], `unknown key; a recording rule has ${RECORD_KEYS.join(', ')}`);
  }
  const record = typeof r.record === 'string' ? r.record.trim() : '';
  if (!METRIC_NAME_RE.test(record))
    bad([...rp, 'record'], `expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), got ${JSON.stringify(r.record)}`);
  let expr: AlertExpression | undefined;
  if (typeof r.expr !== 'string' || r.expr.trim() === '') bad([...rp, 'expr'], 'expected an expression (a non-empty string)');
  else {
    try {
      expr = parseAlertExpression(r.expr);
    } catch (err) {
      bad([...rp, 'expr'], (err as Error).message);
    }
  }
  // As Prometheus: a recording rule's labels are set as written (no templates), over the group's.
  const labels: Record<string, string> = {};
  for (const [k, t] of groupLabels) labels[k] = t.text;
  if (r.labels !== undefined && r.labels !== null && !isRecord(r.labels))
    bad([...rp, 'labels'], 'expected a mapping of label names to strings');
  for (const [k, v] of Object.entries(isRecord(r.labels) ? r.labels : {})) {
    if (!LABEL_NAME_RE.test(k) || k.startsWith('__')) bad([...rp, 'labels', k], `"${k}" is not a valid label name`);
    else if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') bad([...rp, 'labels', k], 'expected a string');
    else labels[k] = String(v);
  }
  return ok && expr !== undefined ? { record, expr, labels } : undefined;
}

function readLabels(
  value: unknown,
  path: readonly (string | number)[],
  problem: (path: readonly (string | number)[], message: string) => void,
): Array<readonly [string, Template]> {
  return readTemplates(value, path, problem, true);
}

function readTemplates(
  value: unknown,
  path: readonly (string | number)[],
  problem: (path: readonly (string | number)[], message: string) => void,
  areLabels: boolean,
): Array<readonly [string, Template]> {
  if (value === undefined || value === null) return [];
  if (!isRecord(value)) {
    problem(path, `expected a mapping of ${areLabels ? 'label' : 'annotation'} names to strings`);
    return [];
  }
  const out: Array<readonly [string, Template]> = [];
  for (const [k, v] of Object.entries(value)) {
    if (!LABEL_NAME_RE.test(k) || k.startsWith('__')) {
      problem([...path, k], `"${k}" is not a valid ${areLabels ? 'label' : 'annotation'} name`);
      continue;
    }
    if (areLabels && k === 'alertname') {
      problem([...path, k], '"alertname" is set from the rule\'s "alert"');
      continue;
    }
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      problem([...path, k], 'expected a string');
      continue;
    }
    try {
      out.push([k, compileTemplate(String(v))]);
    } catch (err) {
      problem([...path, k], (err as Error).message);
    }
  }
  return out;
}

/** Binds a rule definition to the hub's series; `id` must be unique and stable across restarts. */
export function createExpressionRule(def: RuleDefinition, id: string, source: SeriesSource, builtin = false): AlertRule {
  const expr = parseAlertExpression(def.expr);
  return {
    id,
    group: def.group,
    file: def.file,
    name: def.name,
    ...(def.index === undefined ? {} : { index: def.index }),
    forMs: def.forMs,
    intervalMs: def.intervalMs,
    labels: def.labels,
    annotations: def.annotations,
    source: { expr: def.expr, builtin, evaluate: (nowMs) => evaluateAlertExpression(expr, source, nowMs) },
  };
}

/**
 * Reads and parses every rule file (paths relative to the working directory, as other hub paths). Throws
 * FM_CONFIG_UNREADABLE or FM_CONFIG_INVALID listing every problem of every file.
 */
export function readRuleFiles(paths: readonly string[]): ParsedRules {
  const out: ParsedRules = { alerting: [], recording: [] };
  const problems: string[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      throw new FieldmeshError('FM_CONFIG_UNREADABLE', `${path}: ${why} (alerts.ruleFiles)`, { cause: err });
    }
    try {
      const parsed = parseRules(text, path);
      out.alerting.push(...parsed.alerting);
      out.recording.push(...parsed.recording);
    } catch (err) {
      if (err instanceof FieldmeshError && err.code === 'FM_CONFIG_INVALID') problems.push(err.message);
      else throw err;
    }
  }
  if (problems.length > 0) throw new FieldmeshError('FM_CONFIG_INVALID', problems.join('\n'));
  return out;
}

/**
 * Reads every rule file and binds its alerting rules; a rule's id is "<group>/<alert>", with "#2", "#3"...
 * for further rules of the same name in the same group. Throws as readRuleFiles.
 */
export function loadRuleFiles(paths: readonly string[], source: SeriesSource, taken: Set<string> = new Set()): AlertRule[] {
  return readRuleFiles(paths).alerting.map((def) => createExpressionRule(def, uniqueId(`${def.group}/${def.name}`, taken), source));
}

/** `base`, or `base#2`, `base#3`... whichever is not taken yet; marks it taken. */
export function uniqueId(base: string, taken: Set<string>): string {
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}#${n}`;
  taken.add(id);
  return id;
}
