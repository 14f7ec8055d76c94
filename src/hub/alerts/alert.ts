// The alert engine's vocabulary: rules, alert instances and their states, acknowledgements, silences,
// and the events the engine emits. Shapes follow Prometheus (rules, /api/v1/alerts) and Alertmanager
// (silences, webhook payload), so operators can paste what they already have.

/** An alert instance's state. `pending`: the condition holds, not yet for `for`; `firing`; `resolved`: it fired and the condition cleared. */
export type AlertState = 'pending' | 'firing' | 'resolved';

export const ALERT_STATES: readonly AlertState[] = ['pending', 'firing', 'resolved'];

/** One element of a rule's result at one evaluation: the labels that identify it and its value. */
export interface AlertSample {
  /** The series' labels (without `__name__`), before the rule's own labels are added. */
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /**
   * When the condition began, ms, when the source knows better than "first seen" (a node went
   * offline at a known time). While pending, the instance's `activeAt` follows it.
   */
  readonly activeSince?: number;
}

/** What a rule asks of the hub's data at each evaluation. */
export interface RuleSource {
  /** The expression as written (rule files) or described (built-ins), for the API and generatorURL. */
  readonly expr: string;
  /** True for built-ins: the generatorURL points at the alert list instead of a query. */
  readonly builtin: boolean;
  evaluate(nowMs: number, context: EvaluationContext): Promise<readonly AlertSample[]>;
}

export interface EvaluationContext {
  /**
   * When the engine started watching, ms: the hub cannot vouch for silences from before it ran, so
   * fleet conditions count from no earlier than this.
   */
  readonly watchingSince: number;
}

/** A compiled template string (`{{ $labels.site }}`, `{{ $value | humanize }}`). */
export interface Template {
  readonly text: string;
  render(data: TemplateData): string;
}

export interface TemplateData {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly externalUrl: string;
}

/** An alerting rule, loaded from a rule file or built in. */
export interface AlertRule {
  /** "<group>/<alert>#<index in group>": unique across files. */
  readonly id: string;
  readonly group: string;
  /** Where the rule came from: a rule file path, or "builtin". */
  readonly file: string;
  /** The `alert` name; becomes the `alertname` label. */
  readonly name: string;
  /** Its index in its group of a rule file (groups[g].rules[index]); absent for built-ins. */
  readonly index?: number;
  /** How long the condition must hold before the alert fires, ms (0: fires at once). */
  readonly forMs: number;
  /** How often the rule's group is evaluated, ms; the engine's interval when the group names none. */
  readonly intervalMs: number | undefined;
  readonly labels: ReadonlyArray<readonly [string, Template]>;
  readonly annotations: ReadonlyArray<readonly [string, Template]>;
  readonly source: RuleSource;
}

export interface Acknowledgement {
  /** Who acknowledged (the authenticated user once roles exist; the body's `by` until then). */
  readonly by: string;
  /** When, ms since the Unix epoch (hub clock). */
  readonly at: number;
  readonly comment: string;
}

/** Which state the notifiers were last told about for an instance. */
export type NotifiedState = 'none' | 'firing' | 'resolved';

/** One alert instance: a rule's result element with its lifecycle. Times are hub ms since the Unix epoch. */
export interface AlertRecord {
  /** Alertmanager's fingerprint of `labels` (FNV-1a 64 over sorted names and values), 16 hex digits. */
  readonly fingerprint: string;
  readonly ruleId: string;
  /** The final labels: the series' labels, the rule's labels, `alertname`. */
  readonly labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  state: AlertState;
  value: number;
  /** When the condition started holding (Prometheus' activeAt). */
  activeAt: number;
  /** When it started firing (the webhook's startsAt); null while pending. */
  firedAt: number | null;
  /** When it resolved; null while active. */
  resolvedAt: number | null;
  /** Last evaluation that saw the condition hold. */
  lastSeenAt: number;
  ack: Acknowledgement | null;
  notified: NotifiedState;
  /** When the notifiers were last given this instance (for repeat_interval); null when never. */
  notifiedAt: number | null;
  /** Where this instance's rule would be looked at (expression query or alert list). */
  readonly generatorUrl: string;
}

/** Alertmanager's matcher: `isRegex` anchors the value as ^(?:value)$; `isEqual` false negates. */
export interface SilenceMatcher {
  readonly name: string;
  readonly value: string;
  readonly isRegex: boolean;
  readonly isEqual: boolean;
}

/** An Alertmanager-like silence: alerts whose labels match every matcher notify nobody while it is active. */
export interface Silence {
  readonly id: string;
  readonly matchers: readonly SilenceMatcher[];
  readonly startsAt: number;
  endsAt: number;
  readonly createdBy: string;
  readonly comment: string;
  updatedAt: number;
}

export type SilenceState = 'pending' | 'active' | 'expired';

/** What the engine tells its listeners; named in the past tense. */
export type AlertEvent =
  | { readonly type: 'alertPending'; readonly alert: Readonly<AlertRecord> }
  | { readonly type: 'alertRaised'; readonly alert: Readonly<AlertRecord> }
  | { readonly type: 'alertResolved'; readonly alert: Readonly<AlertRecord> }
  /** A pending alert whose condition cleared before its `for`: no longer listed. */
  | { readonly type: 'alertDropped'; readonly alert: Readonly<AlertRecord> }
  | { readonly type: 'alertAcknowledged'; readonly alert: Readonly<AlertRecord> }
  | { readonly type: 'alertUnacknowledged'; readonly alert: Readonly<AlertRecord> }
  /**
   * The firing alerts that inhibit this one changed (a source started or stopped firing, or the alert
   * appeared already inhibited): its view changes though its state may not. `inhibitedBy` is the new list.
   */
  | { readonly type: 'alertInhibitionChanged'; readonly alert: Readonly<AlertRecord>; readonly inhibitedBy: readonly string[] }
  /** A process that does not evaluate (a scale-out api process that does not lead) read the leader's alerts again. */
  | { readonly type: 'alertsReloaded' }
  | { readonly type: 'silenceCreated'; readonly silence: Readonly<Silence> }
  | { readonly type: 'silenceExpired'; readonly silence: Readonly<Silence> };
