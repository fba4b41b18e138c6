/**
 * Statistics for the analyzer, dependency-free and deterministic: special
 * functions (normal, Student t, binomial tails via the regularised incomplete
 * beta and gamma functions, ~1e-14 relative accuracy), quantiles, ranks with
 * ties, Mann–Whitney U (normal approximation with tie and continuity
 * correction, as scipy.stats.mannwhitneyu(method='asymptotic')), Spearman's
 * rho (t-test p-value, as scipy.stats.spearmanr), the Mann–Kendall trend test,
 * and a Theil–Sen estimator that stays fast on thousands of points.
 *
 * Everything is pure and synchronous; the costs are stated per function so a
 * caller on the event loop knows what it may block for.
 */
import { decodeFromCompressedBase64, JsHistogram } from 'hdr-histogram-js';

// ------------------------------------------------------------ special functions

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; relative error ~1e-15). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = LANCZOS[0] as number;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += (LANCZOS[i] as number) / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPS = 1e-16;
const FPMIN = 1e-300;

/** Continued fraction for the incomplete beta (modified Lentz). */
function betacf(x: number, a: number, b: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < FPMIN) d = FPMIN;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b), 0 ≤ x ≤ 1, a, b > 0. */
export function regIncBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lbt = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  const bt = Math.exp(lbt);
  if (x < (a + 1) / (a + b + 2)) return (bt * betacf(x, a, b)) / a;
  return 1 - (bt * betacf(1 - x, b, a)) / b;
}

/** Regularised upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a). */
export function regIncGammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const gln = lnGamma(a);
  if (x < a + 1) {
    // series for P
    let ap = a;
    let sum = 1 / a;
    let del = sum;
    for (let n = 0; n < 10_000; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * EPS) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - gln);
  }
  // continued fraction for Q (modified Lentz)
  let b = x + 1 - a;
  let c = 1 / FPMIN;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i <= 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = b + an / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - gln) * h;
}

/** Complementary error function. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const q = regIncGammaQ(0.5, x * x);
  return x >= 0 ? q : 2 - q;
}

/** Standard normal upper tail P(Z > z). */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** Standard normal CDF P(Z ≤ z). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Student t upper tail P(T > t) with `df` degrees of freedom. */
export function studentTSf(t: number, df: number): number {
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 0;
  if (t === -Infinity) return 1;
  const tail = 0.5 * regIncBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? tail : 1 - tail;
}

/** Binomial upper tail P(X ≥ k) for X ~ Bin(n, p). */
export function binomialSf(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  return regIncBeta(p, k, n - k + 1);
}

// ------------------------------------------------------------ descriptives

/**
 * Quantile q (0..1) of ascending-sorted values with linear interpolation
 * between order statistics (Hyndman–Fan type 7, numpy's default). NaN when empty.
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  const a = sorted[lo] as number;
  return a + (h - lo) * ((sorted[hi] as number) - a);
}

/** Quantile of unsorted values (copies and sorts: O(n log n)). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(values as ArrayLike<number>).sort();
  return quantileSorted(s, q);
}

/** Median (O(n) expected: quickselect on a copy). NaN when empty. */
export function median(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return NaN;
  const a = Float64Array.from(values as ArrayLike<number>);
  return medianInPlace(a, n);
}

/** Median of the first n entries of `a`, reordering them. */
export function medianInPlace(a: Float64Array, n: number): number {
  if (n === 0) return NaN;
  const k = n >> 1;
  const hi = select(a, k, 0, n - 1);
  if (n % 2 === 1) return hi;
  // the lower middle is the max of the left part after selection
  let lo = -Infinity;
  for (let i = 0; i < k; i++) if ((a[i] as number) > lo) lo = a[i] as number;
  return (lo + hi) / 2;
}

