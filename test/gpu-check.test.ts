/**
 * The GPU check's judgement (bench/gpu-check: comparison with nvidia-smi,
 * rule replay, dashboard names) over a recorded run shaped like a real
 * H100's (test/gpu-check-fixture.ts). It must pass a good run and name, in a
 * FAIL line, each planted mistake: a unit slip, a missing series, a wrong
 * clock-event bit. The device run itself needs a GPU (docs/gpu-check.md).
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FILES, analyse, readRecord, writeRecord } from '../bench/gpu-check/analyse.js';
import { collectorSeriesNames } from '../bench/gpu-check/series-names.js';
import { h100Spec, recordedRun } from './gpu-check-fixture.js';
import { ROOT } from './helpers.js';

const DASHBOARDS = join(ROOT, 'grafana', 'dashboards');
const MIB = 1024 * 1024;

t.test('a good H100 run passes: every series agrees, the rules read each phase', async (t) => {
  const { result, markdown } = await analyse(await recordedRun(), DASHBOARDS);
  t.same(result.failures, [], 'no FAIL line');
  t.same(result.comparison.warnings, [], 'no series without a reference');
  t.equal(result.comparison.device.name, 'NVIDIA H100 80GB HBM3');
  t.equal(result.comparison.device.driver, '580.159.04');

  const compared = new Set(result.comparison.rows.map((r) => r.series));
  for (const name of collectorSeriesNames()) t.ok(compared.has(name), `${name} has a row`);
  const row = (series: string, detail = '') => result.comparison.rows.find((r) => r.series === series && r.detail === detail);
  t.equal(row('llmsoak_gpu_memory_total_bytes')?.reference, 81559 * MIB, 'memory.total MiB read as bytes');
  t.equal(row('llmsoak_gpu_power_limit_watts')?.reference, 700);
  t.ok((row('llmsoak_gpu_memory_used_bytes')?.pairs ?? 0) >= 40, 'a pair for (almost) every collection');
  const energy = result.comparison.rows.find((r) => r.series === 'llmsoak_gpu_energy_joules_total');
  t.ok(energy !== undefined && energy.verdict === 'PASS' && (energy.reference ?? 0) > 10_000, `energy increase ${energy?.llmsoak} J vs ${energy?.reference} J`);
  const tensorMatmul = row('llmsoak_gpu_tensor_active_ratio', 'matmul');
  t.ok(tensorMatmul !== undefined && Math.abs((tensorMatmul.llmsoak ?? 0) - h100Spec().phases[1]!.gpm.tensorActive) < 0.01, 'tensor active in matmul as recorded');

  const fired = (phase: string, id: 'compute_bound_prefill' | 'bandwidth_bound_decode' | 'gpu_throttling'): string[] => {
    const o = result.replay.phases.find((p) => p.phase === phase)?.outcomes[id];
    return o?.status === 'ok' ? o.findings.map((f) => f.cause) : [`not evaluated: ${JSON.stringify(o)}`];
  };
  t.same(fired('matmul', 'compute_bound_prefill'), ['compute_bound_prefill']);
  t.same(fired('matmul', 'bandwidth_bound_decode'), []);
  t.same(fired('copy', 'bandwidth_bound_decode'), ['bandwidth_bound_decode']);
  t.same(fired('copy', 'compute_bound_prefill'), []);
  for (const idle of ['idle', 'idle2']) {
    t.same([...fired(idle, 'compute_bound_prefill'), ...fired(idle, 'bandwidth_bound_decode')], [], `${idle}: neither`);
  }
  t.same(fired('matmul', 'gpu_throttling'), ['throttling'], 'sw_power_cap held through matmul');
  t.match(result.replay.throttling.join('\n'), /gpu_throttling \[matmul\]: GPU 0 throttled \(sw_power_cap\)/);
  t.match(markdown, /\*\*Result: PASS\*\*/);
  t.match(markdown, /\| llmsoak_gpu_power_watts \| {2}\| power\.draw W \|/);
});

t.test('memory in MiB where bytes are expected: one FAIL line, on that series', async (t) => {
  const { result } = await analyse(await recordedRun(undefined, { scale: { memoryUsedBytes: 1 / MIB } }), DASHBOARDS);
  t.equal(result.failures.length, 1, result.failures.join('\n'));
  t.match(result.failures[0], /^FAIL llmsoak_gpu_memory_used_bytes: llmsoak 9327 vs 9\.780e\+9 \(memory\.used MiB × 2\^20\), diff .* > 3\.355e\+7 bytes$/);
});

