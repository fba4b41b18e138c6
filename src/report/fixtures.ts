/**
 * Realistic sample reports for tests and for working on the renderers:
 * a stress ramp that saturates a vLLM-like target, a six-hour soak with a
 * leaking process, a capacity surface, and a spike. Deterministic (seeded).
 *
 *   node -e "import('./dist/src/report/fixtures.js').then(m => console.log(JSON.stringify(m.sampleRampReport(), null, 2)))"
 */
import type { Figures, HintEntry, Plot, Report, StepResult } from './model.js';
import { seededRandom } from '../analyzer/stats.js';

/** Gaussian-ish noise (sum of uniforms). */
function noise(r: () => number): number {
  return r() + r() + r() - 1.5;
}

const round = (v: number, d = 4): number => Number(v.toFixed(d));

/** Plausible percentiles from a median and a p99 (a right-skewed latency). */
export function figures(p50: number, p99: number, count: number): Figures {
  const p90 = p50 + (p99 - p50) * 0.45;
  const p95 = p50 + (p99 - p50) * 0.66;
  return {
    count,
    mean: round(p50 + (p99 - p50) * 0.18, 6),
    p50: round(p50, 6),
    p90: round(p90, 6),
    p95: round(p95, 6),
    p99: round(p99, 6),
    max: round(p99 * 1.35, 6),
  };
}

const ZERO: Figures = { count: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };

const iso = (ms: number): string => new Date(ms).toISOString();

const SLO: Report['slo'] = { ttftMs: 2000, tpotMs: 100, e2eMs: 30000, maxErrorRate: 0.01 };

const TARGET: Report['target'] = { url: 'http://vllm.staging.svc:8000/v1', model: 'meta-llama/Llama-3.1-8B-Instruct', embedded: false };

// ---------------------------------------------------------------------------
// Ramp: 5 → 60 req/s, saturates at ~42 req/s, knee at 35 req/s.
// ---------------------------------------------------------------------------

