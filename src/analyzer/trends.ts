/**
 * Trends over hours: leaks (a gauge rising steadily) and degradation (a
 * recent window worse than a baseline). Pure functions over points already
 * read from a SeriesSource: no I/O, no clock, deterministic.
 *
 * Leak (leakTrend):
 * 1. Segment the series at restarts: a counter reset (any decrease, with
 *    `counter`), a given restart instant (e.g. from process_start_time_seconds
 *    changes, see restartTimes()), or a step down by more than `dropFraction`
 *    that persists (the median of the next 3 points is also below the median
 *    of the previous 3 by that much; a single low or high outlier does not
 *    split). Only the last segment is analysed: a leak that restarts reset is
 *    a new story.
 * 2. Drop the warm-up (`warmupSec`) after the run start and after a restart.
 * 3. Fit a Theil–Sen line (median of pairwise slopes; on ≤ 200 block medians
 *    for long series, see stats.theilSen), and test for a monotonic trend with
 *    Mann–Kendall on the same block medians.
 * 4. Verdict 'increasing'/'decreasing' only when ALL hold: Mann–Kendall p <
 *    alpha, R² of the robust line ≥ minR2, and the fitted change over the
 *    segment is ≥ minRelChange of the series' median level (and ≥
 *    minSlopePerHour when given). Anything less is 'stable', so noise,
 *    sawtooth GC and tiny drifts do not fire. With a `limit` and an
 *    increasing verdict, projectedExhaustionSec = (limit − fitted value at
 *    the end) / slope.
 *
 * Degradation (compareDistributions, compareHistograms): recent window vs a
 * baseline window captured after warm-up.
 * - Location: Mann–Whitney U (normal approximation, tie-corrected), recent vs
 *   baseline, two-sided; effect = relative change of the median.
 * - Tail: the number of recent values beyond the baseline's p99 (the worse
 *   side) against Binomial(n_recent, share of the baseline beyond it); effect =
 *   relative change of p99. This catches "tail spikes while the median holds"
 *   (KV-cache pressure), which a rank test misses.
 * - Verdict 'degraded' when (location p < alpha AND |median change| ≥
 *   minEffect, toward worse) OR (tail p < alpha AND p99 change ≥ minEffect
 *   toward worse); 'improved' for a significant, large-enough location change
 *   toward better; else 'unchanged'. Both conditions (significance AND size)
 *   are required so large-n noise cannot fire.
 * - From HDR histograms (HdrWindow/HdrTotal, raw samples not kept) the
 *   histogram IS the sample: each HDR bucket's value weighted by its count
 *   (0.1 % value resolution; equal buckets are ties). This is exact for the
 *   rank test up to that resolution and needs no resampling (no bootstrap), so
 *   it is deterministic and O(HDR buckets).
 * Caveat: points of a time series (e.g. per-step rates) are autocorrelated,
 * which makes any independence-based p-value too small; the effect-size gate
 * is what keeps such comparisons honest.
 */
import type { Sample, Series } from './source.js';
import {
  binomialSf,
  hdrToWeighted,
  mannKendall,
  mannWhitneyWeighted,
  median,
  medianInPlace,
  reduceByBlockMedians,
  rSquared,
  theilSenExact,
  toWeighted,
  weightAbove,
  weightedQuantile,
  type WeightedSample,
} from './stats.js';

// ------------------------------------------------------------------ leak

/** Leak-detection options; every field optional. */
export interface LeakOptions {
  /** Exhaustion limit in the series' unit (e.g. host memory total, bytes); enables projectedExhaustionSec. */
  limit?: number;
  /** Warm-up dropped after the run start and after each restart, s (default 600). */
  warmupSec?: number;
  /** Run start, unix ms; default: the first point is taken as the run start. */
  runStartMs?: number;
  /** A persistent step down by more than this fraction starts a new segment (default 0.3). */
  dropFraction?: number;
  /** The series is a counter: every decrease is a reset and starts a new segment. */
  counter?: boolean;
  /** Known restart instants, unix ms (e.g. restartTimes(process_start_time_seconds)). */
  restartTimesMs?: readonly number[];
  /** Significance of the Mann–Kendall trend test (default 0.01). */
  alpha?: number;
  /** Minimum R² of the robust line for a non-stable verdict (default 0.3). */
  minR2?: number;
  /** Minimum fitted change over the analysed span relative to |median level| (default 0.02 = 2 %). */
  minRelChange?: number;
  /** Minimum |slope|, units per hour (default none). */
  minSlopePerHour?: number;
  /**
   * Minimum |fitted change| over the analysed span, in the series' unit (default none): a rise
   * smaller than this is a runtime sizing its heap (V8's young generation, an allocator's arenas)
   * or one GC cycle, however steep it looks over a short window.
   */
  minChange?: number;
  /** Fewest points analysed (after warm-up) for a verdict (default 20). */
  minPoints?: number;
  /** Shortest span analysed for a verdict, s (default 1,800). */
  minSpanSec?: number;
  /** Theil–Sen / Mann–Kendall work on at most this many block medians (default 200). */
  maxPoints?: number;
}

