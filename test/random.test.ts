import t from 'tap';
import { createRng, type Rng } from '../src/traffic/random.js';
import { sampleLength, type LengthSpec } from '../src/traffic/lengths.js';

const N = 100_000;

function moments(draw: () => number, n = N): { mean: number; variance: number; min: number; max: number } {
  let sum = 0;
  let sum2 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = draw();
    sum += x;
    sum2 += x * x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const mean = sum / n;
  return { mean, variance: sum2 / n - mean * mean, min, max };
}

/** |a - b| <= rel * |b| */
function near(t: Asserter, a: number, b: number, rel: number, msg: string): void {
  t.ok(Math.abs(a - b) <= rel * Math.abs(b), `${msg}: ${a.toPrecision(6)} vs ${b.toPrecision(6)} (±${rel * 100}%)`);
}
/** The one assertion near() needs (works for the root and any subtest). */
interface Asserter {
  ok(cond: boolean, msg: string): unknown;
}

t.test('determinism per seed', async (t) => {
  const seq = (r: Rng): number[] => Array.from({ length: 20 }, () => r.uniform());
  t.same(seq(createRng(42)), seq(createRng(42)), 'same seed, same sequence');
  t.notSame(seq(createRng(42)), seq(createRng(43)), 'different seed, different sequence');
  t.notSame(seq(createRng(1)), seq(createRng(2 ** 32 + 1)), 'high bits of the seed matter');
  const a = createRng(7);
  const b = createRng(7);
  const mix = (r: Rng): number[] => [
    r.normal(),
    r.gamma(0.5, 2),
    r.poisson(3),
    r.poisson(400),
    r.negativeBinomial(100, 2),
    r.logNormal(200, 0.8),
    r.int(1, 6),
    r.pickWeighted([1, 2, 3]),
    r.exponential(2),
  ];
  t.same(mix(a), mix(b), 'every method is deterministic');
  // Golden values pin the algorithm: a change here changes every replayed schedule.
  const g = createRng(2024);
  t.same(
    [g.uniform(), g.uniform()].map((x) => x.toFixed(12)),
    ['0.563430795475', '0.653203325626'],
    'golden values for seed 2024',
  );
  const f1 = createRng(9).fork();
  const f2 = createRng(9).fork();
  t.equal(f1.uniform(), f2.uniform(), 'fork is deterministic');
});

t.test('uniform and int', async (t) => {
  const r = createRng(1);
  const u = moments(() => r.uniform());
  near(t, u.mean, 0.5, 0.01, 'uniform mean');
  near(t, u.variance, 1 / 12, 0.02, 'uniform variance');
  t.ok(u.min >= 0 && u.max < 1, 'uniform in [0, 1)');
  const counts = [0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 60_000; i++) {
    const v = r.int(1, 6);
    counts[v - 1] = (counts[v - 1] ?? 0) + 1;
  }
  t.ok(
    counts.every((c) => Math.abs(c - 10_000) < 500),
    `int(1,6) is uniform and inclusive: ${counts.join(',')}`,
  );
});

t.test('normal, exponential, lognormal', async (t) => {
  const r = createRng(2);
  const z = moments(() => r.normal());
  t.ok(Math.abs(z.mean) < 0.01, `normal mean ${z.mean}`);
  near(t, z.variance, 1, 0.02, 'normal variance');
  const e = moments(() => r.exponential(4));
  near(t, e.mean, 0.25, 0.015, 'exponential mean');
  near(t, e.variance, 1 / 16, 0.04, 'exponential variance');
  const logs: number[] = [];
  for (let i = 0; i < N; i++) logs.push(r.logNormal(300, 0.5));
  logs.sort((a, b) => a - b);
  near(t, logs[N / 2] ?? 0, 300, 0.015, 'lognormal median');
  near(t, logs.reduce((a, b) => a + b, 0) / N, 300 * Math.exp(0.125), 0.01, 'lognormal mean = median * exp(sigma^2/2)');
});

t.test('gamma (Marsaglia-Tsang, with shape < 1 boost)', async (t) => {
  const r = createRng(3);
  for (const [shape, scale] of [
    [0.25, 2],
    [0.7, 1],
    [1, 3],
    [2.5, 0.4],
    [30, 0.1],
  ] as const) {
    const m = moments(() => r.gamma(shape, scale));
    near(t, m.mean, shape * scale, 0.02, `gamma(${shape}, ${scale}) mean`);
    near(t, m.variance, shape * scale * scale, shape < 0.5 ? 0.06 : 0.04, `gamma(${shape}, ${scale}) variance`);
    t.ok(m.min >= 0, 'gamma >= 0');
  }
});

