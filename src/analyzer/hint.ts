/**
 * Hints: what the rule engine concludes, shared by the analyzer (rules produce
 * findings), the alert tracker (turns findings into hints with a state) and
 * the notifiers, reports and API (read hints).
 *
 * A rule evaluation is pure: it returns the findings whose condition holds at
 * the time it was given. Whether a finding is new, pending, firing or resolved
 * is decided in ONE place, the tracker (./tracker.ts), as Prometheus'
 * rules/alerting.go does.
 */

export type Severity = 'info' | 'warning' | 'critical';

export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

/** What one rule evaluation returns when its condition holds now. */
export interface Finding {
  /** Id of the rule that produced it (e.g. `kv_cache_pressure`). */
  rule: string;
  severity: Severity;
  /** Likely root cause, a short snake_case token (e.g. `kv_cache_pressure`, `overload`). */
  cause: string;
  /** One line for people: what is wrong, with the decisive figures. */
  summary: string;
  /** What to do about it, one or two sentences. */
  suggestion: string;
  /** How sure the rule is, 0..1. */
  confidence: number;
  /** Every series/query the rule used and the value it saw (units in the key, e.g. `kv_usage_ratio`). */
  evidence: Record<string, number | string>;
  /**
   * Extra identity labels (e.g. `model`, `gpu`), so one rule can raise several
   * hints at once. Part of the hint's identity and sent to Alertmanager as
   * labels: keep values low-cardinality and stable. The reserved names
   * `alertname`, `rule`, `severity` and `cause` are ignored here.
   */
  labels?: Record<string, string>;
}

export type HintState = 'pending' | 'firing' | 'resolved';

/** A finding with a place in the alert life cycle (see ./tracker.ts). */
export interface Hint extends Finding {
  state: HintState;
  /** First evaluation at which the finding was present (Alertmanager's startsAt). */
  activeAt: Date;
  /** When it went from pending to firing. */
  firedAt?: Date;
  /** When the finding stopped being present (state resolved). */
  resolvedAt?: Date;
  /** Last evaluation of the rule that touched this hint. */
  lastEvalAt: Date;
  /**
   * Set while llmsoak itself is generator-bound (schedule or event-loop lag):
   * its own figures, this hint's evidence included, are not trustworthy now.
   * The summary then says so too.
   */
  untrustworthy?: boolean;
}

/** Label names a finding cannot set: the tracker and notifier own them. */
export const RESERVED_LABELS: ReadonlySet<string> = new Set(['alertname', 'rule', 'severity', 'cause']);

/**
 * The identity labels of a finding or hint: its own labels minus the reserved
 * names and empty values, plus `severity` and `cause`. With the rule id these
 * are exactly the labels an Alertmanager alert gets (external labels aside),
 * so a hint and the Alertmanager alert it becomes have the same identity.
 */
export function identityLabels(f: Pick<Finding, 'severity' | 'cause' | 'labels'>): Record<string, string> {
  const out: Record<string, string> = {};
  if (f.labels !== undefined) {
    for (const [k, v] of Object.entries(f.labels)) {
      if (RESERVED_LABELS.has(k) || v === '') continue;
      out[k] = v;
    }
  }
  out['severity'] = f.severity;
  out['cause'] = f.cause;
  return out;
}

/**
 * Stable key of a hint's identity: rule + sorted identity labels. Never the
 * summary, suggestion, confidence or evidence: those change between
 * evaluations of the same hint (last write wins), as annotations do.
 */
export function hintKey(f: Pick<Finding, 'rule' | 'severity' | 'cause' | 'labels'>): string {
  const labels = identityLabels(f);
  let out = f.rule;
  for (const k of Object.keys(labels).sort()) out += `\u0001${k}\u0002${labels[k] ?? ''}`;
  return out;
}

/** `rule{k="v",…}` for log lines and reports. */
export function hintName(f: Pick<Finding, 'rule' | 'labels'>): string {
  const parts: string[] = [];
  if (f.labels !== undefined) {
    for (const k of Object.keys(f.labels).sort()) {
      if (RESERVED_LABELS.has(k) || f.labels[k] === '') continue;
      parts.push(`${k}=${JSON.stringify(f.labels[k])}`);
    }
  }
  return parts.length === 0 ? f.rule : `${f.rule}{${parts.join(',')}}`;
}
