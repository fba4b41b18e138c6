/**
 * Host collector. On Linux everything comes from /proc (and /sys/block to tell
 * whole disks from partitions): no child process, a few small async reads.
 * Elsewhere (a developer's macOS) it falls back to node:os for CPU, memory and
 * load, and to systeminformation (bounded by the run's timeout) for network.
 *
 * Series (contract in DESIGN.md):
 *   llmsoak_host_cpu_utilization_ratio        busy share of all CPUs over the last interval (0–1);
 *                                             absent on the very first run (needs two samples)
 *   llmsoak_host_memory_available_bytes       MemAvailable
 *   llmsoak_host_memory_total_bytes           MemTotal
 *   llmsoak_host_load1                        1-minute load average
 *   llmsoak_host_network_receive_bytes_total{device} / llmsoak_host_network_transmit_bytes_total{device}
 *   llmsoak_host_disk_read_bytes_total{device} / llmsoak_host_disk_written_bytes_total{device}
 *   llmsoak_host_pressure_{cpu,memory,io}_waiting_seconds_total   PSI "some" (some task stalled)
 *   llmsoak_host_pressure_{memory,io}_stalled_seconds_total       PSI "full" (all tasks stalled)
 *   host limits (TCP retransmits, listen overflows, sockets, fds, ephemeral ports): see ./host-limits.ts
 * Counters mirror the kernel's cumulative values (first sample included), with
 * reset detection (an interface re-created starts again from its own value).
 */
import os from 'node:os';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Counter, Gauge } from 'prom-client';
import { OK, PeriodicCollector, fail, type PeriodicOptions, type RunResult } from './base.js';
import { DeltaTracker, MonotonicCounter, getOrCreateCounter, getOrCreateGauge } from './metrics-util.js';
import { HostLimits } from './host-limits.js';
import { parseDiskstats, parseLoadavg, parseMeminfo, parseNetDev, parsePressure, parseProcStatCpu, readOptional, readText, type CpuTimes } from './procfs.js';

export interface HostCollectorOptions extends PeriodicOptions {
  /** Root of procfs; tests point it at fixtures. */
  procRoot: string;
  /** Root of sysfs (only /sys/block is read). */
  sysRoot: string;
  /** Network interfaces to leave out. */
  networkDeviceExclude: RegExp;
  /** Block devices to leave out (partitions are always left out when /sys/block is readable). */
  diskDeviceExclude: RegExp;
  /** At most this many devices per family (bounded cardinality). */
  maxDevices: number;
  /** Force the portable (non-/proc) path; default: process.platform !== 'linux'. */
  portable?: boolean;
}

type PsiResource = 'cpu' | 'memory' | 'io';

export class HostCollector extends PeriodicCollector {
  private readonly opts: HostCollectorOptions;
  private readonly cpuRatio: Gauge;
  private readonly memAvailable: Gauge;
  private readonly memTotal: Gauge;
  private readonly load1: Gauge;
  private readonly netRx: MonotonicCounter<'device'>;
  private readonly netTx: MonotonicCounter<'device'>;
  private readonly diskRead: MonotonicCounter<'device'>;
  private readonly diskWritten: MonotonicCounter<'device'>;
  private readonly psiSome: Record<PsiResource, MonotonicCounter<never>>;
  private readonly psiFull: Record<'memory' | 'io', MonotonicCounter<never>>;
  private readonly deltas = new DeltaTracker();
  private readonly limits: HostLimits;
  private prevCpu: CpuTimes | undefined;

  constructor(opts: HostCollectorOptions) {
    super('host', opts);
    this.opts = opts;
    const r = opts.registry;
    this.cpuRatio = getOrCreateGauge(r, 'llmsoak_host_cpu_utilization_ratio', 'Share of all CPUs busy (not idle, not iowait) over the last collection interval, 0-1.', []);
    this.memAvailable = getOrCreateGauge(r, 'llmsoak_host_memory_available_bytes', 'Memory available for new work without swapping (MemAvailable), bytes.', []);
    this.memTotal = getOrCreateGauge(r, 'llmsoak_host_memory_total_bytes', 'Total usable memory (MemTotal), bytes.', []);
    this.load1 = getOrCreateGauge(r, 'llmsoak_host_load1', '1-minute load average.', []);
    const counter = (name: string, help: string): Counter<'device'> => getOrCreateCounter(r, name, help, ['device']);
    this.netRx = new MonotonicCounter(counter('llmsoak_host_network_receive_bytes_total', 'Bytes received by the network interface.'));
    this.netTx = new MonotonicCounter(counter('llmsoak_host_network_transmit_bytes_total', 'Bytes transmitted by the network interface.'));
    this.diskRead = new MonotonicCounter(counter('llmsoak_host_disk_read_bytes_total', 'Bytes read from the block device.'));
    this.diskWritten = new MonotonicCounter(counter('llmsoak_host_disk_written_bytes_total', 'Bytes written to the block device.'));
    const psi = (name: string, help: string): MonotonicCounter<never> => new MonotonicCounter(getOrCreateCounter<never>(r, name, help, []));
    this.psiSome = {
      cpu: psi('llmsoak_host_pressure_cpu_waiting_seconds_total', 'Pressure stall information: time at least one runnable task waited for a CPU, seconds.'),
      memory: psi('llmsoak_host_pressure_memory_waiting_seconds_total', 'Pressure stall information: time at least one task was stalled on memory, seconds.'),
      io: psi('llmsoak_host_pressure_io_waiting_seconds_total', 'Pressure stall information: time at least one task was stalled on I/O, seconds.'),
    };
    this.psiFull = {
      memory: psi('llmsoak_host_pressure_memory_stalled_seconds_total', 'Pressure stall information: time all non-idle tasks were stalled on memory at once, seconds.'),
      io: psi('llmsoak_host_pressure_io_stalled_seconds_total', 'Pressure stall information: time all non-idle tasks were stalled on I/O at once, seconds.'),
    };
    this.limits = new HostLimits(r);
  }

