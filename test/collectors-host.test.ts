/**
 * Host collector: exact values from a fixture /proc (copied to a temp dir so
 * a second collection can see the counters move), then the real /proc.
 */
import t from 'tap';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.js';
import { defaultCollectorsConfig } from '../src/collectors/index.js';
import { HostCollector, type HostCollectorOptions } from '../src/collectors/host.js';
import { parsePidStat, parsePressure, parseStatusRss } from '../src/collectors/procfs.js';
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

async function value(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = reg.getSingleMetric(name);
  if (m === undefined) return undefined;
  const got = await m.get();
  const hit = got.values.find((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x) && Object.keys(v.labels).every((k) => k in labels));
  return hit?.value;
}

async function devices(reg: Registry, name: string): Promise<string[]> {
  const m = reg.getSingleMetric(name);
  if (m === undefined) return [];
  return (await m.get()).values.map((v) => String(v.labels.device)).sort();
}

function options(reg: Registry, procRoot: string, sysRoot: string, portable = false): HostCollectorOptions {
  const d = defaultCollectorsConfig().host;
  return {
    intervalMs: 1000,
    timeoutMs: 4000,
    logger: silentLogger(),
    clock: systemClock,
    registry: reg,
    procRoot,
    sysRoot,
    portable,
    networkDeviceExclude: new RegExp(d.networkDeviceExclude),
    diskDeviceExclude: new RegExp(d.diskDeviceExclude),
    maxDevices: d.maxDevices,
  };
}

t.test('procfs parsers', async (t) => {
  const st = parsePidStat('4242 (tricky ) (name)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 7 0 123456 1000000 2000 18446744073709551615');
  t.same(st && { pid: st.pid, comm: st.comm, ppid: st.ppid, cpuTicks: st.cpuTicks, numThreads: st.numThreads, startTicks: st.startTicks }, {
    pid: 4242,
    comm: 'tricky ) (name)',
    ppid: 1,
    cpuTicks: 300,
    numThreads: 7,
    startTicks: 123456,
  });
  t.equal(parseStatusRss('Name:\tnode\nVmRSS:\t  123456 kB\nThreads:\t7\n'), 123456 * 1024);
  t.equal(parseStatusRss('Name:\tkthreadd\n'), undefined);
  t.same(parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\n'), { someSeconds: 1.5 });
});

t.test('fixture /proc: values, exclusions, counters and the CPU ratio', async (t) => {
  const fx = fixturesDir();
  const tmp = mkdtempSync(join(tmpdir(), 'llmsoak-host-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const proc = join(tmp, 'proc');
  cpSync(join(fx, 'proc'), proc, { recursive: true });
  const reg = new Registry();
  const c = new HostCollector(options(reg, proc, join(fx, 'sys')));

  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'host' }), 1);
  t.equal(await value(reg, 'llmsoak_host_memory_total_bytes'), 131891212 * 1024);
  t.equal(await value(reg, 'llmsoak_host_memory_available_bytes'), 99887766 * 1024);
  t.equal(await value(reg, 'llmsoak_host_load1'), 3.52);
  t.equal(await value(reg, 'llmsoak_host_cpu_utilization_ratio'), undefined, 'needs two samples: absent, not 0');
  t.same(await devices(reg, 'llmsoak_host_network_receive_bytes_total'), ['ens5f1', 'eth0'], 'lo, veth*, docker0 left out');
  t.equal(await value(reg, 'llmsoak_host_network_receive_bytes_total', { device: 'eth0' }), 123456789012);
  t.equal(await value(reg, 'llmsoak_host_network_transmit_bytes_total', { device: 'eth0' }), 23456789012);
  t.same(await devices(reg, 'llmsoak_host_disk_read_bytes_total'), ['nvme0n1', 'sda'], 'whole disks only, no loop');
  t.equal(await value(reg, 'llmsoak_host_disk_read_bytes_total', { device: 'nvme0n1' }), 987654320 * 512);
  t.equal(await value(reg, 'llmsoak_host_disk_written_bytes_total', { device: 'sda' }), 400000 * 512);
  t.equal(await value(reg, 'llmsoak_host_pressure_cpu_waiting_seconds_total'), 123.456789);
  t.equal(await value(reg, 'llmsoak_host_pressure_memory_waiting_seconds_total'), 2.5);
  t.equal(await value(reg, 'llmsoak_host_pressure_memory_stalled_seconds_total'), 1.5);
  t.equal(await value(reg, 'llmsoak_host_pressure_io_waiting_seconds_total'), 45);
  t.equal(await value(reg, 'llmsoak_host_pressure_io_stalled_seconds_total'), 30);

  // 2nd sample: +800 busy ticks of +2000; eth0 re-created (rx restarts at 1000); tx +5
  const stat = readFileSync(join(proc, 'stat'), 'utf8').replace('cpu  100000 500 30000 800000 20000 0 1500 500 0 0', 'cpu  100600 500 30200 801000 20200 0 1500 500 0 0');
  writeFileSync(join(proc, 'stat'), stat);
  const dev = readFileSync(join(proc, 'net', 'dev'), 'utf8')
    .replace('eth0: 123456789012', 'eth0: 1000')
    .replace('23456789012', '23456789017');
  writeFileSync(join(proc, 'net', 'dev'), dev);
  rmSync(join(proc, 'pressure'), { recursive: true });

  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_host_cpu_utilization_ratio'), 0.4);
  t.equal(await value(reg, 'llmsoak_host_network_receive_bytes_total', { device: 'eth0' }), 123456789012 + 1000, 'reset: never goes down');
  t.equal(await value(reg, 'llmsoak_host_network_transmit_bytes_total', { device: 'eth0' }), 23456789017);
  t.equal(await value(reg, 'llmsoak_host_pressure_io_waiting_seconds_total'), 45, 'a counter never disappears');
  await c.stop();
});

t.test('the real /proc (and the portable path)', async (t) => {
  for (const portable of [false, true]) {
    const reg = new Registry();
    const c = new HostCollector(options(reg, '/proc', '/sys', portable));
    await c.collectOnce();
    await new Promise((r) => setTimeout(r, 60));
    await c.collectOnce();
    t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'host' }), 1, `portable=${portable}`);
    t.ok(((await value(reg, 'llmsoak_host_memory_total_bytes')) ?? 0) > 64 * 1024 * 1024);
    const avail = (await value(reg, 'llmsoak_host_memory_available_bytes')) ?? -1;
    t.ok(avail > 0 && avail <= ((await value(reg, 'llmsoak_host_memory_total_bytes')) ?? 0));
    const cpu = await value(reg, 'llmsoak_host_cpu_utilization_ratio');
    t.ok(cpu === undefined || (cpu >= 0 && cpu <= 1), `cpu ratio ${String(cpu)} within 0-1`);
    t.ok(((await value(reg, 'llmsoak_collector_duration_seconds', { collector: 'host' })) ?? 10) < 5);
    await c.stop();
  }
});
