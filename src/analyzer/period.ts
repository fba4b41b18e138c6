/**
 * Trends of the watched gauges over one period (a soak report's), computed
 * exactly as the leak rule computes them: the same series (LEAK_SERIES), the
 * same leakTrend and the same options (leakOptions), over the period instead
 * of the leak window. Beside them, trends a report shows but the leak rule
 * does not judge: KV cache usage and the latency p99s (leakTrend with its
 * default significance tests, no minimum slope).
 */
import type { Thresholds } from './rule.js';
import type { Sample, Series, SeriesSource } from './source.js';
import { leakTrend, restartTimes, type LeakTrend } from './trends.js';
import { LEAK_SERIES, leakOptions } from './rules/trends.js';

/** One trended series of a period: its points and its trend. */
export interface PeriodSeries {
  /** Selector with labels, e.g. llmsoak_target_process_resident_memory_bytes{process="vllm"}, or "<histogram> p99". */
  name: string;
  /** What it is, for people ("target RSS", "TTFT p99"). */
  what: string;
  /** Report unit: bytes, seconds, ratio, or '' for counts. */
  unit: string;
  points: Sample[];
  trend: LeakTrend;
}

export interface PeriodOptions {
  thresholds: Thresholds;
  /** Start of the run, unix ms, and its warm-up: left out of every trend, as the analyzer does. */
  runStartMs: number;
  warmupSec: number;
}

/** Latency histograms whose p99 a soak report trends. */
const LATENCY_P99: { metric: string; what: string }[] = [
  { metric: 'llmsoak_time_to_first_token_seconds', what: 'TTFT p99' },
  { metric: 'llmsoak_inter_token_latency_seconds', what: 'ITL p99' },
  { metric: 'llmsoak_request_duration_seconds', what: 'E2E p99' },
];

const KV_USAGE = 'llmsoak_server_kv_cache_usage_ratio';

function seriesName(s: Series, selector: string): string {
  const labels = Object.keys(s.labels)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${k}=${JSON.stringify(s.labels[k])}`);
  return labels.length > 0 ? `${selector}{${labels.join(',')}}` : selector;
}

/** Points of (fromMs, toMs] only (a source may return a little more at its resolution). */
function within(points: Sample[], fromMs: number, toMs: number): Sample[] {
  return points.filter((p) => p.t > fromMs && p.t <= toMs && Number.isFinite(p.v));
}

/** Every watched gauge's and latency p99's trend over (fromMs, toMs]. Series the source lacks are left out. */
export async function periodTrends(src: SeriesSource, fromMs: number, toMs: number, o: PeriodOptions): Promise<PeriodSeries[]> {
  const windowSec = Math.max(src.stepSec, (toMs - fromMs) / 1000);
  const now = new Date(toMs);
  const out: PeriodSeries[] = [];
  const starts = await src.range('llmsoak_target_process_start_time_seconds', windowSec, now);
  const restarts = starts.flatMap((s) => restartTimes(s));
  for (const spec of LEAK_SERIES) {
    const series = await src.range(spec.selector, windowSec, now);
    if (series.length === 0) continue;
    const limit = spec.limit ? await src.last(spec.limit, now, 'max') : undefined;
    const opts = leakOptions(spec, { thresholds: o.thresholds, warmupSec: o.warmupSec, runStartMs: o.runStartMs, restartTimesMs: restarts, windowSec, ...(limit !== undefined ? { limit } : {}) });
    for (const s of series) {
      const points = within(s.points, fromMs, toMs);
      out.push({ name: seriesName(s, spec.selector), what: spec.what, unit: spec.unit === 'bytes' ? 'bytes' : '', points, trend: leakTrend(points, opts) });
    }
  }
  // Not judged by the leak rule: the same trend test without a minimum slope.
  const plain = { warmupSec: o.warmupSec, runStartMs: o.runStartMs, minSpanSec: Math.min(1800, windowSec / 3), minPoints: 10 };
  for (const s of await src.range(KV_USAGE, windowSec, now)) {
    const points = within(s.points, fromMs, toMs);
    out.push({ name: seriesName(s, KV_USAGE), what: 'KV cache usage', unit: 'ratio', points, trend: leakTrend(points, plain) });
  }
  // p99 per step: about 300 steps over the period, each from at least two samples of the histogram.
  const stepSec = Math.max(src.stepSec, Math.ceil(windowSec / 300));
  const step = { stepSec, rateWindowSec: Math.max(2 * src.stepSec, 2 * stepSec) };
  for (const l of LATENCY_P99) {
    const points = within(await src.quantileOverTime(0.99, l.metric, windowSec, now, undefined, step), fromMs, toMs);
    if (points.length === 0) continue;
    out.push({ name: `${l.metric} p99`, what: l.what, unit: 'seconds', points, trend: leakTrend(points, plain) });
  }
  return out;
}