/** Hoare quickselect: the k-th smallest of a[lo..hi] (inclusive), partially reordering. O(n) expected. */
function select(a: Float64Array, k: number, lo: number, hi: number): number {
  while (hi > lo) {
    // median-of-three pivot (deterministic, robust on sorted input)
    const mid = (lo + hi) >>> 1;
    const x = a[lo] as number;
    const y = a[mid] as number;
    const z = a[hi] as number;
    // biome-ignore lint/complexity/useMathMinMax: a median of three, which Math.min/max would not express
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const tmp = a[i] as number;
        a[i] = a[j] as number;
        a[j] = tmp;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k] as number;
  }
  return a[k] as number;
}

/** Arithmetic mean; NaN when empty. */
export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] as number;
  return s / values.length;
}

// ------------------------------------------------------------ ranks

/** Ranks 1..n with ties given their average rank, and Σ(t³ − t) over tie groups. O(n log n). */
export function averageRanks(values: ArrayLike<number>): { ranks: Float64Array; tieSum: number } {
  const n = values.length;
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort((a, b) => (values[a] as number) - (values[b] as number));
  const ranks = new Float64Array(n);
  let tieSum = 0;
  let i = 0;
  while (i < n) {
    let j = i + 1;
    const v = values[idx[i] as number] as number;
    while (j < n && values[idx[j] as number] === v) j++;
    const r = (i + 1 + j) / 2; // average of ranks i+1..j
    for (let k = i; k < j; k++) ranks[idx[k] as number] = r;
    const t = j - i;
    if (t > 1) tieSum += t * t * t - t;
    i = j;
  }
  return { ranks, tieSum };
}

// ------------------------------------------------------------ weighted samples

/**
 * A sample given as distinct ascending values with counts (e.g. a histogram):
 * statistically the multiset where values[i] occurs weights[i] times.
 */
export interface WeightedSample {
  /** Distinct values, ascending. */
  values: Float64Array;
  /** Count of each value (> 0). */
  weights: Float64Array;
  /** Σ weights. */
  total: number;
}

/** Group raw values into a WeightedSample (NaN dropped). O(n log n). */
export function toWeighted(values: ArrayLike<number>): WeightedSample {
  const s = Float64Array.from(values as ArrayLike<number>)
    .filter((v) => !Number.isNaN(v))
    .sort();
  const vs: number[] = [];
  const ws: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const v = s[i] as number;
    if (vs.length > 0 && vs[vs.length - 1] === v) ws[ws.length - 1] = (ws[ws.length - 1] as number) + 1;
    else {
      vs.push(v);
      ws.push(1);
    }
  }
  return { values: Float64Array.from(vs), weights: Float64Array.from(ws), total: s.length };
}

/**
 * Quantile of a weighted sample, defined as type 7 on the expanded multiset
 * (so toWeighted(x) gives the same answer as quantile(x)). NaN when empty.
 */
export function weightedQuantile(ws: WeightedSample, q: number): number {
  const n = ws.total;
  if (!(n > 0)) return NaN;
  const h = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(h);
  const frac = h - lo;
  const at = (rank: number): number => {
    // value of 0-based order statistic `rank`
    let cum = 0;
    for (let i = 0; i < ws.values.length; i++) {
      cum += ws.weights[i] as number;
      if (rank < cum) return ws.values[i] as number;
    }
    return ws.values[ws.values.length - 1] as number;
  };
  const a = at(lo);
  return frac === 0 ? a : a + frac * (at(Math.min(n - 1, lo + 1)) - a);
}

/** Weight of values strictly greater than `x`. */
export function weightAbove(ws: WeightedSample, x: number): number {
  let s = 0;
  for (let i = ws.values.length - 1; i >= 0 && (ws.values[i] as number) > x; i--) s += ws.weights[i] as number;
  return s;
}

/**
 * The content of an HDR histogram (HdrWindow or HdrTotal from
 * src/metrics/hdr-window.ts, through their `encode()`) as a weighted sample
 * in seconds: each recorded HDR bucket becomes its median-equivalent value
 * with its count (values are integer µs, 0.1 % resolution). O(HDR buckets)
 * (~45k for a 1 h ceiling): a few ms, do not call per request.
 */
