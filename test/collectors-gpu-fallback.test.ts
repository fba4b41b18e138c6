/**
 * GPU backends other than NVML: one long-lived nvidia-smi child (a fake
 * script here, including an older driver that rejects clocks_event_reasons),
 * and dcgm-exporter's text served on 127.0.0.1.
 */
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.js';
import { dcgmReadings } from '../src/collectors/dcgm.js';
import { GpuCollector, type GpuCollectorOptions } from '../src/collectors/gpu.js';
import { parseSmiLine } from '../src/collectors/nvidia-smi.js';

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

function options(reg: Registry, logger: pino.Logger, over: Partial<GpuCollectorOptions>): GpuCollectorOptions {
  return {
    intervalMs: 100,
    timeoutMs: 4000,
    logger,
    clock: systemClock,
    registry: reg,
    backend: 'nvidia-smi',
    libraryPath: '/nonexistent/libnvidia-ml.so.1',
    nvidiaSmiPath: '/nonexistent/nvidia-smi',
    retryMs: 300_000,
    gpm: true,
    pcie: true,
    maxBytes: 1 << 20,
    ...over,
  };
}

const tmp = mkdtempSync(join(tmpdir(), 'llmsoak-smi-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

/** A fake nvidia-smi: logs each start, prints two GPUs every -lms ms until killed. */
function fakeSmi(name: string, legacyDriver: boolean): { path: string; spawns: () => string[] } {
  const dir = join(tmp, name);
  const log = join(dir, 'spawns.txt');
  const path = join(dir, 'nvidia-smi');
  const script = `#!/bin/sh
q=""; ms=1000; prev=""
for a in "$@"; do
  case "$a" in --query-gpu=*) q="\${a#--query-gpu=}";; esac
  if [ "$prev" = "-lms" ]; then ms="$a"; fi
  prev="$a"
done
echo "$q" >> "${log}"
${legacyDriver ? `case "$q" in *clocks_event_reasons*) echo 'Field "clocks_event_reasons.active" is not a valid field to query.'; exit 2;; esac` : ''}
s=$(awk "BEGIN{print $ms/1000}")
while :; do
  echo "0, GPU-11111111-2222-3333-4444-555555555555, NVIDIA H100 80GB HBM3, 87, 45, 40960, 81559, 61, 312.50, 700.00, 1980, 2619, 0x000000000000000C"
  echo "1, GPU-66666666-7777-8888-9999-000000000000, NVIDIA H100 80GB HBM3, [N/A], 5, 1024, 81559, 45, [Not Supported], 700.00, 1410, 2619, 0x0000000000000001"
  sleep "$s"
done
`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path, script);
  chmodSync(path, 0o755);
  return { path, spawns: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []) };
}

const S0 = { gpu: '0', uuid: 'GPU-11111111-2222-3333-4444-555555555555', name: 'NVIDIA H100 80GB HBM3' };
const S1 = { gpu: '1', uuid: 'GPU-66666666-7777-8888-9999-000000000000', name: 'NVIDIA H100 80GB HBM3' };
const MIB = 1024 * 1024;

t.test('parseSmiLine', async (t) => {
  const r = parseSmiLine('0, GPU-x, NVIDIA H100 80GB HBM3, 87, 45, 40960, 81559, 61, 312.50, 700.00, 1980, 2619, 0x000000000000000C');
  t.same(r, {
    index: 0,
    uuid: 'GPU-x',
    name: 'NVIDIA H100 80GB HBM3',
    utilizationRatio: 0.87,
    memoryBusyRatio: 0.45,
    memoryUsedBytes: 40960 * MIB,
    memoryTotalBytes: 81559 * MIB,
    temperatureCelsius: 61,
    powerWatts: 312.5,
    powerLimitWatts: 700,
    smClockHertz: 1.98e9,
    memoryClockHertz: 2.619e9,
    clockEventReasons: 12n,
  });
  t.equal(parseSmiLine('Field "x" is not a valid field to query.'), undefined);
  t.equal(parseSmiLine(''), undefined);
});

