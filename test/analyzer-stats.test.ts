/**
 * Statistics against known values. Reference figures computed with
 * scipy 1.17 (stats.mannwhitneyu(method='asymptotic'), spearmanr, norm.sf,
 * t.sf, binom.sf, theilslopes) and numpy.quantile (type 7).
 */
import t from 'tap';
import mlRegression from 'ml-regression';
import { HdrTotal } from '../src/metrics/hdr-window.js';
import {
  averageRanks,
  binomialSf,
  gaussian,
  hdrToWeighted,
  mannKendall,
  mannWhitneyU,
  mannWhitneyWeighted,
  median,
  normalCdf,
  normalSf,
  quantile,
  rSquared,
  seededRandom,
  spearman,
  studentTSf,
  theilSen,
  toWeighted,
  weightedQuantile,
} from '../src/analyzer/stats.js';

/** |got − want| ≤ rel × |want|. */
const near = (got: number, want: number, rel: number): boolean => Math.abs(got - want) <= rel * Math.abs(want) + 1e-300;

t.test('normal, t and binomial tails', async (t) => {
  t.ok(near(normalSf(1), 0.15865525393145707, 1e-12), `norm.sf(1): ${normalSf(1)}`);
  t.ok(near(normalSf(3.5), 0.00023262907903552502, 1e-11), `norm.sf(3.5): ${normalSf(3.5)}`);
  t.ok(near(normalSf(8), 6.22096057427174e-16, 1e-9), `norm.sf(8): ${normalSf(8)}`);
  t.ok(near(normalSf(-1.3), 0.9031995154143897, 1e-12), `norm.sf(-1.3): ${normalSf(-1.3)}`);
  t.ok(near(normalCdf(0), 0.5, 1e-15), `cdf(0): ${normalCdf(0)}`);
  t.ok(near(studentTSf(2.1, 5), 0.044876624942299395, 1e-10), `t.sf(2.1, 5): ${studentTSf(2.1, 5)}`);
  t.ok(near(studentTSf(0.3, 30), 0.3831230526421764, 1e-10), `t.sf(0.3, 30): ${studentTSf(0.3, 30)}`);
  t.ok(near(studentTSf(-1.2, 3), 0.8418689426509474, 1e-10), `t.sf(-1.2, 3): ${studentTSf(-1.2, 3)}`);
  t.ok(near(studentTSf(12, 100), 2.1975438578021966e-21, 1e-8), `t.sf(12, 100): ${studentTSf(12, 100)}`);
  // scipy binom.sf(k) = P(X > k) = binomialSf(k + 1)
  t.ok(near(binomialSf(5, 100, 0.01), 0.0034323215877545207, 1e-10), `P(X≥5), n=100, p=0.01: ${binomialSf(5, 100, 0.01)}`);
  t.ok(near(binomialSf(12, 1000, 0.01), 0.30264991385689527, 1e-10), `P(X≥12), n=1000, p=0.01: ${binomialSf(12, 1000, 0.01)}`);
  t.ok(near(binomialSf(1, 50, 0.02), 0.635830319912883, 1e-10), `P(X≥1), n=50, p=0.02: ${binomialSf(1, 50, 0.02)}`);
  t.equal(binomialSf(0, 10, 0.5), 1);
  t.equal(binomialSf(11, 10, 0.5), 0);
});

t.test('Mann–Whitney U matches scipy (asymptotic, ties, continuity)', async (t) => {
  const x = [1.1, 2.2, 2.2, 3.5, 4.0, 4.0, 4.0, 5.1, 6.3, 7.7];
  const y = [2.2, 3.0, 4.0, 4.0, 5.5, 6.1, 7.7, 7.7, 8.0, 9.9, 10.5, 11.0];
  const two = mannWhitneyU(x, y);
  t.ok(two);
  t.equal(two?.u1, 29);
  t.ok(near(two?.p ?? NaN, 0.04264200571302434, 1e-10), `two-sided: ${two?.p ?? NaN}`);
  t.ok(near(mannWhitneyU(x, y, { alternative: 'greater' })?.p ?? NaN, 0.9818550899906628, 1e-10), `greater: ${mannWhitneyU(x, y, { alternative: 'greater' })?.p ?? NaN}`);
  t.ok(near(mannWhitneyU(x, y, { alternative: 'less' })?.p ?? NaN, 0.02132100285651217, 1e-10), `less: ${mannWhitneyU(x, y, { alternative: 'less' })?.p ?? NaN}`);
  t.ok(near(mannWhitneyU(x, y, { continuity: false })?.p ?? NaN, 0.03935722560301603, 1e-10), `no continuity: ${mannWhitneyU(x, y, { continuity: false })?.p ?? NaN}`);
  t.ok((two?.z ?? 0) < 0, 'x tends smaller: z < 0');

  const a = [
    9, 10, 15, 19, 0, 2, 16, 18, 4, 6, 17, 8, 5, 16, 5, 8, 12, 10, 1, 0, 17, 15, 16, 10, 16, 6, 9, 15, 2, 6, 2, 9, 19, 2, 7, 8, 18, 4, 10, 5, 0, 15, 1, 5, 9, 9, 2, 19, 14, 19, 1, 14, 5, 10, 18, 5, 14,
    3, 6, 19,
  ];
  const b = [12, 14, 9, 5, 12, 16, 13, 20, 10, 16, 20, 23, 12, 3, 18, 14, 22, 13, 11, 4, 13, 17, 19, 21, 7, 16, 20, 8, 10, 21, 15, 14, 17, 14, 24, 19, 4, 6, 14, 21, 4, 18, 19, 20, 22];
  const r = mannWhitneyU(a, b);
  t.equal(r?.u1, 755.5);
  t.ok(near(r?.p ?? NaN, 0.00011735516105345125, 1e-9), `integer data, heavy ties: ${r?.p ?? NaN}`);
  // weighted form = expanded form
  const w = mannWhitneyWeighted(toWeighted(a), toWeighted(b));
  t.equal(w?.u1, r?.u1);
  t.equal(w?.p, r?.p);
  t.equal(mannWhitneyU([], [1, 2]), undefined, 'empty side → undefined');
  t.equal(mannWhitneyU([1, 1, 1], [1, 1])?.p, 1, 'all tied → p = 1');
});

