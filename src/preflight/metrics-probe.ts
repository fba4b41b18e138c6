/**
 * The target's /metrics: which LLM-server dialect it speaks, found by the
 * server collector's own fetch, parser and detection rules
 * (src/collectors/prom-text.ts, server-dialects.ts), so the preflight says
 * exactly what the collector will read.
 */
import type { Dispatcher } from 'undici';
import { errorMessage } from '../errors.js';
import { fetchExposition, parseExposition } from '../collectors/prom-text.js';
import { DIALECTS, detectDialect } from '../collectors/server-dialects.js';
import { finishDetail } from '../traffic/error-detail.js';
import type { MetricsProbe } from './types.js';

/** Largest exposition read (a vLLM /metrics is 100–300 kB). */
const MAX_METRICS_BYTES = 8 * 1024 * 1024;

export async function probeMetrics(url: string, o: { dispatcher: Dispatcher; timeoutMs: number; scrub: (text: string) => string }): Promise<MetricsProbe> {
  let text: string;
  try {
    text = await fetchExposition(url, { signal: AbortSignal.timeout(o.timeoutMs), timeoutMs: o.timeoutMs, maxBytes: MAX_METRICS_BYTES, dispatcher: o.dispatcher });
  } catch (err) {
    return { url, names: 0, message: finishDetail(errorMessage(err), o.scrub) };
  }
  const { names } = parseExposition(text, () => false);
  const dialect = detectDialect(names);
  if (dialect === undefined) return { url, names: names.size, message: `no known LLM server metrics (${DIALECTS.join(', ')}) among ${names.size} metric names` };
  return { url, names: names.size, dialect };
}
