// Label and annotation templates in the subset of Prometheus' Go templates that alert rules use:
// `{{ $labels.site }}`, `{{ $value }}`, `{{ .Labels.node }}`, `{{ .Value }}`, `{{ $externalURL }}`,
// `{{ index $labels "x" }}`, pipes to humanize, humanizeDuration, humanizePercentage, printf, toUpper,
// toLower, and `{{-`/`-}}` trimming. Anything else is refused when the rule file loads.

import type { Template, TemplateData } from './alert.js';
import { formatGoFloat, goSprintf, humanize, humanizeDuration, humanizePercentage } from './go-format.js';

export const TEMPLATE_SUPPORTED =
  'supported: {{ $labels.name }}, {{ $value }}, {{ .Labels.name }}, {{ .Value }}, {{ $externalURL }}, {{ index $labels "name" }}, ' +
  'pipes to humanize, humanizeDuration, humanizePercentage, printf "<format>", toUpper, toLower';

type Value = string | number;

const NO_DATA: TemplateData = { labels: {}, value: 0, externalUrl: '' };
type Operand = (data: TemplateData) => Value;

const FUNCTIONS: Record<string, (args: Value[]) => Value | undefined> = {
  humanize: (a) => (a.length === 1 ? humanize(Number(a[0])) : undefined),
  humanizeDuration: (a) => (a.length === 1 ? humanizeDuration(Number(a[0])) : undefined),
  humanizePercentage: (a) => (a.length === 1 ? humanizePercentage(Number(a[0])) : undefined),
  toUpper: (a) => (a.length === 1 ? String(text(a[0] as Value)).toUpperCase() : undefined),
  toLower: (a) => (a.length === 1 ? String(text(a[0] as Value)).toLowerCase() : undefined),
  printf: (a) => (typeof a[0] === 'string' ? goSprintf(a[0], a.slice(1)) : undefined),
};

function text(v: Value): string {
  return typeof v === 'number' ? formatGoFloat(v) : v;
}

/** Splits an action into words, keeping quoted strings whole and `|` as its own word. */
function words(action: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < action.length) {
    const c = action[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '|') {
      out.push('|');
      i++;
    } else if (c === '"' || c === '`') {
      let j = i + 1;
      while (j < action.length && action[j] !== c) j += c === '"' && action[j] === '\\' ? 2 : 1;
      if (j >= action.length) throw new Error(`unterminated string ${action.slice(i)}`);
      out.push(action.slice(i, j + 1));
      i = j + 1;
    } else {
      let j = i;
      while (j < action.length && !/[\s|"`]/.test(action[j] as string)) j++;
      out.push(action.slice(i, j));
      i = j;
    }
  }
  return out;
}

function operand(word: string): Operand {
  if (word.startsWith('"')) {
    const s = JSON.parse(word) as string;
    return () => s;
  }
  if (word.startsWith('`')) {
    const s = word.slice(1, -1);
    return () => s;
  }
  if (/^[-+]?\d+(\.\d+)?$/.test(word)) {
    const n = Number(word);
    return () => n;
  }
  if (word === '$value' || word === '.Value') return (d) => d.value;
  if (word === '$externalURL') return (d) => d.externalUrl;
  const label = /^(?:\$labels|\.Labels)\.([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(word);
  if (label) {
    const name = label[1] as string;
    // Go templates print a missing map key as "<no value>".
    return (d) => d.labels[name] ?? '<no value>';
  }
  if (word === '$labels' || word === '.Labels') throw new Error(`${word} alone cannot be printed; name a label: ${word}.site`);
  throw new Error(`unknown name "${word}"`);
}

/** One command of a pipeline: a function with its arguments, or a single operand. */
function command(cmd: string[], piped: Operand | undefined): Operand {
  const [head, ...rest] = cmd;
  if (head === undefined) throw new Error('empty command in a pipeline');
  if (head === 'index') {
    if (piped !== undefined || rest.length !== 2 || !/^(\$labels|\.Labels)$/.test(rest[0] as string) || !rest[1]?.startsWith('"'))
      throw new Error('index takes $labels and a quoted label name: index $labels "site"');
    const name = JSON.parse(rest[1]) as string;
    return (d) => d.labels[name] ?? '';
  }
  const fn = FUNCTIONS[head];
  if (fn === undefined) {
    if (rest.length > 0 || piped !== undefined) throw new Error(`unknown function "${head}"`);
    return operand(head);
  }
  const args = rest.map(operand);
  if (piped !== undefined) args.push(piped);
  if (head === 'printf' && !(rest[0]?.startsWith('"') || rest[0]?.startsWith('`'))) throw new Error('printf needs a quoted format first');
  if (head !== 'printf' && args.length !== 1) throw new Error(`${head} takes one value`);
  // Refuse a printf format with verbs we do not speak now, not at the first alert.
  if (head === 'printf' && goSprintf(String(operand(rest[0] as string)(NO_DATA)), []) === undefined)
    throw new Error(`printf format ${rest[0]}: only %v %s %d %f %g %e (with .precision) and %% are supported`);
  return (d) => {
    const v = fn(args.map((a) => a(d)));
    return v === undefined ? '' : v;
  };
}

function pipeline(action: string): Operand {
  const all = words(action);
  if (all.length === 0) throw new Error('empty action {{ }}');
  const first = all[0] as string;
  if (
    ['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block'].includes(first) ||
    first.includes(':=') ||
    first.startsWith('/*')
  )
    throw new Error(`"${first}" actions are not supported`);
  const commands: string[][] = [[]];
  for (const w of all) {
    if (w === '|') commands.push([]);
    else (commands[commands.length - 1] as string[]).push(w);
  }
  let current: Operand | undefined;
  for (const c of commands) current = command(c, current);
  return current as Operand;
}

/** Compiles a template; throws an Error saying what is wrong (the caller adds the file and path). */
export function compileTemplate(source: string): Template {
  const parts: Array<string | Operand> = [];
  let i = 0;
  let trimNext = false;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    let literal = open < 0 ? source.slice(i) : source.slice(i, open);
    if (trimNext) literal = literal.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) {
      parts.push(literal);
      break;
    }
    const close = source.indexOf('}}', open + 2);
    if (close < 0) throw new Error(`unclosed action at character ${open + 1}; ${TEMPLATE_SUPPORTED}`);
    let action = source.slice(open + 2, close);
    if (action.startsWith('- ') || action === '-') {
      literal = literal.replace(/\s+$/, '');
      action = action.slice(1);
    }
    if (action.endsWith(' -')) {
      trimNext = true;
      action = action.slice(0, -1);
    }
    parts.push(literal);
    try {
      parts.push(pipeline(action));
    } catch (err) {
      throw new Error(`{{${source.slice(open + 2, close)}}}: ${(err as Error).message}; ${TEMPLATE_SUPPORTED}`);
    }
    i = close + 2;
  }
  return {
    text: source,
    render: (data) => parts.map((p) => (typeof p === 'string' ? p : text(p(data)))).join(''),
  };
}
