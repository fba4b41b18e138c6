/**
 * NVML in-process through koffi (libnvidia-ml.so.1, path configurable).
 *
 * Every NVML call goes through koffi's `.async` (a koffi worker thread), so a
 * slow driver call (nvmlInit without persistence mode, PCIe sampling ~20 ms)
 * never blocks the event loop. All pointer arguments are declared `void *`
 * and out-parameters are Buffers we decode ourselves at fixed offsets: the
 * layouts are written down here once and checked by the fake-library test.
 *
 * Layouts assumed (nvml.h, x86-64/arm64 LP64, little-endian):
 *   nvmlDevice_t, nvmlGpmSample_t  opaque pointers (8 bytes)
 *   nvmlUtilization_t   { unsigned int gpu; unsigned int memory; }            8 bytes, percent
 *   nvmlMemory_t (v1)   { unsigned long long total, free, used; }             24 bytes, bytes
 *   nvmlGpmSupport_t    { unsigned int version (=1); unsigned int isSupportedDevice; }
 *   nvmlGpmMetric_t     { unsigned int metricId;        @0
 *                         nvmlReturn_t nvmlReturn;      @4  (enum, 4 bytes)
 *                         double value;                 @8
 *                         struct { char *shortName, *longName, *unit; } metricInfo; @16,@24,@32 }
 *                       = 40 bytes, alignment 8
 *   nvmlGpmMetricsGet_t { unsigned int version (=1) @0; unsigned int numMetrics @4;
 *                         nvmlGpmSample_t sample1 @8; nvmlGpmSample_t sample2 @16;
 *                         nvmlGpmMetric_t metrics[NVML_GPM_METRIC_MAX] @24 }
 *   NVML_GPM_METRIC_MAX was 98 in CUDA 12.0 headers and is 333 in r550+; the
 *   struct version stayed 1 and the library reads only numMetrics entries, so
 *   we allocate the larger size (24 + 333 × 40 bytes), which serves both.
 * GPM metric values are percentages (0–100); we export ratios (÷100).
 * Units: power and power limit mW, energy mJ, clocks MHz, PCIe KB/s (taken as
 * KiB/s: NVML's "1KB granularity" counters), memory bytes.
 */
import { endianness } from 'node:os';
import { errorMessage } from '../errors.js';
import type { GpuReading } from './gpu-series.js';

export const NVML_SUCCESS = 0;
export const NVML_ERROR_UNINITIALIZED = 1;
export const NVML_ERROR_NOT_SUPPORTED = 3;
export const NVML_ERROR_NO_PERMISSION = 4;
export const NVML_ERROR_GPU_IS_LOST = 15;

const NVML_TEMPERATURE_GPU = 0;
const NVML_CLOCK_SM = 1;
const NVML_CLOCK_MEM = 2;
const NVML_PCIE_UTIL_TX_BYTES = 0;
const NVML_PCIE_UTIL_RX_BYTES = 1;
const NVML_GPM_SUPPORT_VERSION = 1;
const NVML_GPM_METRICS_GET_VERSION = 1;
const NVML_GPM_METRIC_MAX = 333;
const GPM_HEADER_BYTES = 24;
const GPM_METRIC_BYTES = 40;
const NAME_BUFFER = 96; // NVML_DEVICE_NAME_V2_BUFFER_SIZE / NVML_DEVICE_UUID_V2_BUFFER_SIZE

/** GPM metric ids we read and the reading field each fills. */
const GPM_METRICS: ReadonlyArray<readonly [number, 'smActiveRatio' | 'smOccupancyRatio' | 'tensorActiveRatio' | 'dramActiveRatio']> = [
  [2, 'smActiveRatio'], // NVML_GPM_METRIC_SM_UTIL
  [3, 'smOccupancyRatio'], // NVML_GPM_METRIC_SM_OCCUPANCY
  [5, 'tensorActiveRatio'], // NVML_GPM_METRIC_ANY_TENSOR_UTIL
  [10, 'dramActiveRatio'], // NVML_GPM_METRIC_DRAM_BW_UTIL
];

/** A koffi function as we use it (koffi types it with `any`; we narrow at the call). */
interface NativeFn {
  (...args: unknown[]): unknown;
  async: (...args: unknown[]) => void;
}

function callAsync(fn: NativeFn, ...args: unknown[]): Promise<number> {
  return new Promise((resolve, reject) => {
    fn.async(...args, (err: unknown, res: unknown) => {
      if (err !== null && err !== undefined) reject(err instanceof Error ? err : new Error(String(err)));
      else if (typeof res === 'number') resolve(res);
      else reject(new Error(`NVML returned ${typeof res}`));
    });
  });
}

