// PromQL parsed with Prometheus' own grammar (@prometheus-io/lezer-promql) into the typed tree of
// ast.ts, then type-checked as Prometheus checks it. Syntax errors name the line, column and what
// was expected; functions and features fieldmesh does not evaluate are refused by name.

import type { SyntaxNode } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';
import { FieldmeshError } from '../../kit/index.js';
import type { LabelMatcher, MatchOp } from '../selector.js';
import {
  AGGREGATE_OPS,
  type AggregateOp,
  type AtModifier,
  type BinaryOp,
  type Expr,
  type MatrixSelector,
  type Subquery,
  type ValueType,
  type VectorMatching,
  type VectorSelector,
} from './ast.js';
import { compileRegex } from './regex.js';
import { FUNCTIONS, typeName } from './signatures.js';

/** A parsed query: its tree and the type of its result. */
export interface ParsedQuery {
  readonly text: string;
  readonly expr: Expr;
  readonly type: ValueType;
}

class ParseError extends Error {}

function invalid(message: string, query: string): FieldmeshError {
  return new FieldmeshError('FM_QUERY_INVALID', message, { details: { query } });
}

/** "line:column" of a character offset, both from 1, as Prometheus' parse errors start. */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `${line}:${offset - before.lastIndexOf('\n')}`;
}

const DURATION_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const DURATION_UNITS_MS = [31_536_000_000, 604_800_000, 86_400_000, 3_600_000, 60_000, 1_000, 1];

/** A Prometheus duration ("5m", "1h30m") in ms, or undefined. */
export function parsePromDuration(text: string): number | undefined {
  const m = DURATION_RE.exec(text);
  if (m === null || text === '') return undefined;
  let ms = 0;
  for (let i = 0; i < DURATION_UNITS_MS.length; i++) if (m[i + 1] !== undefined) ms += Number(m[i + 1]) * (DURATION_UNITS_MS[i] as number);
  return ms;
}

/** A number literal as the grammar reads it: decimal, hex, Inf, NaN, underscores, or a duration in seconds. */
export function parseNumber(raw: string): number | undefined {
  let text = raw.trim();
  let sign = 1;
  if (text.startsWith('-') || text.startsWith('+')) {
    if (text[0] === '-') sign = -1;
    text = text.slice(1).trim();
  }
  const lower = text.toLowerCase();
  if (lower === 'inf') return sign * Number.POSITIVE_INFINITY;
  if (lower === 'nan') return Number.NaN;
  if (/^0x[0-9a-f]+$/.test(lower)) return sign * Number.parseInt(lower.slice(2), 16);
  const plain = text.replace(/_/g, '');
  if (/^(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(plain)) return sign * Number(plain);
  const ms = parsePromDuration(text);
  return ms === undefined ? undefined : (sign * ms) / 1_000;
}

/** Go's strconv.Unquote for PromQL strings: "..." and '...' with escapes, `...` raw. */
export function unquote(raw: string): string {
  const q = raw[0];
  if (raw.length < 2 || raw[raw.length - 1] !== q) throw new ParseError('unterminated quoted string');
  const body = raw.slice(1, -1);
  if (q === '`') return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
      '"': '"',
      "'": "'",
    };
    if (e !== undefined && simple[e] !== undefined) {
      if ((e === '"' || e === "'") && e !== q) throw new ParseError(`invalid escape sequence \\${e}`);
      out += simple[e];
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) throw new ParseError(`invalid escape sequence \\${e}${hex}`);
      out += String.fromCodePoint(Number.parseInt(hex, 16));
      i += n;
    } else if (e !== undefined && /[0-7]/.test(e)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) throw new ParseError(`invalid escape sequence \\${oct}`);
      out += String.fromCharCode(Number.parseInt(oct, 8));
      i += 2;
    } else throw new ParseError(`invalid escape sequence \\${e ?? ''}`);
  }
  return out;
}

/** Grammar nodes of experimental Prometheus features that fieldmesh refuses by name. */
const UNSUPPORTED_NODES: Record<string, string> = {
  SmoothedExpr: 'the smoothed modifier is not supported',
  AnchoredExpr: 'the anchored modifier is not supported',
  FillModifier: 'fill modifiers of binary operators are not supported',
};

const MATCH_OPS: Record<string, MatchOp> = { EqlSingle: '=', Neq: '!=', EqlRegex: '=~', NeqRegex: '!~' };

