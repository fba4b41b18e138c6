/**
 * The GPU series, whatever backend (NVML, nvidia-smi, dcgm-exporter) read
 * them. Labels gpu (index), uuid, name. Base units: ratios 0–1, bytes, watts,
 * joules, hertz, bytes per second. A value a backend did not give is absent
 * (never 0); a GPU that vanished loses its series at the next collection.
 */
import type { Registry } from 'prom-client';
import { DeltaTracker, MonotonicCounter, SnapshotGauge, getOrCreateCounter, getOrCreateGauge } from './metrics-util.js';

export interface GpuReading {
  index: number;
  uuid: string;
  name: string;
  /** Share of time a kernel was running (NVML "gpu" utilisation), 0–1. */
  utilizationRatio?: number;
  /** Share of time device memory was read or written (NVML "memory" utilisation), 0–1. */
  memoryBusyRatio?: number;
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
  temperatureCelsius?: number;
  powerWatts?: number;
  powerLimitWatts?: number;
  /** Cumulative energy since the driver loaded, joules. */
  energyJoules?: number;
  smClockHertz?: number;
  memoryClockHertz?: number;
  /** Clock-event (throttle) reasons bitmask as NVML defines it. */
  clockEventReasons?: bigint;
  pcieTransmitBytesPerSecond?: number;
  pcieReceiveBytesPerSecond?: number;
  /** GPM / DCGM profiling ratios, 0–1. */
  smActiveRatio?: number;
  smOccupancyRatio?: number;
  tensorActiveRatio?: number;
  dramActiveRatio?: number;
}

/** NVML clock-event reason bits (nvmlClocksEventReason*), exported one series per reason. */
export const CLOCK_EVENT_REASONS: ReadonlyArray<readonly [string, bigint]> = [
  ['gpu_idle', 0x1n],
  ['applications_clocks_setting', 0x2n],
  ['sw_power_cap', 0x4n],
  ['hw_slowdown', 0x8n],
  ['sync_boost', 0x10n],
  ['sw_thermal', 0x20n],
  ['hw_thermal', 0x40n],
  ['hw_power_brake', 0x80n],
];

type GpuLabel = 'gpu' | 'uuid' | 'name';
type NumericField = {
  [K in keyof GpuReading]-?: GpuReading[K] extends number | undefined ? (K extends 'index' ? never : K) : never;
}[keyof GpuReading];

const GAUGES: ReadonlyArray<readonly [NumericField, string, string]> = [
  ['utilizationRatio', 'llmsoak_gpu_utilization_ratio', 'Share of the sample period a kernel was running on the GPU, 0-1 (NVML utilization.gpu).'],
  ['memoryBusyRatio', 'llmsoak_gpu_memory_busy_ratio', 'Share of the sample period device memory was read or written, 0-1 (not bandwidth saturation).'],
  ['memoryUsedBytes', 'llmsoak_gpu_memory_used_bytes', 'GPU memory in use, bytes.'],
  ['memoryTotalBytes', 'llmsoak_gpu_memory_total_bytes', 'GPU memory in total, bytes.'],
  ['temperatureCelsius', 'llmsoak_gpu_temperature_celsius', 'GPU core temperature, degrees Celsius.'],
  ['powerWatts', 'llmsoak_gpu_power_watts', 'GPU power draw, watts.'],
  ['powerLimitWatts', 'llmsoak_gpu_power_limit_watts', 'Enforced GPU power limit, watts.'],
  ['smClockHertz', 'llmsoak_gpu_sm_clock_hertz', 'Current SM clock, hertz.'],
  ['memoryClockHertz', 'llmsoak_gpu_memory_clock_hertz', 'Current memory clock, hertz.'],
  ['pcieTransmitBytesPerSecond', 'llmsoak_gpu_pcie_transmit_bytes_per_second', 'PCIe transmit throughput (GPU to host), bytes per second.'],
  ['pcieReceiveBytesPerSecond', 'llmsoak_gpu_pcie_receive_bytes_per_second', 'PCIe receive throughput (host to GPU), bytes per second.'],
  ['smActiveRatio', 'llmsoak_gpu_sm_active_ratio', 'Share of time at least one warp was active on an SM, averaged over SMs, 0-1 (GPM or DCGM).'],
  ['smOccupancyRatio', 'llmsoak_gpu_sm_occupancy_ratio', 'Resident warps relative to the maximum, averaged over SMs, 0-1 (GPM or DCGM).'],
  ['tensorActiveRatio', 'llmsoak_gpu_tensor_active_ratio', 'Share of time any tensor pipe was active, 0-1 (GPM or DCGM).'],
  ['dramActiveRatio', 'llmsoak_gpu_dram_active_ratio', 'Share of peak DRAM bandwidth in use, 0-1 (GPM or DCGM).'],
];