t.test('power in mW where W are expected: one FAIL line, on that series', async (t) => {
  const { result } = await analyse(await recordedRun(undefined, { scale: { powerWatts: 1000 } }), DASHBOARDS);
  t.equal(result.failures.length, 1, result.failures.join('\n'));
  t.match(result.failures[0], /^FAIL llmsoak_gpu_power_watts: .* > 15 W$/);
});

t.test('a missing series: FAIL in the comparison, the replay and the dashboards', async (t) => {
  const { result } = await analyse(await recordedRun(undefined, { drop: ['tensorActiveRatio'] }), DASHBOARDS);
  const text = result.failures.join('\n');
  t.match(text, /^FAIL llmsoak_gpu_tensor_active_ratio: missing: llmsoak exported no value while dmon read this GPM metric$/m);
  t.match(text, /^FAIL replay \[matmul\] compute_bound_prefill: insufficient data \(llmsoak_gpu_tensor_active_ratio\)$/m);
  t.match(text, /^FAIL replay \[copy\] bandwidth_bound_decode: insufficient data/m);
  t.match(text, /^FAIL dashboard llmsoak-resources\.json panel ".*": llmsoak_gpu_tensor_active_ratio is not a series this run produced$/m);
  t.notMatch(text, /^FAIL llmsoak_gpu_(?!tensor_active_ratio)/m, 'no other series is blamed');
});

t.test("a wrong clock-event bit: the reasons disagree with nvidia-smi's named fields", async (t) => {
  const { result } = await analyse(await recordedRun(undefined, { shiftEventBits: true }), DASHBOARDS);
  const text = result.failures.join('\n');
  t.match(text, /^FAIL llmsoak_gpu_clock_event_active \[gpu_idle\]:/m);
  t.match(text, /^FAIL llmsoak_gpu_clock_event_active \[sw_power_cap\]:/m);
  t.match(text, /^FAIL llmsoak_gpu_clock_event_active \[hw_slowdown\]:/m);
});

t.test('readings that cannot be paired in time are FAILs, not silent passes', async (t) => {
  const run = await recordedRun();
  /** A stored query line with nvidia-smi's timestamp field (and, if asked, the arrival time) moved by `ms`. */
  const shifted = (line: string, ms: number, arrivalToo: boolean): string => {
    const [arrival, stamp, ...rest] = line.split(',');
    const d = new Date(Date.parse(`${stamp!.trim().replace(/\//g, '-').replace(' ', 'T')}Z`) + ms).toISOString();
    const smi = `${d.slice(0, 10).replace(/-/g, '/')} ${d.slice(11, 23)}`;
    return [String(Number(arrival) + (arrivalToo ? ms : 0)), smi, ...rest].join(',');
  };
  t.equal(shifted(run.queryLines[5]!, 0, false), run.queryLines[5], "the helper writes nvidia-smi's timestamp format");
  // nvidia-smi's lines an hour late (a clock slip in both its timestamp and their arrival)
  const hour = 3_600_000;
  const late = run.queryLines.map((l) => shifted(l, hour, true));
  const { result } = await analyse({ ...run, queryLines: late }, DASHBOARDS);
  const text = result.failures.join('\n');
  t.match(text, /^FAIL llmsoak_gpu_power_watts: only 0 of 48 values paired with a nvidia-smi query reading within 1000 ms$/m);
  t.match(text, /^FAIL llmsoak_gpu_energy_joules_total: unverified/m);
  t.match(text, /^FAIL llmsoak_gpu_clock_event_active \[sw_power_cap\]: unverified/m);

  // only the timestamp field off (nvidia-smi ignored TZ): the arrival time is used and all agrees
  const tzSlip = run.queryLines.map((l) => shifted(l, 5 * hour, false));
  t.not(tzSlip[0], run.queryLines[0]);
  t.same((await analyse({ ...run, queryLines: tzSlip }, DASHBOARDS)).result.failures, []);
});

t.test('the raw files a device run writes are judged the same when read back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-gpucheck-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = await recordedRun(undefined, { scale: { powerWatts: 1000 } });
  writeRecord(dir, run);
  const back = readRecord(dir);
  t.same(back, run);
  const again = await analyse(back, DASHBOARDS);
  t.same(again.result.failures, (await analyse(run, DASHBOARDS)).result.failures);
  t.match(readFileSync(join(dir, FILES.query), 'utf8'), /NVIDIA H100 80GB HBM3, 580\.159\.04, 100, 41, 9327, 81559/);
});