export function hdrToWeighted(h: { encode(): string }): WeightedSample {
  const hist = decodeFromCompressedBase64(h.encode(), 64, false);
  const vs: number[] = [];
  const ws: number[] = [];
  if (hist instanceof JsHistogram) {
    for (let i = 0; i < hist.countsArrayLength; i++) {
      const c = hist.getCountAtIndex(i);
      if (c > 0) {
        vs.push(hist.medianEquivalentValue(hist.valueFromIndex(i)) / 1e6);
        ws.push(c);
      }
    }
  }
  hist.destroy();
  let total = 0;
  for (const w of ws) total += w;
  return { values: Float64Array.from(vs), weights: Float64Array.from(ws), total };
}

// ------------------------------------------------------------ Mann–Whitney U

/** Alternative hypothesis about x relative to y. */
export type Alternative = 'two-sided' | 'greater' | 'less';

/** Result of a Mann–Whitney U test of x against y. */
export interface MannWhitneyResult {
  /** U statistic of x: number of (x, y) pairs with x > y, ties counting ½. */
  u1: number;
  /** n1 n2 − u1. */
  u2: number;
  /** Normal score of u1 (continuity-corrected toward 0 when enabled); > 0 when x tends larger. */
  z: number;
  /** p-value under the chosen alternative (normal approximation, tie-corrected). */
  p: number;
  n1: number;
  n2: number;
  /** u1 / (n1 n2) = P(X > Y) + ½ P(X = Y), the common-language effect size. */
  probXGreater: number;
}

/** Options of the Mann–Whitney test. */
export interface MannWhitneyOptions {
  /** Default 'two-sided'. */
  alternative?: Alternative;
  /** Continuity correction of ½ (default true, as scipy). */
  continuity?: boolean;
}

/**
 * Mann–Whitney U test of raw samples (NaN dropped). Undefined when either is
 * empty. O((n1 + n2) log(n1 + n2)).
 */
export function mannWhitneyU(x: ArrayLike<number>, y: ArrayLike<number>, opts: MannWhitneyOptions = {}): MannWhitneyResult | undefined {
  return mannWhitneyWeighted(toWeighted(x), toWeighted(y), opts);
}

/**
 * Mann–Whitney U test of weighted samples (e.g. two histograms): equal values
 * are ties, whichever sample they come from. Matches mannWhitneyU on the
 * expanded samples. O(distinct values).
 */
export function mannWhitneyWeighted(x: WeightedSample, y: WeightedSample, opts: MannWhitneyOptions = {}): MannWhitneyResult | undefined {
  const n1 = x.total;
  const n2 = y.total;
  if (!(n1 > 0) || !(n2 > 0)) return undefined;
  const n = n1 + n2;
  // Merge the two ascending value lists; rank tie groups.
  let i = 0;
  let j = 0;
  let below = 0; // observations with smaller values
  let r1 = 0;
  let tieSum = 0;
  while (i < x.values.length || j < y.values.length) {
    const xv = i < x.values.length ? (x.values[i] as number) : Infinity;
    const yv = j < y.values.length ? (y.values[j] as number) : Infinity;
    const v = Math.min(xv, yv);
    let cx = 0;
    let cy = 0;
    if (xv === v && i < x.values.length) cx = x.weights[i++] as number;
    if (yv === v && j < y.values.length) cy = y.weights[j++] as number;
    const c = cx + cy;
    const avgRank = below + (c + 1) / 2;
    r1 += cx * avgRank;
    if (c > 1) tieSum += c * c * c - c;
    below += c;
  }
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const u2 = n1 * n2 - u1;
  const mu = (n1 * n2) / 2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieSum / (n * (n - 1))));
  const alternative = opts.alternative ?? 'two-sided';
  const cc = opts.continuity === false ? 0 : 0.5;
  let p: number;
  let z: number;
  if (!(sigma > 0)) {
    z = 0;
    p = 1;
  } else {
    const d = u1 - mu;
    z = (Math.sign(d) * Math.max(0, Math.abs(d) - cc)) / sigma;
    const u = alternative === 'greater' ? u1 : alternative === 'less' ? u2 : Math.max(u1, u2);
    const zz = (u - mu - cc) / sigma;
    p = normalSf(zz);
    if (alternative === 'two-sided') p *= 2;
    p = Math.min(1, Math.max(0, p));
  }
  return { u1, u2, z, p, n1, n2, probXGreater: u1 / (n1 * n2) };
}

