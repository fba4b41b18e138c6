/**
 * The sampler: self-scrapes the prom-client Registry every step into the
 * SeriesStore, so the analyzer sees exactly what Prometheus sees. Gauges and
 * counters by value; histograms as their cumulative `_bucket{le}`, `_sum` and
 * `_count` series; summaries as `{quantile}` gauges plus `_sum`/`_count`
 * counters. `le`/`quantile` keep prom-client's text form ("0.5", "+Inf").
 *
 * Timing: ticks at absolute instants start + k × step of the monotonic clock
 * (no drift from chained sleeps); a tick that finds the previous sample still
 * running is skipped and counted (`overruns`). The sample's timestamp is the
 * injected wall clock at the start of the scrape. The loop never throws: a
 * failed scrape is counted, remembered in `lastError`, and the next tick runs.
 * Its timers are unref()'d: the sampler never keeps the process alive.
 *
 * Cost: one registry read (metrics/render.ts, in ~1 ms slices; it also runs collect() callbacks of
 * collectors registered there) plus O(series) store writes; see stats().
 */
import type { Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import { metricsAsJson } from '../metrics/render.js';
import type { SeriesKind, SeriesStore } from './series-store.js';

/** Sampler configuration. */
export interface SamplerOptions {
  /** The registry that /metrics serves. */
  registry: Registry;
  /** Where samples go. */
  store: SeriesStore;
  /** Injected clock: monoNs for timing, wallMs for sample timestamps. */
  clock: Clock;
  /** Interval between samples, s (config `analyzer.stepSec`; should equal the store's stepSec). */
  stepSec: number;
  /** Called (at most once per distinct message in a row) when a sample fails; must not throw or block. */
  onError?: (err: unknown) => void;
}

/** The sampler's own health, for /api/status and self-metrics. */
export interface SamplerStats {
  /** Samples written. */
  samples: number;
  /** Samples that failed (registry threw, or the store refused the time). */
  failures: number;
  /** Ticks skipped because the previous sample had not finished, or the loop fell behind. */
  overruns: number;
  /** Duration of the last sample, ms (scrape + store writes). */
  lastDurationMs: number;
  /** Longest sample so far, ms. */
  maxDurationMs: number;
  /** Series values written by the last sample. */
  lastSeries: number;
  /** Unix ms of the last successful sample, undefined before the first. */
  lastSuccessMs: number | undefined;
  /** Message of the last failure. */
  lastError: string | undefined;
}

interface JsonValue {
  value: number | null;
  labels: Record<string, string | number | undefined>;
  metricName?: string;
}

interface JsonFamily {
  name: string;
  type: string;
  values: JsonValue[];
}

/** Self-scrapes a prom-client registry into a SeriesStore on an interval. */
export class Sampler {
  private readonly stepNs: bigint;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private startNs = 0n;
  private tick = 0n;
  private stopped = true;
  private readonly s: SamplerStats = {
    samples: 0,
    failures: 0,
    overruns: 0,
    lastDurationMs: 0,
    maxDurationMs: 0,
    lastSeries: 0,
    lastSuccessMs: undefined,
    lastError: undefined,
  };

  constructor(private readonly opts: SamplerOptions) {
    if (!(opts.stepSec > 0) || !Number.isFinite(opts.stepSec)) throw new RangeError(`Sampler: stepSec must be > 0, got ${opts.stepSec}`);
    this.stepNs = BigInt(Math.round(opts.stepSec * 1e9));
  }

  /** Start sampling: one sample now, then every step. Idempotent. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.startNs = this.opts.clock.monoNs();
    this.tick = 0n;
    this.fire();
  }

  /** Stop the loop and wait for a sample in progress. Does not take a last sample. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Counters of the sampler's own health (a copy). */
  stats(): SamplerStats {
    return { ...this.s };
  }

  private fire(): void {
    if (this.stopped) return;
    if (this.running) {
      this.s.overruns++;
    } else {
      this.running = this.sampleOnce()
        .then(
          () => undefined,
          () => undefined,
        )
        .finally(() => {
          this.running = undefined;
        });
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const now = this.opts.clock.monoNs();
    this.tick++;
    let due = this.startNs + this.tick * this.stepNs;
    if (due <= now) {
      // Fell behind (event loop blocked, clock jump): skip the missed ticks.
      const missed = (now - due) / this.stepNs + 1n;
      this.s.overruns += Number(missed);
      this.tick += missed;
      due = this.startNs + this.tick * this.stepNs;
    }
    const delayMs = Number(due - now) / 1e6;
    this.timer = setTimeout(() => this.fire(), delayMs);
    this.timer.unref();
  }

  /**
   * Take one sample now. Resolves true when written; false when it failed
   * (counted, never thrown). Tests drive this directly.
   */
  async sampleOnce(): Promise<boolean> {
    const { clock, store, registry } = this.opts;
    const t0 = clock.monoNs();
    const tMs = clock.wallMs();
    try {
      const families = (await metricsAsJson(registry)) as unknown as JsonFamily[];
      if (!store.beginSample(tMs)) throw new Error(`sample time ${tMs} is not after the previous sample (${store.lastSampleMs})`);
      let n = 0;
      try {
        for (const fam of families) n += writeFamily(store, fam);
      } finally {
        store.commitSample();
      }
      this.s.samples++;
      this.s.lastSeries = n;
      this.s.lastSuccessMs = tMs;
      return true;
    } catch (err) {
      this.s.failures++;
      const msg = err instanceof Error ? err.message : String(err);
      if (msg !== this.s.lastError) {
        try {
          this.opts.onError?.(err);
        } catch {
          // the error sink must not break the loop
        }
      }
      this.s.lastError = msg;
      return false;
    } finally {
      const ms = Number(clock.monoNs() - t0) / 1e6;
      this.s.lastDurationMs = ms;
      if (ms > this.s.maxDurationMs) this.s.maxDurationMs = ms;
    }
  }
}

/** Write one metric family's values into the open sample; returns values written. */
function writeFamily(store: SeriesStore, fam: JsonFamily): number {
  const familyKind: SeriesKind = fam.type === 'counter' || fam.type === 'histogram' ? 'counter' : 'gauge';
  let n = 0;
  for (const val of fam.values) {
    const name = val.metricName ?? fam.name;
    // summary: quantile values are gauges; _sum and _count are counters
    const kind: SeriesKind = fam.type === 'summary' ? (val.metricName !== undefined ? 'counter' : 'gauge') : familyKind;
    const v = typeof val.value === 'number' ? val.value : NaN;
    // prom-client hands out its own label objects for counters and gauges: read only.
    const id = store.ref(name, val.labels as Readonly<Record<string, string | number>>, kind);
    if (id < 0) continue;
    store.setById(id, v);
    n++;
  }
  return n;
}