const u32 = (b: Buffer, off = 0): number => b.readUInt32LE(off);
const u64n = (b: Buffer, off = 0): number => Number(b.readBigUInt64LE(off));
const cstr = (b: Buffer): string => {
  const end = b.indexOf(0);
  return b.toString('utf8', 0, end < 0 ? b.length : end).trim();
};

interface Fns {
  init: NativeFn;
  shutdown: NativeFn;
  errorString: NativeFn;
  getCount: NativeFn;
  getHandle: NativeFn;
  getName?: NativeFn;
  getUuid?: NativeFn;
  getUtilization?: NativeFn;
  getMemory?: NativeFn;
  getTemperature?: NativeFn;
  getPower?: NativeFn;
  getPowerLimit?: NativeFn;
  getEnergy?: NativeFn;
  getClock?: NativeFn;
  getClockEvents?: NativeFn;
  getPcie?: NativeFn;
  gpmSupport?: NativeFn;
  gpmAlloc?: NativeFn;
  gpmFree?: NativeFn;
  gpmGet?: NativeFn;
  gpmMetrics?: NativeFn;
}

interface GpmState {
  samples: [bigint, bigint];
  prevIdx: 0 | 1;
  prevValid: boolean;
}

interface Device {
  index: number;
  handle: bigint;
  uuid: string;
  name: string;
  gpm: GpmState | undefined;
}

export class NvmlError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
    readonly fatal: boolean,
  ) {
    super(message);
    this.name = 'NvmlError';
  }
}

export interface NvmlOptions {
  /** Read GPM (SM active/occupancy, tensor, DRAM) where the GPU supports it. */
  gpm: boolean;
  /** Read PCIe throughput (each read samples for ~20 ms in the driver). */
  pcie: boolean;
}

export class NvmlBackend {
  readonly kind = 'nvml';
  private devices: Device[] = [];
  private closed = false;
  private busy = 0;

  private constructor(
    private readonly fns: Fns,
    private readonly opts: NvmlOptions,
  ) {}

  /** Loads the library and initialises NVML; throws NvmlError (fatal) when it cannot. */
  static async open(libraryPath: string, opts: NvmlOptions): Promise<NvmlBackend> {
    if (endianness() !== 'LE') throw new NvmlError('NVML backend supports little-endian hosts only', undefined, true);
    let fns: Fns;
    try {
      const koffi = await import('koffi');
      const lib = koffi.load(libraryPath);
      const req = (decl: string): NativeFn => lib.func(decl);
      const opt = (decl: string): NativeFn | undefined => {
        try {
          return lib.func(decl);
        } catch {
          return undefined; // older driver without this entry point
        }
      };
      fns = {
        init: req('int nvmlInit_v2(void)'),
        shutdown: req('int nvmlShutdown(void)'),
        errorString: req('const char *nvmlErrorString(int result)'),
        getCount: req('int nvmlDeviceGetCount_v2(void *count)'),
        getHandle: req('int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void *device)'),
        getName: opt('int nvmlDeviceGetName(void *device, void *name, unsigned int length)'),
        getUuid: opt('int nvmlDeviceGetUUID(void *device, void *uuid, unsigned int length)'),
        getUtilization: opt('int nvmlDeviceGetUtilizationRates(void *device, void *utilization)'),
        getMemory: opt('int nvmlDeviceGetMemoryInfo(void *device, void *memory)'),
        getTemperature: opt('int nvmlDeviceGetTemperature(void *device, unsigned int sensor, void *temp)'),
        getPower: opt('int nvmlDeviceGetPowerUsage(void *device, void *power)'),
        getPowerLimit: opt('int nvmlDeviceGetEnforcedPowerLimit(void *device, void *limit)'),
        getEnergy: opt('int nvmlDeviceGetTotalEnergyConsumption(void *device, void *energy)'),
        getClock: opt('int nvmlDeviceGetClockInfo(void *device, unsigned int type, void *clock)'),
        getClockEvents: opt('int nvmlDeviceGetCurrentClocksEventReasons(void *device, void *reasons)') ?? opt('int nvmlDeviceGetCurrentClocksThrottleReasons(void *device, void *reasons)'),
        getPcie: opt('int nvmlDeviceGetPcieThroughput(void *device, unsigned int counter, void *value)'),
        gpmSupport: opt('int nvmlGpmQueryDeviceSupport(void *device, void *support)'),
        gpmAlloc: opt('int nvmlGpmSampleAlloc(void *sample)'),
        gpmFree: opt('int nvmlGpmSampleFree(void *sample)'),
        gpmGet: opt('int nvmlGpmSampleGet(void *device, void *sample)'),
        gpmMetrics: opt('int nvmlGpmMetricsGet(void *metrics)'),
      };
    } catch (err) {
      throw new NvmlError(`cannot load ${libraryPath}: ${errorMessage(err)}`, undefined, true);
    }
    const backend = new NvmlBackend(fns, opts);
    await backend.init();
    return backend;
  }