export function sampleRampReport(): Report {
  const start = Date.parse('2025-06-03T14:00:00Z');
  const holdSec = 60;
  const warmSec = 15;
  const rates = [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60];
  const ttft50 = [0.052, 0.058, 0.066, 0.078, 0.094, 0.121, 0.178, 0.62, 2.9, 6.8, 10.9, 14.6];
  const ttft99 = [0.118, 0.131, 0.152, 0.19, 0.26, 0.41, 0.93, 2.41, 7.8, 14.2, 21.5, 27.9];
  const itl50 = [0.014, 0.0145, 0.0152, 0.0161, 0.0173, 0.0189, 0.0214, 0.0248, 0.0271, 0.028, 0.0283, 0.0285];
  const achieved = [5.0, 10.0, 14.98, 20.02, 24.97, 30.01, 34.96, 39.6, 41.8, 42.3, 42.1, 41.7];
  const goodputs = [5.0, 10.0, 14.98, 20.02, 24.97, 29.98, 34.71, 38.1, 21.4, 6.2, 1.1, 0.3];
  const gpu = [0.21, 0.34, 0.46, 0.57, 0.67, 0.76, 0.85, 0.93, 0.96, 0.97, 0.97, 0.97];
  const kv = [0.12, 0.2, 0.28, 0.37, 0.47, 0.59, 0.74, 0.93, 0.99, 0.99, 1.0, 1.0];
  const waiting = [0, 0, 0, 0, 0, 0.1, 0.4, 3.1, 48, 112, 170, 231];
  const preempt = [0, 0, 0, 0, 0, 0, 0, 14, 61, 118, 160, 197];
  const timeouts = [0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 14, 61];
  const http503 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 22];
  const outTok = 240; // mean completion tokens
  const steps: StepResult[] = rates.map((rate, i) => {
    const requests = Math.round(achieved[i]! * holdSec);
    const errs = timeouts[i]! + http503[i]!;
    const ok = requests - errs;
    const itl99 = itl50[i]! * (2.1 + i * 0.08);
    const e2e50 = ttft50[i]! + (outTok - 1) * itl50[i]! * 1.02;
    const e2e99 = ttft99[i]! + (outTok * 1.6 - 1) * itl50[i]! * 1.25;
    const tpot50 = itl50[i]! * 1.03;
    const errors: Record<string, number> = {};
    if (timeouts[i]! > 0) errors['timeout'] = timeouts[i]!;
    if (http503[i]! > 0) errors['http_503'] = http503[i]!;
    return {
      index: i,
      label: `${rate} req/s`,
      targetRate: rate,
      startedAt: iso(start + i * (holdSec + warmSec) * 1000 + warmSec * 1000),
      durationSec: holdSec,
      requests,
      ok,
      achievedRps: achieved[i]!,
      goodputRps: goodputs[i]!,
      errors,
      errorRate: round(errs / requests, 5),
      outputTokensPerSec: Math.round((achieved[i]! * outTok * ok) / requests),
      ttft: figures(ttft50[i]!, ttft99[i]!, ok),
      itl: figures(itl50[i]!, itl99, ok * (outTok - 1)),
      tpot: figures(tpot50, tpot50 * 1.9, ok),
      e2e: figures(e2e50, e2e99, ok),
      scheduleLag: figures(0.0004 + i * 0.00005, 0.0021 + i * 0.0004, requests),
      gpuUtilization: gpu[i]!,
      server: { waiting: waiting[i]!, running: Math.min(256, Math.round(achieved[i]! * (e2e50 - ttft50[i]!))), kvCacheUsage: kv[i]!, preemptions: preempt[i]! },
      sloMet: rate <= 35,
    };
  });
  const durationSec = rates.length * (holdSec + warmSec);
  const totalsReq = steps.reduce((a, s) => a + s.requests, 0);
  const totalsOk = steps.reduce((a, s) => a + s.ok, 0);
  const good = Math.round(steps.reduce((a, s) => a + s.goodputRps * s.durationSec, 0));
  const kvHint: HintEntry = {
    rule: 'kv_cache_pressure',
    severity: 'critical',
    cause: 'kv_cache_pressure',
    summary: 'KV cache 93% full with 14 preemptions/min; requests queue (3.1 waiting) and TTFT p99 rose 2.6× to 2.41 s',
    suggestion: 'Cap concurrency (vLLM --max-num-seqs), shorten max_tokens, or give the KV cache more memory (--gpu-memory-utilization, a larger GPU, tensor parallelism).',
    evidence: { kv_usage_ratio: 0.93, preemptions_per_min: 14, waiting_requests: 3.1, ttft_p99_seconds: 2.41, target_rate_rps: 40 },
    state: 'firing',
    activeAt: steps[7]!.startedAt,
  };
  const queueHint: HintEntry = {
    rule: 'saturation',
    severity: 'warning',
    cause: 'overload',
    summary: 'Achieved 41.8 req/s of 45 asked; 48 requests waiting server-side, GPU 96% busy',
    suggestion: 'The target is at capacity: scale out replicas or lower the offered load.',
    evidence: { achieved_rps: 41.8, target_rps: 45, waiting_requests: 48, gpu_utilization_ratio: 0.96 },
    state: 'firing',
    activeAt: steps[8]!.startedAt,
  };
  return {
    kind: 'ramp',
    version: '0.1.0',
    startedAt: iso(start),
    endedAt: iso(start + durationSec * 1000),
    durationSec,
    target: TARGET,
    parameters: { from: 5, to: 60, step: 5, holdSec, warmupSec: warmSec, arrival: 'poisson', scenario: 'chat-mixed', maxTokens: 256, stopAfterFailedSteps: 0, requiredRate: 40 },
    slo: SLO,
    totals: {
      requests: totalsReq,
      ok: totalsOk,
      good,
      dropped: 0,
      errors: { timeout: timeouts.reduce((a, b) => a + b, 0), http_503: http503.reduce((a, b) => a + b, 0) },
      inputTokens: totalsReq * 812,
      outputTokens: totalsOk * outTok,
    },
    overall: {
      ttft: figures(0.31, 16.4, totalsOk),
      itl: figures(0.0231, 0.061, totalsOk * (outTok - 1)),
      tpot: figures(0.0238, 0.046, totalsOk),
      e2e: figures(6.1, 29.2, totalsOk),
      corrected: figures(6.1, 29.4, totalsOk),
      scheduleLag: figures(0.0006, 0.0049, totalsReq),
    },
    steps,
    knee: { value: 35, unit: 'req/s', reason: 'at 40 req/s TTFT p99 2.41 s > SLO 2 s', cause: 'kv_cache_pressure' },
    trends: [],
    hints: [kvHint, queueHint],
    events: [],
    timeseries: [],
    verdict: { pass: false, failures: ['capacity 35 req/s is below the required 40 req/s (TTFT p99 2.41 s > SLO 2 s at 40 req/s)'] },
    histograms: { ttft: 'HISTFAAAACh4nJNpmSzMwMDAxQABzFCaEUzOmNZg/wEiIPIFAFHqBU0=' },
  };
}

