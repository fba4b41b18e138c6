/**
 * The real NVML code path (koffi → a shared library) against a scripted fake
 * libnvidia-ml.so.1 compiled from test/fixtures/collectors/fake-nvml.c.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.js';
import { GpuCollector, type GpuCollectorOptions } from '../src/collectors/gpu.js';

function fixturesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const f = join(dir, 'test', 'fixtures', 'collectors');
    if (existsSync(f)) return f;
    dir = dirname(dir);
  }
  throw new Error('test/fixtures/collectors not found');
}

function captureLogger(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(l);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

async function value(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = reg.getSingleMetric(name);
  if (m === undefined) return undefined;
  const got = await m.get();
  const hit = got.values.find((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x) && Object.keys(v.labels).every((k) => k in labels));
  return hit?.value;
}

async function series(reg: Registry, name: string): Promise<number> {
  const m = reg.getSingleMetric(name);
  return m === undefined ? 0 : (await m.get()).values.length;
}

const tmp = mkdtempSync(join(tmpdir(), 'llmsoak-nvml-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

function build(variant: string, defines: string[] = []): string {
  const dir = join(tmp, variant);
  execFileSync('mkdir', ['-p', dir]);
  const out = join(dir, 'libnvidia-ml.so.1');
  execFileSync('cc', ['-shared', '-fPIC', '-O1', ...defines, '-o', out, join(fixturesDir(), 'fake-nvml.c')]);
  return out;
}

function options(reg: Registry, logger: pino.Logger, over: Partial<GpuCollectorOptions>): GpuCollectorOptions {
  return {
    intervalMs: 1000,
    timeoutMs: 5000,
    logger,
    clock: systemClock,
    registry: reg,
    backend: 'nvml',
    libraryPath: '/nonexistent/libnvidia-ml.so.1',
    nvidiaSmiPath: '/nonexistent/nvidia-smi',
    retryMs: 300_000,
    gpm: true,
    pcie: true,
    maxBytes: 1 << 20,
    ...over,
  };
}

const G0 = { gpu: '0', uuid: 'GPU-00000000-aaaa-bbbb-cccc-000000000001', name: 'NVIDIA H100 80GB HBM3' };
const G1 = { gpu: '1', uuid: 'GPU-00000001-aaaa-bbbb-cccc-000000000002', name: 'NVIDIA A100-SXM4-40GB' };
const GIB = 1024 ** 3;

t.test('NVML through the fake library: values, units, clock events, energy, GPM', async (t) => {
  const lib = build('full');
  const stats = join(tmp, 'stats-full.txt');
  process.env.FAKE_NVML_STATS = stats;
  t.teardown(() => {
    delete process.env.FAKE_NVML_STATS;
  });
  const reg = new Registry();
  const { logger, lines } = captureLogger();
  const c = new GpuCollector(options(reg, logger, { libraryPath: lib }));

  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'gpu' }), 1);
  t.equal(c.backendKind, 'nvml');
  t.equal(await value(reg, 'llmsoak_gpu_backend_info', { backend: 'nvml' }), 1);
  t.equal(await value(reg, 'llmsoak_gpu_utilization_ratio', G0), 0.87);
  t.equal(await value(reg, 'llmsoak_gpu_memory_busy_ratio', G0), 0.45);
  t.equal(await value(reg, 'llmsoak_gpu_memory_total_bytes', G0), 80 * GIB);
  t.equal(await value(reg, 'llmsoak_gpu_memory_used_bytes', G0), 40 * GIB);
  t.equal(await value(reg, 'llmsoak_gpu_temperature_celsius', G0), 61);
  t.equal(await value(reg, 'llmsoak_gpu_power_watts', G0), 312.5);
  t.equal(await value(reg, 'llmsoak_gpu_power_limit_watts', G0), 700);
  t.equal(await value(reg, 'llmsoak_gpu_sm_clock_hertz', G0), 1.98e9);
  t.equal(await value(reg, 'llmsoak_gpu_memory_clock_hertz', G0), 2.619e9);
  t.equal(await value(reg, 'llmsoak_gpu_pcie_transmit_bytes_per_second', G0), 1000 * 1024);
  t.equal(await value(reg, 'llmsoak_gpu_pcie_receive_bytes_per_second', G0), 2000 * 1024);
  t.equal(await value(reg, 'llmsoak_gpu_energy_joules_total', G0), 1000, 'mJ → J, first read mirrored');
  t.equal(await value(reg, 'llmsoak_gpu_energy_joules_total', G1), undefined, 'energy NOT_SUPPORTED → absent');
  t.equal(await value(reg, 'llmsoak_gpu_pcie_transmit_bytes_per_second', G1), undefined);
  t.equal(await value(reg, 'llmsoak_gpu_utilization_ratio', G1), 0.1);
  t.equal(await value(reg, 'llmsoak_gpu_memory_total_bytes', G1), 40 * GIB);

  const ev = (g: Record<string, string>, reason: string): Promise<number | undefined> => value(reg, 'llmsoak_gpu_clock_event_active', { ...g, reason });
  t.equal(await ev(G0, 'sw_power_cap'), 1);
  t.equal(await ev(G0, 'hw_slowdown'), 1);
  t.equal(await ev(G0, 'gpu_idle'), 0);
  t.equal(await ev(G0, 'sw_thermal'), 0);
  t.equal(await ev(G1, 'gpu_idle'), 1);
  t.equal(await ev(G1, 'sw_power_cap'), 0);
  t.equal(await series(reg, 'llmsoak_gpu_clock_event_active'), 16, '8 reasons × 2 GPUs');

  t.equal(await series(reg, 'llmsoak_gpu_sm_active_ratio'), 0, 'GPM needs two samples: none after the first collection');

  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_gpu_energy_joules_total', G0), 1250, 'counter grows by the delta');
  t.equal(await value(reg, 'llmsoak_gpu_sm_active_ratio', G0), 0.75);
  t.equal(await value(reg, 'llmsoak_gpu_sm_occupancy_ratio', G0), 0.4);
  t.equal(await value(reg, 'llmsoak_gpu_tensor_active_ratio', G0), 0.555);
  t.equal(await value(reg, 'llmsoak_gpu_dram_active_ratio', G0), 0.8);
  t.equal(await series(reg, 'llmsoak_gpu_sm_active_ratio'), 1, 'GPU 1 (isSupportedDevice=0) has no GPM series');
  t.equal(await series(reg, 'llmsoak_gpu_dram_active_ratio'), 1);
  t.equal(c.gpuCount(), 2);
  t.equal(c.energyJoulesTotal(), 1250);

  const text = await reg.metrics();
  t.match(text, /llmsoak_gpu_clock_event_active\{gpu="0",uuid="GPU-00000000-aaaa-bbbb-cccc-000000000001",name="NVIDIA H100 80GB HBM3",reason="sw_power_cap"\} 1/);

  await c.stop();
  t.equal(readFileSync(stats, 'utf8').trim(), 'alloc=2 freed=2 metrics=1', 'GPM samples freed and nvmlShutdown called on stop');
  t.same(
    lines().filter((l) => l.level !== 30 || !String(l.msg).includes('using nvml')),
    [],
    'no log line but the backend choice',
  );
});

t.test('older driver: clock events fall back to nvmlDeviceGetCurrentClocksThrottleReasons', async (t) => {
  const lib = build('legacy', ['-DNO_EVENT_REASONS']);
  const reg = new Registry();
  const c = new GpuCollector(options(reg, captureLogger().logger, { libraryPath: lib, gpm: false, pcie: false }));
  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_gpu_clock_event_active', { ...G0, reason: 'sw_thermal' }), 1);
  t.equal(await value(reg, 'llmsoak_gpu_clock_event_active', { ...G0, reason: 'sw_power_cap' }), 0);
  t.equal(await series(reg, 'llmsoak_gpu_pcie_transmit_bytes_per_second'), 0, 'pcie disabled');
  await c.collectOnce();
  t.equal(await series(reg, 'llmsoak_gpu_sm_active_ratio'), 0, 'gpm disabled');
  await c.stop();
});

t.test('library missing: last_success 0, one log line, no retry storm', async (t) => {
  for (const backend of ['nvml', 'auto'] as const) {
    const reg = new Registry();
    const { logger, lines } = captureLogger();
    const c = new GpuCollector(options(reg, logger, { backend }));
    for (let i = 0; i < 5; i++) await c.collectOnce();
    t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'gpu' }), 0, backend);
    t.equal(await value(reg, 'llmsoak_collector_failures_total', { collector: 'gpu' }), 5);
    const logged = lines();
    t.equal(logged.length, 1, `${backend}: exactly one log line over 5 collections`);
    t.match(String(logged[0]?.msg), /gpu collector failing: no GPU: cannot load \/nonexistent\/libnvidia-ml\.so\.1/);
    t.equal(logged[0]?.collector, 'gpu');
    t.equal(await series(reg, 'llmsoak_gpu_utilization_ratio'), 0, 'no GPU series at all');
    t.equal(await series(reg, 'llmsoak_gpu_energy_joules_total'), 0);
    await c.stop();
  }

  // the loop itself waits retryMs before looking again
  const reg = new Registry();
  const { logger, lines } = captureLogger();
  const c = new GpuCollector(options(reg, logger, { intervalMs: 20 }));
  c.start();
  await new Promise((r) => setTimeout(r, 250));
  await c.stop();
  t.equal(await value(reg, 'llmsoak_collector_failures_total', { collector: 'gpu' }), 1, 'one attempt in 250 ms at a 20 ms interval');
  t.equal(lines().length, 1);
});
