/**
 * What rules read: a SeriesSource. Two implementations: LocalSource over the
 * in-process SeriesStore (local-source.ts), and one over the Prometheus HTTP
 * API. Every method is defined by the PromQL expression it equals, so both
 * give the same answer for the same data (Prometheus 3 semantics: ranges are
 * left-open, `(now − window, now]`).
 *
 * Absence is never an error: no matching series, or too few points, gives
 * `[]` or `undefined`, which rules report as "insufficient data". Only a
 * malformed selector throws (a bug in the rule).
 *
 * Also here: the PromQL functions both sources need done identically
 * (extrapolatedRate, bucketQuantile), as pure functions.
 */

/** A point: unix ms and value. */
export interface Sample {
  /** Unix time, ms. */
  t: number;
  /** Value, base unit of the metric (seconds, bytes, ratio, per second…). */
  v: number;
}

/** One series: its labels (with `__name__`) and its points, oldest first. */
export interface Series {
  /** Labels including `__name__` (absent from derived series such as rate()). */
  labels: Record<string, string>;
  points: Sample[];
}

/** Options of the per-step functions (rate, quantileOverTime). */
export interface StepOptions {
  /** Lookback of each rate(), s. Default: the source's `rateWindowSec`. */
  rateWindowSec?: number;
  /** Spacing of the evaluation instants, s. Default: the source's `stepSec`. */
  stepSec?: number;
}

/** Aggregation for `last()`. */
export type Aggregation = 'sum' | 'avg' | 'max' | 'min' | 'count';

/**
 * The read interface of the analyzer. Every method is async (the Prometheus
 * implementation does HTTP) and must not be called with a clock read inside a
 * rule: `now` is the evaluation time the rule was given.
 */
export interface SeriesSource {
  /** Resolution of the data, s (the sampler step or Prometheus' scrape interval). */
  readonly stepSec: number;
  /** Default lookback of rate() and quantileOverTime(), s. */
  readonly rateWindowSec: number;
  /** Lookback of instant queries, s (2 × stepSec by default). */
  readonly lookbackSec: number;

  /**
   * Raw points of every matching series in (now − windowSec, now]: the range
   * selector `selector[windowSec s]`. Older parts come at the coarser
   * resolution of the local store's downsampled tier.
   */
  range(selector: string, windowSec: number, now: Date): Promise<Series[]>;

  /**
   * Per-second rate of counters as a series per matching series: one point at
   * every instant t in (now − windowSec, now] that is a multiple of `stepSec`
   * (absolute, as Prometheus aligns subqueries), each the Prometheus
   * `rate(selector[rateWindowSec])` at t (counter resets handled, extrapolated
   * to the window edges). PromQL: `rate(selector[r])[windowSec s:stepSec s]`.
   * Points whose lookback holds fewer than two samples are omitted. Labels
   * lose `__name__`.
   */
  rate(selector: string, windowSec: number, now: Date, opts?: StepOptions): Promise<Series[]>;

  /**
   * `sum(increase(selector[windowSec s]))` at now: counter resets handled,
   * extrapolated like Prometheus. Undefined when no series has two points.
   */
  increase(selector: string, windowSec: number, now: Date): Promise<number | undefined>;

  /**
   * `histogram_quantile(q, sum by (le) (increase(metric_bucket{matchers}[windowSec s])))`:
   * the q-quantile (0..1) of the observations made in the window, summed over
   * every matching series, linear interpolation inside the bucket as
   * Prometheus does. `metric` is the histogram's base name (no `_bucket`);
   * `matchers` like `model="x",scenario=~"chat.*"` (braces optional).
   * Undefined when there are no buckets, no +Inf bucket, or no observations.
   */
  quantile(q: number, metric: string, windowSec: number, now: Date, matchers?: string): Promise<number | undefined>;

  /**
   * The same quantile per step: `histogram_quantile(q, sum by (le)
   * (rate(metric_bucket{matchers}[r])))[windowSec s:stepSec s]`. Steps without
   * observations are omitted.
   */
  quantileOverTime(q: number, metric: string, windowSec: number, now: Date, matchers?: string, opts?: StepOptions): Promise<Sample[]>;

  /**
   * Instant vector at now: per series, the newest point within the lookback
   * (`lookbackSec`), unless the series went stale after it. PromQL: `selector`.
   */
  instant(selector: string, now: Date): Promise<Series[]>;

  /** `agg(selector)` at now (default sum). Undefined when no series has a value. */
  last(selector: string, now: Date, agg?: Aggregation): Promise<number | undefined>;

  /** `avg(avg_over_time(selector[windowSec s]))`: the mean of each series' mean. */
  avgOverTime(selector: string, windowSec: number, now: Date): Promise<number | undefined>;

  /** `max(max_over_time(selector[windowSec s]))`. */
  maxOverTime(selector: string, windowSec: number, now: Date): Promise<number | undefined>;
}

/**
 * Prometheus' extrapolatedRate (promql/functions.go, v3) over points already
 * restricted to (rangeStartMs, rangeEndMs]. `isCounter` adds resets back;
 * `isRate` divides by the range. Undefined with fewer than two points.
 * `t`/`v` are parallel arrays, `lo..hi-1` the points in range;
 * `resetCorr` the counter correction for those points (sum of the value
 * before each drop), computed by the caller.
 */
