/**
 * nvidia-smi fallback, for hosts where libnvidia-ml cannot be loaded
 * in-process: ONE long-lived child
 *   nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits -lms <interval>
 * whose stdout is parsed line by line as it arrives; a collection takes the
 * latest line of every GPU. Drivers older than r535 do not know
 * `clocks_event_reasons.active`: when nvidia-smi rejects it, we respawn at once
 * with `clocks_throttle_reasons.active`. A child that dies is respawned on a
 * later collection (at most once per `respawnDelayMs` when it died young).
 * nvidia-smi has no energy counter: energy (and energy per token) is absent
 * with this backend.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Clock } from '../clock.js';
import type { GpuReading } from './gpu-series.js';

const COMMON_FIELDS = [
  'index',
  'uuid',
  'name',
  'utilization.gpu',
  'utilization.memory',
  'memory.used',
  'memory.total',
  'temperature.gpu',
  'power.draw',
  'enforced.power.limit',
  'clocks.sm',
  'clocks.mem',
] as const;
const EVENT_FIELD = 'clocks_event_reasons.active';
const LEGACY_EVENT_FIELD = 'clocks_throttle_reasons.active';

const MIB = 1024 * 1024;

/** A CSV value; "[N/A]", "[Not Supported]", "N/A" and friends are absent. */
function num(v: string | undefined): number | undefined {
  if (v === undefined || v === '' || v.startsWith('[') || v === 'N/A') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** One CSV line of the query above → a reading (undefined when it is not one). */
/** Lines of one nvidia-smi loop come back to back: this long without a new GPU ends a first read, ms. */
const QUIET_MS = 50;

export function parseSmiLine(line: string): GpuReading | undefined {
  const f = line.split(',').map((s) => s.trim());
  if (f.length < COMMON_FIELDS.length + 1) return undefined;
  const index = num(f[0]);
  if (index === undefined || !Number.isInteger(index)) return undefined;
  const r: GpuReading = { index, uuid: f[1] ?? '', name: f[2] ?? '' };
  const pct = (v: number | undefined): number | undefined => (v === undefined ? undefined : v / 100);
  const mul = (v: number | undefined, k: number): number | undefined => (v === undefined ? undefined : v * k);
  const set = <K extends keyof GpuReading>(k: K, v: GpuReading[K] | undefined): void => {
    if (v !== undefined) r[k] = v;
  };
  set('utilizationRatio', pct(num(f[3])));
  set('memoryBusyRatio', pct(num(f[4])));
  set('memoryUsedBytes', mul(num(f[5]), MIB));
  set('memoryTotalBytes', mul(num(f[6]), MIB));
  set('temperatureCelsius', num(f[7]));
  set('powerWatts', num(f[8]));
  set('powerLimitWatts', num(f[9]));
  set('smClockHertz', mul(num(f[10]), 1e6));
  set('memoryClockHertz', mul(num(f[11]), 1e6));
  const reasons = f[12];
  if (reasons !== undefined && /^0x[0-9a-f]+$/i.test(reasons)) r.clockEventReasons = BigInt(reasons);
  return r;
}

export interface SmiOptions {
  path: string;
  loopMs: number;
  clock: Clock;
  /** Least delay between two spawns after a child that died young, ms. */
  respawnDelayMs: number;
  onLog: (msg: string) => void;
}

export class NvidiaSmiBackend {
  readonly kind = 'nvidia-smi';
  private child: ChildProcessByStdio<null, Readable, Readable> | undefined;
  private legacy = false;
  private readonly latest = new Map<number, { reading: GpuReading; atNs: bigint }>();
  private lastSpawnNs: bigint | undefined;
  private lastExit: string | undefined;
  private stderrTail = '';
  private waiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly opts: SmiOptions) {}

  private fields(): string {
    return [...COMMON_FIELDS, this.legacy ? LEGACY_EVENT_FIELD : EVENT_FIELD].join(',');
  }

  private spawnChild(): void {
    const args = [`--query-gpu=${this.fields()}`, '--format=csv,noheader,nounits', `-lms`, String(Math.max(100, Math.round(this.opts.loopMs)))];
    this.lastSpawnNs = this.opts.clock.monoNs();
    this.stderrTail = '';
    const child = spawn(this.opts.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let spawnError: string | undefined;
    child.on('error', (err) => {
      spawnError = `cannot run ${this.opts.path}: ${err.message}`;
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-1024);
    });
    const rl = createInterface({ input: child.stdout, crlfDelay: Infinity });
    rl.on('line', (line) => this.onLine(line));
    child.on('close', (code, sig) => {
      rl.close();
      if (this.child === child) this.child = undefined;
      const text = this.stderrTail.trim();
      this.lastExit = spawnError ?? `nvidia-smi exited (${sig ?? `code ${String(code)}`})${text ? `: ${text.split('\n')[0] ?? ''}` : ''}`;
      if (!this.legacy && /not a valid field/i.test(text) && !this.closed) {
        this.opts.onLog('nvidia-smi does not know clocks_event_reasons; using clocks_throttle_reasons');
        this.legacy = true;
        this.lastSpawnNs = undefined; // respawn at once
      }
      this.wake();
    });
  }

  private onLine(line: string): void {
    const r = parseSmiLine(line);
    if (r === undefined) {
      // an error message on stdout ("Field ... is not a valid field to query.")
      if (line.trim() !== '') this.stderrTail = (this.stderrTail + line + '\n').slice(-1024);
      return;
    }
    this.latest.set(r.index, { reading: r, atNs: this.opts.clock.monoNs() });
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private waitForData(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.waiters.push(done);
    });
  }

  /** Latest reading of every GPU, spawning the child if needed. Throws when there is none. */
  async read(signal: AbortSignal): Promise<GpuReading[]> {
    if (this.closed) throw new Error('nvidia-smi backend closed');
    const now = this.opts.clock.monoNs();
    if (this.child === undefined) {
      const since = this.lastSpawnNs === undefined ? Number.POSITIVE_INFINITY : Number(now - this.lastSpawnNs) / 1e6;
      if (since < this.opts.respawnDelayMs) throw new Error(this.lastExit ?? 'nvidia-smi not running');
      this.spawnChild();
    }
    const freshMs = Math.max(3 * this.opts.loopMs, 2000);
    const fresh = (): GpuReading[] => {
      const t = this.opts.clock.monoNs();
      return [...this.latest.values()]
        .filter((e) => Number(t - e.atNs) / 1e6 <= freshMs)
        .map((e) => e.reading)
        .sort((a, b) => a.index - b.index);
    };
    let out = fresh();
    if (out.length === 0) {
      // just spawned, or it stalled: wait for a line, at most a couple of loop periods
      const deadline = Date.now() + Math.min(freshMs, 2 * this.opts.loopMs + 1000);
      while (out.length === 0 && !signal.aborted && Date.now() < deadline) {
        await this.waitForData(deadline - Date.now(), signal);
        out = fresh();
        if (this.child === undefined && out.length === 0) {
          if (this.legacy && this.lastSpawnNs === undefined) {
            this.spawnChild();
            continue;
          }
          break;
        }
      }
      // The first lines arrived: nvidia-smi writes one line per GPU back to back, and they can reach us in several
      // reads. Wait until they stop coming (a quiet QUIET_MS) so that a first collection holds every GPU, not the first.
      let seen = this.latest.size;
      const settleUntil = Date.now() + 10 * QUIET_MS;
      while (out.length > 0 && !signal.aborted && Date.now() < settleUntil) {
        await this.waitForData(QUIET_MS, signal);
        if (this.latest.size === seen) break;
        seen = this.latest.size;
      }
      out = fresh();
    }
    if (out.length === 0) throw new Error(this.lastExit ?? 'no output from nvidia-smi');
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (child === undefined) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 2000);
      child.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
    this.child = undefined;
  }
}
