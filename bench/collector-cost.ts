/**
 * `npm run bench-collector-cost`: CPU and wall time of one pass of each /proc
 * collector over this machine's real /proc, as the daemon's main thread
 * spends them every collector interval. Prints figures, asserts nothing.
 *
 *   node dist/bench/collector-cost.js [--runs=300]
 *
 * The process collector watches this process with its descendants (it walks
 * every pid's /proc/<pid>/stat to find them, as it does for a real target);
 * the pids on the machine are printed, since that walk is what scales.
 */
import { silentLogger } from '../src/log.js';
import { systemClock } from '../src/clock.js';
import { createRegistry } from '../src/metrics/registry.js';
import { defaultCollectorsConfig } from '../src/collectors/index.js';
import { ProcessCollector } from '../src/collectors/process.js';
import { HostCollector } from '../src/collectors/host.js';
import { listPids } from '../src/collectors/procfs.js';
import type { PeriodicCollector } from '../src/collectors/base.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k as string, v ?? 'true'] as const;
  }),
);
const RUNS = Number(args.get('runs') ?? 300);

async function cost(c: PeriodicCollector): Promise<{ cpuMs: number; wallMs: number }> {
  for (let i = 0; i < 10; i++) await c.collectOnce(); // warm up (JIT, first resolution)
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < RUNS; i++) await c.collectOnce();
  const wallMs = (performance.now() - t0) / RUNS;
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000 / RUNS, wallMs };
}

async function main(): Promise<void> {
  const base = { intervalMs: 1000, timeoutMs: 4000, logger: silentLogger(), clock: systemClock };
  const d = defaultCollectorsConfig().host;
  const host = {
    procRoot: '/proc',
    sysRoot: '/sys',
    portable: false,
    networkDeviceExclude: new RegExp(d.networkDeviceExclude),
    diskDeviceExclude: new RegExp(d.diskDeviceExclude),
    maxDevices: d.maxDevices,
  };
  const collectors: [string, PeriodicCollector][] = [
    ['process (target + descendants)', new ProcessCollector({ ...base, registry: createRegistry(), procRoot: '/proc', pid: () => process.pid, includeChildren: true })],
    ['process (target only)', new ProcessCollector({ ...base, registry: createRegistry(), procRoot: '/proc', pid: () => process.pid, includeChildren: false })],
    ['host (with host limits)', new HostCollector({ ...base, registry: createRegistry(), ...host })],
  ];
  console.log(`collector cost over /proc: ${listPids('/proc').length} pids on this machine, ${RUNS} passes each, node ${process.version}\n`);
  console.log('| collector | CPU ms a pass | wall ms a pass |');
  console.log('|---|---|---|');
  for (const [name, c] of collectors) {
    const r = await cost(c);
    console.log(`| ${name} | ${r.cpuMs.toFixed(3)} | ${r.wallMs.toFixed(3)} |`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
