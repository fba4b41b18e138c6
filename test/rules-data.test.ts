/**
 * Rules tested as data, as `promtool test rules` does: input series in
 * promtool's expanding notation, an evaluation time, expected hints out —
 * including "insufficient data" and the generator-bound guard.
 */
import t from 'tap';
import { SeriesStore } from '../src/analyzer/series-store.js';
import { LocalSource } from '../src/analyzer/local-source.js';
import { loadSeries, type InputSeries } from '../src/analyzer/series-notation.js';
import { DEFAULT_THRESHOLDS, type Rule, type RuleContext, type RuleOutcome } from '../src/analyzer/rule.js';
import { builtInRules } from '../src/analyzer/rules/index.js';
import { HintTracker } from '../src/analyzer/tracker.js';
import type { ErrorClass } from '../src/types.js';

const STEP = 15;
const MiB = 1024 * 1024;
const START = Date.UTC(2026, 0, 1);

function rule(id: string): Rule {
  const r = builtInRules().find((x) => x.id === id);
  if (!r) throw new Error(`no rule ${id}`);
  return r;
}

/** Load the series, evaluate one rule at START + atMin minutes. */
async function evalRule(id: string, input: InputSeries[], atMin: number, over: Partial<RuleContext> = {}): Promise<RuleOutcome> {
  const store = new SeriesStore({ stepSec: STEP });
  loadSeries(store, input, { startMs: START, intervalSec: STEP });
  const ctx: RuleContext = {
    src: new LocalSource(store),
    now: new Date(START + atMin * 60_000),
    windowSec: 300,
    leakWindowSec: 3 * 3600,
    runStartMs: START,
    warmupSec: 300,
    thresholds: DEFAULT_THRESHOLDS,
    baseline: undefined,
    ...over,
  };
  return rule(id).evaluate(ctx);
}

function findings(o: RuleOutcome) {
  return o.status === 'ok' ? o.findings : [];
}

t.test('kv_cache_pressure: full cache and rising preemptions', async (t) => {
  const out = await evalRule(
    'kv_cache_pressure',
    [
      { series: 'llmsoak_server_kv_cache_usage_ratio{model="m"}', values: '0.5x20 0.97x20' },
      { series: 'llmsoak_server_preemptions_total{model="m"}', values: '0x20 0+2x20' },
    ],
    10,
  );
  const f = findings(out);
  t.equal(f.length, 1);
  t.equal(f[0]?.cause, 'kv_cache_pressure');
  t.equal(f[0]?.evidence.kv_usage_ratio_max, 0.97);
  t.ok(Number(f[0]?.evidence.preemptions) > 0);

  const calm = await evalRule(
    'kv_cache_pressure',
    [
      { series: 'llmsoak_server_kv_cache_usage_ratio{model="m"}', values: '0.97x40' },
      { series: 'llmsoak_server_preemptions_total{model="m"}', values: '5x40' },
    ],
    10,
  );
  t.same(findings(calm), [], 'a full cache without preemptions is not pressure');

  const missing = await evalRule('kv_cache_pressure', [{ series: 'llmsoak_server_kv_cache_usage_ratio{model="m"}', values: '0.97x40' }], 10);
  t.same(missing, { status: 'insufficient data', missing: ['llmsoak_server_preemptions_total'] });
});