const BINARY_OPS: Record<string, BinaryOp> = {
  Pow: '^',
  Mul: '*',
  Div: '/',
  Mod: '%',
  Atan2: 'atan2',
  Add: '+',
  Sub: '-',
  Eql: '==',
  Gte: '>=',
  Gtr: '>',
  Lte: '<=',
  Lss: '<',
  Neq: '!=',
  And: 'and',
  Unless: 'unless',
  Or: 'or',
};
const COMPARISONS = new Set<BinaryOp>(['==', '!=', '>', '<', '>=', '<=']);
const SET_OPS = new Set<BinaryOp>(['and', 'or', 'unless']);

export function isComparison(op: BinaryOp): boolean {
  return COMPARISONS.has(op);
}
export function isSetOp(op: BinaryOp): boolean {
  return SET_OPS.has(op);
}

function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c !== null; c = c.nextSibling) out.push(c);
  return out;
}

/** The first node (depth first) that satisfies `test`. */
function findNode(node: SyntaxNode, test: (n: SyntaxNode) => boolean): SyntaxNode | undefined {
  if (test(node)) return node;
  for (let c = node.firstChild; c !== null; c = c.nextSibling) {
    const found = findNode(c, test);
    if (found !== undefined) return found;
  }
  return undefined;
}

const EXPECTED: Record<string, string> = {
  LabelMatchers: 'a label matcher, "," or "}"',
  UnquotedLabelMatcher: 'a label matching operator (=, !=, =~, !~) and a quoted value',
  QuotedLabelMatcher: 'a label matching operator (=, !=, =~, !~) and a quoted value',
  FunctionCallBody: 'an expression, "," or ")"',
  GroupingLabels: 'a label name, "," or ")"',
  ParenExpr: 'an expression or ")"',
  BinaryExpr: 'an expression after the operator',
  UnaryExpr: 'an expression after the sign',
  MatrixSelector: 'a duration like 5m and "]"',
  SubqueryExpr: 'a duration like 5m, ":" and "]"',
  OffsetExpr: 'a duration like 5m',
  StepInvariantExpr: 'a timestamp, start() or end()',
  AggregateExpr: 'by, without or "(" and an expression',
  AggregateModifier: '"(" and label names',
  MatchingModifierClause: '"(" and label names',
};

class Builder {
  constructor(private readonly text: string) {}

  private src(node: SyntaxNode): string {
    return this.text.slice(node.from, node.to);
  }

  fail(node: SyntaxNode | number, message: string): never {
    const at = typeof node === 'number' ? node : node.from;
    throw invalid(`${position(this.text, at)}: parse error: ${message}`, this.text);
  }

