/**
 * Hint → Alertmanager API v2 alert (`postableAlert`), pure.
 *
 * Labels (identity; Alertmanager groups, routes and deduplicates on them):
 *   alertname  the rule id in UpperCamelCase (`kv_cache_pressure` →
 *              `KvCachePressure`), Prometheus' naming custom for alerts
 *   rule       the rule id as-is (for matching and for /api/hints)
 *   severity, cause
 *   the finding's own labels (names sanitised to [a-zA-Z0-9_], empty values dropped)
 *   external labels, unless the alert already has that label (as Prometheus)
 * Annotations (last write wins; never identity):
 *   summary, description (summary + evidence, one `name: value` per line),
 *   suggestion, confidence, evidence (JSON), runbook_url (when configured),
 *   untrustworthy ("true" while llmsoak is generator-bound).
 */
import type { Hint } from '../analyzer/hint.js';
import { RESERVED_LABELS } from '../analyzer/hint.js';

/** What POST /api/v2/alerts takes, one element of the array. */
export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** RFC 3339. */
  startsAt: string;
  /** RFC 3339; in the past = resolved. */
  endsAt: string;
  generatorURL?: string;
}

export interface PayloadOptions {
  externalLabels: Readonly<Record<string, string>>;
  /** Full link to put in generatorURL (already `{externalUrl}/api/hints`). */
  generatorURL?: string;
  runbookBaseUrl?: string;
}

/** `kv_cache_pressure`, `kv-cache-pressure`, `kvCachePressure` → `KvCachePressure`. */
export function alertName(ruleId: string): string {
  const parts = ruleId.split(/[^a-zA-Z0-9]+/).filter((p) => p !== '');
  let out = parts.map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
  if (out === '') out = 'LlmsoakHint';
  if (/^[0-9]/.test(out)) out = `Hint${out}`;
  return out;
}

/** A valid Prometheus label name from anything. */
export function sanitizeLabelName(name: string): string {
  let out = name.replace(/[^a-zA-Z0-9_]/g, '_');
  if (out === '' || /^[0-9]/.test(out)) out = `_${out}`;
  return out;
}

function formatValue(v: number | string): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v) || Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

/** Evidence as `name: value` lines, in the rule's order. */
export function renderEvidence(evidence: Readonly<Record<string, number | string>>): string {
  return Object.entries(evidence)
    .map(([k, v]) => `${k}: ${formatValue(v)}`)
    .join('\n');
}

export function toAlertmanagerAlert(h: Hint, endsAt: Date, opts: PayloadOptions): AlertmanagerAlert {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.externalLabels)) if (v !== '') labels[k] = v;
  if (h.labels !== undefined) {
    for (const [k, v] of Object.entries(h.labels)) {
      if (v === '' || RESERVED_LABELS.has(k)) continue;
      labels[sanitizeLabelName(k)] = v;
    }
  }
  labels['alertname'] = alertName(h.rule);
  labels['rule'] = h.rule;
  labels['severity'] = h.severity;
  labels['cause'] = h.cause;

  const evidence = renderEvidence(h.evidence);
  const annotations: Record<string, string> = {
    summary: h.summary,
    description: evidence === '' ? h.summary : `${h.summary}\nEvidence:\n${evidence}`,
    suggestion: h.suggestion,
    confidence: formatValue(h.confidence),
    evidence: JSON.stringify(h.evidence),
  };
  if (opts.runbookBaseUrl !== undefined) annotations['runbook_url'] = `${opts.runbookBaseUrl.replace(/\/+$/, '')}/${encodeURIComponent(h.rule)}`;
  if (h.untrustworthy === true) annotations['untrustworthy'] = 'true';

  const alert: AlertmanagerAlert = {
    labels,
    annotations,
    startsAt: h.activeAt.toISOString(),
    endsAt: endsAt.toISOString(),
  };
  if (opts.generatorURL !== undefined) alert.generatorURL = opts.generatorURL;
  return alert;
}
