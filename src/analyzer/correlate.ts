/**
 * Correlation and attribution: which resource series move with a latency
 * series, and how much of the latency the load explains. Pure functions over
 * points read from a SeriesSource; no I/O, no clock.
 *
 * - Alignment: series are joined on timestamps, each point of the first
 *   series paired with the nearest point of every other series within
 *   `toleranceMs` (points without a partner are dropped). Step-aligned
 *   outputs of rate()/quantileOverTime() match exactly; raw gauges from the
 *   local store share the sampler's timestamps.
 * - rankCorrelations(): Spearman's rho (average ranks for ties) of the target
 *   against each candidate, its two-sided p-value (t approximation, df = n−2),
 *   and the Holm-adjusted p-value across all candidates (many candidates make
 *   some correlate by chance); `significant` means adjusted p < alpha.
 *   Sorted by |rho|, strongest first. Time-series points are autocorrelated,
 *   so p-values are optimistic; rank by |rho| and treat p as a screen.
 * - attribute(): ordinary least squares (ml-regression's
 *   MultivariateLinearRegression) of the target (e.g. p99 latency per step)
 *   on load features (concurrency, input/output token rates), fitted on
 *   z-scored data. Each feature's contribution is Pratt's measure,
 *   share_j = beta*_j × r_j (standardised coefficient × its correlation with
 *   the target): the shares sum exactly to R², so "share / R²" is the part of
 *   the explained variance attributed to the feature. A share can be negative
 *   for a suppressor variable (correlated features); treat small or negative
 *   shares as "no contribution".
 */
import mlRegression from 'ml-regression';
import type { Sample, Series } from './source.js';
import { mean, pearson, spearman } from './stats.js';

const { MultivariateLinearRegression } = mlRegression;

/**
 * Inner join of several point lists on the first one's timestamps: for each
 * of its points, the nearest point of every other list within toleranceMs.
 * Lists must be sorted by time. O(total points).
 */
export function alignByTime(lists: readonly (readonly Sample[])[], toleranceMs: number): { t: number[]; cols: number[][] } {
  const t: number[] = [];
  const cols: number[][] = lists.map(() => []);
  if (lists.length === 0) return { t, cols };
  const base = lists[0] as readonly Sample[];
  const ptr = new Array<number>(lists.length).fill(0);
  const row = new Array<number>(lists.length);
  for (const p of base) {
    if (!Number.isFinite(p.v)) continue;
    row[0] = p.v;
    let ok = true;
    for (let k = 1; k < lists.length; k++) {
      const l = lists[k] as readonly Sample[];
      let i = ptr[k] as number;
      // advance while the next point is at least as close
      while (i + 1 < l.length && Math.abs((l[i + 1] as Sample).t - p.t) <= Math.abs((l[i] as Sample).t - p.t)) i++;
      ptr[k] = i;
      const q = l[i];
      if (!q || Math.abs(q.t - p.t) > toleranceMs || !Number.isFinite(q.v)) {
        ok = false;
        break;
      }
      row[k] = q.v;
    }
    if (!ok) continue;
    t.push(p.t);
    for (let k = 0; k < lists.length; k++) (cols[k] as number[]).push(row[k] as number);
  }
  return { t, cols };
}

/** Options of rankCorrelations(). */
export interface CorrelationOptions {
  /** Pairing tolerance, ms (default 1,000). */
  toleranceMs?: number;
  /** Family-wise significance level (Holm) (default 0.01). */
  alpha?: number;
  /** Fewest aligned pairs for a candidate to be scored (default 10). */
  minPoints?: number;
}

/** One candidate's correlation with the target. */
export interface Correlation {
  /** The candidate's labels (with __name__ when it has one). */
  labels: Record<string, string>;
  /** Spearman's rho. */
  rho: number;
  /** Two-sided p-value of rho alone. */
  p: number;
  /** Holm-adjusted p-value across the candidates scored. */
  pAdjusted: number;
  /** Aligned pairs. */
  n: number;
  /** pAdjusted < alpha. */
  significant: boolean;
}

/**
 * Spearman correlation of `target` with each candidate, strongest |rho|
 * first. Candidates with fewer than minPoints aligned pairs or a constant
 * side are left out. O(Σ n log n).
 */
export function rankCorrelations(target: readonly Sample[], candidates: readonly Series[], opts: CorrelationOptions = {}): Correlation[] {
  const tol = opts.toleranceMs ?? 1000;
  const alpha = opts.alpha ?? 0.01;
  const minPoints = opts.minPoints ?? 10;
  const out: Correlation[] = [];
  for (const c of candidates) {
    const { cols } = alignByTime([target, c.points], tol);
    const x = cols[0] as number[];
    const y = cols[1] as number[];
    if (x.length < minPoints) continue;
    const r = spearman(x, y);
    if (!r) continue;
    out.push({ labels: { ...c.labels }, rho: r.rho, p: r.p, pAdjusted: r.p, n: r.n, significant: false });
  }
  // Holm step-down adjustment
  const order = out.map((_, i) => i).sort((a, b) => (out[a] as Correlation).p - (out[b] as Correlation).p);
  const m = out.length;
  let running = 0;
  order.forEach((idx, rank) => {
    const c = out[idx] as Correlation;
    running = Math.max(running, Math.min(1, (m - rank) * c.p));
    c.pAdjusted = running;
    c.significant = running < alpha;
  });
  return out.sort((a, b) => Math.abs(b.rho) - Math.abs(a.rho));
}

