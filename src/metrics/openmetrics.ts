/**
 * The registry in OpenMetrics text format (https://openmetrics.io), for
 * scrapers that ask for it: only this format carries exemplars (the trace
 * ids on latency buckets). The Prometheus text format stays the default.
 *
 * Rendered here rather than by switching prom-client's registry to
 * OpenMetrics: that registry renames its counters in place (drops `_total`)
 * and holds one format for all callers, while /metrics answers both formats
 * from one registry, concurrently.
 */
import type { Registry } from 'prom-client';
import { metricsAsJson } from './render.js';

export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/**
 * True when an Accept header prefers OpenMetrics to the Prometheus text
 * format (Prometheus asks `application/openmetrics-text;version=1.0.0,…,
 * text/plain;version=0.0.4;q=0.5,…`). A tie, or no Accept, keeps the default.
 */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept?.includes('openmetrics')) return false;
  let om = 0;
  let text = -1;
  for (const range of accept.split(',')) {
    const params = range.split(';');
    const type = (params[0] ?? '').trim().toLowerCase();
    let q = 1;
    for (let i = 1; i < params.length; i++) {
      const p = (params[i] ?? '').trim().toLowerCase();
      if (p.startsWith('q=')) q = Number(p.slice(2));
    }
    if (!Number.isFinite(q)) q = 0;
    if (type === 'application/openmetrics-text') om = Math.max(om, q);
    else if (type === 'text/plain') text = Math.max(text, q);
  }
  return om > 0 && om > text;
}

/** What prom-client's getMetricsAsJSON() gives per family (the parts read here). */
interface JsonValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
  exemplar?: { labelSet: Record<string, string | number>; value: number | null; timestamp?: number } | null;
}
interface JsonFamily {
  name: string;
  help: string;
  type: string;
  values: JsonValue[];
}

const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary']);

/** OpenMetrics escapes backslash, double quote and line feed, in HELP and label values alike. */
function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Record<string, string | number>): string {
  let out = '';
  for (const k in labels) {
    const v = labels[k];
    if (v === undefined) continue;
    out += `${out ? ',' : ''}${k}="${escapeLabelValue(String(v))}"`;
  }
  return out ? `{${out}}` : '';
}

/** The whole registry in OpenMetrics 1.0 text, exemplars included, ending `# EOF`. */
export async function renderOpenMetrics(registry: Registry): Promise<string> {
  const families = (await metricsAsJson(registry)) as unknown as JsonFamily[];
  const lines: string[] = [];
  for (const f of families) {
    const counter = f.type === 'counter';
    // A counter's family is named without `_total`; its sample is `<family>_total`.
    const family = counter ? f.name.replace(/_total$/, '') : f.name;
    lines.push(`# HELP ${family} ${escapeLabelValue(f.help)}`, `# TYPE ${family} ${TYPES.has(f.type) ? f.type : 'unknown'}`);
    for (const v of f.values) {
      const sample = counter ? `${family}_total` : (v.metricName ?? family);
      let line = `${sample}${labelText(v.labels)} ${num(v.value)}`;
      const ex = v.exemplar;
      if (ex && typeof ex.value === 'number' && Object.keys(ex.labelSet).length > 0) {
        line += ` # ${labelText(ex.labelSet) || '{}'} ${num(ex.value)}${ex.timestamp !== undefined ? ` ${ex.timestamp}` : ''}`;
      }
      lines.push(line);
    }
  }
  lines.push('# EOF');
  return lines.join('\n') + '\n';
}
