/**
 * GPU collector: picks a backend, reads it every interval into GpuSeries.
 *
 * backend 'auto': dcgm-exporter when `dcgmUrl` is set, else NVML in-process
 * (koffi → libnvidia-ml.so.1), else one long-lived nvidia-smi child, else
 * none. With none (a host without GPU): last_success 0, ONE log line (info
 * under 'auto', warn when a named backend is missing),
 * and detection is tried again only every `retryMs` (5 min by default), also
 * when collectOnce() is called more often — no retry storm.
 * A backend that breaks for good (NVML uninitialised, GPU lost) is closed and
 * detection starts over (rarely, as above).
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { Agent } from 'undici';
import { errorMessage } from '../errors.js';
import { OK, PeriodicCollector, fail, type PeriodicOptions, type RunResult } from './base.js';
import { DcgmBackend } from './dcgm.js';
import { GpuSeries, type GpuReading } from './gpu-series.js';
import { NvidiaSmiBackend } from './nvidia-smi.js';
import { NvmlBackend, NvmlError } from './nvml.js';

export type GpuBackendKind = 'auto' | 'nvml' | 'nvidia-smi' | 'dcgm';

export interface GpuCollectorOptions extends PeriodicOptions {
  backend: GpuBackendKind;
  libraryPath: string;
  nvidiaSmiPath: string;
  dcgmUrl?: string;
  /** Delay before detecting again after no GPU / a backend lost, ms. */
  retryMs: number;
  gpm: boolean;
  pcie: boolean;
  /** Body limit for dcgm-exporter, bytes. */
  maxBytes: number;
}

interface GpuBackend {
  readonly kind: string;
  read(signal: AbortSignal): Promise<GpuReading[]>;
  close(): Promise<void>;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolves a command through PATH without spawning anything. */
export async function findExecutable(cmd: string): Promise<string | undefined> {
  if (cmd.includes('/')) return (await isExecutable(cmd)) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, cmd);
    if (await isExecutable(p)) return p;
  }
  return undefined;
}

export class GpuCollector extends PeriodicCollector {
  private readonly opts: GpuCollectorOptions;
  private readonly series: GpuSeries;
  private backend: GpuBackend | undefined;
  private lastDetectNs: bigint | undefined;
  private lastReason = 'no GPU backend yet';
  private dispatcher: Agent | undefined;

  constructor(opts: GpuCollectorOptions) {
    super('gpu', opts);
    this.opts = opts;
    this.series = new GpuSeries(opts.registry);
  }

  /** GPUs seen at the last collection. */
  gpuCount(): number | undefined {
    return this.series.count();
  }

  /** Total energy counted so far over all GPUs, joules (undefined without an energy source). */
  energyJoulesTotal(): number | undefined {
    return this.series.energyJoulesTotal();
  }

  /** Backend in use ('nvml', 'nvidia-smi', 'dcgm'), if any. */
  get backendKind(): string | undefined {
    return this.backend?.kind;
  }

  protected async collect(signal: AbortSignal): Promise<RunResult> {
    if (this.backend === undefined) {
      const now = this.clock.monoNs();
      if (this.lastDetectNs !== undefined) {
        const sinceMs = Number(now - this.lastDetectNs) / 1e6;
        if (sinceMs < this.opts.retryMs) {
          return fail(this.lastReason, { level: this.level(), nextDelayMs: this.opts.retryMs - sinceMs });
        }
      }
      this.lastDetectNs = now;
      const found = await this.detect();
      if (typeof found === 'string') {
        this.lastReason = found;
        this.series.clear();
        // no GPU under 'auto' is an expected state of a CPU host; a named backend missing is not
        return fail(found, { level: this.level(), nextDelayMs: this.opts.retryMs });
      }
      if (signal.aborted || this.isStopped) {
        await found.close();
        return fail('aborted');
      }
      this.backend = found;
      this.log.info({ backend: found.kind }, `gpu collector using ${found.kind}`);
    }
    const backend = this.backend;
    let readings: GpuReading[];
    try {
      readings = await backend.read(signal);
    } catch (err) {
      if (err instanceof NvmlError && err.fatal) {
        this.backend = undefined;
        this.lastDetectNs = this.clock.monoNs();
        this.lastReason = errorMessage(err);
        this.series.clear();
        await backend.close().catch(() => undefined);
        return fail(this.lastReason, { nextDelayMs: this.opts.retryMs });
      }
      if (!signal.aborted) this.series.clear(); // no stale figures while the backend answers nothing
      return fail(errorMessage(err));
    }
    if (signal.aborted) return fail('aborted');
    this.series.write(backend.kind, readings);
    return OK;
  }

  private level(): 'info' | 'warn' {
    return this.opts.backend === 'auto' ? 'info' : 'warn';
  }

  /** A ready backend, or why there is none. */
  private async detect(): Promise<GpuBackend | string> {
    const o = this.opts;
    const reasons: string[] = [];
    const want = (k: Exclude<GpuBackendKind, 'auto'>): boolean => o.backend === k || o.backend === 'auto';

    if (o.backend === 'dcgm' || (o.backend === 'auto' && o.dcgmUrl !== undefined)) {
      if (o.dcgmUrl === undefined) return 'backend dcgm needs gpu.dcgmUrl';
      this.dispatcher ??= new Agent({ keepAliveTimeout: 30_000, connections: 2 });
      return new DcgmBackend({ url: o.dcgmUrl, timeoutMs: this.timeoutMs, maxBytes: o.maxBytes, dispatcher: this.dispatcher });
    }
    if (want('nvml')) {
      try {
        const nvml = await NvmlBackend.open(o.libraryPath, { gpm: o.gpm, pcie: o.pcie });
        if (nvml.deviceCount > 0) return nvml;
        await nvml.close();
        reasons.push('NVML sees no GPU');
      } catch (err) {
        reasons.push(errorMessage(err));
      }
    }
    if (want('nvidia-smi')) {
      const path = await findExecutable(o.nvidiaSmiPath);
      if (path !== undefined) {
        return new NvidiaSmiBackend({
          path,
          loopMs: this.intervalMs,
          clock: this.clock,
          respawnDelayMs: o.retryMs,
          onLog: (msg) => this.log.info(msg),
        });
      }
      reasons.push(`${o.nvidiaSmiPath} not found`);
    }
    return `no GPU: ${reasons.join('; ')}`;
  }

  protected override async dispose(): Promise<void> {
    const b = this.backend;
    this.backend = undefined;
    if (b !== undefined) await b.close();
    if (this.dispatcher !== undefined) await this.dispatcher.close();
  }
}
