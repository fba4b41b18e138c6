/**
 * Correlation ranking and load attribution on synthetic series with known
 * structure (seeded noise).
 */
import t from 'tap';
import { alignByTime, attribute, rankCorrelations } from '../src/analyzer/correlate.js';
import { gaussian, seededRandom } from '../src/analyzer/stats.js';
import type { Sample, Series } from '../src/analyzer/source.js';

const T0 = Date.UTC(2025, 0, 1);
const pts = (values: number[], stepMs = 15_000, offsetMs = 0): Sample[] => values.map((v, i) => ({ t: T0 + offsetMs + i * stepMs, v }));

t.test('alignment pairs nearest points within the tolerance', async (t) => {
  const a = pts([1, 2, 3, 4]);
  const b = pts([10, 20, 30, 40], 15_000, 400); // 400 ms late
  const c = pts([100, 300], 30_000); // every other step
  t.same(alignByTime([a, b], 1000).cols, [
    [1, 2, 3, 4],
    [10, 20, 30, 40],
  ]);
  t.same(alignByTime([a, b], 100).cols, [[], []], 'outside tolerance: dropped');
  const abc = alignByTime([a, b, c], 1000);
  t.same(abc.cols, [
    [1, 3],
    [10, 30],
    [100, 300],
  ]);
  t.same(abc.t, [T0, T0 + 30_000]);
});

t.test('Spearman ranking finds the resource that moves with latency', async (t) => {
  const g = gaussian(seededRandom(1));
  const n = 240;
  const kv = Array.from({ length: n }, (_, i) => 0.5 + 0.45 * Math.sin(i / 20) + g() * 0.02);
  const latency = kv.map((k) => 0.1 + Math.exp(4 * k) * 0.01 + g() * 0.01); // monotone, non-linear in kv
  const gpuTemp = Array.from({ length: n }, () => 70 + g() * 2); // unrelated
  const freeMem = kv.map((k) => 10 - 5 * k + g() * 0.3); // inversely related
  const candidates: Series[] = [
    { labels: { __name__: 'gpu_temperature_celsius' }, points: pts(gpuTemp) },
    { labels: { __name__: 'host_memory_available_bytes' }, points: pts(freeMem) },
    { labels: { __name__: 'kv_cache_usage_ratio' }, points: pts(kv) },
    { labels: { __name__: 'too_short' }, points: pts([1, 2, 3]) },
  ];
  const r = rankCorrelations(pts(latency), candidates);
  t.same(
    r.map((c) => c.labels.__name__),
    ['kv_cache_usage_ratio', 'host_memory_available_bytes', 'gpu_temperature_celsius'],
    'ranked by |rho|; too-short left out',
  );
  t.ok((r[0]?.rho as number) > 0.9, `kv rho ${r[0]?.rho}`);
  t.ok((r[1]?.rho as number) < -0.9, 'negative correlation ranks by magnitude');
  t.equal(r[0]?.significant, true);
  t.equal(r[2]?.significant, false, 'unrelated series not significant');
  t.ok((r[2]?.pAdjusted as number) >= (r[2]?.p as number), 'Holm adjustment never lowers p');
  t.equal(r[0]?.n, n);
});

t.test('attribution recovers known coefficients; shares sum to R²', async (t) => {
  const g = gaussian(seededRandom(2));
  const n = 500;
  const conc = Array.from({ length: n }, () => 20 + g() * 5);
  const inTok = Array.from({ length: n }, () => 5000 + g() * 1000);
  const outTok = Array.from({ length: n }, () => 800 + g() * 100);
  // p99 = 0.2 + 0.03 × concurrency + 0.0001 × input tok/s + noise; output rate irrelevant
  const p99 = conc.map((c, i) => 0.2 + 0.03 * c + 0.0001 * (inTok[i] as number) + g() * 0.02);
  const r = attribute(pts(p99), { concurrency: pts(conc), inputTokensPerSec: pts(inTok), outputTokensPerSec: pts(outTok), constant: pts(conc.map(() => 3)) });
  t.equal(r.verdict, 'ok');
  t.equal(r.n, n);
  const f = Object.fromEntries(r.features.map((x) => [x.name, x]));
  t.ok(Math.abs((f.concurrency?.coefficient as number) - 0.03) < 0.002, `concurrency coef ${f.concurrency?.coefficient}`);
  t.ok(Math.abs((f.inputTokensPerSec?.coefficient as number) - 0.0001) < 0.00001, `input coef ${f.inputTokensPerSec?.coefficient}`);
  t.ok(Math.abs(f.outputTokensPerSec?.share as number) < 0.01, 'irrelevant feature: ~0 share');
  t.equal(f.constant?.constant, true, 'constant feature dropped');
  t.equal(r.features[0]?.name, 'concurrency', 'largest share first (0.15 s sd vs 0.1 s sd)');
  const sum = r.features.reduce((s, x) => s + x.share, 0);
  t.ok(Math.abs(sum - r.r2) < 1e-9, `Σ shares ${sum} = R² ${r.r2}`);
  t.ok(r.r2 > 0.95);
  t.ok(Math.abs(r.intercept - 0.2) < 0.05, `intercept ${r.intercept}`);
  t.ok(Math.abs(f.concurrency?.tStat as number) > 10);
  t.equal(attribute(pts([1, 2, 3]), { a: pts([1, 2, 3]) }).verdict, 'insufficient data');
  t.equal(attribute(pts(p99), { a: pts(conc.map(() => 1)) }).verdict, 'insufficient data', 'every feature constant');
  t.equal(attribute(pts(p99.map(() => 1)), { a: pts(conc) }).verdict, 'insufficient data', 'constant target');
});
