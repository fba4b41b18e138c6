/**
 * HDR histograms for report- and rule-grade percentiles (DESIGN.md: "Percentiles
 * for reports and rules come from HDR histograms").
 *
 * Values are given in seconds and recorded as integer microseconds in a pure-JS
 * hdr-histogram-js histogram with 3 significant digits: resolution 1 us below
 * ~2 ms, 0.1 % relative above, up to `highestTrackableSeconds` (default 1 h).
 * Larger values are clamped to that ceiling (and counted in `outOfRange`);
 * negative values are clamped to 0 (counted); NaN is dropped (counted).
 * min, max and mean are exact (tracked on the raw values beside the histogram);
 * percentiles are the HDR value (upper edge of the bucket, so at most +0.1 %)
 * clamped to [min, max].
 *
 * HdrWindow: a rolling window of `slices` sub-histograms, each covering
 * windowMs/slices of the injected clock; a slice that has fallen out of the
 * window is reset and reused, so memory is fixed at construction (about 95 KB
 * per slice with the 1 h ceiling, plus one for the merged view). A query merges
 * the live slices; it covers between windowMs - windowMs/slices and windowMs of
 * history (the current slice is partial).
 *
 * HdrTotal: one all-time histogram (64-bit counts: no overflow over long runs)
 * for end-of-run reports; it grows with its largest value, up to the ceiling.
 *
 * Both serialise to the standard HdrHistogram compressed base64 form (values in
 * integer microseconds), readable by any HdrHistogram tool.
 */
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

/** Summary of a histogram; all values in seconds. All zero when count is 0. */
export interface HdrSnapshot {
  /** Number of values recorded (within the window, for HdrWindow). */
  count: number;
  /** Exact smallest value, s. */
  min: number;
  /** Exact largest value, s (may exceed the ceiling; percentiles do not). */
  max: number;
  /** Exact mean, s. */
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
}

/** Options shared by HdrWindow and HdrTotal. */
export interface HdrOptions {
  /** Largest trackable value, seconds (default 3600). Larger values are clamped to it. */
  highestTrackableSeconds?: number;
}

/** Options of a rolling window. */
export interface HdrWindowOptions extends HdrOptions {
  /** Window length, ms of the injected clock. */
  windowMs: number;
  /** Number of sub-histograms (rotation granularity = windowMs / slices). Integer >= 1. */
  slices: number;
  /** Clock, ms (monotonic preferred), injected. */
  now: () => number;
}

const US_PER_S = 1e6;
/** Default ceiling for recorded values, seconds. */
export const DEFAULT_HIGHEST_TRACKABLE_SECONDS = 3600;

/**
 * A window's slice or merged view: fixed at the ceiling (94 KB with 32-bit counts), because merging
 * histograms of one layout is a plain array add (0.75 ms for six slices and a p99), while merging
 * histograms that grew to different sizes takes hdr-histogram-js' value-by-value path (6.2 ms),
 * and a window is merged on every query.
 */
function fixedHistogram(highestUs: number, bits: 32 | 64): Histogram {
  return build({ useWebAssembly: false, numberOfSignificantValueDigits: 3, lowestDiscernibleValue: 1, highestTrackableValue: highestUs, autoResize: false, bitBucketSize: bits });
}

/**
 * An all-time total: its counts array grows with the largest value recorded (autoResize), 8 KB empty,
 * up to the ceiling recordInto clamps every value to, so at most what a fixed one takes (188 KB with
 * 64-bit counts). Many meters' totals stay empty or never near the ceiling; totals are merged rarely.
 */
function growingHistogram(bits: 32 | 64): Histogram {
  return build({ useWebAssembly: false, numberOfSignificantValueDigits: 3, lowestDiscernibleValue: 1, highestTrackableValue: 2, autoResize: true, bitBucketSize: bits });
}

function highestUsOf(opts: HdrOptions): number {
  const s = opts.highestTrackableSeconds ?? DEFAULT_HIGHEST_TRACKABLE_SECONDS;
  if (!(s > 0) || !Number.isFinite(s)) throw new RangeError(`hdr: highestTrackableSeconds must be > 0, got ${s}`);
  return Math.max(2, Math.ceil(s * US_PER_S));
}

/** Exact statistics kept beside a histogram (raw seconds). */
interface SideStats {
  sum: number;
  min: number;
  max: number;
}

class Side implements SideStats {
  sum = 0;
  min = Infinity;
  max = -Infinity;
  reset(): void {
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }
  merge(o: SideStats): void {
    this.sum += o.sum;
    if (o.min < this.min) this.min = o.min;
    if (o.max > this.max) this.max = o.max;
  }
}

