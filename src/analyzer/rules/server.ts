/** Rules on the target server's own series: KV-cache pressure, overload, CPU-bound frontend. */
import { insufficient, ok, r4, type Rule } from '../rule.js';

export const kvCachePressure: Rule = {
  id: 'kv_cache_pressure',
  severity: 'warning',
  forSec: 0,
  description: 'KV cache nearly full and preemptions rising; tail latency spikes while the median holds',
  async evaluate(ctx) {
    const { src, now, windowSec: w, thresholds: th } = ctx;
    const kv = await src.avgOverTime('llmsoak_server_kv_cache_usage_ratio', w, now);
    const kvMax = await src.maxOverTime('llmsoak_server_kv_cache_usage_ratio', w, now);
    const preempt = await src.increase('llmsoak_server_preemptions_total', w, now);
    if (kv === undefined || kvMax === undefined) return insufficient('llmsoak_server_kv_cache_usage_ratio');
    if (preempt === undefined) return insufficient('llmsoak_server_preemptions_total');
    const evidence: Record<string, number | string> = { window_s: w, kv_usage_ratio_avg: r4(kv), kv_usage_ratio_max: r4(kvMax), preemptions: r4(preempt) };
    const p50 = await src.quantile(0.5, 'llmsoak_inter_token_latency_seconds', w, now);
    const p99 = await src.quantile(0.99, 'llmsoak_inter_token_latency_seconds', w, now);
    if (p50 !== undefined && p99 !== undefined && p50 > 0) {
      evidence.itl_p50_s = r4(p50);
      evidence.itl_p99_s = r4(p99);
    }
    if (kvMax < th.kvUsageRatio || preempt <= 0) return ok();
    const tail = p50 !== undefined && p99 !== undefined && p50 > 0 ? p99 / p50 : 1;
    return ok([
      {
        rule: 'kv_cache_pressure',
        severity: 'warning',
        cause: 'kv_cache_pressure',
        summary: `KV cache ${(kvMax * 100).toFixed(0)}% full with ${Math.round(preempt)} preemptions in ${w} s${tail > 2 ? `; ITL p99 is ${tail.toFixed(1)}× its median` : ''}`,
        suggestion: 'Lower max concurrent sequences or batched tokens, give the KV cache more GPU memory, or add tensor parallelism.',
        confidence: Math.min(0.95, 0.75 + Math.min(preempt, 20) / 100 + (tail > 2 ? 0.05 : 0)),
        evidence,
      },
    ]);
  },
};

export const overload: Rule = {
  id: 'overload',
  severity: 'warning',
  forSec: 0,
  description: 'server queue growing while running requests sit at their maximum: arrivals exceed the service rate',
  async evaluate(ctx) {
    const { src, now, windowSec: w, thresholds: th } = ctx;
    const waiting = await src.range('llmsoak_server_requests_waiting', w, now);
    const running = await src.maxOverTime('llmsoak_server_requests_running', w, now);
    if (!waiting.length) return insufficient('llmsoak_server_requests_waiting');
    const pts = waiting.flatMap((s) => s.points).sort((a, b) => a.t - b.t);
    if (pts.length < 3) return insufficient('llmsoak_server_requests_waiting (too few points)');
    const avg = pts.reduce((a, p) => a + p.v, 0) / pts.length;
    const half = Math.floor(pts.length / 2);
    const first = pts.slice(0, half).reduce((a, p) => a + p.v, 0) / half;
    const second = pts.slice(half).reduce((a, p) => a + p.v, 0) / (pts.length - half);
    const refused = (await src.increase('llmsoak_request_errors_total{class="http_429"}', w, now)) ?? 0;
    const evidence: Record<string, number | string> = { window_s: w, waiting_avg: r4(avg), waiting_first_half: r4(first), waiting_second_half: r4(second), refused_429: r4(refused) };
    if (running !== undefined) evidence.running_max = r4(running);
    const ttft = await src.quantile(0.99, 'llmsoak_time_to_first_token_seconds', w, now);
    if (ttft !== undefined) evidence.ttft_p99_s = r4(ttft);
    const growing = second >= first && second > th.queueWaiting;
    if (!(avg > th.queueWaiting && growing) && refused === 0) return ok();
    if (avg <= th.queueWaiting && refused === 0) return ok();
    return ok([
      {
        rule: 'overload',
        severity: 'warning',
        cause: 'overload',
        summary: `server queue at ${avg.toFixed(1)} waiting on average (${first.toFixed(1)} → ${second.toFixed(1)})${running !== undefined ? ` with up to ${Math.round(running)} running` : ''}${refused ? `, ${Math.round(refused)} refused with 429` : ''}`,
        suggestion: 'Arrivals exceed the service rate: scale out, cap admission, or lower the rate.',
        confidence: growing ? 0.8 : 0.6,
        evidence,
      },
    ]);
  },
};

export const cpuBound: Rule = {
  id: 'cpu_bound',
  severity: 'warning',
  forSec: 0,
  description: 'server process CPU near one core with an empty queue and an idle GPU: tokenizer or frontend bound',
  async evaluate(ctx) {
    const { src, now, windowSec: w, thresholds: th } = ctx;
    const cpu = await src.rate('llmsoak_target_process_cpu_seconds_total', w, now, { rateWindowSec: w, stepSec: w });
    const cores = cpu.reduce((a, s) => a + (s.points[s.points.length - 1]?.v ?? 0), 0);
    if (!cpu.length) return insufficient('llmsoak_target_process_cpu_seconds_total');
    const waiting = await src.avgOverTime('llmsoak_server_requests_waiting', w, now);
    const gpu = await src.avgOverTime('llmsoak_gpu_utilization_ratio', w, now);
    const evidence: Record<string, number | string> = { window_s: w, process_cpu_cores: r4(cores) };
    if (waiting !== undefined) evidence.waiting_avg = r4(waiting);
    evidence.gpu_utilization = gpu === undefined ? 'absent' : r4(gpu);
    const ttft = await src.quantile(0.5, 'llmsoak_time_to_first_token_seconds', w, now);
    if (ttft !== undefined) evidence.ttft_p50_s = r4(ttft);
    const base = ctx.baseline ? median(ctx.baseline.samples.ttft) : undefined;
    if (base !== undefined) evidence.ttft_p50_baseline_s = r4(base);
    const slower = ttft !== undefined && base !== undefined && ttft > base * (1 + th.latencyIncrease);
    if (cores < th.cpuBoundCores || (waiting ?? 0) > th.queueWaiting || (gpu !== undefined && gpu >= th.gpuBusyRatio)) return ok();
    return ok([
      {
        rule: 'cpu_bound',
        severity: 'warning',
        cause: 'cpu_bound',
        summary: `server process busy at ${cores.toFixed(2)} cores with ${waiting === undefined ? 'no queue figures' : `${waiting.toFixed(1)} waiting`} and GPU ${gpu === undefined ? 'figures absent' : `${(gpu * 100).toFixed(0)}% busy`}${slower ? `; TTFT p50 ${(ttft! * 1000).toFixed(0)} ms vs ${(base! * 1000).toFixed(0)} ms at baseline` : ''}`,
        suggestion: 'The frontend (tokenizer, detokenizer, HTTP) is the bottleneck: run more API server processes, use a faster tokenizer, or cut per-request CPU work.',
        confidence: slower ? 0.85 : 0.65,
        evidence,
      },
    ]);
  },
};

function median(xs: number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