/** Why a segment starts. */
export type SegmentReason = 'start' | 'counter reset' | 'restart' | 'drop';

/** A part of the series between restarts. */
export interface LeakSegment {
  /** First point, unix ms. */
  start: number;
  /** Last point, unix ms. */
  end: number;
  /** Points in the segment (warm-up included). */
  points: number;
  reason: SegmentReason;
}

/** Result of leakTrend(). */
export interface LeakTrend {
  /** Labels of the series analysed (empty for bare points). */
  series: Record<string, string>;
  verdict: 'increasing' | 'stable' | 'decreasing' | 'insufficient data';
  /** Why the verdict (human-readable, for evidence). */
  reason: string;
  /** Theil–Sen slope, series units per hour (0 when insufficient). */
  slopePerHour: number;
  /** R² of the Theil–Sen line over the analysed points (can be < 0; NaN for a constant series). */
  r2: number;
  /** Mann–Kendall two-sided p-value of a monotonic trend. */
  pValue: number;
  /** Fitted change over the analysed span / |median level|. */
  relChange: number;
  /** Points analysed (last segment after warm-up). */
  points: number;
  /** Start of the last segment, unix ms. */
  segmentStart: number;
  /** First analysed point (after warm-up), unix ms. */
  start: number;
  /** Last analysed point, unix ms. */
  end: number;
  /** Largest analysed value. */
  peak: number;
  /** Last value. */
  last: number;
  /** Fitted value at `end`. */
  fittedEnd: number;
  /** With `limit` and an increasing verdict: seconds from `end` until the line reaches the limit (0 if already there). */
  projectedExhaustionSec?: number;
  /** Every segment found, oldest first. */
  segments: LeakSegment[];
}

const SEG_K = 3;

function segmentBreaks(t: Float64Array, v: Float64Array, o: Required<Pick<LeakOptions, 'dropFraction'>> & LeakOptions): { at: number; reason: SegmentReason }[] {
  const n = t.length;
  const breaks: { at: number; reason: SegmentReason }[] = [];
  const restarts = [...(o.restartTimesMs ?? [])].sort((a, b) => a - b);
  let ri = 0;
  const tmp = new Float64Array(SEG_K);
  const med = (lo: number) => {
    for (let j = 0; j < SEG_K; j++) tmp[j] = v[lo + j] as number;
    return medianInPlace(tmp, SEG_K);
  };
  for (let i = 1; i < n; i++) {
    const ti = t[i] as number;
    let reason: SegmentReason | undefined;
    while (ri < restarts.length && (restarts[ri] as number) <= (t[i - 1] as number)) ri++;
    if (ri < restarts.length && (restarts[ri] as number) <= ti) {
      reason = 'restart';
      while (ri < restarts.length && (restarts[ri] as number) <= ti) ri++;
    } else if (o.counter && (v[i] as number) < (v[i - 1] as number)) {
      reason = 'counter reset';
    } else if (!o.counter && i >= SEG_K && i + SEG_K <= n) {
      const prev = v[i - 1] as number;
      if (prev > 0 && (v[i] as number) < prev * (1 - o.dropFraction)) {
        const before = med(i - SEG_K);
        const after = med(i);
        if (before > 0 && after < before * (1 - o.dropFraction)) reason = 'drop';
      }
    }
    if (reason) breaks.push({ at: i, reason });
  }
  return breaks;
}

/**
 * Leak trend of one gauge series (or of bare points, oldest first). Cost:
 * O(n) plus the Theil–Sen step (≈0.2 ms at the default 200 block medians);
 * about 0.3 ms for a day of 1-minute points.
 */