export class GpuSeries {
  private readonly gauges: Array<readonly [NumericField, SnapshotGauge<GpuLabel>]>;
  private readonly clockEvents: SnapshotGauge<GpuLabel | 'reason'>;
  private readonly backendInfo: SnapshotGauge<'backend'>;
  private readonly energy: MonotonicCounter<GpuLabel>;
  private readonly energyDeltas = new DeltaTracker();
  private gpuCount: number | undefined;

  constructor(registry: Registry) {
    const labels: readonly GpuLabel[] = ['gpu', 'uuid', 'name'];
    this.gauges = GAUGES.map(([field, name, help]) => [field, new SnapshotGauge(getOrCreateGauge(registry, name, help, labels))] as const);
    this.clockEvents = new SnapshotGauge(
      getOrCreateGauge(registry, 'llmsoak_gpu_clock_event_active', 'Whether this clock-event (throttle) reason is active on the GPU now (1) or not (0).', [...labels, 'reason']),
    );
    this.backendInfo = new SnapshotGauge(getOrCreateGauge(registry, 'llmsoak_gpu_backend_info', 'The source of the GPU series now in use (nvml, nvidia-smi or dcgm): always 1.', ['backend']));
    this.energy = new MonotonicCounter(getOrCreateCounter(registry, 'llmsoak_gpu_energy_joules_total', 'Energy consumed by the GPU since its driver loaded, joules.', labels));
  }

  /** Writes one collection; GPUs and values not in `readings` disappear. */
  write(backend: string, readings: readonly GpuReading[]): void {
    this.backendInfo.set({ backend }, 1);
    this.backendInfo.commit();
    for (const r of readings) {
      const l = { gpu: String(r.index), uuid: r.uuid, name: r.name };
      for (const [field, g] of this.gauges) g.set(l, r[field]);
      if (r.clockEventReasons !== undefined) {
        for (const [reason, bit] of CLOCK_EVENT_REASONS) {
          this.clockEvents.set({ ...l, reason }, (r.clockEventReasons & bit) !== 0n ? 1 : 0);
        }
      }
      if (r.energyJoules !== undefined) {
        this.energy.add(l, this.energyDeltas.delta(r.uuid || l.gpu, r.energyJoules, 'full'));
      }
    }
    for (const [, g] of this.gauges) g.commit();
    this.clockEvents.commit();
    this.energyDeltas.sweep();
    this.gpuCount = readings.length;
  }

  /** Removes every gauge series (backend lost); counters stay. */
  clear(): void {
    for (const [, g] of this.gauges) g.clear();
    this.clockEvents.clear();
    this.backendInfo.clear();
  }

  /** GPUs seen at the last collection (undefined before any). */
  count(): number | undefined {
    return this.gpuCount;
  }

  /** Sum of our energy counters, joules (undefined when no backend gives energy). */
  energyJoulesTotal(): number | undefined {
    const t = this.energy.total();
    return t > 0 ? t : undefined;
  }
}
