// Prometheus relabelling (`metric_relabel_configs`) with Prometheus semantics: anchored regexes,
// `$1`/`${name}` replacements, keep/drop/replace/labelkeep/labeldrop/labelmap/lowercase/uppercase.

import { z } from 'zod';

/** The label that carries the metric name during relabelling, as in Prometheus. */
export const METRIC_NAME_LABEL = '__name__';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const RELABEL_ACTIONS = ['replace', 'keep', 'drop', 'labelkeep', 'labeldrop', 'labelmap', 'lowercase', 'uppercase'] as const;
export type RelabelAction = (typeof RELABEL_ACTIONS)[number];

function compiles(source: string): boolean {
  try {
    new RegExp(`^(?:${source})$`);
    return true;
  } catch {
    return false;
  }
}

export const relabelConfigSchema = z
  .strictObject({
    source_labels: z.array(z.string()).default([]),
    separator: z.string().default(';'),
    regex: z.string().default('(.*)').refine(compiles, { message: 'expected a valid regular expression' }),
    target_label: z.string().optional(),
    replacement: z.string().default('$1'),
    action: z.enum(RELABEL_ACTIONS).default('replace'),
  })
  .superRefine((c, ctx) => {
    const needsTarget = c.action === 'replace' || c.action === 'lowercase' || c.action === 'uppercase';
    if (needsTarget && (c.target_label === undefined || c.target_label === '')) {
      ctx.addIssue({ code: 'custom', path: ['target_label'], message: `action "${c.action}" needs a target_label` });
    }
    if ((c.action === 'keep' || c.action === 'drop') && c.source_labels.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['source_labels'], message: `action "${c.action}" needs source_labels` });
    }
  });

export type RelabelConfig = z.output<typeof relabelConfigSchema>;

/** A relabel rule with its regex compiled once. */
export interface CompiledRelabel {
  readonly config: RelabelConfig;
  readonly regex: RegExp;
}

export function compileRelabelConfigs(configs: readonly RelabelConfig[]): CompiledRelabel[] {
  // Prometheus anchors every relabel regex at both ends.
  return configs.map((config) => ({ config, regex: new RegExp(`^(?:${config.regex})$`) }));
}

/**
 * Go's Regexp.Expand as Prometheus uses it: `$$` is a dollar, `${name}` or `$name` (the longest run
 * of letters, digits and underscores) is a numbered or named group; unknown groups expand to ''.
 */
export function expandReplacement(template: string, match: RegExpExecArray): string {
  return template.replace(/\$(?:\$|\{([a-zA-Z0-9_]+)\}|([a-zA-Z0-9_]+))/g, (whole, braced?: string, bare?: string) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare) as string;
    if (/^\d+$/.test(name)) return match[Number(name)] ?? '';
    return match.groups?.[name] ?? '';
  });
}

/**
 * Applies the rules in order to a label set that includes `__name__`. Returns the new label set, or
 * undefined when the series is dropped. Empty label values are removed, as Prometheus does.
 */
export function relabel(labels: Readonly<Record<string, string>>, rules: readonly CompiledRelabel[]): Record<string, string> | undefined {
  const out: Record<string, string> = { ...labels };
  for (const { config: c, regex } of rules) {
    const value = c.source_labels.map((l) => out[l] ?? '').join(c.separator);
    switch (c.action) {
      case 'keep':
        if (!regex.test(value)) return undefined;
        break;
      case 'drop':
        if (regex.test(value)) return undefined;
        break;
      case 'replace': {
        const m = regex.exec(value);
        if (m === null) break;
        const target = expandReplacement(c.target_label as string, m);
        if (!LABEL_NAME.test(target)) break;
        const result = expandReplacement(c.replacement, m);
        if (result === '') delete out[target];
        else out[target] = result;
        break;
      }
      case 'lowercase':
        out[c.target_label as string] = value.toLowerCase();
        break;
      case 'uppercase':
        out[c.target_label as string] = value.toUpperCase();
        break;
      case 'labelmap':
        for (const [name, v] of Object.entries({ ...out })) {
          const m = regex.exec(name);
          if (m !== null) out[expandReplacement(c.replacement, m)] = v;
        }
        break;
      case 'labeldrop':
        for (const name of Object.keys(out)) if (regex.test(name)) delete out[name];
        break;
      case 'labelkeep':
        for (const name of Object.keys(out)) if (!regex.test(name)) delete out[name];
        break;
      default: {
        const never: never = c.action;
        throw new Error(`unknown relabel action ${String(never)}`);
      }
    }
  }
  for (const [name, v] of Object.entries(out)) if (v === '') delete out[name];
  return out;
}