t.test('nvidia-smi backend: one long-lived child, parsed line by line', async (t) => {
  const smi = fakeSmi('modern', false);
  const reg = new Registry();
  const { logger, lines } = captureLogger();
  const c = new GpuCollector(options(reg, logger, { nvidiaSmiPath: smi.path }));
  t.teardown(() => c.stop());
  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'gpu' }), 1);
  t.equal(c.backendKind, 'nvidia-smi');
  t.equal(await value(reg, 'llmsoak_gpu_utilization_ratio', S0), 0.87);
  t.equal(await value(reg, 'llmsoak_gpu_memory_used_bytes', S0), 40960 * MIB);
  t.equal(await value(reg, 'llmsoak_gpu_power_watts', S0), 312.5);
  t.equal(await value(reg, 'llmsoak_gpu_sm_clock_hertz', S1), 1.41e9);
  t.equal(await value(reg, 'llmsoak_gpu_utilization_ratio', S1), undefined, '[N/A] is absent, not 0');
  t.equal(await value(reg, 'llmsoak_gpu_power_watts', S1), undefined, '[Not Supported] is absent');
  t.equal(await value(reg, 'llmsoak_gpu_clock_event_active', { ...S0, reason: 'hw_slowdown' }), 1);
  t.equal(await value(reg, 'llmsoak_gpu_clock_event_active', { ...S1, reason: 'gpu_idle' }), 1);
  t.equal(await value(reg, 'llmsoak_gpu_energy_joules_total', S0), undefined, 'nvidia-smi has no energy counter');
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 120));
    await c.collectOnce();
  }
  t.equal(await value(reg, 'llmsoak_collector_failures_total', { collector: 'gpu' }), 0);
  t.equal(smi.spawns().length, 1, 'one child for all collections');
  t.match(smi.spawns()[0] ?? '', /clocks_event_reasons\.active/);
  await c.stop();
  t.same(
    lines().filter((l) => !String(l.msg).includes('using nvidia-smi')),
    [],
  );
});

t.test('nvidia-smi of an older driver: respawned with clocks_throttle_reasons', async (t) => {
  const smi = fakeSmi('legacy', true);
  const reg = new Registry();
  const { logger } = captureLogger();
  const c = new GpuCollector(options(reg, logger, { nvidiaSmiPath: smi.path }));
  t.teardown(() => c.stop());
  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'gpu' }), 1);
  t.equal(await value(reg, 'llmsoak_gpu_clock_event_active', { ...S0, reason: 'sw_power_cap' }), 1);
  const spawns = smi.spawns();
  t.equal(spawns.length, 2);
  t.match(spawns[1] ?? '', /clocks_throttle_reasons\.active/);
  await c.stop();
});

t.test('dcgm-exporter backend', async (t) => {
  const text = readFileSync(join(fixturesDir(), 'dcgm-exporter.txt'), 'utf8');
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;

  const reg = new Registry();
  const c = new GpuCollector(options(reg, captureLogger().logger, { backend: 'auto', dcgmUrl: `http://127.0.0.1:${port}/metrics` }));
  t.teardown(() => c.stop());
  await c.collectOnce();
  await c.collectOnce();
  t.equal(hits, 2);
  const D0 = { gpu: '0', uuid: 'GPU-5fd3f2a4-1b1c-4b7e-9d55-3f5a1c2b9e01', name: 'NVIDIA H100 80GB HBM3' };
  const D1 = { gpu: '1', uuid: 'GPU-8a41c0de-77a2-4c3e-a1f0-0b9b7d6e5c02', name: 'NVIDIA H100 80GB HBM3' };
  t.equal(c.backendKind, 'dcgm');
  t.equal(await value(reg, 'llmsoak_gpu_utilization_ratio', D0), 0.93);
  t.equal(await value(reg, 'llmsoak_gpu_memory_used_bytes', D0), 75840 * MIB);
  t.equal(await value(reg, 'llmsoak_gpu_memory_total_bytes', D0), (75840 + 5120 + 599) * MIB);
  t.equal(await value(reg, 'llmsoak_gpu_power_watts', D0), 402.118);
  t.equal(await value(reg, 'llmsoak_gpu_energy_joules_total', D0), 98765432.1);
  t.equal(await value(reg, 'llmsoak_gpu_sm_clock_hertz', D1), 1.755e9);
  t.equal(await value(reg, 'llmsoak_gpu_sm_active_ratio', D0), 0.812345);
  t.equal(await value(reg, 'llmsoak_gpu_sm_active_ratio', D1), 0.05, 'the MIG instance row is left out');
  t.equal(await value(reg, 'llmsoak_gpu_tensor_active_ratio', D0), 0.42);
  t.equal(await value(reg, 'llmsoak_gpu_dram_active_ratio', D0), 0.77);
  t.equal(await value(reg, 'llmsoak_gpu_pcie_receive_bytes_per_second', D0), 987654321);
  t.equal(await value(reg, 'llmsoak_gpu_clock_event_active', { ...D0, reason: 'sw_power_cap' }), 1);
  t.equal(await value(reg, 'llmsoak_gpu_clock_event_active', { ...D0, reason: 'hw_thermal' }), 1);
  t.equal(await value(reg, 'llmsoak_gpu_clock_event_active', { ...D0, reason: 'hw_slowdown' }), 0);
  t.equal(c.gpuCount(), 2);
  t.equal(dcgmReadings('# nothing here\n').length, 0);
  await c.stop();
});
