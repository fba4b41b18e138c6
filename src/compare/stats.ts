/**
 * The tests behind `llmsoak compare`, one per kind of figure:
 *
 * - Percentiles (TTFT, ITL, TPOT, E2E): a bootstrap confidence interval of
 *   the difference of the percentile itself, from the two runs' HDR
 *   histograms. Chosen over Mann–Whitney U because Mann–Whitney tests
 *   whether one whole distribution tends to lie above the other: a p99 that
 *   doubled while the median held (the typical tail regression) can pass it,
 *   and a median shift makes every percentile look "significant". The
 *   bootstrap tests exactly the figure the table shows.
 *   Bounded work: a resample's q-quantile is its k-th order statistic,
 *   k = ⌈q·n⌉, and the k-th of n uniforms is Beta(k, n−k+1); mapped through
 *   the histogram's inverse CDF it has exactly the distribution of the
 *   quantile of n values drawn with replacement from the histogram. So one
 *   resample costs two gamma draws and a binary search over the buckets,
 *   whatever n is (no n-sized arrays), and the draws are seeded.
 *   The bootstrap assumes independent values; successive ITLs of one stream
 *   are not (they share engine steps), so ITL is resampled as many values as
 *   there were streams (`effectiveN`): measured on two runs of the same build,
 *   resampling every ITL gave "significant" p99 changes of 5 %.
 * - Rates (throughput, goodput): completions are counts over a duration; the
 *   conditional test of two Poisson rates (given the total, the candidate's
 *   count is binomial), exact. Open-loop arrivals at a constant rate vary
 *   less than Poisson, so the test is conservative there.
 * - Error rate: the pooled two-proportion z-test.
 */
import { binomialSf, gaussian, normalSf, seededRandom, type WeightedSample } from '../analyzer/stats.js';

/** Gamma(shape, 1) draw, shape ≥ 1 (Marsaglia & Tsang 2000). */
export function gammaDraw(rand: () => number, normal: () => number, shape: number): number {
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = normal();
    const t = 1 + c * x;
    if (t <= 0) continue;
    const v = t * t * t;
    const u = rand();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(a, b) draw, a, b ≥ 1. */
export function betaDraw(rand: () => number, normal: () => number, a: number, b: number): number {
  const x = gammaDraw(rand, normal, a);
  const y = gammaDraw(rand, normal, b);
  return x / (x + y);
}

/** Running totals of a weighted sample's weights, for its inverse CDF. */
export function cumulative(ws: WeightedSample): Float64Array {
  const cum = new Float64Array(ws.weights.length);
  let s = 0;
  for (let i = 0; i < ws.weights.length; i++) cum[i] = s += ws.weights[i] as number;
  return cum;
}

/** Inverse CDF at u ∈ [0, 1]: the smallest value whose cumulative share reaches u. */
export function inverseCdf(ws: WeightedSample, cum: Float64Array, u: number): number {
  const target = u * ws.total;
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((cum[mid] as number) >= target) hi = mid;
    else lo = mid + 1;
  }
  return ws.values[lo] as number;
}

/** The q-quantile as the k-th smallest value, k = ⌈q·n⌉ (type 1, what the bootstrap resamples). */
export function orderQuantile(ws: WeightedSample, cum: Float64Array, q: number): number {
  const k = Math.min(ws.total, Math.max(1, Math.ceil(q * ws.total)));
  return inverseCdf(ws, cum, k / ws.total);
}

export interface QuantileDiff {
  baseline: number;
  candidate: number;
  /** candidate − baseline. */
  diff: number;
  /** Two-sided (1 − alpha) bootstrap percentile interval of the difference. */
  ci: [number, number];
  /** Two-sided bootstrap p-value: 2 × the smaller share of resampled differences on either side of 0. */
  p: number;
  significant: boolean;
}

export interface BootstrapOptions {
  alpha: number;
  resamples: number;
  seed: number;
  /**
   * Resample size of each run when its values are not independent (default:
   * the sample's total). ITLs come in streams whose tokens share the same
   * engine steps: resampling as many values as there were streams keeps the
   * interval honest (a design effect of the mean stream length).
   */
  effectiveN?: { baseline: number; candidate: number };
}

/** Bootstrap of the q-quantile's difference between two histograms (see the file comment). */
export function bootstrapQuantileDiff(base: WeightedSample, cand: WeightedSample, q: number, opts: BootstrapOptions): QuantileDiff {
  if (!(base.total > 0) || !(cand.total > 0)) throw new RangeError('bootstrapQuantileDiff: empty sample');
  const rand = seededRandom(opts.seed);
  const normal = gaussian(rand);
  const cb = cumulative(base);
  const cc = cumulative(cand);
  const draw = (ws: WeightedSample, cum: Float64Array, nEff: number | undefined): number => {
    const n = Math.max(1, Math.round(Math.min(ws.total, nEff ?? ws.total)));
    const k = Math.min(n, Math.max(1, Math.ceil(q * n)));
    return inverseCdf(ws, cum, betaDraw(rand, normal, k, n - k + 1));
  };
  const diffs = new Float64Array(opts.resamples);
  let below = 0;
  let above = 0;
  for (let i = 0; i < opts.resamples; i++) {
    const d = draw(cand, cc, opts.effectiveN?.candidate) - draw(base, cb, opts.effectiveN?.baseline);
    diffs[i] = d;
    if (d <= 0) below++;
    if (d >= 0) above++;
  }
  diffs.sort();
  const at = (share: number): number => diffs[Math.min(diffs.length - 1, Math.max(0, Math.floor(share * diffs.length)))] as number;
  const ci: [number, number] = [at(opts.alpha / 2), at(1 - opts.alpha / 2)];
  const b = orderQuantile(base, cb, q);
  const c = orderQuantile(cand, cc, q);
  const p = Math.min(1, (2 * Math.min(below, above)) / opts.resamples);
  return { baseline: b, candidate: c, diff: c - b, ci, p, significant: ci[0] > 0 || ci[1] < 0 };
}

/**
 * Two Poisson rates, count1 over t1 against count2 over t2: given the total,
 * count2 ~ Bin(total, t2 / (t1 + t2)) when the rates are equal. Exact two-sided p.
 */
export function poissonRateTest(count1: number, t1: number, count2: number, t2: number): { p: number } {
  const n = count1 + count2;
  if (n === 0 || !(t1 > 0) || !(t2 > 0)) return { p: 1 };
  const p0 = t2 / (t1 + t2);
  const upper = binomialSf(count2, n, p0);
  const lower = 1 - binomialSf(count2 + 1, n, p0);
  return { p: Math.min(1, 2 * Math.min(upper, lower)) };
}

/** Pooled two-proportion z-test of x1/n1 against x2/n2; two-sided p. */
export function twoProportionTest(x1: number, n1: number, x2: number, n2: number): { p: number } {
  if (!(n1 > 0) || !(n2 > 0)) return { p: 1 };
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (!(se > 0)) return { p: 1 };
  const z = Math.abs(x2 / n2 - x1 / n1) / se;
  return { p: Math.min(1, 2 * normalSf(z)) };
}

/** A stable seed per figure, so adding a figure does not change another's resamples. */
export function seedFor(base: number, key: string): number {
  let h = 0x811c9dc5 ^ base;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