export function leakTrend(input: Series | readonly Sample[], opts: LeakOptions = {}): LeakTrend {
  const points: readonly Sample[] = Array.isArray(input) ? (input as readonly Sample[]) : (input as Series).points;
  const labels = Array.isArray(input) ? {} : { ...(input as Series).labels };
  const o = {
    warmupSec: 600,
    dropFraction: 0.3,
    alpha: 0.01,
    minR2: 0.3,
    minRelChange: 0.02,
    minPoints: 20,
    minSpanSec: 1800,
    maxPoints: 200,
    ...opts,
  };
  const t = new Float64Array(points.length);
  const v = new Float64Array(points.length);
  let n = 0;
  for (const p of points) {
    if (!Number.isFinite(p.v)) continue;
    t[n] = p.t;
    v[n] = p.v;
    n++;
  }
  const tt = t.subarray(0, n);
  const vv = v.subarray(0, n);
  const breaks = segmentBreaks(tt, vv, o);
  const segments: LeakSegment[] = [];
  let segStartIdx = 0;
  let segReason: SegmentReason = 'start';
  for (const b of [...breaks, { at: n, reason: 'start' as SegmentReason }]) {
    if (b.at > segStartIdx && n > 0) {
      segments.push({ start: tt[segStartIdx] as number, end: tt[b.at - 1] as number, points: b.at - segStartIdx, reason: segReason });
    }
    segStartIdx = b.at;
    segReason = b.reason;
  }
  const base: LeakTrend = {
    series: labels,
    verdict: 'insufficient data',
    reason: '',
    slopePerHour: 0,
    r2: NaN,
    pValue: 1,
    relChange: 0,
    points: 0,
    segmentStart: NaN,
    start: NaN,
    end: NaN,
    peak: NaN,
    last: NaN,
    fittedEnd: NaN,
    segments,
  };
  if (n === 0) return { ...base, reason: 'no points' };
  const lastSeg = segments[segments.length - 1] as LeakSegment;
  const segLo = n - lastSeg.points;
  // warm-up: after the run start (first segment) or after the restart that opened the last segment
  const warmFrom = lastSeg.reason === 'start' ? (o.runStartMs ?? (tt[0] as number)) : lastSeg.start;
  const warmEnd = warmFrom + o.warmupSec * 1000;
  let lo = segLo;
  while (lo < n && (tt[lo] as number) < warmEnd) lo++;
  const m = n - lo;
  const res: LeakTrend = { ...base, segmentStart: lastSeg.start, points: m, last: vv[n - 1] as number };
  if (m === 0) return { ...res, reason: `no points after warm-up (${o.warmupSec} s)` };
  const t0 = tt[lo] as number;
  const x = new Float64Array(m);
  const y = vv.subarray(lo, n);
  let peak = -Infinity;
  for (let i = 0; i < m; i++) {
    x[i] = ((tt[lo + i] as number) - t0) / 1000;
    if ((y[i] as number) > peak) peak = y[i] as number;
  }
  const spanSec = x[m - 1] as number;
  Object.assign(res, { start: t0, end: tt[n - 1] as number, peak });
  if (m < o.minPoints || spanSec < o.minSpanSec) {
    return { ...res, reason: `${m} points over ${Math.round(spanSec)} s after warm-up; need ≥ ${o.minPoints} over ≥ ${o.minSpanSec} s` };
  }
  const reduced = reduceByBlockMedians(x, y, Math.max(2, o.maxPoints));
  const fit = theilSenExact(reduced.x, reduced.y);
  if (!fit) return { ...res, reason: 'no distinct timestamps' };
  const mk = mannKendall(reduced.y);
  const pValue = mk ? mk.p : 1;
  const r2 = rSquared(x, y, fit.slope, fit.intercept);
  const level = Math.abs(median(y));
  const change = fit.slope * spanSec;
  const relChange = level > 0 ? change / level : change === 0 ? 0 : Math.sign(change) * Infinity;
  const slopePerHour = fit.slope * 3600;
  const fittedEnd = fit.intercept + fit.slope * spanSec;
  const out: LeakTrend = { ...res, slopePerHour, r2, pValue, relChange, fittedEnd, verdict: 'stable' };
  const fails: string[] = [];
  if (!(pValue < o.alpha)) fails.push(`trend p=${pValue.toPrecision(3)} ≥ ${o.alpha}`);
  if (!(r2 >= o.minR2)) fails.push(`R²=${Number.isNaN(r2) ? 'NaN' : r2.toFixed(3)} < ${o.minR2}`);
  if (!(Math.abs(relChange) >= o.minRelChange)) fails.push(`change ${(relChange * 100).toFixed(2)} % of level < ${o.minRelChange * 100} %`);
  if (o.minSlopePerHour !== undefined && !(Math.abs(slopePerHour) >= o.minSlopePerHour)) fails.push(`|slope| ${Math.abs(slopePerHour).toPrecision(3)}/h < ${o.minSlopePerHour}/h`);
  if (o.minChange !== undefined && !(Math.abs(change) >= o.minChange)) fails.push(`change ${Math.abs(change).toPrecision(3)} < ${o.minChange} over the span`);
  if (fails.length > 0) return { ...out, reason: fails.join('; ') };
  out.verdict = fit.slope > 0 ? 'increasing' : 'decreasing';
  out.reason = `slope ${slopePerHour.toPrecision(4)}/h, R²=${r2.toFixed(3)}, p=${pValue.toPrecision(3)}, change ${(relChange * 100).toFixed(1)} % over ${(spanSec / 3600).toFixed(2)} h`;
  if (o.limit !== undefined && out.verdict === 'increasing') {
    out.projectedExhaustionSec = Math.max(0, (o.limit - fittedEnd) / fit.slope);
  }
  return out;
}