t.test('poisson (small: multiplication, large: PTRS)', async (t) => {
  const r = createRng(4);
  for (const lambda of [0.3, 4, 9.5, 10, 37, 1000, 1e6]) {
    const m = moments(() => r.poisson(lambda));
    near(t, m.mean, lambda, 0.01, `poisson(${lambda}) mean`);
    near(t, m.variance, lambda, 0.03, `poisson(${lambda}) variance`);
  }
  t.equal(r.poisson(0), 0, 'poisson(0) = 0');
  let nonInt = 0;
  for (let i = 0; i < 1000; i++) if (!Number.isInteger(r.poisson(50))) nonInt++;
  t.equal(nonInt, 0, 'integers');
  // Distribution shape, not just moments: P(X = k) for lambda = 12 (PTRS branch).
  const counts = new Map<number, number>();
  for (let i = 0; i < N; i++) {
    const k = r.poisson(12);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  let pk = Math.exp(-12);
  let worst = 0;
  for (let k = 0; k <= 30; k++) {
    if (k > 0) pk *= 12 / k;
    const sd = Math.sqrt(N * pk * (1 - pk));
    worst = Math.max(worst, Math.abs((counts.get(k) ?? 0) - N * pk) / Math.max(sd, 1));
  }
  t.ok(worst < 5, `pmf of poisson(12) within 5 sd everywhere (worst ${worst.toFixed(2)})`);
});

t.test('negative binomial (gamma-Poisson): variance = mean + mean^2/r', async (t) => {
  const r = createRng(5);
  for (const [mean, disp] of [
    [5, 1],
    [200, 2],
    [1000, 20],
    [50, Infinity],
  ] as const) {
    const m = moments(() => r.negativeBinomial(mean, disp));
    near(t, m.mean, mean, 0.015, `negbin(${mean}, ${disp}) mean`);
    near(t, m.variance, mean + (mean * mean) / disp, 0.05, `negbin(${mean}, ${disp}) variance`);
  }
});

t.test('pickWeighted', async (t) => {
  const r = createRng(6);
  const w = [0, 1, 3, 0, 6];
  const c = [0, 0, 0, 0, 0];
  for (let i = 0; i < N; i++) {
    const k = r.pickWeighted(w);
    c[k] = (c[k] ?? 0) + 1;
  }
  t.equal(c[0], 0, 'zero weight never picked');
  t.equal(c[3], 0, 'zero weight never picked');
  near(t, (c[1] ?? 0) / N, 0.1, 0.05, 'weight 1/10');
  near(t, (c[4] ?? 0) / N, 0.6, 0.02, 'weight 6/10');
  t.throws(() => r.pickWeighted([0, 0]), RangeError);
});

t.test('lengths: fixed and uniform', async (t) => {
  const r = createRng(10);
  t.equal(sampleLength({ dist: 'fixed', value: 128 }, r), 128);
  t.equal(sampleLength({ dist: 'fixed', value: 0 }, r), 1, 'at least 1');
  const m = moments(() => sampleLength({ dist: 'uniform', min: 10, max: 20 }, r), 20_000);
  t.equal(m.min, 10);
  t.equal(m.max, 20);
  near(t, m.mean, 15, 0.01, 'uniform mean');
  t.throws(() => sampleLength({ dist: 'uniform', min: 5, max: 4 }, r), RangeError);
});

t.test('lengths: truncated lognormal and negbin stay in bounds, integers >= 1', async (t) => {
  const r = createRng(11);
  const specs: LengthSpec[] = [
    { dist: 'lognormal', median: 500, sigma: 1.2, min: 50, max: 2000 },
    { dist: 'lognormal', median: 2, sigma: 2, min: 0, max: 10 },
    { dist: 'negbin', mean: 300, dispersion: 1.5, min: 20, max: 800 },
    { dist: 'negbin', mean: 1, dispersion: 0.5, min: 1, max: 1000 },
  ];
  for (const s of specs) {
    let bad = 0;
    for (let i = 0; i < 20_000; i++) {
      const v = sampleLength(s, r);
      if (!Number.isInteger(v) || v < Math.max(1, s.dist === 'fixed' ? 1 : s.min) || v > (s.dist === 'fixed' ? v : s.max)) bad++;
    }
    t.equal(bad, 0, `${JSON.stringify(s)} in bounds`);
  }
  t.throws(() => sampleLength({ dist: 'negbin', mean: 10, dispersion: 1, min: 100, max: 10 }, r), RangeError);
});

t.test('lengths: means (truncation by resampling, wide bounds leave the mean intact)', async (t) => {
  const r = createRng(12);
  const ln = moments(() => sampleLength({ dist: 'lognormal', median: 400, sigma: 0.6, min: 1, max: 1e6 }, r), 50_000);
  near(t, ln.mean, 400 * Math.exp(0.18), 0.02, 'lognormal mean');
  const nb = moments(() => sampleLength({ dist: 'negbin', mean: 250, dispersion: 3, min: 1, max: 1e6 }, r), 50_000);
  near(t, nb.mean, 250, 0.02, 'negbin mean');
  near(t, nb.variance, 250 + (250 * 250) / 3, 0.06, 'negbin variance');
  // Resampling (not clamping) within bounds: a symmetric cut keeps the median.
  const cut: number[] = [];
  for (let i = 0; i < 20_000; i++) cut.push(sampleLength({ dist: 'lognormal', median: 400, sigma: 1, min: 200, max: 800 }, r));
  cut.sort((a, b) => a - b);
  near(t, cut[10_000] ?? 0, 400, 0.03, 'truncated lognormal median (symmetric in log space)');
  const atBounds = cut.filter((v) => v === 200 || v === 800).length;
  t.ok(atBounds < 200, `resampling, not piling up at the bounds (${atBounds} at a bound)`);
});