// ------------------------------------------------------------ correlation

/** Spearman rank correlation with its two-sided p-value. */
export interface SpearmanResult {
  /** rho in [−1, 1] (Pearson correlation of average ranks: ties handled). */
  rho: number;
  /** Two-sided p-value from t = rho √((n−2)/(1−rho²)), df = n − 2 (as scipy.stats.spearmanr). */
  p: number;
  n: number;
}

/** Pearson correlation of two equal-length arrays; NaN when either is constant. O(n). */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = Math.min(x.length, y.length);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] as number;
    my += y[i] as number;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (!(sxx > 0) || !(syy > 0)) return NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/**
 * Spearman's rho of paired samples. Undefined with fewer than 3 pairs or
 * when either side is constant (no information). O(n log n).
 */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): SpearmanResult | undefined {
  const n = Math.min(x.length, y.length);
  if (n < 3) return undefined;
  const rx = averageRanks(x.length === n ? x : (Array.prototype.slice.call(x, 0, n) as number[])).ranks;
  const ry = averageRanks(y.length === n ? y : (Array.prototype.slice.call(y, 0, n) as number[])).ranks;
  const rho = pearson(rx, ry);
  if (Number.isNaN(rho)) return undefined;
  const df = n - 2;
  let p: number;
  if (Math.abs(rho) >= 1) p = 0;
  else {
    const t = rho * Math.sqrt(df / ((1 - rho) * (1 + rho)));
    p = Math.min(1, 2 * studentTSf(Math.abs(t), df));
  }
  return { rho, p, n };
}

// ------------------------------------------------------------ trend tests

/** Mann–Kendall trend test result. */
export interface MannKendallResult {
  /** S = Σ_{i<j} sign(y_j − y_i). */
  s: number;
  /** Kendall's tau-a = S / (n(n−1)/2). */
  tau: number;
  /** Continuity-corrected normal score. */
  z: number;
  /** Two-sided p-value (tie-corrected variance). */
  p: number;
  n: number;
}

/** Mann–Kendall test for a monotonic trend in y (ordered by time). O(n²): keep n ≲ 500. */
export function mannKendall(y: ArrayLike<number>): MannKendallResult | undefined {
  const n = y.length;
  if (n < 3) return undefined;
  let s = 0;
  for (let i = 0; i < n - 1; i++) {
    const yi = y[i] as number;
    for (let j = i + 1; j < n; j++) {
      const d = (y[j] as number) - yi;
      s += d > 0 ? 1 : d < 0 ? -1 : 0;
    }
  }
  // tie correction
  const sorted = Float64Array.from(y as ArrayLike<number>).sort();
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && sorted[j] === sorted[i]) j++;
    const t = j - i;
    if (t > 1) tieTerm += t * (t - 1) * (2 * t + 5);
    i = j;
  }
  const variance = (n * (n - 1) * (2 * n + 5) - tieTerm) / 18;
  let z = 0;
  if (variance > 0) z = s > 0 ? (s - 1) / Math.sqrt(variance) : s < 0 ? (s + 1) / Math.sqrt(variance) : 0;
  const p = variance > 0 ? Math.min(1, 2 * normalSf(Math.abs(z))) : 1;
  return { s, tau: s / ((n * (n - 1)) / 2), z, p, n };
}

/** A Theil–Sen line. */
export interface TheilSenFit {
  /** Median of pairwise slopes, y units per x unit. */
  slope: number;
  /** Median of y − slope·x. */
  intercept: number;
  /** Points the slopes were computed on (after block reduction). */
  used: number;
}

/**
 * Reduce (x, y) to at most `maxPoints` points deterministically: split into
 * equal consecutive blocks and keep each block's (median x, median y). Block
 * medians keep the estimator robust to outliers (a spike moves one block's
 * median by at most one rank) while bounding the O(m²) pairwise step.
 * Returns the inputs unchanged (as Float64Array) when already small enough.
 */