// ---------------------------------------------------------------------------
// Soak: 6 h at 4 req/s; the target's RSS leaks ~305 MiB/h; a thermal episode.
// ---------------------------------------------------------------------------

export function sampleSoakReport(): Report {
  const start = Date.parse('2025-06-02T08:00:00Z');
  const durationSec = 6 * 3600;
  const end = start + durationSec * 1000;
  const r = seededRandom(42);
  const stepMs = 60_000;
  const GiB = 1024 ** 3;
  const MiB = 1024 ** 2;
  const rssSlope = 305 * MiB; // per hour
  const rss0 = 6.1 * GiB;
  const thermalFrom = start + (3 * 3600 + 10 * 60) * 1000;
  const thermalTo = start + (3 * 3600 + 40 * 60) * 1000;
  const rss: [number, number][] = [];
  const gpuMem: [number, number][] = [];
  const ttft99: [number, number][] = [];
  const kv: [number, number][] = [];
  for (let t = start; t <= end; t += stepMs) {
    const h = (t - start) / 3_600_000;
    // Linear growth, a small sawtooth from allocator arenas, noise.
    rss.push([t, Math.round(rss0 + rssSlope * h + ((t / stepMs) % 17) * 2.5 * MiB + noise(r) * 18 * MiB)]);
    gpuMem.push([t, Math.round(74.2 * GiB + noise(r) * 40 * MiB)]);
    const hot = t >= thermalFrom && t <= thermalTo;
    ttft99.push([t, round((hot ? 1.05 + noise(r) * 0.18 : 0.34 + noise(r) * 0.05) + h * 0.004, 4)]);
    kv.push([t, round(Math.min(1, (hot ? 0.52 : 0.31) + noise(r) * 0.04), 4)]);
  }
  const rssEnd = rss[rss.length - 1]![1];
  const rssPeak = Math.max(...rss.map((p) => p[1]));
  const plots: Plot[] = [
    {
      name: 'vllm resident memory',
      unit: 'bytes',
      points: rss,
      fit: { slopePerHour: rssSlope, intercept: rss0 + 20 * MiB, fromMs: start },
    },
    { name: 'GPU memory used (gpu 0)', unit: 'bytes', points: gpuMem, fit: { slopePerHour: 2 * MiB, intercept: 74.2 * GiB, fromMs: start } },
    { name: 'TTFT p99 (1 min window)', unit: 'seconds', points: ttft99 },
    { name: 'KV cache usage', unit: 'ratio', points: kv },
  ];
  const requests = 86_400;
  const errors = { timeout: 41, http_5xx: 32 };
  const ok = requests - 73;
  const hints: HintEntry[] = [
    {
      rule: 'process_memory_leak',
      severity: 'warning',
      cause: 'memory_leak',
      summary: 'vllm resident memory grows 305 MiB/h (R² 0.98) at a flat request rate; host memory runs out in ~19 h',
      suggestion: 'Check the prefix cache and request-state growth; upgrade vLLM or schedule a restart before exhaustion; capture a heap profile (tracemalloc / memray).',
      evidence: { slope_bytes_per_hour: rssSlope, r2: 0.98, rss_bytes: rssEnd, host_memory_available_bytes: 5.8 * GiB, projected_exhaustion_hours: 19.4 },
      state: 'firing',
      activeAt: iso(start + 2.5 * 3_600_000),
    },
    {
      rule: 'gpu_thermal_throttle',
      severity: 'warning',
      cause: 'thermal_throttling',
      summary: 'GPU 0 SM clock throttled (HW thermal slowdown) at 87 °C; TTFT p99 up 3.1× to 1.05 s',
      suggestion: 'Check the chassis airflow and fan curves; the datacenter inlet temperature rose at the same time.',
      evidence: { gpu: '0', temperature_celsius: 87, sm_clock_hertz: 1.41e9, clock_event: 'hw_thermal_slowdown', ttft_p99_seconds: 1.05 },
      state: 'resolved',
      activeAt: iso(thermalFrom + 60_000),
      resolvedAt: iso(thermalTo + 120_000),
    },
  ];
  return {
    kind: 'soak',
    version: '0.1.0',
    startedAt: iso(start),
    endedAt: iso(end),
    durationSec,
    target: TARGET,
    parameters: { rate: 4, arrival: 'poisson', scenario: 'chat-mixed', maxTokens: 512, durationSec, windowSec: 300, trendMinR2: 0.8 },
    slo: SLO,
    totals: { requests, ok, good: 85_910, dropped: 0, errors, inputTokens: requests * 846, outputTokens: ok * 231 },
    overall: {
      ttft: figures(0.121, 0.41, ok),
      itl: figures(0.0152, 0.034, ok * 230),
      tpot: figures(0.0158, 0.027, ok),
      e2e: figures(3.62, 9.8, ok),
      corrected: figures(3.62, 9.81, ok),
      scheduleLag: figures(0.0003, 0.0018, requests),
    },
    steps: [],
    trends: [
      {
        series: 'llmsoak_target_process_resident_memory_bytes{process="vllm"}',
        unit: 'bytes',
        start: rss[0]![1],
        end: rssEnd,
        peak: rssPeak,
        slopePerHour: rssSlope,
        r2: 0.98,
        verdict: 'increasing',
        projectedExhaustionSec: 19.4 * 3600,
      },
      {
        series: 'llmsoak_gpu_memory_used_bytes{gpu="0"}',
        unit: 'bytes',
        start: gpuMem[0]![1],
        end: gpuMem[gpuMem.length - 1]![1],
        peak: Math.max(...gpuMem.map((p) => p[1])),
        slopePerHour: 2 * MiB,
        r2: 0.04,
        verdict: 'stable',
      },
      { series: 'llmsoak_time_to_first_token_seconds p99', unit: 'seconds', start: 0.34, end: 0.36, peak: 1.31, slopePerHour: 0.004, r2: 0.02, verdict: 'stable' },
      { series: 'llmsoak_target_process_open_fds{process="vllm"}', unit: '', start: 212, end: 214, peak: 219, slopePerHour: 0.3, r2: 0.11, verdict: 'stable' },
    ],
    hints,
    events: [{ at: iso(start + (4 * 3600 + 5 * 60) * 1000), kind: 'target_metrics_unreachable', detail: 'GET http://vllm.staging.svc:8000/metrics timed out for 45 s' }],
    timeseries: plots,
    verdict: { pass: false, failures: ['vllm resident memory increasing +305 MiB/h (projected exhaustion in 19h 24m)'] },
    histograms: {},
  };
}