  protected async collect(signal: AbortSignal): Promise<RunResult> {
    const portable = this.opts.portable ?? process.platform !== 'linux';
    return portable ? this.collectPortable(signal) : this.collectProc(signal);
  }

  private async collectProc(signal: AbortSignal): Promise<RunResult> {
    const p = this.opts.procRoot;
    const [stat, meminfo, loadavg, netdev, diskstats, blockDevs, psiCpu, psiMem, psiIo] = await Promise.all([
      readText(join(p, 'stat'), signal),
      readText(join(p, 'meminfo'), signal),
      readText(join(p, 'loadavg'), signal),
      readOptional(join(p, 'net', 'dev'), signal),
      readOptional(join(p, 'diskstats'), signal),
      readdir(join(this.opts.sysRoot, 'block')).then(
        (n) => new Set(n),
        () => undefined,
      ),
      readOptional(join(p, 'pressure', 'cpu'), signal),
      readOptional(join(p, 'pressure', 'memory'), signal),
      readOptional(join(p, 'pressure', 'io'), signal),
    ]);
    if (signal.aborted) return fail('aborted');

    const cpu = parseProcStatCpu(stat);
    if (cpu === undefined) return fail('no cpu line in /proc/stat');
    this.setCpu(cpu);

    const mem = parseMeminfo(meminfo);
    const total = mem.get('MemTotal');
    const avail = mem.get('MemAvailable') ?? (mem.get('MemFree') ?? 0) + (mem.get('Cached') ?? 0) + (mem.get('Buffers') ?? 0);
    if (total === undefined) return fail('no MemTotal in /proc/meminfo');
    this.memTotal.set(total);
    this.memAvailable.set(avail);

    const load = parseLoadavg(loadavg);
    if (load !== undefined) this.load1.set(load);

    if (netdev !== undefined) {
      let n = 0;
      for (const d of parseNetDev(netdev)) {
        if (this.opts.networkDeviceExclude.test(d.device)) continue;
        if (++n > this.opts.maxDevices) break;
        this.netRx.add({ device: d.device }, this.deltas.delta(`rx/${d.device}`, d.receiveBytes, 'full'));
        this.netTx.add({ device: d.device }, this.deltas.delta(`tx/${d.device}`, d.transmitBytes, 'full'));
      }
    }

    if (diskstats !== undefined) {
      let n = 0;
      for (const d of parseDiskstats(diskstats)) {
        // /sys/block names use '!' where the device name has '/' (cciss/c0d0)
        if (blockDevs !== undefined && !blockDevs.has(d.device.replaceAll('/', '!'))) continue;
        if (this.opts.diskDeviceExclude.test(d.device)) continue;
        if (++n > this.opts.maxDevices) break;
        this.diskRead.add({ device: d.device }, this.deltas.delta(`dr/${d.device}`, d.readBytes, 'full'));
        this.diskWritten.add({ device: d.device }, this.deltas.delta(`dw/${d.device}`, d.writtenBytes, 'full'));
      }
    }

    const psiFiles: Array<[PsiResource, string | undefined]> = [
      ['cpu', psiCpu],
      ['memory', psiMem],
      ['io', psiIo],
    ];
    for (const [res, text] of psiFiles) {
      if (text === undefined) continue; // kernel without PSI (or psi=0): series simply absent
      const ps = parsePressure(text);
      if (ps.someSeconds !== undefined) this.psiSome[res].add({}, this.deltas.delta(`psi-some/${res}`, ps.someSeconds, 'full'));
      if (res !== 'cpu' && ps.fullSeconds !== undefined) {
        this.psiFull[res].add({}, this.deltas.delta(`psi-full/${res}`, ps.fullSeconds, 'full'));
      }
    }
    this.deltas.sweep();
    await this.limits.collect(p, signal);
    if (signal.aborted) return fail('aborted');
    return OK;
  }

  private setCpu(cpu: CpuTimes): void {
    const prev = this.prevCpu;
    this.prevCpu = cpu;
    if (prev === undefined) return;
    const dt = cpu.total - prev.total;
    if (dt <= 0) return;
    this.cpuRatio.set(Math.min(1, Math.max(0, (cpu.busy - prev.busy) / dt)));
  }

  /** Non-Linux: node:os for CPU/memory/load, systeminformation for network. */
  private async collectPortable(signal: AbortSignal): Promise<RunResult> {
    let busy = 0;
    let total = 0;
    for (const c of os.cpus()) {
      const t = c.times;
      const all = t.user + t.nice + t.sys + t.idle + t.irq;
      total += all;
      busy += all - t.idle;
    }
    this.setCpu({ busy, total });
    this.memTotal.set(os.totalmem());
    this.memAvailable.set(os.freemem());
    this.load1.set(os.loadavg()[0] ?? 0);
    try {
      const si = await import('systeminformation');
      const stats = await si.networkStats('*');
      if (signal.aborted) return fail('aborted');
      let n = 0;
      for (const s of stats) {
        if (this.opts.networkDeviceExclude.test(s.iface)) continue;
        if (++n > this.opts.maxDevices) break;
        this.netRx.add({ device: s.iface }, this.deltas.delta(`rx/${s.iface}`, s.rx_bytes, 'full'));
        this.netTx.add({ device: s.iface }, this.deltas.delta(`tx/${s.iface}`, s.tx_bytes, 'full'));
      }
      this.deltas.sweep();
    } catch (err) {
      this.log.debug({ err: String(err) }, 'network statistics unavailable');
    }
    return OK;
  }
}