  errorString(code: number): string {
    try {
      const s: unknown = this.fns.errorString(code);
      return typeof s === 'string' ? s : `NVML error ${code}`;
    } catch {
      return `NVML error ${code}`;
    }
  }

  private check(what: string, code: number): void {
    if (code === NVML_SUCCESS) return;
    const fatal = code === NVML_ERROR_UNINITIALIZED || code === NVML_ERROR_GPU_IS_LOST;
    throw new NvmlError(`${what}: ${this.errorString(code)} (${code})`, code, fatal);
  }

  private async init(): Promise<void> {
    this.check('nvmlInit_v2', await callAsync(this.fns.init));
    const countBuf = Buffer.alloc(4);
    this.check('nvmlDeviceGetCount_v2', await callAsync(this.fns.getCount, countBuf));
    const count = u32(countBuf);
    const devices: Device[] = [];
    for (let index = 0; index < count; index++) {
      const hb = Buffer.alloc(8);
      const r = await callAsync(this.fns.getHandle, index, hb);
      if (r === NVML_ERROR_NO_PERMISSION) continue; // documented: count includes devices we may not use
      this.check(`nvmlDeviceGetHandleByIndex_v2(${index})`, r);
      const handle = hb.readBigUInt64LE(0);
      devices.push({
        index,
        handle,
        name: (await this.str(this.fns.getName, handle)) ?? 'unknown',
        uuid: (await this.str(this.fns.getUuid, handle)) ?? `index-${index}`,
        gpm: this.opts.gpm ? await this.gpmInit(handle) : undefined,
      });
    }
    this.devices = devices;
  }

  private async str(fn: NativeFn | undefined, handle: bigint): Promise<string | undefined> {
    if (fn === undefined) return undefined;
    const b = Buffer.alloc(NAME_BUFFER);
    return (await callAsync(fn, handle, b, NAME_BUFFER)) === NVML_SUCCESS ? cstr(b) : undefined;
  }

  private async gpmInit(handle: bigint): Promise<GpmState | undefined> {
    const f = this.fns;
    if (!f.gpmSupport || !f.gpmAlloc || !f.gpmFree || !f.gpmGet || !f.gpmMetrics) return undefined;
    const sup = Buffer.alloc(8);
    sup.writeUInt32LE(NVML_GPM_SUPPORT_VERSION, 0);
    if ((await callAsync(f.gpmSupport, handle, sup)) !== NVML_SUCCESS || u32(sup, 4) === 0) return undefined;
    const a = Buffer.alloc(8);
    const b = Buffer.alloc(8);
    if ((await callAsync(f.gpmAlloc, a)) !== NVML_SUCCESS) return undefined;
    if ((await callAsync(f.gpmAlloc, b)) !== NVML_SUCCESS) {
      await callAsync(f.gpmFree, a.readBigUInt64LE(0));
      return undefined;
    }
    return { samples: [a.readBigUInt64LE(0), b.readBigUInt64LE(0)], prevIdx: 0, prevValid: false };
  }

  /** Number of devices NVML lets us use. */
  get deviceCount(): number {
    return this.devices.length;
  }

  async read(signal: AbortSignal): Promise<GpuReading[]> {
    if (this.closed) throw new NvmlError('NVML backend closed', undefined, true);
    this.busy++;
    try {
      const out = await Promise.all(this.devices.map((d) => this.readDevice(d, signal)));
      return out;
    } finally {
      this.busy--;
    }
  }

  /** Reads one value: NOT_SUPPORTED (and other non-fatal errors) → undefined. */
  private async value<T>(what: string, fn: NativeFn | undefined, size: number, args: unknown[], decode: (b: Buffer) => T): Promise<T | undefined> {
    if (fn === undefined) return undefined;
    const b = Buffer.alloc(size);
    const r = await callAsync(fn, ...args, b);
    if (r === NVML_SUCCESS) return decode(b);
    if (r === NVML_ERROR_UNINITIALIZED || r === NVML_ERROR_GPU_IS_LOST) this.check(what, r);
    return undefined;
  }

