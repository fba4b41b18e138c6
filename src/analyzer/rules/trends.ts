/** Rules over time: leaks (robust slope of a gauge), degradation against the baseline, quality drift, network/client. */
import { median } from '../stats.js';
import { compareDistributions, leakTrend, restartTimes } from '../trends.js';
import { attribute, rankCorrelations } from '../correlate.js';
import type { Sample, Series } from '../source.js';
import type { Finding } from '../hint.js';
import { insufficient, ok, r4, type BaselineFigure, type Rule, type RuleContext, type Thresholds } from '../rule.js';
import type { LeakOptions } from '../trends.js';

const MiB = 1024 * 1024;

/** A gauge watched for leaks: selector, what it is, unit, smallest slope per hour worth a hint. */
export interface LeakWatched {
  selector: string;
  what: string;
  unit: 'bytes' | 'count';
  minPerHour: (th: Thresholds) => number;
  limit?: string;
}

/** Gauges watched for leaks (the soak report trends these too, with the same options: see leakOptions). */
export const LEAK_SERIES: readonly LeakWatched[] = [
  { selector: 'llmsoak_target_process_resident_memory_bytes', what: 'target RSS', unit: 'bytes', minPerHour: (th) => th.leakMiBPerHour * MiB, limit: 'llmsoak_host_memory_total_bytes' },
  { selector: 'llmsoak_target_process_open_fds', what: 'target open fds', unit: 'count', minPerHour: () => 60 },
  { selector: 'llmsoak_target_process_threads', what: 'target threads', unit: 'count', minPerHour: () => 30 },
  { selector: 'llmsoak_gpu_memory_used_bytes', what: 'GPU memory', unit: 'bytes', minPerHour: (th) => th.leakMiBPerHour * MiB, limit: 'llmsoak_gpu_memory_total_bytes' },
  { selector: 'process_resident_memory_bytes', what: "llmsoak's own RSS", unit: 'bytes', minPerHour: (th) => th.leakMiBPerHour * MiB, limit: 'llmsoak_host_memory_total_bytes' },
];

/** The leakTrend options of a watched gauge over a window of `windowSec`: one definition for the leak rule and the soak report. */
export function leakOptions(spec: LeakWatched, o: { thresholds: Thresholds; warmupSec: number; runStartMs: number; restartTimesMs: number[]; windowSec: number; limit?: number }): LeakOptions {
  return {
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    warmupSec: o.warmupSec,
    runStartMs: o.runStartMs,
    restartTimesMs: spec.selector.startsWith('llmsoak_target_process') ? o.restartTimesMs : [],
    minSlopePerHour: spec.minPerHour(o.thresholds),
    ...(spec.unit === 'bytes' ? { minChange: o.thresholds.leakMinGrowthMiB * MiB } : {}),
    minR2: o.thresholds.leakR2,
    minSpanSec: Math.min(1800, o.windowSec / 3),
    minPoints: 10,
  };
}

function fmtRate(v: number, unit: 'bytes' | 'count'): string {
  return unit === 'bytes' ? `${(v / MiB).toFixed(1)} MiB/h` : `${v.toFixed(1)}/h`;
}

function fmtDuration(sec: number): string {
  if (sec < 120) return `${Math.round(sec)} s`;
  if (sec < 7200) return `${Math.round(sec / 60)} min`;
  if (sec < 172800) return `${(sec / 3600).toFixed(1)} h`;
  return `${(sec / 86400).toFixed(1)} days`;
}

/**
 * Relative growth from the first to the last third of a series (means); 0 when
 * flat or too short. Means, not medians: requests in flight at a low rate are
 * small integers (0, 1, 2, 3), whose median jumps by 50–100 % on noise and
 * would excuse a real leak as "load grew".
 */
function growth(values: number[]): number {
  if (values.length < 6) return 0;
  const third = Math.floor(values.length / 3);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const a = mean(values.slice(0, third));
  const b = mean(values.slice(-third));
  return a > 0 ? b / a - 1 : b > 0 ? Infinity : 0;
}