t.test('error_storm: the dominant class names the cause', async (t) => {
  const out = await evalRule(
    'error_storm',
    [
      { series: 'llmsoak_requests_total{scenario="a",outcome="ok"}', values: '0+90x40' },
      { series: 'llmsoak_requests_total{scenario="a",outcome="http_5xx"}', values: '0+8x40' },
      { series: 'llmsoak_requests_total{scenario="a",outcome="http_429"}', values: '0+2x40' },
      { series: 'llmsoak_request_errors_total{scenario="a",class="http_5xx"}', values: '0+8x40' },
      { series: 'llmsoak_request_errors_total{scenario="a",class="http_429"}', values: '0+2x40' },
    ],
    10,
  );
  const f = findings(out);
  t.equal(f.length, 1);
  t.equal(f[0]?.cause, 'server_errors');
  t.equal(f[0]?.labels?.class, 'http_5xx');
  t.ok(Math.abs(Number(f[0]?.evidence.error_ratio) - 0.1) < 0.005, `ratio ${f[0]?.evidence.error_ratio}`);

  const few = await evalRule(
    'error_storm',
    [
      { series: 'llmsoak_requests_total{outcome="http_5xx"}', values: '0+0.01x40' },
      { series: 'llmsoak_request_errors_total{class="http_5xx"}', values: '0+0.01x40' },
    ],
    10,
  );
  t.same(findings(few), [], 'below minRequests nothing is concluded');
  t.same(await evalRule('error_storm', [], 10), { status: 'insufficient data', missing: ['llmsoak_requests_total'] });
});

t.test("error_storm quotes the server's own words for the dominant class, seen within the window", async (t) => {
  const series: InputSeries[] = [
    { series: 'llmsoak_requests_total{scenario="a",outcome="ok"}', values: '0+90x40' },
    { series: 'llmsoak_requests_total{scenario="a",outcome="http_5xx"}', values: '0+10x40' },
    { series: 'llmsoak_request_errors_total{scenario="a",class="http_5xx"}', values: '0+10x40' },
  ];
  const asked: { cls: string; sinceMs: number }[] = [];
  const failures = {
    top(cls: ErrorClass, sinceMs: number) {
      asked.push({ cls, sinceMs });
      return cls === 'http_5xx' ? { scenario: 'a', message: '500 Internal Server Error: Bad control character in string literal in JSON at position 162', count: 40 } : undefined;
    },
  };
  const f = findings(await evalRule('error_storm', series, 10, { failures }));
  t.equal(f[0]?.evidence.top_message, 'a: 500 Internal Server Error: Bad control character in string literal in JSON at position 162');
  t.match(f[0]?.summary, /mostly http_5xx .*; the server says: 500 Internal Server Error: Bad control character/);
  t.same(asked, [{ cls: 'http_5xx', sinceMs: START + 10 * 60_000 - 300_000 }], "asked for the dominant class, over the rule's window");
  const silent = findings(await evalRule('error_storm', series, 10, { failures: { top: () => undefined } }));
  t.equal(silent[0]?.evidence.top_message, undefined, 'no message seen: no quote, the hint stands on its figures');
  t.notMatch(silent[0]?.summary, /the server says/);
});

t.test('generator_bound: a sustained share of late sends, not one hiccup', async (t) => {
  const late = await evalRule(
    'generator_bound',
    [
      { series: 'llmsoak_schedule_lag_seconds_bucket{le="0.05"}', values: '0+50x40' },
      { series: 'llmsoak_schedule_lag_seconds_bucket{le="+Inf"}', values: '0+100x40' },
      { series: 'llmsoak_schedule_lag_seconds_count', values: '0+100x40' },
    ],
    10,
  );
  t.equal(findings(late)[0]?.cause, 'generator_bound');
  t.equal(findings(late)[0]?.evidence.late_share, 0.5);

  const hiccup = await evalRule(
    'generator_bound',
    [
      { series: 'llmsoak_schedule_lag_seconds_bucket{le="0.05"}', values: '0+100x30 3000+100x10' },
      { series: 'llmsoak_schedule_lag_seconds_bucket{le="+Inf"}', values: '0+100x30 3001+100x10' },
      { series: 'llmsoak_schedule_lag_seconds_count', values: '0+100x30 3001+100x10' },
    ],
    10,
  );
  t.same(findings(hiccup), [], 'one late send in thousands is not generator-bound');
});