/**
 * Restart instants from a process-start-time series (e.g.
 * `process_start_time_seconds`): the time of every point whose value differs
 * from the previous one. Pass to LeakOptions.restartTimesMs.
 */
export function restartTimes(input: Series | readonly Sample[]): number[] {
  const points: readonly Sample[] = Array.isArray(input) ? (input as readonly Sample[]) : (input as Series).points;
  const out: number[] = [];
  for (let i = 1; i < points.length; i++) {
    if ((points[i] as Sample).v !== (points[i - 1] as Sample).v) out.push((points[i] as Sample).t);
  }
  return out;
}

// ------------------------------------------------------------------ degradation

/** Degradation-test options; every field optional. */
export interface DegradationOptions {
  /** Significance level of both tests (default 0.01). */
  alpha?: number;
  /** Smallest relative change (of median or p99) that counts (default 0.1 = 10 %). */
  minEffect?: number;
  /** Higher values are worse (latency: true, default); false for throughput/token rate. */
  higherIsWorse?: boolean;
  /** Fewest values in each window (default 20). */
  minSamples?: number;
  /** Tail quantile compared (default 0.99). */
  tailQuantile?: number;
  /** Fewest baseline values for the tail test (default 200; below, its quantile is too uncertain). */
  minTailBaseline?: number;
}

/** Summary of one window. */
export interface DistributionSummary {
  n: number;
  median: number;
  /** The tail quantile (p99 by default). */
  p99: number;
}

/** Result of a baseline vs recent comparison. */
export interface DegradationResult {
  verdict: 'degraded' | 'improved' | 'unchanged' | 'insufficient data';
  /** Why (human-readable, for evidence). */
  reason: string;
  /** Which way recent moved against baseline by rank (Mann–Whitney z sign). */
  direction: 'up' | 'down' | 'none';
  /** Mann–Whitney two-sided p-value (recent vs baseline). */
  pValue: number;
  /** Mann–Whitney z of recent (> 0: recent larger). */
  z: number;
  /** P(recent > baseline) + ½ P(equal). */
  probRecentGreater: number;
  /** Binomial p-value of too many recent values beyond the baseline tail quantile on the worse side (1 when not tested). */
  tailPValue: number;
  /** Share of recent values beyond the baseline tail quantile on the worse side. */
  tailExceedance: number;
  /** recent median / baseline median − 1. */
  medianChange: number;
  /** recent p99 / baseline p99 − 1. */
  p99Change: number;
  baseline: DistributionSummary;
  recent: DistributionSummary;
}

function relChange(recent: number, base: number): number {
  if (base === 0) return recent === 0 ? 0 : Math.sign(recent) * Infinity;
  return recent / Math.abs(base) - Math.sign(base);
}

function asWeighted(x: ArrayLike<number> | WeightedSample): WeightedSample {
  return (x as WeightedSample).weights instanceof Float64Array && (x as WeightedSample).values instanceof Float64Array ? (x as WeightedSample) : toWeighted(x as ArrayLike<number>);
}

/**
 * Compare a recent window against a baseline (raw values, or weighted
 * samples such as histograms). O((n_b + n_r) log) for raw values, O(distinct
 * values) for weighted ones.
 */
