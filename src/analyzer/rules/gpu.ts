/** Rules on GPU series: throttling, bandwidth-bound decode, compute-bound prefill. Absent GPU figures: insufficient data. */
import { insufficient, ok, r4, type Rule } from '../rule.js';

const THROTTLE = 'sw_power_cap|hw_slowdown|sw_thermal|hw_thermal|hw_power_brake';

export const throttling: Rule = {
  id: 'gpu_throttling',
  severity: 'warning',
  forSec: 0,
  description: 'power or thermal clock events active on a GPU for most of the window',
  async evaluate(ctx) {
    const { src, now, windowSec: w } = ctx;
    const events = await src.range(`llmsoak_gpu_clock_event_active{reason=~"${THROTTLE}"}`, w, now);
    if (!events.length) return insufficient('llmsoak_gpu_clock_event_active');
    const findings = [];
    const byGpu = new Map<string, { reasons: string[] }>();
    for (const s of events) {
      const share = s.points.length ? s.points.reduce((a, p) => a + p.v, 0) / s.points.length : 0;
      if (share < 0.8) continue;
      const gpu = s.labels.gpu ?? '0';
      const e = byGpu.get(gpu) ?? { reasons: [] };
      e.reasons.push(s.labels.reason ?? '?');
      byGpu.set(gpu, e);
    }
    for (const [gpu, e] of byGpu) {
      const clock = await src.range(`llmsoak_gpu_sm_clock_hertz{gpu="${gpu}"}`, w, now);
      const pts = clock[0]?.points ?? [];
      const evidence: Record<string, number | string> = { window_s: w, reasons: e.reasons.join(',') };
      if (pts.length >= 2) {
        evidence.sm_clock_start_hz = r4(pts[0]!.v);
        evidence.sm_clock_end_hz = r4(pts[pts.length - 1]!.v);
      }
      findings.push({
        rule: 'gpu_throttling',
        severity: 'warning' as const,
        cause: 'throttling',
        summary: `GPU ${gpu} throttled (${e.reasons.join(', ')}) for most of the last ${w} s`,
        suggestion: 'Check cooling, the power limit and placement; throttled clocks slow every token.',
        confidence: 0.85,
        evidence,
        labels: { gpu },
      });
    }
    return ok(findings);
  },
};

export const bandwidthBoundDecode: Rule = {
  id: 'bandwidth_bound_decode',
  severity: 'info',
  forSec: 0,
  description: 'DRAM bandwidth busy, tensor cores idle: decode is memory-bandwidth bound',
  async evaluate(ctx) {
    const { src, now, windowSec: w, thresholds: th } = ctx;
    const dram = await src.avgOverTime('llmsoak_gpu_dram_active_ratio', w, now);
    const tensor = await src.avgOverTime('llmsoak_gpu_tensor_active_ratio', w, now);
    if (dram === undefined || tensor === undefined) return insufficient('llmsoak_gpu_dram_active_ratio', 'llmsoak_gpu_tensor_active_ratio');
    const sm = await src.avgOverTime('llmsoak_gpu_sm_active_ratio', w, now);
    if (dram < th.dramActiveRatio || tensor >= 0.3) return ok();
    return ok([
      {
        rule: 'bandwidth_bound_decode',
        severity: 'info',
        cause: 'bandwidth_bound_decode',
        summary: `decode is memory-bandwidth bound: DRAM active ${(dram * 100).toFixed(0)}%, tensor active ${(tensor * 100).toFixed(0)}%`,
        suggestion: 'Larger batches, quantised weights or KV cache, or speculative decoding.',
        confidence: 0.7,
        evidence: { window_s: w, dram_active_ratio: r4(dram), tensor_active_ratio: r4(tensor), ...(sm !== undefined ? { sm_active_ratio: r4(sm) } : {}) },
      },
    ]);
  },
};

export const computeBoundPrefill: Rule = {
  id: 'compute_bound_prefill',
  severity: 'info',
  forSec: 0,
  description: 'tensor cores busy and TTFT high: prefill is compute bound',
  async evaluate(ctx) {
    const { src, now, windowSec: w, thresholds: th } = ctx;
    const tensor = await src.avgOverTime('llmsoak_gpu_tensor_active_ratio', w, now);
    if (tensor === undefined) return insufficient('llmsoak_gpu_tensor_active_ratio');
    const ttft = await src.quantile(0.5, 'llmsoak_time_to_first_token_seconds', w, now);
    if (ttft === undefined) return insufficient('llmsoak_time_to_first_token_seconds');
    if (tensor < th.tensorActiveRatio) return ok();
    return ok([
      {
        rule: 'compute_bound_prefill',
        severity: 'info',
        cause: 'compute_bound_prefill',
        summary: `prefill is compute bound: tensor active ${(tensor * 100).toFixed(0)}%, TTFT p50 ${(ttft * 1000).toFixed(0)} ms`,
        suggestion: 'Chunked prefill, a prefill/decode split, or shorter prompts.',
        confidence: 0.6,
        evidence: { window_s: w, tensor_active_ratio: r4(tensor), ttft_p50_s: r4(ttft) },
      },
    ]);
  },
};