t.test('the generator-bound guard marks every hint untrustworthy', async (t) => {
  const tracker = new HintTracker();
  const now = new Date(START);
  tracker.setGeneratorBound(true);
  tracker.update('kv_cache_pressure', 0, 0, [{ rule: 'kv_cache_pressure', severity: 'warning', cause: 'kv_cache_pressure', summary: 'KV full', suggestion: 's', confidence: 0.9, evidence: {} }], now);
  const [h] = tracker.active();
  t.equal(h?.untrustworthy, true);
  t.match(h?.summary, /not trustworthy/);
});

t.test('leak: a linear rise of the target RSS, with slope and projection', async (t) => {
  // 1 GB plus 10 MB every 15 s = 2.4 GB/h, after 5 min warm-up; host memory 24 GB.
  const out = await evalRule(
    'leak',
    [
      { series: 'llmsoak_target_process_resident_memory_bytes{process="vllm"}', values: '1e9+1e7x480' },
      { series: 'llmsoak_host_memory_total_bytes', values: '24e9x480' },
      { series: 'llmsoak_in_flight_requests', values: '8x480' },
    ],
    120,
  );
  const f = findings(out);
  t.equal(f.length, 1);
  t.equal(f[0]?.labels?.series, 'target_process_resident_memory_bytes');
  t.ok(Math.abs(Number(f[0]?.evidence.slope_per_hour) - 2.4e9) / 2.4e9 < 0.01, `slope ${f[0]?.evidence.slope_per_hour}`);
  const eta = Number(f[0]?.evidence.projected_exhaustion_s);
  // At 2 h the line is at 1e9 + 2.4e9*2 = 5.8e9; (24e9 - 5.8e9) / 2.4e9 h = 7.58 h.
  t.ok(Math.abs(eta - 7.58 * 3600) < 0.05 * 7.58 * 3600, `exhaustion in ${(eta / 3600).toFixed(2)} h`);

  const flat = await evalRule(
    'leak',
    [
      {
        series: 'llmsoak_target_process_resident_memory_bytes{process="vllm"}',
        values:
          '1e9 1.01e9 0.99e9 1e9 1.02e9 0.98e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9 1e9 1.01e9 0.99e9',
      },
    ],
    15,
  );
  t.same(findings(flat), [], 'noise around a level is stable');

  const restarted = await evalRule(
    'leak',
    [
      // Rising, then the target restarts (RSS falls back) and stays flat.
      { series: 'llmsoak_target_process_resident_memory_bytes{process="vllm"}', values: '1e9+1e7x240 1e9x240' },
    ],
    120,
  );
  t.same(findings(restarted), [], 'after a restart the new segment is judged alone');
  t.same(await evalRule('leak', [], 10), { status: 'insufficient data', missing: ['llmsoak_target_process_resident_memory_bytes'] });
});

t.test('leak: a steep rise smaller than leakMinGrowthMiB over the window is heap sizing, not a leak', async (t) => {
  // A 100 MB process over a 10 min window, every point on the line: 12 MiB (72 MiB/h, 12 % of its level, R² 1) is
  // below the 16 MiB floor; 24 MiB is a leak. Both pass every other gate (slope, R², relative change).
  const short = { leakWindowSec: 600, warmupSec: 0 };
  const rise = (mibPerStep: number) => [{ series: 'llmsoak_target_process_resident_memory_bytes{process="node"}', values: `1e8+${mibPerStep * MiB}x40` }];
  t.same(findings(await evalRule('leak', rise(0.3), 10, short)), [], '12 MiB over the window: no finding');
  const above = findings(await evalRule('leak', rise(0.6), 10, short));
  t.equal(above.length, 1, '24 MiB over the window: a leak');
  t.ok(Math.abs(Number(above[0]?.evidence.slope_per_hour) / MiB - 144) < 1, `slope ${Number(above[0]?.evidence.slope_per_hour) / MiB} MiB/h`);
  const noFloor = findings(await evalRule('leak', rise(0.3), 10, { ...short, thresholds: { ...DEFAULT_THRESHOLDS, leakMinGrowthMiB: 0 } }));
  t.equal(noFloor.length, 1, 'the same 12 MiB with the floor at 0: a leak (the floor is what held it back)');
});