export function reduceByBlockMedians(x: ArrayLike<number>, y: ArrayLike<number>, maxPoints: number): { x: Float64Array; y: Float64Array } {
  const n = Math.min(x.length, y.length);
  if (n <= maxPoints) return { x: Float64Array.from(x as ArrayLike<number>).subarray(0, n), y: Float64Array.from(y as ArrayLike<number>).subarray(0, n) };
  const m = maxPoints;
  const bx = new Float64Array(m);
  const by = new Float64Array(m);
  const tmp = new Float64Array(Math.ceil(n / m) + 1);
  for (let b = 0; b < m; b++) {
    const lo = Math.floor((b * n) / m);
    const hi = Math.floor(((b + 1) * n) / m);
    const len = hi - lo;
    for (let i = 0; i < len; i++) tmp[i] = x[lo + i] as number;
    bx[b] = medianInPlace(tmp, len);
    for (let i = 0; i < len; i++) tmp[i] = y[lo + i] as number;
    by[b] = medianInPlace(tmp, len);
  }
  return { x: bx, y: by };
}

/** Scratch for pairwise slopes, grown on demand and reused (no allocation per fit). */
let slopeScratch = new Float64Array(1 << 15);

/**
 * Theil–Sen estimator: the median of all pairwise slopes (pairs with equal x
 * skipped), intercept = median(y − slope·x). Exact for n ≤ maxPoints
 * (default 200); above, computed on block medians (reduceByBlockMedians).
 * Cost O(m²) with m = min(n, maxPoints): ~20k slopes, ≈0.1–0.2 ms at the
 * default. Undefined with fewer than 2 distinct x. Centre x (e.g. seconds
 * since the first point) to keep the intercept well-conditioned.
 */
export function theilSen(x: ArrayLike<number>, y: ArrayLike<number>, maxPoints = 200): TheilSenFit | undefined {
  const r = reduceByBlockMedians(x, y, Math.max(2, maxPoints));
  return theilSenExact(r.x, r.y);
}

/** Theil–Sen on every pair of the given points (no reduction). O(n²): keep n ≲ 300. */
export function theilSenExact(x: ArrayLike<number>, y: ArrayLike<number>): TheilSenFit | undefined {
  const m = Math.min(x.length, y.length);
  if (m < 2) return undefined;
  const pairs = (m * (m - 1)) / 2;
  if (slopeScratch.length < pairs) slopeScratch = new Float64Array(pairs);
  const slopes = slopeScratch;
  let k = 0;
  for (let i = 0; i < m - 1; i++) {
    const xi = x[i] as number;
    const yi = y[i] as number;
    for (let j = i + 1; j < m; j++) {
      const dx = (x[j] as number) - xi;
      if (dx !== 0) slopes[k++] = ((y[j] as number) - yi) / dx;
    }
  }
  if (k === 0) return undefined;
  const slope = medianInPlace(slopes, k);
  const res = new Float64Array(m);
  for (let i = 0; i < m; i++) res[i] = (y[i] as number) - slope * (x[i] as number);
  const intercept = medianInPlace(res, m);
  return { slope, intercept, used: m };
}

/**
 * Fraction of the variance of y explained by the line a + b·x:
 * 1 − SS_res / SS_tot. For a robust (non-least-squares) line it can be
 * negative (the line fits worse than the mean). NaN when y is constant. O(n).
 */
export function rSquared(x: ArrayLike<number>, y: ArrayLike<number>, slope: number, intercept: number): number {
  const n = Math.min(x.length, y.length);
  const my = mean(y);
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i++) {
    const yi = y[i] as number;
    const e = yi - (intercept + slope * (x[i] as number));
    ssRes += e * e;
    ssTot += (yi - my) * (yi - my);
  }
  if (!(ssTot > 0)) return NaN;
  return 1 - ssRes / ssTot;
}

// ------------------------------------------------------------ deterministic noise (tests, benches)

/** Mulberry32: a small seeded PRNG in [0, 1). Deterministic across platforms. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws from a uniform source (Box–Muller). */
export function gaussian(rand: () => number): () => number {
  return () => {
    const u = 1 - rand();
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}