  /** Refuses what the grammar read but fieldmesh does not evaluate, then the first syntax error. */
  checkTree(top: SyntaxNode): void {
    const unknownFn = findNode(top, (n) => {
      if (n.name !== 'Identifier' && n.name !== 'FunctionIdentifier') return false;
      return /^\s*\(/.test(this.text.slice(n.to)) && n.parent?.name === 'VectorSelector';
    });
    if (unknownFn !== undefined) {
      const name = this.src(unknownFn);
      if (!AGGREGATE_OPS.includes(name as AggregateOp)) this.fail(unknownFn, `function ${name} is not supported`);
    }
    const feature = findNode(top, (n) => UNSUPPORTED_NODES[n.name] !== undefined);
    if (feature !== undefined) this.fail(feature, UNSUPPORTED_NODES[feature.name] as string);
    const error = findNode(top, (n) => n.type.isError);
    if (error === undefined) return;
    const rest = this.text.slice(error.from);
    const token = /^\s*("(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|[A-Za-z_:][\w:]*|\d[\w.]*|==|!=|>=|<=|=~|!~|\S)/.exec(rest);
    const at = token === null ? this.text.length : error.from + (token[0].length - (token[1] as string).length);
    const what = token === null ? 'end of input' : JSON.stringify(token[1]);
    let context: SyntaxNode | null = error.parent;
    while (context !== null && EXPECTED[context.name] === undefined && context.name !== 'PromQL') context = context.parent;
    const expected =
      context !== null && EXPECTED[context.name] !== undefined ? EXPECTED[context.name] : 'an operator or the end of the query';
    if (token !== null && /^["']/.test(token[1] as string) && !/^(["']).*\1$/s.test(token[1] as string))
      this.fail(at, 'unterminated quoted string');
    this.fail(at, `unexpected ${what}, expected ${expected}`);
  }

  expr(node: SyntaxNode): Expr {
    const parts = children(node);
    switch (node.name) {
      case 'PromQL':
        if (parts.length === 0) this.fail(0, 'no expression found in input');
        return this.expr(parts[0] as SyntaxNode);
      case 'ParenExpr':
        return { type: 'paren', expr: this.expr(parts[0] as SyntaxNode) };
      case 'NumberDurationLiteral': {
        const value = parseNumber(this.src(node));
        if (value === undefined) this.fail(node, `bad number ${JSON.stringify(this.src(node))}`);
        return { type: 'number', value };
      }
      case 'StringLiteral':
        return { type: 'string', value: this.string(node) };
      case 'VectorSelector':
        return this.vectorSelector(node, parts);
      case 'MatrixSelector': {
        const [inner, range] = parts as [SyntaxNode, SyntaxNode];
        const selector = this.expr(inner);
        if (selector.type === 'unary') this.fail(node, 'unary expression only allowed on expressions of type scalar or instant vector');
        if (selector.type !== 'vector') this.fail(inner, 'ranges only allowed for vector selectors');
        if (selector.offsetMs !== 0 || selector.at !== undefined)
          this.fail(range, 'no offset or @ modifiers allowed before range; write them after the range, as in x[5m] offset 1h');
        const rangeMs = this.duration(range);
        if (rangeMs <= 0) this.fail(range, 'range must be greater than 0');
        return { type: 'matrix', selector, rangeMs } satisfies MatrixSelector;
      }
      case 'SubqueryExpr': {
        const [inner, range, step] = parts as [SyntaxNode, SyntaxNode, SyntaxNode | undefined];
        const expr = this.expr(inner);
        const rangeMs = this.duration(range);
        if (rangeMs <= 0) this.fail(range, 'subquery range must be greater than 0');
        const stepMs = step === undefined ? undefined : this.duration(step);
        if (stepMs !== undefined && stepMs <= 0) this.fail(step as SyntaxNode, 'subquery step must be greater than 0');
        return { type: 'subquery', expr, rangeMs, ...(stepMs === undefined ? {} : { stepMs }), offsetMs: 0 } satisfies Subquery;
      }
      case 'OffsetExpr': {
        const inner = this.expr(parts[0] as SyntaxNode);
        const offsetMs = this.duration(parts[parts.length - 1] as SyntaxNode);
        return this.modify(node, inner, (t) => {
          if (t.offsetMs !== 0) this.fail(node, 'offset may not be set multiple times');
          return { ...t, offsetMs };
        });
      }
      case 'StepInvariantExpr': {
        const inner = this.expr(parts[0] as SyntaxNode);
        const arg = parts[parts.length - 1] as SyntaxNode;
        let at: AtModifier;
        if (arg.name === 'AtModifierPreprocessors') at = { kind: arg.firstChild?.name === 'AtEnd' ? 'end' : 'start' };
        else {
          const s = parseNumber(this.src(arg));
          if (s === undefined || !Number.isFinite(s)) this.fail(arg, 'timestamp out of bounds for @ modifier');
          at = { kind: 'time', ms: Math.round(s * 1_000) };
        }
        return this.modify(node, inner, (t) => {
          if (t.at !== undefined) this.fail(node, '@ <timestamp> may not be set multiple times');
          return { ...t, at };
        });
      }
      case 'UnaryExpr': {
        const op = this.src(parts[0] as SyntaxNode) === '-' ? '-' : '+';
        const expr = this.expr(parts[1] as SyntaxNode);
        const t = typeOf(expr);
        if (t !== 'scalar' && t !== 'vector')
          this.fail(node, 'unary expression only allowed on expressions of type scalar or instant vector');
        if (expr.type === 'number') return { type: 'number', value: op === '-' ? -expr.value : expr.value };
        return { type: 'unary', op, expr };
      }
      case 'BinaryExpr':
        return this.binary(node, parts);
      case 'FunctionCall':
        return this.call(node, parts);
      case 'AggregateExpr':
        return this.aggregate(node, parts);
      default:
        this.fail(node, `${node.name} is not supported`);
    }
  }

  private string(node: SyntaxNode): string {
    try {
      return unquote(this.src(node));
    } catch (err) {
      if (err instanceof ParseError) this.fail(node, err.message);
      throw err;
    }
  }

  private duration(node: SyntaxNode): number {
    const text = this.src(node).trim();
    let sign = 1;
    let body = text;
    if (body.startsWith('-') || body.startsWith('+')) {
      sign = body[0] === '-' ? -1 : 1;
      body = body.slice(1).trim();
    }
    const ms = parsePromDuration(body) ?? (/^\d+(\.\d+)?$/.test(body) ? Math.round(Number(body) * 1_000) : undefined);
    if (ms === undefined) this.fail(node, `duration expressions are not supported (${JSON.stringify(text)}); write a duration like 5m`);
    return sign * ms;
  }

  /** Applies `offset` or `@` to the selector or subquery it follows, as Prometheus allows only there. */
  private modify(node: SyntaxNode, inner: Expr, set: <T extends VectorSelector | Subquery>(t: T) => T): Expr {
    if (inner.type === 'vector' || inner.type === 'subquery') return set(inner);
    // The grammar binds a sign tighter than offset and @; Prometheus reads -x offset 5m as -(x offset 5m).
    if (inner.type === 'unary') return { ...inner, expr: this.modify(node, inner.expr, set) };
    if (inner.type === 'matrix') return { ...inner, selector: set(inner.selector) };
    this.fail(
      node,
      `${node.name === 'OffsetExpr' ? 'offset' : '@ modifier'} must be preceded by an instant vector selector or range vector selector or a subquery`,
    );
  }

  private vectorSelector(node: SyntaxNode, parts: SyntaxNode[]): VectorSelector {
    const matchers: LabelMatcher[] = [];
    let name: string | undefined;
    for (const p of parts) {
      if (p.name === 'Identifier') {
        name = this.src(p);
        matchers.push({ name: '__name__', op: '=', value: name });
      } else if (p.name === 'LabelMatchers') {
        for (const m of children(p)) {
          if (m.name === 'QuotedLabelName') {
            // A quoted name alone is a metric name: {"my.metric"}.
            const metric = this.string(m.firstChild as SyntaxNode);
            if (name !== undefined) this.fail(m, `metric name must not be set twice: ${JSON.stringify(name)} or ${JSON.stringify(metric)}`);
            name = metric;
            matchers.push({ name: '__name__', op: '=', value: metric });
            continue;
          }
          const [labelNode, opNode, valueNode] = children(m) as [SyntaxNode, SyntaxNode, SyntaxNode];
          const label = labelNode.name === 'QuotedLabelName' ? this.string(labelNode.firstChild as SyntaxNode) : this.src(labelNode);
          const op = MATCH_OPS[opNode.firstChild?.name ?? ''] as MatchOp;
          const value = this.string(valueNode);
          if (op === '=~' || op === '!~') {
            try {
              compileRegex(value);
            } catch (err) {
              this.fail(valueNode, `invalid regular expression in matcher ${label}${op}: ${(err as Error).message}`);
            }
          }
          if (label === '__name__' && name !== undefined && parts[0]?.name === 'Identifier')
            this.fail(m, `metric name must not be set twice: ${JSON.stringify(name)} or ${JSON.stringify(value)}`);
          matchers.push({ name: label, op, value });
        }
      }
    }
    if (matchers.every((m) => matchesEmpty(m))) this.fail(node, 'vector selector must contain at least one non-empty matcher');
    return { type: 'vector', ...(name === undefined ? {} : { name }), matchers, offsetMs: 0 };
  }

  private labelList(node: SyntaxNode | undefined): string[] {
    if (node === undefined) return [];
    return children(node).map((l) => (l.name === 'QuotedLabelName' ? this.string(l.firstChild as SyntaxNode) : this.src(l)));
  }

  private binary(node: SyntaxNode, parts: SyntaxNode[]): Expr {
    const lhsNode = parts[0] as SyntaxNode;
    const rhsNode = parts[parts.length - 1] as SyntaxNode;
    const opNode = parts[1] as SyntaxNode;
    const op = BINARY_OPS[opNode.name];
    if (op === undefined) this.fail(opNode, `operator ${this.src(opNode)} is not supported`);
    const bool = parts.some((p) => p.name === 'BoolModifier');
    const clause = parts.find((p) => p.name === 'MatchingModifierClause');
    const lhs = this.expr(lhsNode);
    const rhs = this.expr(rhsNode);
    // The grammar reads "-2 ^ 2" as the literal -2 raised to 2; Prometheus' own parser (and arithmetic)
    // gives ^ precedence over the sign: -(2 ^ 2).
    if (op === '^' && lhsNode.name === 'NumberDurationLiteral' && /^[-+]/.test(this.src(lhsNode)) && lhs.type === 'number') {
      const negative = this.src(lhsNode).startsWith('-');
      const power: Expr = { type: 'binary', op, lhs: { type: 'number', value: Math.abs(lhs.value) }, rhs, bool: false };
      if (typeOf(rhs) === 'vector') return this.binaryOf(node, opNode, op, bool, clause, power.lhs, rhs, negative);
      return negative ? { type: 'unary', op: '-', expr: power } : power;
    }
    return this.binaryOf(node, opNode, op, bool, clause, lhs, rhs, false);
  }

  private binaryOf(
    node: SyntaxNode,
    opNode: SyntaxNode,
    op: BinaryOp,
    bool: boolean,
    clause: SyntaxNode | undefined,
    lhs: Expr,
    rhs: Expr,
    negate: boolean,
  ): Expr {
    if (negate) return { type: 'unary', op: '-', expr: this.binaryOf(node, opNode, op, bool, clause, lhs, rhs, false) };
    const lt = typeOf(lhs);
    const rt = typeOf(rhs);
    if ((lt !== 'scalar' && lt !== 'vector') || (rt !== 'scalar' && rt !== 'vector'))
      this.fail(node, 'binary expression must contain only scalar and instant vector types');
    if (bool && !isComparison(op)) this.fail(opNode, 'bool modifier can only be used on comparison operators');
    if (isComparison(op) && lt === 'scalar' && rt === 'scalar' && !bool)
      this.fail(opNode, 'comparisons between scalars must use BOOL modifier');
    if (isSetOp(op) && (lt === 'scalar' || rt === 'scalar'))
      this.fail(opNode, `set operator "${op}" not allowed in binary scalar expression`);
    if (clause !== undefined && (lt !== 'vector' || rt !== 'vector'))
      this.fail(clause, 'vector matching only allowed between instant vectors');
    if (lt !== 'vector' || rt !== 'vector') return { type: 'binary', op, lhs, rhs, bool };
    let matching: VectorMatching = { card: isSetOp(op) ? 'many-to-many' : 'one-to-one', on: false, labels: [], include: [] };
    if (clause !== undefined) {
      const cs = children(clause);
      const on = cs[0]?.name === 'On';
      const labels = this.labelList(cs[1]);
      const group = cs[2]?.name;
      const include = this.labelList(cs[3]);
      let card = matching.card;
      if (group === 'GroupLeft' || group === 'GroupRight') {
        if (isSetOp(op)) this.fail(cs[2] as SyntaxNode, `no grouping allowed for "${op}" operation`);
        card = group === 'GroupLeft' ? 'many-to-one' : 'one-to-many';
      }
      if (on) {
        for (const l of include) if (labels.includes(l)) this.fail(clause, `label "${l}" must not occur in ON and GROUP clause at once`);
      }
      matching = { card, on, labels, include };
    }
    return { type: 'binary', op, lhs, rhs, bool, matching };
  }

  private call(node: SyntaxNode, parts: SyntaxNode[]): Expr {
    const idNode = parts[0] as SyntaxNode;
    const func = this.src(idNode);
    const signature = FUNCTIONS[func];
    if (signature === undefined) this.fail(idNode, `function ${func} is not supported`);
    const args = children(parts[1] as SyntaxNode).map((a) => this.expr(a));
    const min = signature.args.length - (signature.optional ?? 0);
    const max = signature.variadic ? Number.POSITIVE_INFINITY : signature.args.length;
    if (args.length < min || args.length > max) {
      const expected = min === max ? `${min}` : max === Number.POSITIVE_INFINITY ? `at least ${min}` : `${min} or ${max}`;
      this.fail(node, `expected ${expected} argument(s) in call to "${func}", got ${args.length}`);
    }
    args.forEach((a, i) => {
      const want = signature.args[Math.min(i, signature.args.length - 1)] as ValueType;
      const got = typeOf(a);
      if (got !== want) this.fail(node, `expected type ${typeName(want)} in call to function "${func}", got ${typeName(got)}`);
    });
    return { type: 'call', func, args };
  }

  private aggregate(node: SyntaxNode, parts: SyntaxNode[]): Expr {
    const opName = this.src(parts[0] as SyntaxNode);
    if (!AGGREGATE_OPS.includes(opName as AggregateOp)) this.fail(node, `aggregation ${opName} is not supported`);
    const op = opName as AggregateOp;
    const modifier = parts.find((p) => p.name === 'AggregateModifier');
    const body = parts.find((p) => p.name === 'FunctionCallBody') as SyntaxNode;
    const args = children(body).map((a) => this.expr(a));
    const takesParam = op === 'topk' || op === 'bottomk' || op === 'quantile' || op === 'count_values';
    if (args.length !== (takesParam ? 2 : 1))
      this.fail(node, `wrong number of arguments for aggregate expression provided, expected ${takesParam ? 2 : 1}, got ${args.length}`);
    const expr = args[args.length - 1] as Expr;
    const t = typeOf(expr);
    if (t !== 'vector') this.fail(node, `expected type instant vector in aggregation expression, got ${typeName(t)}`);
    const param = takesParam ? args[0] : undefined;
    if (param !== undefined) {
      const want: ValueType = op === 'count_values' ? 'string' : 'scalar';
      if (typeOf(param) !== want)
        this.fail(node, `expected type ${typeName(want)} in aggregation parameter, got ${typeName(typeOf(param))}`);
    }
    const mods = modifier === undefined ? [] : children(modifier);
    const grouping = mods[0]?.name === 'Without' ? 'without' : 'by';
    const labels = this.labelList(mods[1]);
    return { type: 'aggregate', op, ...(param === undefined ? {} : { param }), grouping, labels, expr };
  }
}

function matchesEmpty(m: LabelMatcher): boolean {
  switch (m.op) {
    case '=':
      return m.value === '';
    case '!=':
      return m.value !== '';
    case '=~':
      return compileRegex(m.value).matches('');
    case '!~':
      return !compileRegex(m.value).matches('');
  }
}

/** The value type an expression evaluates to. */
export function typeOf(expr: Expr): ValueType {
  switch (expr.type) {
    case 'number':
      return 'scalar';
    case 'string':
      return 'string';
    case 'vector':
      return 'vector';
    case 'matrix':
    case 'subquery':
      return 'matrix';
    case 'call':
      return FUNCTIONS[expr.func]?.returns ?? 'vector';
    case 'aggregate':
      return 'vector';
    case 'binary':
      return typeOf(expr.lhs) === 'scalar' && typeOf(expr.rhs) === 'scalar' ? 'scalar' : 'vector';
    case 'unary':
    case 'paren':
      return typeOf(expr.expr);
  }
}

/**
 * Parses a PromQL expression; throws FieldmeshError FM_QUERY_INVALID with Prometheus' "line:col: parse
 * error: ..." for a syntax or type error, or naming the function or feature that is not supported.
 */
export function parsePromQL(query: string | undefined): ParsedQuery {
  if (query === undefined || query.trim() === '') throw invalid('missing parameter "query"', query ?? '');
  const tree = parser.parse(query);
  const builder = new Builder(query);
  builder.checkTree(tree.topNode);
  const expr = builder.expr(tree.topNode);
  if (expr.type === 'subquery') {
    const t = typeOf(expr.expr);
    if (t !== 'vector') builder.fail(0, `subquery is only allowed on instant vector, got ${typeName(t)}`);
  }
  checkSubqueries(expr, builder);
  return { text: query, expr, type: typeOf(expr) };
}

function checkSubqueries(expr: Expr, builder: Builder): void {
  switch (expr.type) {
    case 'subquery': {
      const t = typeOf(expr.expr);
      if (t !== 'vector') builder.fail(0, `subquery is only allowed on instant vector, got ${typeName(t)}`);
      checkSubqueries(expr.expr, builder);
      return;
    }
    case 'call':
      for (const a of expr.args) checkSubqueries(a, builder);
      return;
    case 'aggregate':
      if (expr.param) checkSubqueries(expr.param, builder);
      checkSubqueries(expr.expr, builder);
      return;
    case 'binary':
      checkSubqueries(expr.lhs, builder);
      checkSubqueries(expr.rhs, builder);
      return;
    case 'unary':
    case 'paren':
      checkSubqueries(expr.expr, builder);
      return;
    default:
      return;
  }
}