// ---------------------------------------------------------------------------
// Capacity surface: concurrency 1–64 × input tokens 256–8192.
// ---------------------------------------------------------------------------

export function sampleSurfaceReport(): Report {
  const start = Date.parse('2025-06-04T09:00:00Z');
  const conc = [1, 2, 4, 8, 16, 32, 64];
  const inputs = [256, 512, 1024, 2048, 4096, 8192];
  const holdSec = 45;
  const outTok = 200;
  const ttft = (c: number, n: number): number => (0.018 + n * 6e-5) * (1 + ((c * n) / 60_000) ** 1.5);
  const itl = (c: number, n: number): number => 0.0118 * (1 + c / 40) * (1 + n / 30_000);
  const p99T: (number | null)[][] = [];
  const p99E: (number | null)[][] = [];
  const within: (boolean | null)[][] = [];
  const steps: StepResult[] = [];
  let t = start;
  conc.forEach((c, ci) => {
    p99T.push([]);
    p99E.push([]);
    within.push([]);
    inputs.forEach((n) => {
      if (c === 64 && n === 8192) {
        // Aborted: the previous point already timed out half its requests.
        p99T[ci]!.push(null);
        p99E[ci]!.push(null);
        within[ci]!.push(null);
        return;
      }
      const t50 = ttft(c, n);
      const t99 = t50 * 2.3;
      const i50 = itl(c, n);
      const e50 = t50 + (outTok - 1) * i50;
      const e99 = t99 + (outTok * 1.5 - 1) * i50 * 1.3;
      const ok99 = t99 <= SLO.ttftMs / 1000 && e99 <= SLO.e2eMs / 1000 && i50 * 1.9 <= SLO.tpotMs / 1000;
      p99T[ci]!.push(round(t99, 4));
      p99E[ci]!.push(round(e99, 3));
      within[ci]!.push(ok99);
      const rps = c / e50;
      const requests = Math.max(1, Math.round(rps * holdSec));
      const errs = c === 64 && n === 4096 ? Math.round(requests * 0.08) : 0;
      steps.push({
        index: steps.length,
        label: `c=${c}, in=${n}`,
        concurrency: c,
        inputTokens: n,
        startedAt: new Date(t).toISOString(),
        durationSec: holdSec,
        requests,
        ok: requests - errs,
        achievedRps: round(rps, 3),
        goodputRps: round(ok99 ? rps : rps * 0.2, 3),
        errors: errs > 0 ? { timeout: errs } : {},
        errorRate: round(errs / requests, 4),
        outputTokensPerSec: Math.round(rps * outTok),
        ttft: figures(t50, t99, requests - errs),
        itl: figures(i50, i50 * 2.4, (requests - errs) * (outTok - 1)),
        tpot: figures(i50 * 1.02, i50 * 1.9, requests - errs),
        e2e: figures(e50, e99, requests - errs),
        scheduleLag: ZERO,
        gpuUtilization: round(Math.min(0.98, 0.18 + 0.12 * Math.log2(c) + n / 40_000), 3),
        server: { kvCacheUsage: round(Math.min(1, (c * (n + outTok)) / 420_000), 3), running: c, waiting: Math.max(0, round(c - 420_000 / (n + outTok), 1)) },
        sloMet: ok99,
      });
      t += (holdSec + 10) * 1000;
    });
  });
  const durationSec = Math.round((t - start) / 1000);
  const requests = steps.reduce((a, s) => a + s.requests, 0);
  const ok = steps.reduce((a, s) => a + s.ok, 0);
  const good = Math.round(steps.reduce((a, s) => a + s.goodputRps * s.durationSec, 0));
  const timeouts = steps.reduce((a, s) => a + (s.errors['timeout'] ?? 0), 0);
  return {
    kind: 'surface',
    version: '0.1.0',
    startedAt: iso(start),
    endedAt: iso(t),
    durationSec,
    target: TARGET,
    parameters: { concurrency: conc, inputTokens: inputs, holdSec, warmupSec: 10, outputTokens: outTok, abortOnErrorRate: 0.5 },
    slo: SLO,
    totals: {
      requests,
      ok,
      good,
      dropped: 0,
      errors: timeouts > 0 ? { timeout: timeouts } : {},
      inputTokens: steps.reduce((a, s) => a + s.requests * (s.inputTokens ?? 0), 0),
      outputTokens: ok * outTok,
    },
    overall: {
      ttft: figures(0.21, 9.4, ok),
      itl: figures(0.0141, 0.041, ok * (outTok - 1)),
      tpot: figures(0.0145, 0.031, ok),
      e2e: figures(3.3, 24.1, ok),
      corrected: figures(3.3, 24.1, ok),
      scheduleLag: ZERO,
    },
    steps,
    surface: { concurrency: conc, inputTokens: inputs, p99TtftSec: p99T, p99E2eSec: p99E, withinSlo: within },
    trends: [],
    hints: [],
    events: [{ at: iso(t - 30_000), kind: 'point_skipped', detail: 'c=64, in=8192 not measured: c=64, in=4096 timed out 8% of its requests' }],
    timeseries: [],
    verdict: { pass: true, failures: [] },
    histograms: {},
  };
}