export const leak: Rule = {
  id: 'leak',
  severity: 'warning',
  forSec: 0,
  description: 'a gauge (target RSS, fds, threads, GPU memory, llmsoak RSS) rising linearly at steady load; projects exhaustion',
  async evaluate(ctx) {
    const { src, now, leakWindowSec: w, thresholds: th } = ctx;
    const findings: Finding[] = [];
    let seen = 0;
    // A leak is a rise at steady load: when requests in flight grew as much, the rise is load.
    const inflight = (await src.range('llmsoak_in_flight_requests', w, now))[0]?.points ?? [];
    const loadGrowth = growth(inflight.map((p) => p.v));
    const starts = await src.range('llmsoak_target_process_start_time_seconds', w, now);
    const restarts = starts.flatMap((s) => restartTimes(s));
    for (const spec of LEAK_SERIES) {
      const series = await src.range(spec.selector, w, now);
      if (!series.length) continue;
      seen++;
      const limit = spec.limit ? await src.last(spec.limit, now, 'max') : undefined;
      for (const s of series) {
        const trend = leakTrend(
          s,
          leakOptions(spec, { thresholds: th, warmupSec: ctx.warmupSec, runStartMs: ctx.runStartMs, restartTimesMs: restarts, windowSec: w, ...(limit !== undefined ? { limit } : {}) }),
        );
        if (trend.verdict !== 'increasing') continue;
        if (loadGrowth > 0.5 && trend.relChange < 2 * loadGrowth) continue;
        const labels: Record<string, string> = { series: spec.selector.replace(/^llmsoak_/, '') };
        for (const k of ['process', 'gpu']) if (s.labels[k]) labels[k] = s.labels[k] as string;
        const evidence: Record<string, number | string> = {
          series: spec.selector,
          slope_per_hour: r4(trend.slopePerHour),
          r2: r4(trend.r2),
          p_value: r4(trend.pValue),
          points: trend.points,
          start_value: r4(trend.fittedEnd - (trend.slopePerHour * (trend.end - trend.start)) / 3_600_000),
          last_value: r4(trend.last),
          peak_value: r4(trend.peak),
          segments: trend.segments.length,
          load_growth: r4(loadGrowth),
        };
        if (limit !== undefined) evidence.limit = r4(limit);
        if (trend.projectedExhaustionSec !== undefined) evidence.projected_exhaustion_s = r4(trend.projectedExhaustionSec);
        findings.push({
          rule: 'leak',
          severity: trend.projectedExhaustionSec !== undefined && trend.projectedExhaustionSec < 6 * 3600 ? 'critical' : 'warning',
          cause: 'leak',
          summary: `${spec.what} rising ${fmtRate(trend.slopePerHour, spec.unit)} (R² ${trend.r2.toFixed(2)} over ${trend.points} points)${trend.projectedExhaustionSec !== undefined ? `; reaches its limit in ${fmtDuration(trend.projectedExhaustionSec)}` : ''}`,
          suggestion: 'Budget restarts before the projected exhaustion and take a heap profile of the server; a restart of the target starts a new segment.',
          confidence: Math.min(0.95, 0.6 + trend.r2 * 0.35),
          evidence,
          labels,
        });
      }
    }
    if (seen === 0) return insufficient('llmsoak_target_process_resident_memory_bytes');
    return ok(findings);
  },
};

const FIGURES: { figure: BaselineFigure; metric: string; name: string }[] = [
  { figure: 'itl', metric: 'llmsoak_inter_token_latency_seconds', name: 'inter-token latency' },
  { figure: 'ttft', metric: 'llmsoak_time_to_first_token_seconds', name: 'TTFT' },
  { figure: 'tpot', metric: 'llmsoak_time_per_output_token_seconds', name: 'time per output token' },
];

/** Block length for per-block medians: non-overlapping blocks, so the test sees independent samples. */
export function blockSec(ctx: RuleContext, windowSec: number): number {
  return Math.max(2 * ctx.src.stepSec, Math.round(windowSec / 12));
}

/** Per-block medians of a latency histogram over a window ending at `at`. */
export async function blockMedians(ctx: RuleContext, metric: string, windowSec: number, at: Date): Promise<number[]> {
  const b = blockSec(ctx, ctx.windowSec);
  // Each block's rate window reaches back to the previous block's last sample, so
  // consecutive blocks cover disjoint intervals (as consecutive increase() windows do).
  const pts = await ctx.src.quantileOverTime(0.5, metric, windowSec, at, undefined, { stepSec: b, rateWindowSec: b + ctx.src.stepSec });
  return pts.map((p) => p.v).filter((v) => Number.isFinite(v));
}