t.test('GPU rules say "insufficient data" without GPU series', async (t) => {
  for (const id of ['gpu_throttling', 'bandwidth_bound_decode', 'compute_bound_prefill']) {
    const out = await evalRule(id, [{ series: 'llmsoak_requests_total{outcome="ok"}', values: '0+10x40' }], 10);
    t.equal(out.status, 'insufficient data', id);
  }
  const throttled = await evalRule(
    'gpu_throttling',
    [
      { series: 'llmsoak_gpu_clock_event_active{gpu="0",reason="sw_thermal"}', values: '0x20 1x20' },
      { series: 'llmsoak_gpu_clock_event_active{gpu="0",reason="sw_power_cap"}', values: '0x40' },
      { series: 'llmsoak_gpu_sm_clock_hertz{gpu="0"}', values: '1.98e9x20 1.98e9-1e7x20' },
    ],
    10,
  );
  const f = findings(throttled);
  t.equal(f[0]?.cause, 'throttling');
  t.equal(f[0]?.evidence.reasons, 'sw_thermal');
});

/** GPU series labelled as the collector labels a real one (gpu index, uuid, product name). */
const GPU = 'gpu="0",uuid="GPU-5b1e0c7a-3f51-9d1e-8a42-7c0f3e2d1b9a",name="NVIDIA H100 80GB HBM3"';

t.test('bandwidth_bound_decode: DRAM busy, tensor cores idle (GPM-shaped series)', async (t) => {
  // Decode at batch 64 on a Hopper GPU: DRAM bandwidth ~80 % busy, SM ~60 %, tensor pipes ~10 %.
  const decode = await evalRule(
    'bandwidth_bound_decode',
    [
      { series: `llmsoak_gpu_dram_active_ratio{${GPU}}`, values: '0.35x20 0.8x20' },
      { series: `llmsoak_gpu_tensor_active_ratio{${GPU}}`, values: '0.4x20 0.09x20' },
      { series: `llmsoak_gpu_sm_active_ratio{${GPU}}`, values: '0.7x20 0.6x20' },
    ],
    10,
  );
  const f = findings(decode);
  t.equal(f.length, 1, 'fires');
  t.equal(f[0]?.cause, 'bandwidth_bound_decode');
  t.equal(f[0]?.evidence.dram_active_ratio, 0.8);
  t.equal(f[0]?.evidence.tensor_active_ratio, 0.09);
  t.equal(f[0]?.evidence.sm_active_ratio, 0.6);
  const compute = await evalRule(
    'bandwidth_bound_decode',
    [
      { series: `llmsoak_gpu_dram_active_ratio{${GPU}}`, values: '0.8x40' },
      { series: `llmsoak_gpu_tensor_active_ratio{${GPU}}`, values: '0.85x40' },
    ],
    10,
  );
  t.same(findings(compute), [], 'tensor cores busy too: not bandwidth bound');
  const idle = await evalRule(
    'bandwidth_bound_decode',
    [
      { series: `llmsoak_gpu_dram_active_ratio{${GPU}}`, values: '0.2x40' },
      { series: `llmsoak_gpu_tensor_active_ratio{${GPU}}`, values: '0.05x40' },
    ],
    10,
  );
  t.same(findings(idle), [], 'DRAM not busy: nothing');
});