// ---------------------------------------------------------------------------
// Spike: 10 req/s, ×4 for 30 s, recovery 48 s.
// ---------------------------------------------------------------------------

export function sampleSpikeReport(): Report {
  const start = Date.parse('2025-06-05T11:00:00Z');
  const r = seededRandom(7);
  const base = 10;
  const mult = 4;
  const spikeFrom = start + 120_000;
  const spikeTo = spikeFrom + 30_000;
  const recovered = spikeTo + 48_000;
  const end = start + 300_000;
  const pts: [number, number][] = [];
  for (let t = start; t <= end; t += 5_000) {
    let v = 0.16 + noise(r) * 0.015;
    if (t >= spikeFrom && t <= spikeTo) v = 0.4 + ((t - spikeFrom) / 30_000) * 3.6;
    else if (t > spikeTo && t < recovered) v = 4.0 * Math.exp(-(t - spikeTo) / 12_000) + 0.16;
    pts.push([t, round(v, 4)]);
  }
  const mk = (i: number, label: string, rate: number, from: number, sec: number, ttft50: number, ttft99: number, ok: boolean): StepResult => ({
    index: i,
    label,
    targetRate: rate,
    startedAt: iso(from),
    durationSec: sec,
    requests: rate * sec,
    ok: rate * sec,
    achievedRps: rate * (ok ? 1 : 0.93),
    goodputRps: ok ? rate : rate * 0.41,
    errors: {},
    errorRate: 0,
    outputTokensPerSec: Math.round(rate * (ok ? 1 : 0.93) * 230),
    ttft: figures(ttft50, ttft99, rate * sec),
    itl: figures(0.016, 0.036, rate * sec * 229),
    tpot: figures(0.0165, 0.029, rate * sec),
    e2e: figures(3.8 + ttft50, 7.9 + ttft99, rate * sec),
    scheduleLag: figures(0.0004, 0.0022, rate * sec),
    gpuUtilization: ok ? 0.41 : 0.96,
    sloMet: ok,
  });
  const steps = [
    mk(0, 'baseline 10 req/s', base, start, 120, 0.071, 0.16, true),
    mk(1, 'spike 40 req/s', base * mult, spikeFrom, 30, 1.4, 3.9, false),
    mk(2, 'after 10 req/s', base, spikeTo, 150, 0.078, 0.52, true),
  ];
  const requests = steps.reduce((a, s) => a + s.requests, 0);
  return {
    kind: 'spike',
    version: '0.1.0',
    startedAt: iso(start),
    endedAt: iso(end),
    durationSec: 300,
    target: { url: 'http://127.0.0.1:9478/v1', model: 'sim-8b', embedded: true },
    parameters: { baseRate: base, multiple: mult, spikeSec: 30, baselineSec: 120, afterSec: 150 },
    slo: SLO,
    totals: {
      requests,
      ok: requests,
      good: Math.round(steps.reduce((a, s) => a + s.goodputRps * s.durationSec, 0)),
      dropped: 0,
      errors: {},
      inputTokens: requests * 640,
      outputTokens: requests * 230,
    },
    overall: {
      ttft: figures(0.08, 3.1, requests),
      itl: figures(0.016, 0.037, requests * 229),
      tpot: figures(0.0166, 0.03, requests),
      e2e: figures(3.9, 10.8, requests),
      corrected: figures(3.9, 11.6, requests),
      scheduleLag: figures(0.0004, 0.0031, requests),
    },
    steps,
    spike: { baseRate: base, multiple: mult, spikeSec: 30, recoverySec: 48 },
    trends: [],
    hints: [],
    events: [],
    timeseries: [{ name: 'TTFT p99 (5 s window)', unit: 'seconds', points: pts }],
    verdict: { pass: false, failures: ['TTFT p99 3.9 s > SLO 2 s during the spike'] },
    histograms: {},
  };
}