/** Record `seconds` into h/side; returns true when the value had to be clamped or dropped. */
function recordInto(h: Histogram, side: Side, seconds: number, highestUs: number): boolean {
  if (Number.isNaN(seconds)) return true;
  let us = Math.round(seconds * US_PER_S);
  let clamped = false;
  if (us > highestUs) {
    us = highestUs;
    clamped = true;
  } else if (us < 0) {
    us = 0;
    seconds = 0;
    clamped = true;
  }
  h.recordValue(us);
  side.sum += seconds;
  if (seconds < side.min) side.min = seconds;
  if (seconds > side.max) side.max = seconds;
  return clamped;
}

function checkQ(q: number): void {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`hdr: quantile must be in [0, 1], got ${q}`);
}

/** Quantile q (0..1) of h in seconds, clamped to the exact [min, max]; undefined when empty. */
function quantileOf(h: Histogram, side: Side, q: number): number | undefined {
  if (h.totalCount === 0) return undefined;
  const v = h.getValueAtPercentile(q * 100) / US_PER_S;
  return Math.min(side.max, Math.max(side.min, v));
}

function snapshotOf(h: Histogram, side: Side): HdrSnapshot {
  const count = h.totalCount;
  if (count === 0) return { count: 0, min: 0, max: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0 };
  const p = (q: number): number => quantileOf(h, side, q) ?? 0;
  return {
    count,
    min: side.min,
    max: side.max,
    mean: side.sum / count,
    p50: p(0.5),
    p90: p(0.9),
    p95: p(0.95),
    p99: p(0.99),
    p999: p(0.999),
  };
}

/** Rolling-window percentiles with fixed memory. */
export class HdrWindow {
  private readonly sliceMs: number;
  private readonly nSlices: number;
  private readonly highestUs: number;
  private readonly now: () => number;
  private readonly hists: Histogram[];
  private readonly sides: Side[];
  /** Absolute slice number (floor(now / sliceMs)) held by each ring slot; -Infinity = empty. */
  private readonly epochs: Float64Array;
  private cur = 0;
  private curEpoch = -Infinity;
  /** Merged view of the live slices, rebuilt lazily. */
  private readonly merged: Histogram;
  private readonly mergedSide = new Side();
  private mergedEpoch = -Infinity;
  private dirty = true;
  /** Values clamped to [0, ceiling] or dropped (NaN) since construction or reset(). */
  outOfRange = 0;

  constructor(opts: HdrWindowOptions) {
    if (!(opts.windowMs > 0)) throw new RangeError(`HdrWindow: windowMs must be > 0, got ${opts.windowMs}`);
    if (!Number.isInteger(opts.slices) || opts.slices < 1) {
      throw new RangeError(`HdrWindow: slices must be an integer >= 1, got ${opts.slices}`);
    }
    this.nSlices = opts.slices;
    this.sliceMs = opts.windowMs / opts.slices;
    this.highestUs = highestUsOf(opts);
    this.now = opts.now;
    this.hists = [];
    this.sides = [];
    for (let i = 0; i < this.nSlices; i++) {
      this.hists.push(fixedHistogram(this.highestUs, 32));
      this.sides.push(new Side());
    }
    this.epochs = new Float64Array(this.nSlices).fill(-Infinity);
    this.merged = fixedHistogram(this.highestUs, 32);
  }

  /** Record one value, seconds. Allocation-free. */
  record(seconds: number): void {
    const e = this.epochNow();
    if (e !== this.curEpoch) this.rotateTo(e);
    const h = this.hists[this.cur];
    const side = this.sides[this.cur];
    if (h === undefined || side === undefined) return;
    if (recordInto(h, side, seconds, this.highestUs)) this.outOfRange++;
    this.dirty = true;
  }

  /** Quantile q (0..1) over the window, seconds; undefined when the window is empty. */
  percentile(q: number): number | undefined {
    checkQ(q);
    return quantileOf(this.view(), this.mergedSide, q);
  }

  /** Number of values in the window (no merge needed). */
  count(): number {
    const oldest = this.epochNow() - this.nSlices + 1;
    let n = 0;
    for (let i = 0; i < this.nSlices; i++) {
      if ((this.epochs[i] ?? -Infinity) >= oldest) n += this.hists[i]?.totalCount ?? 0;
    }
    return n;
  }

  /** Summary over the window (seconds). */
  snapshot(): HdrSnapshot {
    return snapshotOf(this.view(), this.mergedSide);
  }

  /** Drop every value (memory is kept for reuse). */
  reset(): void {
    for (let i = 0; i < this.nSlices; i++) {
      this.hists[i]?.reset();
      this.sides[i]?.reset();
    }
    this.epochs.fill(-Infinity);
    this.curEpoch = -Infinity;
    this.outOfRange = 0;
    this.dirty = true;
  }

