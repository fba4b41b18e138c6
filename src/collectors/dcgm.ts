/**
 * dcgm-exporter backend: where dcgm-exporter already runs (port 9400 by
 * custom), read its text instead of duplicating it, mapped into the same GPU
 * series (gpu ← label gpu, uuid ← UUID, name ← modelName), in base units.
 * MIG instances (series with a non-empty GPU_I_ID) are left out: the GPU
 * series describe whole GPUs.
 */
import type { Dispatcher } from 'undici';
import type { GpuReading } from './gpu-series.js';
import { fetchExposition, parseExposition, type Sample } from './prom-text.js';

const MIB = 1024 * 1024;

type Field = keyof Omit<GpuReading, 'index' | 'uuid' | 'name' | 'clockEventReasons'>;

/** DCGM field → reading field and the factor to base units (negative: divide by it). First listed wins. */
const MAP: ReadonlyArray<readonly [string, Field, number]> = [
  ['DCGM_FI_DEV_GPU_UTIL', 'utilizationRatio', -100],
  ['DCGM_FI_DEV_MEM_COPY_UTIL', 'memoryBusyRatio', -100],
  ['DCGM_FI_DEV_FB_USED', 'memoryUsedBytes', MIB],
  ['DCGM_FI_DEV_FB_TOTAL', 'memoryTotalBytes', MIB],
  ['DCGM_FI_DEV_GPU_TEMP', 'temperatureCelsius', 1],
  ['DCGM_FI_DEV_POWER_USAGE', 'powerWatts', 1],
  ['DCGM_FI_DEV_ENFORCED_POWER_LIMIT', 'powerLimitWatts', 1],
  ['DCGM_FI_DEV_POWER_MGMT_LIMIT', 'powerLimitWatts', 1],
  ['DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'energyJoules', -1000],
  ['DCGM_FI_DEV_SM_CLOCK', 'smClockHertz', 1e6],
  ['DCGM_FI_DEV_MEM_CLOCK', 'memoryClockHertz', 1e6],
  ['DCGM_FI_PROF_PCIE_TX_BYTES', 'pcieTransmitBytesPerSecond', 1],
  ['DCGM_FI_PROF_PCIE_RX_BYTES', 'pcieReceiveBytesPerSecond', 1],
  ['DCGM_FI_PROF_SM_ACTIVE', 'smActiveRatio', 1],
  ['DCGM_FI_PROF_SM_OCCUPANCY', 'smOccupancyRatio', 1],
  ['DCGM_FI_PROF_PIPE_TENSOR_ACTIVE', 'tensorActiveRatio', 1],
  ['DCGM_FI_PROF_DRAM_ACTIVE', 'dramActiveRatio', 1],
];
const EVENT_FIELDS = ['DCGM_FI_DEV_CLOCKS_EVENT_REASONS', 'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS'];
const FB_FREE = 'DCGM_FI_DEV_FB_FREE';
const FB_RESERVED = 'DCGM_FI_DEV_FB_RESERVED';
const WANTED = new Set([...MAP.map((m) => m[0]), ...EVENT_FIELDS, FB_FREE, FB_RESERVED]);

export function dcgmReadings(text: string): GpuReading[] {
  const { samples } = parseExposition(text, (n) => WANTED.has(n));
  const gpus = new Map<string, GpuReading>();
  const extra = new Map<string, { free?: number; reserved?: number }>();
  const each = (name: string, fn: (r: GpuReading, v: number, s: Sample) => void): void => {
    for (const s of samples.get(name) ?? []) {
      if ((s.labels.GPU_I_ID ?? '') !== '') continue;
      const gpu = s.labels.gpu;
      if (gpu === undefined || !Number.isFinite(s.value)) continue;
      let r = gpus.get(gpu);
      if (r === undefined) {
        r = { index: Number(gpu), uuid: s.labels.UUID ?? '', name: s.labels.modelName ?? '' };
        gpus.set(gpu, r);
      }
      fn(r, s.value, s);
    }
  };
  for (const [name, field, k] of MAP) {
    each(name, (r, v) => {
      if (r[field] === undefined) r[field] = k < 0 ? v / -k : v * k;
    });
  }
  for (const name of EVENT_FIELDS) {
    each(name, (r, v) => {
      if (r.clockEventReasons === undefined && v >= 0) r.clockEventReasons = BigInt(Math.round(v));
    });
  }
  each(FB_FREE, (r, v) => extra.set(String(r.index), { ...extra.get(String(r.index)), free: v }));
  each(FB_RESERVED, (r, v) => extra.set(String(r.index), { ...extra.get(String(r.index)), reserved: v }));
  for (const r of gpus.values()) {
    const e = extra.get(String(r.index));
    if (r.memoryTotalBytes === undefined && r.memoryUsedBytes !== undefined && e?.free !== undefined) {
      r.memoryTotalBytes = r.memoryUsedBytes + (e.free + (e.reserved ?? 0)) * MIB;
    }
  }
  return [...gpus.values()].filter((r) => Number.isInteger(r.index)).sort((a, b) => a.index - b.index);
}

export interface DcgmOptions {
  url: string;
  timeoutMs: number;
  maxBytes: number;
  dispatcher: Dispatcher;
}

export class DcgmBackend {
  readonly kind = 'dcgm';
  constructor(private readonly opts: DcgmOptions) {}

  async read(signal: AbortSignal): Promise<GpuReading[]> {
    const text = await fetchExposition(this.opts.url, { ...this.opts, signal });
    const readings = dcgmReadings(text);
    if (readings.length === 0) throw new Error(`no DCGM_FI_* GPU series at ${this.opts.url}`);
    return readings;
  }

  async close(): Promise<void> {
    // the dispatcher belongs to the collector
  }
}