export function compareDistributions(baseline: ArrayLike<number> | WeightedSample, recent: ArrayLike<number> | WeightedSample, opts: DegradationOptions = {}): DegradationResult {
  const o = { alpha: 0.01, minEffect: 0.1, higherIsWorse: true, minSamples: 20, tailQuantile: 0.99, minTailBaseline: 200, ...opts };
  const b = asWeighted(baseline);
  const r = asWeighted(recent);
  const summary = (w: WeightedSample): DistributionSummary => ({ n: w.total, median: weightedQuantile(w, 0.5), p99: weightedQuantile(w, o.tailQuantile) });
  const bs = summary(b);
  const rs = summary(r);
  const empty: DegradationResult = {
    verdict: 'insufficient data',
    reason: '',
    direction: 'none',
    pValue: 1,
    z: 0,
    probRecentGreater: 0.5,
    tailPValue: 1,
    tailExceedance: 0,
    medianChange: 0,
    p99Change: 0,
    baseline: bs,
    recent: rs,
  };
  if (b.total < o.minSamples || r.total < o.minSamples) {
    return { ...empty, reason: `baseline ${b.total} and recent ${r.total} values; need ≥ ${o.minSamples} each` };
  }
  const mw = mannWhitneyWeighted(r, b);
  if (!mw) return { ...empty, reason: 'empty window' };
  const medianChange = relChange(rs.median, bs.median);
  const p99Change = relChange(rs.p99, bs.p99);
  const direction: DegradationResult['direction'] = mw.z > 0 ? 'up' : mw.z < 0 ? 'down' : 'none';
  const worse = o.higherIsWorse ? 1 : -1;
  // Tail test on the worse side.
  let tailPValue = 1;
  let tailExceedance = 0;
  let tailChange = 0;
  if (b.total >= o.minTailBaseline) {
    const q = o.higherIsWorse ? o.tailQuantile : 1 - o.tailQuantile;
    const thr = weightedQuantile(b, q);
    const beyond = (w: WeightedSample) => (o.higherIsWorse ? weightAbove(w, thr) : w.total - weightAbove(w, thr) - weightAt(w, thr));
    const p0 = Math.max(beyond(b) / b.total, 1 / b.total);
    const k = beyond(r);
    tailExceedance = k / r.total;
    tailPValue = binomialSf(Math.round(k), r.total, p0);
    tailChange = o.higherIsWorse ? p99Change : relChange(weightedQuantile(r, q), thr);
  }
  const shift = mw.p < o.alpha && Math.abs(medianChange) >= o.minEffect && Math.sign(medianChange) === Math.sign(mw.z);
  const shiftWorse = shift && Math.sign(medianChange) === worse;
  const tail = tailPValue < o.alpha && Math.sign(tailChange) === worse && Math.abs(tailChange) >= o.minEffect;
  const res: DegradationResult = { ...empty, direction, pValue: mw.p, z: mw.z, probRecentGreater: mw.probXGreater, tailPValue, tailExceedance, medianChange, p99Change };
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  if (shiftWorse || tail) {
    const why: string[] = [];
    if (shiftWorse) why.push(`median ${pct(medianChange)} (p=${mw.p.toPrecision(3)})`);
    if (tail) why.push(`tail ${pct(tailChange)}, ${pct(tailExceedance)} beyond baseline p${o.tailQuantile * 100} (p=${tailPValue.toPrecision(3)})`);
    return { ...res, verdict: 'degraded', reason: why.join('; ') };
  }
  if (shift) return { ...res, verdict: 'improved', reason: `median ${pct(medianChange)} (p=${mw.p.toPrecision(3)})` };
  return {
    ...res,
    verdict: 'unchanged',
    reason: `median ${pct(medianChange)} (p=${mw.p.toPrecision(3)}), tail p=${tailPValue.toPrecision(3)}; need p < ${o.alpha} and |change| ≥ ${pct(o.minEffect)}`,
  };
}

function weightAt(w: WeightedSample, x: number): number {
  // binary search for an exact value
  let lo = 0;
  let hi = w.values.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = w.values[mid] as number;
    if (v === x) return w.weights[mid] as number;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return 0;
}

/**
 * compareDistributions over two HDR histograms (e.g. a baseline HdrTotal
 * snapshot taken after warm-up and the recorder's rolling HdrWindow), each
 * used as a weighted sample of its bucket values (seconds). A few ms.
 */
export function compareHistograms(baseline: { encode(): string }, recent: { encode(): string }, opts: DegradationOptions = {}): DegradationResult {
  return compareDistributions(hdrToWeighted(baseline), hdrToWeighted(recent), opts);
}

/** Values of points (convenience for compareDistributions over series windows). */
export function valuesOf(points: readonly Sample[]): Float64Array {
  const out = new Float64Array(points.length);
  for (let i = 0; i < points.length; i++) out[i] = (points[i] as Sample).v;
  return out;
}
