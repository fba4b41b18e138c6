/**
 * Every collector's series in one registry must pass `promtool check metrics`
 * (naming, units, counters ending in _total with TYPE counter, HELP present).
 * promtool absent is a failure, not a skip: apt-get install prometheus.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.js';
import { CostCollector } from '../src/collectors/cost.js';
import { GpuCollector } from '../src/collectors/gpu.js';
import { HostCollector } from '../src/collectors/host.js';
import { defaultCollectorsConfig } from '../src/collectors/index.js';
import { ProcessCollector } from '../src/collectors/process.js';
import { ServerCollector } from '../src/collectors/server.js';
import { silentLogger } from '../src/log.js';

function fixturesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const f = join(dir, 'test', 'fixtures', 'collectors');
    if (existsSync(f)) return f;
    dir = dirname(dir);
  }
  throw new Error('test/fixtures/collectors not found');
}

function findPromtool(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p !== '' ? p : undefined;
}

t.test('promtool check metrics on every collector series', async (t) => {
  const promtool = findPromtool();
  if (promtool === undefined) {
    t.fail('promtool not found: apt-get install prometheus (provides promtool) to run this check');
    return;
  }
  const fx = fixturesDir();
  const tmp = mkdtempSync(join(tmpdir(), 'llmsoak-promtool-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  execFileSync('cc', ['-shared', '-fPIC', '-o', join(tmp, 'libnvidia-ml.so.1'), join(fx, 'fake-nvml.c')]);

  let body = readFileSync(join(fx, 'server', 'vllm-v1-a.txt'), 'utf8');
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(body));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;

  const reg = new Registry();
  const base = { intervalMs: 1000, timeoutMs: 4000, logger: silentLogger(), clock: systemClock, registry: reg };
  const d = defaultCollectorsConfig();
  const gpu = new GpuCollector({
    ...base,
    backend: 'nvml',
    libraryPath: join(tmp, 'libnvidia-ml.so.1'),
    nvidiaSmiPath: 'nvidia-smi',
    retryMs: 300_000,
    gpm: true,
    pcie: true,
    maxBytes: 1 << 20,
  });
  const srv = new ServerCollector({ ...base, url, maxBytes: 8 << 20, maxModels: 8, dialect: 'auto' });
  let tokens = 0;
  const collectors = [
    new HostCollector({
      ...base,
      procRoot: join(fx, 'proc'),
      sysRoot: join(fx, 'sys'),
      networkDeviceExclude: new RegExp(d.host.networkDeviceExclude),
      diskDeviceExclude: new RegExp(d.host.diskDeviceExclude),
      maxDevices: 32,
    }),
    new ProcessCollector({ ...base, procRoot: '/proc', pid: () => process.pid, includeChildren: true }),
    gpu,
    srv,
    new CostCollector({
      ...base,
      windowMs: 60_000,
      gpuHourPrice: 2.5,
      inputs: { outputTokens: () => (tokens += 5000), energyJoules: () => gpu.energyJoulesTotal(), gpuCount: () => gpu.gpuCount() },
    }),
  ];
  for (let round = 0; round < 2; round++) {
    for (const c of collectors) await c.collectOnce();
    body = readFileSync(join(fx, 'server', 'vllm-v1-b.txt'), 'utf8');
    await new Promise((r) => setTimeout(r, 20));
  }
  const text = await reg.metrics();
  for (const c of collectors) await c.stop();

  for (const name of [
    'llmsoak_collector_last_success',
    'llmsoak_host_network_receive_bytes_total',
    'llmsoak_host_pressure_io_stalled_seconds_total',
    'llmsoak_target_process_cpu_seconds_total',
    'llmsoak_gpu_energy_joules_total',
    'llmsoak_gpu_clock_event_active',
    'llmsoak_gpu_sm_active_ratio',
    'llmsoak_server_time_to_first_token_mean_seconds',
    'llmsoak_server_prefix_cache_hit_ratio',
    'llmsoak_cost_per_million_output_tokens',
    'llmsoak_energy_joules_per_output_token',
  ])
    t.match(text, new RegExp(`^${name}(\\{| )`, 'm'), `${name} is exported`);

  const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  t.equal(r.status, 0, `promtool check metrics: ${r.stdout}${r.stderr}`);
  t.equal((r.stdout + r.stderr).trim(), '', 'no lint findings');
});