export const degradation: Rule = {
  id: 'degradation',
  severity: 'warning',
  forSec: 0,
  description: 'latency drifting above the baseline captured after warm-up (Mann–Whitney test and a minimum effect)',
  async evaluate(ctx) {
    const { now, windowSec: w, thresholds: th, baseline } = ctx;
    if (!baseline) return insufficient('baseline (captured after warm-up)');
    const findings: Finding[] = [];
    let compared = 0;
    for (const f of FIGURES) {
      const base = baseline.samples[f.figure];
      const recent = await blockMedians(ctx, f.metric, w, now);
      if (base.length < 6 || recent.length < 6) continue;
      compared++;
      const r = compareDistributions(base, recent, { alpha: th.alpha, minEffect: th.latencyIncrease, minSamples: 6 });
      if (r.verdict !== 'degraded') continue;
      const explained = await explain(ctx, f.metric, w);
      findings.push({
        rule: 'degradation',
        severity: 'warning',
        cause: 'degradation',
        summary: `${f.name} drifted up: median ${(r.recent.median * 1000).toFixed(1)} ms vs ${(r.baseline.median * 1000).toFixed(1)} ms at baseline (${(r.medianChange * 100).toFixed(0)}%, p=${r.pValue.toExponential(1)})`,
        suggestion: 'Latency is drifting at steady load: look at what drifts with it (server step time, GPU clocks, memory, queue).',
        confidence: 0.5,
        evidence: {
          window_s: w,
          figure: f.figure,
          baseline_median_s: r4(r.baseline.median),
          recent_median_s: r4(r.recent.median),
          median_change: r4(r.medianChange),
          p_value: r4(r.pValue),
          baseline_blocks: base.length,
          recent_blocks: recent.length,
          ...explained,
        },
        labels: { figure: f.figure },
      });
    }
    if (compared === 0) return insufficient(...FIGURES.map((f) => f.metric));
    return ok(findings);
  },
};

/** Resource series a latency drift is checked against (rank correlation). */
const RESOURCES = [
  'llmsoak_target_process_resident_memory_bytes',
  'llmsoak_target_process_cpu_seconds_total',
  'llmsoak_server_kv_cache_usage_ratio',
  'llmsoak_server_requests_waiting',
  'llmsoak_server_requests_running',
  'llmsoak_gpu_utilization_ratio',
  'llmsoak_gpu_sm_clock_hertz',
  'llmsoak_gpu_memory_used_bytes',
  'llmsoak_host_cpu_utilization_ratio',
];

/**
 * What moves with a drifting latency over the window: the resource series
 * with the strongest significant rank correlation, and how much of the p99 the
 * load features explain (multivariate regression, each feature's share of the
 * variance). Evidence only; never decides whether the hint fires.
 */
async function explain(ctx: RuleContext, metric: string, w: number): Promise<Record<string, number | string>> {
  const { src, now } = ctx;
  const step = { stepSec: src.stepSec, rateWindowSec: Math.max(2 * src.stepSec, w / 6) };
  const p99 = await src.quantileOverTime(0.99, metric, w, now, undefined, step);
  const out: Record<string, number | string> = {};
  if (p99.length < 10) return out;
  const candidates: Series[] = [];
  for (const name of RESOURCES) {
    const isCounter = name.endsWith('_total');
    const got = isCounter ? await src.rate(name, w, now, step) : await src.range(name, w, now);
    for (const s of got) candidates.push({ labels: { __name__: name, ...s.labels }, points: s.points });
  }
  const ranked = rankCorrelations(p99, candidates, { toleranceMs: src.stepSec * 1000, alpha: 0.01 }).filter((c) => c.significant);
  ranked.slice(0, 3).forEach((c, i) => {
    out[`moves_with_${i + 1}`] = `${c.labels.__name__ ?? '?'} (rho ${c.rho.toFixed(2)})`;
  });
  const sumOf = (series: Series[]): Sample[] => {
    const by = new Map<number, number>();
    for (const s of series) for (const p of s.points) by.set(p.t, (by.get(p.t) ?? 0) + p.v);
    return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([t, v]) => ({ t, v }));
  };
  const features: Record<string, Sample[]> = {
    in_flight: sumOf(await src.range('llmsoak_in_flight_requests', w, now)),
    input_tokens_per_s: sumOf(await src.rate('llmsoak_input_tokens_total', w, now, step)),
    output_tokens_per_s: sumOf(await src.rate('llmsoak_output_tokens_total', w, now, step)),
  };
  const a = attribute(p99, features, { toleranceMs: src.stepSec * 1000 });
  if (a.verdict === 'ok') {
    out.p99_explained_by_load_r2 = r4(a.r2);
    for (const fc of a.features) out[`p99_share_${fc.name}`] = r4(fc.share);
  }
  return out;
}

