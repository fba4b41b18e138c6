/**
 * One evaluation cycle of the whole built-in rule pack over 24 hours of data
 * for 1,000 series (15 s step), median and p99 over repeated cycles. Prints
 * figures, asserts nothing.
 *
 *   node dist/bench/rulepack.js [--cycles=30]
 */
import { SeriesStore } from '../src/analyzer/series-store.js';
import { LocalSource } from '../src/analyzer/local-source.js';
import { loadSeries, type InputSeries } from '../src/analyzer/series-notation.js';
import { HintTracker } from '../src/analyzer/tracker.js';
import { Analyzer } from '../src/analyzer/engine.js';
import { builtInRules } from '../src/analyzer/rules/index.js';
import { DEFAULT_THRESHOLDS } from '../src/analyzer/rule.js';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.js';
import { silentLogger } from '../src/log.js';

const STEP = 15;
const POINTS = (24 * 3600) / STEP;
const cycles = Number(process.argv.find((a) => a.startsWith('--cycles='))?.split('=')[1] ?? 30);

/** 1,000 series with the names the rules read, at realistic label cardinality. */
function series(): InputSeries[] {
  const out: InputSeries[] = [];
  const scenarios = ['short_qa', 'long_summary', 'multi_turn_chat', 'completion_batch', 'embeddings'];
  const les = ['0.001', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2', '5', '10', '+Inf'];
  for (const sc of scenarios) {
    for (const h of ['llmsoak_time_to_first_token_seconds', 'llmsoak_inter_token_latency_seconds', 'llmsoak_request_duration_seconds', 'llmsoak_schedule_lag_seconds']) {
      les.forEach((le, i) => {
        out.push({ series: `${h}_bucket{scenario="${sc}",le="${le}"}`, values: `0+${(i + 1) * 3}x${POINTS}` });
      });
      out.push({ series: `${h}_count{scenario="${sc}"}`, values: `0+39x${POINTS}` });
      out.push({ series: `${h}_sum{scenario="${sc}"}`, values: `0+4x${POINTS}` });
    }
    out.push({ series: `llmsoak_requests_total{scenario="${sc}",outcome="ok"}`, values: `0+30x${POINTS}` });
    for (const cls of ['http_429', 'http_5xx', 'stream_cut', 'timeout_idle']) out.push({ series: `llmsoak_request_errors_total{scenario="${sc}",class="${cls}"}`, values: `0+0.1x${POINTS}` });
  }
  out.push({ series: 'llmsoak_server_kv_cache_usage_ratio{model="m"}', values: `0.6x${POINTS}` });
  out.push({ series: 'llmsoak_server_preemptions_total{model="m"}', values: `0x${POINTS}` });
  out.push({ series: 'llmsoak_server_requests_waiting{model="m"}', values: `1x${POINTS}` });
  out.push({ series: 'llmsoak_server_requests_running{model="m"}', values: `30x${POINTS}` });
  out.push({ series: 'llmsoak_server_time_to_first_token_mean_seconds{model="m"}', values: `0.2x${POINTS}` });
  out.push({ series: 'llmsoak_target_process_resident_memory_bytes{process="vllm"}', values: `8e9+1e4x${POINTS}` });
  out.push({ series: 'llmsoak_target_process_open_fds{process="vllm"}', values: `300x${POINTS}` });
  out.push({ series: 'llmsoak_target_process_threads{process="vllm"}', values: `120x${POINTS}` });
  out.push({ series: 'llmsoak_target_process_cpu_seconds_total{process="vllm"}', values: `0+3x${POINTS}` });
  out.push({ series: 'llmsoak_host_memory_total_bytes', values: `1e11x${POINTS}` });
  out.push({ series: 'process_resident_memory_bytes', values: `1.2e8x${POINTS}` });
  out.push({ series: 'nodejs_eventloop_lag_p99_seconds', values: `0.011x${POINTS}` });
  out.push({ series: 'llmsoak_in_flight_requests', values: `20x${POINTS}` });
  for (let g = 0; g < 8; g++) {
    for (const m of [
      'utilization_ratio',
      'memory_used_bytes',
      'memory_total_bytes',
      'sm_clock_hertz',
      'dram_active_ratio',
      'tensor_active_ratio',
      'sm_active_ratio',
      'power_watts',
      'temperature_celsius',
    ]) {
      out.push({ series: `llmsoak_gpu_${m}{gpu="${g}"}`, values: `0.5x${POINTS}` });
    }
    for (const r of ['gpu_idle', 'sw_power_cap', 'hw_slowdown', 'sw_thermal', 'hw_thermal', 'hw_power_brake'])
      out.push({ series: `llmsoak_gpu_clock_event_active{gpu="${g}",reason="${r}"}`, values: `0x${POINTS}` });
  }
  // Fill up to 1,000 with other host series the rules do not read (they still cost selector matching).
  for (let i = 0; out.length < 1000; i++) out.push({ series: `llmsoak_host_network_receive_bytes_total{device="eth${i}"}`, values: `0+1000x${POINTS}` });
  return out;
}

async function main(): Promise<void> {
  const input = series();
  const start = Date.now() - POINTS * STEP * 1000;
  const store = new SeriesStore({ stepSec: STEP, rawRetentionSec: 6 * 3600 });
  const t0 = process.hrtime.bigint();
  loadSeries(store, input, { startMs: start, intervalSec: STEP });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const analyzer = new Analyzer({
    cfg: { enabled: true, stepSec: STEP, intervalSec: 30, windowSec: 300, leakWindowSec: 24 * 3600, warmupSec: 300, baselineSec: 600, thresholds: DEFAULT_THRESHOLDS },
    rules: builtInRules(),
    src: new LocalSource(store),
    tracker: new HintTracker(),
    sinks: [],
    registry: new Registry(),
    logger: silentLogger(),
    clock: systemClock,
    runStartMs: start,
  });
  const now = new Date(start + POINTS * STEP * 1000);
  const times: number[] = [];
  for (let i = 0; i < cycles; i++) {
    const c0 = process.hrtime.bigint();
    await analyzer.evaluate(now);
    times.push(Number(process.hrtime.bigint() - c0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const pct = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] as number;
  const rules = analyzer.snapshot().rules;
  console.log(`rule pack over 24 h of ${input.length} series (${STEP} s step, ${(store.stats().footprintBytes / 1e6) | 0} MB store, loaded in ${loadMs.toFixed(0)} ms)`);
  console.log(`  ${rules.length} rules; ${cycles} cycles: median ${pct(0.5).toFixed(1)} ms, p99 ${pct(0.99).toFixed(1)} ms, max ${times[times.length - 1]!.toFixed(1)} ms`);
  console.log(rules.map((r) => `  ${r.rule.padEnd(24)} ${r.health.padEnd(18)} ${(r.durationMs ?? 0).toFixed(2)} ms`).join('\n'));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