t.test('compute_bound_prefill: tensor cores busy, TTFT evidence', async (t) => {
  const ttft = [
    { series: 'llmsoak_time_to_first_token_seconds_bucket{scenario="doc",le="0.1"}', values: '0x40' },
    { series: 'llmsoak_time_to_first_token_seconds_bucket{scenario="doc",le="0.5"}', values: '0+10x40' },
    { series: 'llmsoak_time_to_first_token_seconds_bucket{scenario="doc",le="+Inf"}', values: '0+10x40' },
  ];
  const prefill = await evalRule(
    'compute_bound_prefill',
    [{ series: `llmsoak_gpu_tensor_active_ratio{${GPU}}`, values: '0.2x20 0.88x20' }, { series: `llmsoak_gpu_dram_active_ratio{${GPU}}`, values: '0.3x40' }, ...ttft],
    10,
  );
  const f = findings(prefill);
  t.equal(f.length, 1, 'fires');
  t.equal(f[0]?.cause, 'compute_bound_prefill');
  t.equal(f[0]?.evidence.tensor_active_ratio, 0.88);
  const p50 = Number(f[0]?.evidence.ttft_p50_s);
  t.ok(p50 > 0.1 && p50 <= 0.5, `TTFT p50 ${p50} s from the histogram`);
  const calm = await evalRule('compute_bound_prefill', [{ series: `llmsoak_gpu_tensor_active_ratio{${GPU}}`, values: '0.3x40' }, ...ttft], 10);
  t.same(findings(calm), [], 'tensor cores not busy: nothing');
  const noTtft = await evalRule('compute_bound_prefill', [{ series: `llmsoak_gpu_tensor_active_ratio{${GPU}}`, values: '0.9x40' }], 10);
  t.same(noTtft, { status: 'insufficient data', missing: ['llmsoak_time_to_first_token_seconds'] });
});

t.test('overload: a growing queue with running at its maximum', async (t) => {
  const out = await evalRule(
    'overload',
    [
      { series: 'llmsoak_server_requests_waiting{model="m"}', values: '0x20 0+2x20' },
      { series: 'llmsoak_server_requests_running{model="m"}', values: '10x20 16x20' },
    ],
    10,
  );
  const f = findings(out);
  t.equal(f.length, 1, 'fires');
  t.equal(f[0]?.cause, 'overload');
  t.equal(f[0]?.evidence.running_max, 16);
  t.ok(Number(f[0]?.evidence.waiting_second_half) > Number(f[0]?.evidence.waiting_first_half), 'queue growing');
  const steady = await evalRule(
    'overload',
    [
      { series: 'llmsoak_server_requests_waiting{model="m"}', values: '1x40' },
      { series: 'llmsoak_server_requests_running{model="m"}', values: '16x40' },
    ],
    10,
  );
  t.same(findings(steady), [], 'a short steady queue is not overload');
  const refused = await evalRule(
    'overload',
    [
      { series: 'llmsoak_server_requests_waiting{model="m"}', values: '0x40' },
      { series: 'llmsoak_request_errors_total{scenario="a",class="http_429"}', values: '0x20 0+3x20' },
    ],
    10,
  );
  t.equal(findings(refused)[0]?.cause, 'overload', '429s refused at admission are overload too');
});

t.test('cpu_bound: the server process near one core with an empty queue and no busy GPU', async (t) => {
  // 0.95 CPU-s per s: 14.25 per 15 s step.
  const cpu = (perStep: number) => ({ series: 'llmsoak_target_process_cpu_seconds_total{process="vllm"}', values: `0+${perStep}x40` });
  const queue = (v: string) => ({ series: 'llmsoak_server_requests_waiting{model="m"}', values: v });
  const f = findings(await evalRule('cpu_bound', [cpu(14.25), queue('0x40')], 10));
  t.equal(f.length, 1, 'fires');
  t.equal(f[0]?.cause, 'cpu_bound');
  t.ok(Math.abs(Number(f[0]?.evidence.process_cpu_cores) - 0.95) < 0.01, `cores ${f[0]?.evidence.process_cpu_cores}`);
  t.equal(f[0]?.evidence.gpu_utilization, 'absent');
  t.same(findings(await evalRule('cpu_bound', [cpu(7.5), queue('0x40')], 10)), [], 'half a core: not bound');
  t.same(findings(await evalRule('cpu_bound', [cpu(14.25), queue('5x40')], 10)), [], 'a queue waiting: the engine, not the frontend');
  const gpuBusy = { series: 'llmsoak_gpu_utilization_ratio{gpu="0"}', values: '0.9x40' };
  t.same(findings(await evalRule('cpu_bound', [cpu(14.25), queue('0x40'), gpuBusy], 10)), [], 'a busy GPU: not CPU bound');
});