  private async readDevice(d: Device, signal: AbortSignal): Promise<GpuReading> {
    const f = this.fns;
    const h = d.handle;
    const r: GpuReading = { index: d.index, uuid: d.uuid, name: d.name };
    const util = await this.value('utilization', f.getUtilization, 8, [h], (b) => [u32(b, 0), u32(b, 4)] as const);
    if (util) {
      r.utilizationRatio = util[0] / 100;
      r.memoryBusyRatio = util[1] / 100;
    }
    const mem = await this.value('memory', f.getMemory, 24, [h], (b) => ({ total: u64n(b, 0), used: u64n(b, 16) }));
    if (mem) {
      r.memoryTotalBytes = mem.total;
      r.memoryUsedBytes = mem.used;
    }
    r.temperatureCelsius = await this.value('temperature', f.getTemperature, 4, [h, NVML_TEMPERATURE_GPU], (b) => u32(b));
    const mw = await this.value('power', f.getPower, 4, [h], (b) => u32(b));
    if (mw !== undefined) r.powerWatts = mw / 1000;
    const lim = await this.value('power limit', f.getPowerLimit, 4, [h], (b) => u32(b));
    if (lim !== undefined) r.powerLimitWatts = lim / 1000;
    const mj = await this.value('energy', f.getEnergy, 8, [h], (b) => u64n(b));
    if (mj !== undefined) r.energyJoules = mj / 1000;
    const sm = await this.value('sm clock', f.getClock, 4, [h, NVML_CLOCK_SM], (b) => u32(b));
    if (sm !== undefined) r.smClockHertz = sm * 1e6;
    const memClk = await this.value('mem clock', f.getClock, 4, [h, NVML_CLOCK_MEM], (b) => u32(b));
    if (memClk !== undefined) r.memoryClockHertz = memClk * 1e6;
    r.clockEventReasons = await this.value('clock events', f.getClockEvents, 8, [h], (b) => b.readBigUInt64LE(0));
    if (this.opts.pcie && !signal.aborted) {
      const tx = await this.value('pcie tx', f.getPcie, 4, [h, NVML_PCIE_UTIL_TX_BYTES], (b) => u32(b));
      const rx = await this.value('pcie rx', f.getPcie, 4, [h, NVML_PCIE_UTIL_RX_BYTES], (b) => u32(b));
      if (tx !== undefined) r.pcieTransmitBytesPerSecond = tx * 1024;
      if (rx !== undefined) r.pcieReceiveBytesPerSecond = rx * 1024;
    }
    if (d.gpm !== undefined && !signal.aborted) await this.readGpm(d, d.gpm, r);
    for (const k of Object.keys(r) as Array<keyof GpuReading>) if (r[k] === undefined) delete r[k];
    return r;
  }

  /**
   * GPM: one sample per collection; metrics are computed between this
   * collection's sample and the previous one (the interval itself), so the
   * first collection has none. A device that stops supporting GPM loses it.
   */
  private async readGpm(d: Device, g: GpmState, r: GpuReading): Promise<void> {
    const f = this.fns;
    if (!f.gpmGet || !f.gpmMetrics) return;
    const curIdx = g.prevIdx === 0 ? 1 : 0;
    const cur = g.samples[curIdx];
    const got = await callAsync(f.gpmGet, d.handle, cur);
    if (got !== NVML_SUCCESS) {
      g.prevValid = false;
      if (got === NVML_ERROR_NOT_SUPPORTED) await this.gpmRelease(d);
      return;
    }
    if (g.prevValid) {
      const buf = Buffer.alloc(GPM_HEADER_BYTES + NVML_GPM_METRIC_MAX * GPM_METRIC_BYTES);
      buf.writeUInt32LE(NVML_GPM_METRICS_GET_VERSION, 0);
      buf.writeUInt32LE(GPM_METRICS.length, 4);
      buf.writeBigUInt64LE(g.samples[g.prevIdx], 8);
      buf.writeBigUInt64LE(cur, 16);
      GPM_METRICS.forEach(([id], i) => {
        buf.writeUInt32LE(id, GPM_HEADER_BYTES + i * GPM_METRIC_BYTES);
      });
      if ((await callAsync(f.gpmMetrics, buf)) === NVML_SUCCESS) {
        GPM_METRICS.forEach(([, field], i) => {
          const off = GPM_HEADER_BYTES + i * GPM_METRIC_BYTES;
          if (buf.readUInt32LE(off + 4) !== NVML_SUCCESS) return;
          const v = buf.readDoubleLE(off + 8);
          if (Number.isFinite(v)) r[field] = Math.min(1, Math.max(0, v / 100));
        });
      }
    }
    g.prevIdx = curIdx;
    g.prevValid = true;
  }

  private async gpmRelease(d: Device): Promise<void> {
    const g = d.gpm;
    d.gpm = undefined;
    if (g === undefined || !this.fns.gpmFree) return;
    for (const s of g.samples) await callAsync(this.fns.gpmFree, s).catch(() => undefined);
  }

  /** Frees GPM samples and shuts NVML down (skipped while an abandoned call may still run). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.busy > 0) return;
    for (const d of this.devices) await this.gpmRelease(d);
    await callAsync(this.fns.shutdown).catch(() => undefined);
  }
}
