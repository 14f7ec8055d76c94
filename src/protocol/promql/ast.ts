// The typed tree of a PromQL expression, built from Prometheus' own grammar (parse.ts) and read by
// the evaluator (evaluate.ts). Times and durations are milliseconds.

import type { LabelMatcher } from '../selector.js';

/** The four value types of PromQL; `matrix` is a range vector. */
export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

/** `@ <time>`, `@ start()` or `@ end()`. */
export type AtModifier = { readonly kind: 'time'; readonly ms: number } | { readonly kind: 'start' } | { readonly kind: 'end' };

export interface NumberLiteral {
  readonly type: 'number';
  readonly value: number;
}

export interface StringLiteral {
  readonly type: 'string';
  readonly value: string;
}

export interface VectorSelector {
  readonly type: 'vector';
  /** The metric name written before the braces, if any (also a `__name__` matcher). */
  readonly name?: string;
  readonly matchers: readonly LabelMatcher[];
  readonly offsetMs: number;
  readonly at?: AtModifier;
}

export interface MatrixSelector {
  readonly type: 'matrix';
  readonly selector: VectorSelector;
  readonly rangeMs: number;
}

export interface Subquery {
  readonly type: 'subquery';
  readonly expr: Expr;
  readonly rangeMs: number;
  /** Absent: the default evaluation interval (DEFAULT_SUBQUERY_STEP_MS). */
  readonly stepMs?: number;
  readonly offsetMs: number;
  readonly at?: AtModifier;
}

export interface Call {
  readonly type: 'call';
  readonly func: string;
  readonly args: readonly Expr[];
}

export const AGGREGATE_OPS = [
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'group',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
] as const;
export type AggregateOp = (typeof AGGREGATE_OPS)[number];

export interface Aggregate {
  readonly type: 'aggregate';
  readonly op: AggregateOp;
  /** topk/bottomk's k, quantile's φ, count_values' label. */
  readonly param?: Expr;
  readonly grouping: 'by' | 'without';
  readonly labels: readonly string[];
  readonly expr: Expr;
}

export type ArithmeticOp = '+' | '-' | '*' | '/' | '%' | '^' | 'atan2';
export type ComparisonOp = '==' | '!=' | '>' | '<' | '>=' | '<=';
export type SetOp = 'and' | 'or' | 'unless';
export type BinaryOp = ArithmeticOp | ComparisonOp | SetOp;

export interface VectorMatching {
  readonly card: 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many';
  /** true: `on(labels)`; false: `ignoring(labels)` (or neither, with no labels). */
  readonly on: boolean;
  readonly labels: readonly string[];
  /** group_left/group_right's extra labels taken from the "one" side. */
  readonly include: readonly string[];
}

export interface Binary {
  readonly type: 'binary';
  readonly op: BinaryOp;
  readonly lhs: Expr;
  readonly rhs: Expr;
  readonly bool: boolean;
  /** Present when both sides are vectors. */
  readonly matching?: VectorMatching;
}

export interface Unary {
  readonly type: 'unary';
  readonly op: '-' | '+';
  readonly expr: Expr;
}

export interface Paren {
  readonly type: 'paren';
  readonly expr: Expr;
}

export type Expr = NumberLiteral | StringLiteral | VectorSelector | MatrixSelector | Subquery | Call | Aggregate | Binary | Unary | Paren;