t.test('quality_drift: the golden suite below its baseline score', async (t) => {
  const baseline = { capturedAt: START, samples: { ttft: [], itl: [], tpot: [] }, quality: { golden: 1 } };
  const score = (v: string) => [{ series: 'llmsoak_quality_score{suite="golden"}', values: v }];
  const f = findings(await evalRule('quality_drift', score('1x30 0.5x10'), 10, { baseline }));
  t.equal(f.length, 1, 'fires');
  t.equal(f[0]?.cause, 'quality_drift');
  t.same([f[0]?.evidence.score, f[0]?.evidence.baseline_score], [0.5, 1]);
  t.same(findings(await evalRule('quality_drift', score('1x30 0.95x10'), 10, { baseline })), [], 'a drop within qualityDrop (0.1)');
  t.same(await evalRule('quality_drift', score('1x30 0.5x10'), 10), { status: 'insufficient data', missing: ['baseline (captured after warm-up)'] });
});

t.test('degradation: TTFT drifted above the baseline at steady load', async (t) => {
  const ttft = (le: string, v: string) => ({ series: `llmsoak_time_to_first_token_seconds_bucket{scenario="qa",le="${le}"}`, values: v });
  // 10 requests a step; the last 20 steps (the 5 min window) all land in the 0.25–0.5 s bucket (median ~0.375 s).
  const slow = [ttft('0.1', '0x40'), ttft('0.25', '0+10x20 200x20'), ttft('0.5', '0+10x40'), ttft('+Inf', '0+10x40')];
  const baselineAt = (v: number) => ({ capturedAt: START, samples: { ttft: Array(10).fill(v), itl: [], tpot: [] }, quality: {} });
  const f = findings(await evalRule('degradation', slow, 10, { baseline: baselineAt(0.12) }));
  t.equal(f.length, 1, 'fires');
  t.equal(f[0]?.labels?.figure, 'ttft');
  t.ok(Number(f[0]?.evidence.recent_median_s) > 0.3 && Number(f[0]?.evidence.baseline_median_s) === 0.12, `median ${f[0]?.evidence.recent_median_s} s vs 0.12 s`);
  // The same window against a baseline at the level it now has: no drift.
  const level = Number(f[0]?.evidence.recent_median_s);
  t.same(findings(await evalRule('degradation', slow, 10, { baseline: baselineAt(level) })), [], 'at the baseline level: no drift');
  t.same(await evalRule('degradation', slow, 10), { status: 'insufficient data', missing: ['baseline (captured after warm-up)'] });
});

t.test('network_client: client TTFT up, server TTFT flat', async (t) => {
  const baseline = { capturedAt: START, samples: { ttft: Array(10).fill(0.12), itl: [], tpot: [] }, quality: {}, clientServerTtftGapSec: 0.02, serverTtftSec: 0.1 };
  const client = (le: string, v: string) => ({ series: `llmsoak_time_to_first_token_seconds_bucket{scenario="qa",le="${le}"}`, values: v });
  // Client TTFT from ~0.12 s to ~0.35 s (all in the 0.25–0.5 bucket), server mean flat at 0.1 s.
  const slowPath = [client('0.25', '0+10x20 200x20'), client('0.5', '0+10x20 200+10x20'), client('+Inf', '0+10x20 200+10x20')];
  const out = await evalRule('network_client', [...slowPath, { series: 'llmsoak_server_time_to_first_token_mean_seconds{model="m"}', values: '0.1x40' }], 10, { baseline });
  const f = findings(out);
  t.equal(f.length, 1, 'fires');
  t.equal(f[0]?.cause, 'network_client');
  t.ok(Number(f[0]?.evidence.gap_s) > 0.2, `gap ${f[0]?.evidence.gap_s} s`);
  const serverSlow = await evalRule('network_client', [...slowPath, { series: 'llmsoak_server_time_to_first_token_mean_seconds{model="m"}', values: '0.1x20 0.3x20' }], 10, { baseline });
  t.same(findings(serverSlow), [], 'the server slowed down too: not the path');
  const noBaseline = await evalRule('network_client', [...slowPath, { series: 'llmsoak_server_time_to_first_token_mean_seconds{model="m"}', values: '0.1x40' }], 10);
  t.same(noBaseline, { status: 'insufficient data', missing: ['baseline (captured after warm-up)'] });
});