export function extrapolatedRate(
  t: ArrayLike<number>,
  v: ArrayLike<number>,
  lo: number,
  hi: number,
  resetCorr: number,
  rangeStartMs: number,
  rangeEndMs: number,
  isCounter: boolean,
  isRate: boolean,
): number | undefined {
  const n = hi - lo;
  if (n < 2) return undefined;
  const firstT = t[lo] as number;
  const lastT = t[hi - 1] as number;
  const firstV = v[lo] as number;
  let result = (v[hi - 1] as number) - firstV;
  if (isCounter) result += resetCorr;
  let durationToStart = (firstT - rangeStartMs) / 1000;
  let durationToEnd = (rangeEndMs - lastT) / 1000;
  const sampledInterval = (lastT - firstT) / 1000;
  if (!(sampledInterval > 0)) return undefined;
  const avgBetween = sampledInterval / (n - 1);
  const threshold = avgBetween * 1.1;
  if (durationToStart >= threshold) durationToStart = avgBetween / 2;
  if (isCounter && result > 0 && firstV >= 0) {
    const durationToZero = sampledInterval * (firstV / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  if (durationToEnd >= threshold) durationToEnd = avgBetween / 2;
  let factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval;
  if (isRate) factor /= (rangeEndMs - rangeStartMs) / 1000;
  return result * factor;
}

/** Sum of the counter-reset corrections over the points lo..hi-1 (the value before each drop). */
export function resetCorrection(v: ArrayLike<number>, lo: number, hi: number): number {
  let corr = 0;
  for (let i = lo + 1; i < hi; i++) {
    const prev = v[i - 1] as number;
    if ((v[i] as number) < prev) corr += prev;
  }
  return corr;
}

/** One classic-histogram bucket: upper bound and cumulative count. */
export interface Bucket {
  /** Upper bound (`le`), Infinity for +Inf. */
  le: number;
  /** Cumulative count (or its increase/rate) up to `le`. */
  count: number;
}

/**
 * Prometheus' bucketQuantile (promql/quantile.go) for classic histograms:
 * sorts, merges equal bounds, forces monotonic counts, then interpolates
 * linearly inside the bucket holding rank q × total (lower bound 0 for the
 * first bucket when its upper bound is positive; the largest finite bound when
 * the rank falls in +Inf). q < 0 → −Infinity, q > 1 → +Infinity. Undefined
 * (Prometheus: NaN) without a +Inf bucket, with fewer than two buckets, or with
 * no observations. Does not modify `buckets`.
 */
export function bucketQuantile(q: number, buckets: readonly Bucket[]): number | undefined {
  if (Number.isNaN(q)) return undefined;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  if (buckets.length === 0) return undefined;
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  // coalesce equal bounds
  const bs: Bucket[] = [];
  for (const b of sorted) {
    const last = bs[bs.length - 1];
    if (last && last.le === b.le) last.count += b.count;
    else bs.push({ le: b.le, count: b.count });
  }
  if ((bs[bs.length - 1] as Bucket).le !== Infinity) return undefined;
  // ensure monotonic (Prometheus: a bucket can't have fewer than the one before)
  let max = -Infinity;
  for (const b of bs) {
    if (b.count < max) b.count = max;
    else max = b.count;
  }
  if (bs.length < 2) return undefined;
  const observations = (bs[bs.length - 1] as Bucket).count;
  if (!(observations > 0)) return undefined;
  let rank = q * observations;
  // first bucket (excluding +Inf) whose count >= rank
  let b = 0;
  while (b < bs.length - 1 && (bs[b] as Bucket).count < rank) b++;
  if (b === bs.length - 1) return (bs[bs.length - 2] as Bucket).le;
  if (b === 0 && (bs[0] as Bucket).le <= 0) return (bs[0] as Bucket).le;
  let bucketStart = 0;
  const bucketEnd = (bs[b] as Bucket).le;
  let count = (bs[b] as Bucket).count;
  if (b > 0) {
    bucketStart = (bs[b - 1] as Bucket).le;
    count -= (bs[b - 1] as Bucket).count;
    rank -= (bs[b - 1] as Bucket).count;
  }
  return bucketStart + (bucketEnd - bucketStart) * (rank / count);
}

/** Parse an `le` label ("0.5", "+Inf", "1e-3"). NaN when malformed. */
export function parseLe(le: string | undefined): number {
  if (le === undefined) return NaN;
  if (le === '+Inf' || le === 'Inf' || le === '+inf') return Infinity;
  return Number(le);
}

/**
 * Sum several series point-by-point on equal timestamps (the step-aligned
 * output of rate()/quantileOverTime() lines up exactly). PromQL: `sum(…)`
 * over a subquery. A timestamp present in only some series sums those.
 */
export function sumByTime(series: readonly Series[]): Sample[] {
  const acc = new Map<number, number>();
  for (const s of series) for (const p of s.points) acc.set(p.t, (acc.get(p.t) ?? 0) + p.v);
  return [...acc.entries()].sort((a, b) => a[0] - b[0]).map(([t, v]) => ({ t, v }));
}
