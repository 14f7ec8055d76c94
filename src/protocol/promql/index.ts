// PromQL for fieldmesh, shared by the node, the hub and the console: Prometheus' own grammar parsed
// into a typed tree, type-checked, and evaluated with Prometheus' semantics. No Node built-ins.

export type * from './ast.js';
export * from './evaluate.js';
export { formatValue } from './format.js';
export { isComparison, isSetOp, type ParsedQuery, parseNumber, parsePromDuration, parsePromQL, typeOf } from './parse.js';
export { type CompiledRegex, compileRegex } from './regex.js';
export { FUNCTIONS } from './signatures.js';
export type { Labels, RangeSeries, Sample, Value } from './values.js';