/** Options of attribute(). */
export interface AttributionOptions {
  /** Pairing tolerance, ms (default 1,000). */
  toleranceMs?: number;
  /** Fewest aligned rows (default max(10, 3 × (features + 1))). */
  minPoints?: number;
}

/** One feature's part in the regression. */
export interface FeatureContribution {
  name: string;
  /** Coefficient in original units: target units per feature unit. */
  coefficient: number;
  /** Standardised coefficient beta* = coefficient × sd(feature) / sd(target). */
  standardized: number;
  /** Pearson correlation of the feature with the target. */
  correlation: number;
  /** Pratt's share of the target's variance = standardized × correlation (Σ shares = R²). */
  share: number;
  /** t statistic of the coefficient (0 for a dropped constant feature). */
  tStat: number;
  /** The feature was constant over the window and left out of the fit. */
  constant: boolean;
}

/** Result of attribute(). */
export interface AttributionResult {
  verdict: 'ok' | 'insufficient data';
  reason: string;
  /** Aligned rows used. */
  n: number;
  /** Coefficient of determination of the fit (0..1). */
  r2: number;
  /** Intercept in target units. */
  intercept: number;
  /** Every feature, largest share first. */
  features: FeatureContribution[];
}

function sd(xs: readonly number[], m: number): number {
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / Math.max(1, xs.length - 1));
}

/**
 * Regress `target` (e.g. p99 latency per step) on named features (e.g.
 * in-flight requests, input and output token rates per step) and attribute
 * the explained variance. O(n × k²); milliseconds for a day of steps.
 */
export function attribute(target: readonly Sample[], features: Readonly<Record<string, readonly Sample[]>>, opts: AttributionOptions = {}): AttributionResult {
  const names = Object.keys(features);
  const tol = opts.toleranceMs ?? 1000;
  const minPoints = opts.minPoints ?? Math.max(10, 3 * (names.length + 1));
  const { cols } = alignByTime([target, ...names.map((n) => features[n] as readonly Sample[])], tol);
  const y = cols[0] as number[];
  const n = y.length;
  const none = (reason: string): AttributionResult => ({
    verdict: 'insufficient data',
    reason,
    n,
    r2: NaN,
    intercept: NaN,
    features: names.map((name) => ({ name, coefficient: 0, standardized: 0, correlation: NaN, share: 0, tStat: 0, constant: false })),
  });
  if (names.length === 0) return none('no features');
  if (n < minPoints) return none(`${n} aligned rows; need ≥ ${minPoints}`);
  const my = mean(y);
  const sy = sd(y, my);
  if (!(sy > 0)) return none('target is constant');
  const xs = names.map((_, j) => cols[j + 1] as number[]);
  const mx = xs.map((c) => mean(c));
  const sx = xs.map((c, j) => sd(c, mx[j] as number));
  const used = names.map((_, j) => (sx[j] as number) > 0);
  const usedIdx = used.flatMap((u, j) => (u ? [j] : []));
  if (usedIdx.length === 0) return none('every feature is constant');
  if (n <= usedIdx.length + 1) return none(`${n} rows for ${usedIdx.length} features`);
  const X: number[][] = [];
  const Y: number[][] = [];
  for (let i = 0; i < n; i++) {
    X.push(usedIdx.map((j) => (((xs[j] as number[])[i] as number) - (mx[j] as number)) / (sx[j] as number)));
    Y.push([((y[i] as number) - my) / sy]);
  }
  const reg = new MultivariateLinearRegression(X, Y, { intercept: true, statistics: true });
  // R² on the standardised fit (scale-invariant)
  let ssRes = 0;
  let ssTot = 0;
  const pred = reg.predict(X);
  for (let i = 0; i < n; i++) {
    const e = ((Y[i] as number[])[0] as number) - ((pred[i] as number[])[0] as number);
    ssRes += e * e;
    ssTot += ((Y[i] as number[])[0] as number) ** 2;
  }
  const r2 = Math.max(0, Math.min(1, 1 - ssRes / ssTot));
  let intercept = my;
  const contributions: FeatureContribution[] = names.map((name, j) => {
    const k = usedIdx.indexOf(j);
    if (k < 0) return { name, coefficient: 0, standardized: 0, correlation: NaN, share: 0, tStat: 0, constant: true };
    const beta = (reg.weights[k] as number[])[0] as number;
    const coefficient = (beta * sy) / (sx[j] as number);
    intercept -= coefficient * (mx[j] as number);
    const correlation = pearson(xs[j] as number[], y);
    return { name, coefficient, standardized: beta, correlation, share: beta * correlation, tStat: reg.tStats[k] ?? 0, constant: false };
  });
  contributions.sort((a, b) => b.share - a.share);
  return { verdict: 'ok', reason: `R²=${r2.toFixed(3)} over ${n} rows`, n, r2, intercept, features: contributions };
}