  /** The window's merged histogram as HdrHistogram compressed base64 (integer microseconds). */
  encode(): string {
    return encodeIntoCompressedBase64(this.view());
  }

  /** Add the window's current content into an all-time histogram. */
  addTo(total: HdrTotal): void {
    total.addHistogram(this.view(), this.mergedSide);
  }

  /** Estimated memory of all histograms held, bytes (constant after construction). */
  footprintBytes(): number {
    let b = this.merged.estimatedFootprintInBytes;
    for (const h of this.hists) b += h.estimatedFootprintInBytes;
    return b;
  }

  /** Current absolute slice number; never goes backwards even if the clock does. */
  private epochNow(): number {
    const e = Math.floor(this.now() / this.sliceMs);
    return e > this.curEpoch || this.curEpoch === -Infinity ? e : this.curEpoch;
  }

  private rotateTo(e: number): void {
    const slot = ((e % this.nSlices) + this.nSlices) % this.nSlices;
    if (this.epochs[slot] !== e) {
      this.hists[slot]?.reset();
      this.sides[slot]?.reset();
      this.epochs[slot] = e;
    }
    this.cur = slot;
    this.curEpoch = e;
    this.dirty = true;
  }

  /** Merge the live slices into `merged` unless nothing changed since the last merge. */
  private view(): Histogram {
    const e = this.epochNow();
    if (!this.dirty && e === this.mergedEpoch) return this.merged;
    const oldest = e - this.nSlices + 1;
    this.merged.reset();
    this.mergedSide.reset();
    for (let i = 0; i < this.nSlices; i++) {
      const h = this.hists[i];
      const side = this.sides[i];
      if (h === undefined || side === undefined) continue;
      if ((this.epochs[i] ?? -Infinity) < oldest || h.totalCount === 0) continue;
      this.merged.add(h);
      this.mergedSide.merge(side);
    }
    this.mergedEpoch = e;
    this.dirty = false;
    return this.merged;
  }
}

/** All-time histogram (64-bit counts) for end-of-run reports. */
export class HdrTotal {
  private readonly hist: Histogram;
  private readonly side = new Side();
  private readonly highestUs: number;
  /** Values clamped to [0, ceiling] or dropped (NaN) since construction or reset(). */
  outOfRange = 0;

  constructor(opts: HdrOptions = {}) {
    this.highestUs = highestUsOf(opts);
    this.hist = growingHistogram(64);
  }

  /** Record one value, seconds. Allocation-free. */
  record(seconds: number): void {
    if (recordInto(this.hist, this.side, seconds, this.highestUs)) this.outOfRange++;
  }

  /** Quantile q (0..1), seconds; undefined when empty. */
  percentile(q: number): number | undefined {
    checkQ(q);
    return quantileOf(this.hist, this.side, q);
  }

  /** Number of values recorded. */
  count(): number {
    return this.hist.totalCount;
  }

  /** Summary (seconds). */
  snapshot(): HdrSnapshot {
    return snapshotOf(this.hist, this.side);
  }

  /** Drop every value. */
  reset(): void {
    this.hist.reset();
    this.side.reset();
    this.outOfRange = 0;
  }

  /** Merge another total (e.g. another replica's, or a decoded one) into this one. */
  add(other: HdrTotal): void {
    this.addHistogram(other.hist, other.side);
  }

  /** @internal merge a histogram of the same layout plus its exact side statistics. */
  addHistogram(h: Histogram, side: SideStats): void {
    if (h.totalCount === 0) return;
    if (h.maxValue > this.highestUs) {
      throw new RangeError("HdrTotal: histogram holds values above this total's ceiling");
    }
    this.hist.add(h);
    this.side.merge(side);
  }

  /** HdrHistogram compressed base64 (integer microseconds). */
  encode(): string {
    return encodeIntoCompressedBase64(this.hist);
  }

  /**
   * Rebuild a total from encode()'s output. The exact min/max/mean are not part
   * of the format: they come back as the histogram's bucket values (0.1 %).
   */
  static decode(encoded: string, opts: HdrOptions = {}): HdrTotal {
    const h = decodeFromCompressedBase64(encoded, 64, false);
    const t = new HdrTotal(opts);
    if (h.totalCount > 0) {
      const side = new Side();
      side.min = h.getValueAtPercentile(0) / US_PER_S;
      side.max = h.maxValue / US_PER_S;
      side.sum = (h.mean * h.totalCount) / US_PER_S;
      t.addHistogram(h, side);
    }
    return t;
  }

  /** Estimated memory, bytes. */
  footprintBytes(): number {
    return this.hist.estimatedFootprintInBytes;
  }
}