t.test('user rules from config: conditions, templates, insufficient data, config errors', async (t) => {
  const { userRule, checkUserRules } = await import('../src/analyzer/rules/user.js');
  const { loadConfig } = await import('../src/config/load.js');
  const { ConfigError } = await import('../src/errors.js');
  const cfg = {
    id: 'slow_first_token',
    severity: 'warning' as const,
    cause: 'slow_prefill',
    forSec: 0,
    when: [
      { expr: 'quantile(0.99, llmsoak_time_to_first_token_seconds{scenario="qa"})', op: '>' as const, value: 1.5 },
      { expr: 'rate(llmsoak_requests_total)', op: '>=' as const, value: 1 },
    ],
    summary: 'TTFT p99 {{0}} s at {{1}} req/s over {{window}} s',
    suggestion: 'check prefill',
  };
  const store = new SeriesStore({ stepSec: STEP });
  loadSeries(
    store,
    [
      { series: 'llmsoak_time_to_first_token_seconds_bucket{scenario="qa",le="1"}', values: '0+1x40' },
      { series: 'llmsoak_time_to_first_token_seconds_bucket{scenario="qa",le="2"}', values: '0+2x40' },
      { series: 'llmsoak_time_to_first_token_seconds_bucket{scenario="qa",le="+Inf"}', values: '0+30x40' },
      { series: 'llmsoak_requests_total{outcome="ok"}', values: '0+30x40' },
    ],
    { startMs: START, intervalSec: STEP },
  );
  const ctx: RuleContext = {
    src: new LocalSource(store),
    now: new Date(START + 10 * 60_000),
    windowSec: 300,
    leakWindowSec: 3600,
    runStartMs: START,
    warmupSec: 0,
    thresholds: DEFAULT_THRESHOLDS,
    baseline: undefined,
  };
  const out = await userRule(cfg).evaluate(ctx);
  const f = findings(out)[0];
  t.equal(f?.cause, 'slow_prefill');
  t.match(f?.summary, /^TTFT p99 \S+ s at 2 req\/s over 300 s$/);
  const none = await userRule({ ...cfg, when: [{ expr: 'last(llmsoak_absent_series)', op: '>', value: 0 }] }).evaluate(ctx);
  t.same(none, { status: 'insufficient data', missing: ['last(llmsoak_absent_series)'] });
  t.same(checkUserRules([{ ...cfg, when: [{ expr: 'sum(rate(x[5m]))', op: '>', value: 1 }] }]), [
    'analyzer.rules[0].when[0].expr: not a series function (quantile(q, h), rate(s), increase(s), avg(s), max(s), last(s))',
  ]);
  try {
    loadConfig({ document: { analyzer: { rules: [{ id: 'leak', cause: 'x', summary: 's', when: [{ expr: 'last(a)', op: '>', value: 1 }] }] } } });
    t.fail('a user rule may not shadow a built-in one');
  } catch (err) {
    t.ok(err instanceof ConfigError);
    t.same((err as InstanceType<typeof ConfigError>).problems, ['analyzer.rules[0].id: "leak" is already a rule']);
  }
});