t.test('Mann–Whitney p-values are uniform under H0 (no inflation)', async (t) => {
  const g = gaussian(seededRandom(42));
  let rejections = 0;
  const trials = 400;
  for (let k = 0; k < trials; k++) {
    const a = Array.from({ length: 40 }, g);
    const b = Array.from({ length: 50 }, g);
    if ((mannWhitneyU(a, b)?.p ?? 1) < 0.05) rejections++;
  }
  const rate = rejections / trials;
  t.ok(rate > 0.02 && rate < 0.085, `type-I error at 5 %: ${rate}`);
});

t.test('Spearman with ties matches scipy', async (t) => {
  const x = [1, 2, 2, 3, 4, 5, 5, 5, 6, 7, 8, 9];
  const y = [2, 1, 3, 3, 5, 4, 6, 6, 5, 8, 7, 10];
  const r = spearman(x, y);
  t.ok(near(r?.rho ?? NaN, 0.9166724301802722, 1e-12), `rho: ${r?.rho ?? NaN}`);
  t.ok(near(r?.p ?? NaN, 2.7472897842125687e-5, 1e-8), `p: ${r?.p ?? NaN}`);
  t.equal(spearman([1, 2, 3], [5, 5, 5]), undefined, 'constant → undefined');
  t.equal(spearman([1, 2], [1, 2]), undefined, 'n < 3 → undefined');
  t.same(Array.from(averageRanks([10, 20, 20, 30]).ranks), [1, 2.5, 2.5, 4]);
  t.equal(averageRanks([1, 1, 1, 2]).tieSum, 24);
});

t.test('Mann–Kendall', async (t) => {
  const r = mannKendall([1, 2, 3, 4, 5]);
  t.equal(r?.s, 10);
  t.ok(near(r?.p ?? NaN, 0.02748633611151033, 1e-10), `p of a perfect 5-point trend: ${r?.p ?? NaN}`);
  const g = gaussian(seededRandom(7));
  const flat = Array.from({ length: 200 }, g);
  t.ok((mannKendall(flat)?.p ?? 0) > 0.01, 'flat noise: no trend');
});

t.test('quantiles and weighted samples', async (t) => {
  const v = [3, 1, 4, 1, 5, 9, 2, 6];
  t.ok(near(quantile(v, 0.99), 8.79, 1e-12), `type 7 p99: ${quantile(v, 0.99)}`);
  t.equal(quantile(v, 0.5), 3.5);
  t.equal(median(v), 3.5);
  t.equal(median([5, 1, 3]), 3);
  const w = toWeighted(v);
  t.equal(w.total, 8);
  t.ok(near(weightedQuantile(w, 0.99), 8.79, 1e-12), `weighted = expanded: ${weightedQuantile(w, 0.99)}`);
  t.equal(weightedQuantile(w, 0.5), 3.5);
  t.ok(Number.isNaN(median([])));
});

t.test('Theil–Sen: exact below maxPoints, agrees with scipy and ml-regression', async (t) => {
  const xs = Array.from({ length: 30 }, (_, i) => i);
  const ys = xs.map((i) => 0.5 * i + (((i * 7919) % 13) - 6));
  const fit = theilSen(xs, ys);
  t.equal(fit?.slope, 0.55, 'scipy.stats.theilslopes slope');
  const ml = new mlRegression.TheilSenRegression(xs, ys);
  t.equal(fit?.slope, ml.slope, 'same slope as ml-regression');
  t.ok(near(fit?.intercept ?? NaN, ml.intercept, 1e-12), 'same intercept as ml-regression (median of residuals)');
  // robust to outliers: 20 % gross outliers do not move the slope much
  const g = gaussian(seededRandom(3));
  const x2 = Array.from({ length: 2000 }, (_, i) => i * 15);
  const y2 = x2.map((x, i) => 100 + 0.01 * x + g() * 2 + (i % 5 === 0 ? 500 : 0));
  const f2 = theilSen(x2, y2, 200);
  t.ok(f2 && Math.abs(f2.slope - 0.01) / 0.01 < 0.05, `slope with outliers on block medians: ${f2?.slope}`);
  t.equal(f2?.used, 200);
  t.ok(rSquared([0, 1, 2], [1, 3, 5], 2, 1) === 1, 'perfect fit R² = 1');
  t.equal(theilSen([1, 1, 1], [1, 2, 3]), undefined, 'no distinct x');
});

t.test('HDR histogram as a weighted sample', async (t) => {
  const h = new HdrTotal();
  for (let i = 1; i <= 1000; i++) h.record(i / 1000); // 1 ms .. 1 s
  const w = hdrToWeighted(h);
  t.equal(w.total, 1000);
  t.ok(near(weightedQuantile(w, 0.5), 0.5005, 0.002), `median within HDR resolution: ${weightedQuantile(w, 0.5)}`);
  t.ok(near(weightedQuantile(w, 0.99), 0.99, 0.002), `p99 within HDR resolution: ${weightedQuantile(w, 0.99)}`);
});