export const qualityDrift: Rule = {
  id: 'quality_drift',
  severity: 'warning',
  forSec: 0,
  description: 'golden-prompt quality score below its baseline',
  async evaluate(ctx) {
    const { src, now, windowSec: w, thresholds: th, baseline } = ctx;
    const scores = await src.range('llmsoak_quality_score', w, now);
    if (!scores.length) return insufficient('llmsoak_quality_score');
    if (!baseline) return insufficient('baseline (captured after warm-up)');
    const findings: Finding[] = [];
    for (const s of scores) {
      const suite = s.labels.suite ?? 'default';
      const base = baseline.quality[suite];
      const last = s.points[s.points.length - 1]?.v;
      if (base === undefined || last === undefined) continue;
      if (last >= base - th.qualityDrop) continue;
      findings.push({
        rule: 'quality_drift',
        severity: 'warning',
        cause: 'quality_drift',
        summary: `quality of suite ${suite} fell to ${(last * 100).toFixed(0)}% from ${(base * 100).toFixed(0)}% at baseline`,
        suggestion: 'Check model or version changes and sampling settings (temperature, max tokens) on the target.',
        confidence: 0.8,
        evidence: { suite, score: r4(last), baseline_score: r4(base) },
        labels: { suite },
      });
    }
    return ok(findings);
  },
};

export const networkClient: Rule = {
  id: 'network_client',
  severity: 'warning',
  forSec: 0,
  description: 'client TTFT rising while the server-side TTFT stays flat: the time goes between client and server',
  async evaluate(ctx) {
    const { src, now, windowSec: w, thresholds: th, baseline } = ctx;
    const server = await src.avgOverTime('llmsoak_server_time_to_first_token_mean_seconds', w, now);
    const client = await src.quantile(0.5, 'llmsoak_time_to_first_token_seconds', w, now);
    if (server === undefined) return insufficient('llmsoak_server_time_to_first_token_mean_seconds');
    if (client === undefined) return insufficient('llmsoak_time_to_first_token_seconds');
    if (!baseline || baseline.clientServerTtftGapSec === undefined || baseline.serverTtftSec === undefined) return insufficient('baseline (captured after warm-up)');
    // Only when the server's own TTFT held: otherwise the server is slow, not the path to it.
    const serverFlat = server <= baseline.serverTtftSec * (1 + th.latencyIncrease) + 0.005;
    if (!serverFlat) return ok();
    const gap = client - server;
    const baseGap = baseline.clientServerTtftGapSec;
    const baseClient = median(baseline.samples.ttft);
    const grew = gap - baseGap > Math.max(0.05, th.latencyIncrease * Math.max(baseClient, 0.001));
    if (!grew) return ok();
    return ok([
      {
        rule: 'network_client',
        severity: 'warning',
        cause: 'network_client',
        summary: `client TTFT exceeds the server's by ${(gap * 1000).toFixed(0)} ms (was ${(baseGap * 1000).toFixed(0)} ms at baseline) while the server's own TTFT is ${(server * 1000).toFixed(0)} ms`,
        suggestion: "Look between client and server (proxies, load balancer, network); check llmsoak's own schedule lag too.",
        confidence: 0.6,
        evidence: { window_s: w, client_ttft_p50_s: r4(client), server_ttft_mean_s: r4(server), server_ttft_baseline_s: r4(baseline.serverTtftSec), gap_s: r4(gap), baseline_gap_s: r4(baseGap) },
      },
    ]);
  },
};
