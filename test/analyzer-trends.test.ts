/**
 * Leak and degradation detection: noise must not fire, known effects must be
 * found and measured. All noise is seeded: the outcome is deterministic.
 */
import t from 'tap';
import { HdrTotal, HdrWindow } from '../src/metrics/hdr-window.js';
import { gaussian, seededRandom } from '../src/analyzer/stats.js';
import type { Sample } from '../src/analyzer/source.js';
import { compareDistributions, compareHistograms, leakTrend, restartTimes, valuesOf } from '../src/analyzer/trends.js';

const T0 = Date.UTC(2025, 0, 1);
const GB = 1e9;
const MB = 1e6;

/** n points every stepSec from T0 with value f(i, tSec). */
function series(n: number, stepSec: number, f: (i: number, tSec: number) => number): Sample[] {
  return Array.from({ length: n }, (_, i) => ({ t: T0 + i * stepSec * 1000, v: f(i, i * stepSec) }));
}

t.test('flat noisy series are stable (white and autocorrelated noise, 30 seeds)', async (t) => {
  const verdicts: string[] = [];
  for (let seed = 1; seed <= 30; seed++) {
    const g = gaussian(seededRandom(seed));
    verdicts.push(leakTrend(series(1440, 60, () => 4 * GB + g() * 40 * MB)).verdict);
    // AR(1), phi 0.9: slow wander that a naive slope test would call a trend
    let e = 0;
    const ar = series(1440, 60, () => {
      e = 0.9 * e + g() * 20 * MB;
      return 4 * GB + e;
    });
    verdicts.push(leakTrend(ar).verdict);
    // noise large against the level (e.g. open fds ≈ 100 ± 10): the trend-test and R² gates must hold alone
    verdicts.push(leakTrend(series(1440, 60, () => 100 + g() * 10)).verdict);
    let f = 0;
    verdicts.push(
      leakTrend(
        series(1440, 60, () => {
          f = 0.9 * f + g() * 5;
          return 100 + f;
        }),
      ).verdict,
    );
  }
  t.same([...new Set(verdicts)], ['stable'], `${verdicts.length} flat series, none fired`);
});

t.test('a linear leak of known rate is measured within 5 %', async (t) => {
  for (const seed of [1, 2, 3]) {
    const g = gaussian(seededRandom(seed));
    const rate = 50 * MB; // per hour
    const pts = series(5760, 15, (_, s) => 2 * GB + (rate * s) / 3600 + g() * 30 * MB); // 24 h at 15 s
    const r = leakTrend({ labels: { __name__: 'rss_bytes' }, points: pts }, { limit: 64 * GB });
    t.equal(r.verdict, 'increasing', r.reason);
    t.ok(Math.abs(r.slopePerHour - rate) / rate < 0.05, `slope ${(r.slopePerHour / MB).toFixed(2)} MB/h vs 50`);
    t.ok(r.r2 > 0.9, `R² ${r.r2}`);
    t.ok(r.pValue < 1e-6);
    t.equal(r.series.__name__, 'rss_bytes');
    t.equal(r.start, T0 + 600_000, 'first 10 min (warm-up) excluded');
    const expected = (64 * GB - r.fittedEnd) / (r.slopePerHour / 3600);
    t.ok(r.projectedExhaustionSec !== undefined && Math.abs(r.projectedExhaustionSec - expected) < 1, 'projection = (limit − fitted end) / slope');
    t.ok(Math.abs((r.projectedExhaustionSec as number) / 3600 - (64 - 2 - 1.2) * 20) < 30, `≈${((r.projectedExhaustionSec as number) / 3600).toFixed(0)} h to 64 GB`);
    t.ok(r.peak > r.fittedEnd - 200 * MB && r.peak < r.fittedEnd + 200 * MB);
  }
  const g = gaussian(seededRandom(9));
  const down = leakTrend(series(1440, 60, (_, s) => 8 * GB - (100 * MB * s) / 3600 + g() * 20 * MB));
  t.equal(down.verdict, 'decreasing');
  t.equal(down.projectedExhaustionSec, undefined);
});

t.test('minChange: a steep rise smaller than it over the span is stable', async (t) => {
  // 10 min at 15 s, 0.3 MB a step: 12 MB over the span, a perfect line, 12 % of a 100 MB level.
  const pts = series(41, 15, (i) => 100 * MB + i * 0.3 * MB);
  const o = { warmupSec: 0, minPoints: 10, minSpanSec: 60 };
  t.equal(leakTrend(pts, o).verdict, 'increasing', 'without a floor: increasing');
  const held = leakTrend(pts, { ...o, minChange: 16 * MB });
  t.equal(held.verdict, 'stable', held.reason);
  t.match(held.reason, /change 1\.20e\+7 < 16000000 over the span/);
  t.equal(leakTrend(pts, { ...o, minChange: 8 * MB }).verdict, 'increasing', 'a floor below the rise lets it through');
});

t.test('a tiny or noisy drift does not fire: effect-size and R² gates', async (t) => {
  const g = gaussian(seededRandom(4));
  // 0.5 % over the day: significant with this little noise, but below minRelChange (2 %)
  const tiny = leakTrend(series(1440, 60, (_, s) => 4 * GB * (1 + 0.005 * (s / 86400)) + g() * 2 * MB));
  t.equal(tiny.verdict, 'stable', tiny.reason);
  t.match(tiny.reason, /change/);
  const sensitive = leakTrend(
    series(1440, 60, (_, s) => 4 * GB * (1 + 0.005 * (s / 86400)) + g() * 2 * MB),
    { minRelChange: 0.001 },
  );
  t.equal(sensitive.verdict, 'increasing', 'fires when the caller lowers the gate');
});

t.test('segments at restarts; the trend is the last segment, warm-up excluded after the restart', async (t) => {
  const g = gaussian(seededRandom(5));
  const restartAt = 10 * 3600;
  const pts = series(1200, 60, (_, s) => {
    if (s < restartAt) return 1 * GB + (200 * MB * s) / 3600 + g() * 10 * MB; // old process: 200 MB/h up to 3 GB
    const since = s - restartAt;
    const warm = since < 600 ? 500 * MB * (since / 600) : 500 * MB; // fast warm-up ramp
    return 0.6 * GB + warm + (20 * MB * since) / 3600 + g() * 10 * MB; // new process: 20 MB/h
  });
  const r = leakTrend(pts);
  t.equal(r.segments.length, 2);
  t.equal(r.segments[1]?.reason, 'drop');
  t.equal(r.segmentStart, T0 + restartAt * 1000);
  t.ok(r.start >= T0 + (restartAt + 600) * 1000, 'warm-up after the restart excluded');
  t.ok(Math.abs(r.slopePerHour - 20 * MB) / (20 * MB) < 0.1, `last segment slope ${(r.slopePerHour / MB).toFixed(2)} MB/h`);
  // the same from known restart times (e.g. process_start_time_seconds), no drop needed
  const startTimes = series(1200, 60, (_, s) => (s < restartAt ? 1000 : 2000));
  t.same(restartTimes(startTimes), [T0 + restartAt * 1000]);
  const flatRestart = series(1200, 60, (_, s) => 1 * GB + ((s < restartAt ? 200 : 20) * MB * (s % restartAt)) / 3600);
  const r2 = leakTrend(flatRestart, { restartTimesMs: restartTimes(startTimes), dropFraction: 0.99 });
  t.equal(r2.segments[1]?.reason, 'restart');
  t.ok(Math.abs(r2.slopePerHour - 20 * MB) / (20 * MB) < 0.01);
  // counters: any decrease is a reset
  const counter = series(600, 60, (i) => (i < 300 ? i * 10 : (i - 300) * 3));
  const rc = leakTrend(counter, { counter: true, warmupSec: 0 });
  t.equal(rc.segments[1]?.reason, 'counter reset');
  t.ok(Math.abs(rc.slopePerHour - 180) < 1e-9, 'slope of the counter after reset: 3 per minute');
});

t.test('single outliers do not split segments', async (t) => {
  const g = gaussian(seededRandom(6));
  const pts = series(1440, 60, (i, s) => (i === 700 ? 0.1 * GB : i === 900 ? 9 * GB : 2 * GB + (50 * MB * s) / 3600 + g() * 10 * MB));
  const r = leakTrend(pts);
  t.equal(r.segments.length, 1, 'one low spike, one high spike: still one segment');
  t.equal(r.verdict, 'increasing');
  t.ok(Math.abs(r.slopePerHour - 50 * MB) / (50 * MB) < 0.05, 'robust slope ignores the spikes');
});

t.test('insufficient data', async (t) => {
  t.equal(leakTrend([]).verdict, 'insufficient data');
  t.equal(leakTrend(series(10, 60, () => 1)).verdict, 'insufficient data');
  const short = leakTrend(series(100, 15, (i) => i)); // 25 min, all warm-up but 15 min
  t.equal(short.verdict, 'insufficient data');
  t.match(short.reason, /need/);
  t.equal(leakTrend(series(1440, 60, () => 5)).verdict, 'stable', 'constant series');
});

// ----------------------------------------------------------------- degradation

/** Lognormal latencies, median ≈ `med` s. */
function latencies(n: number, med: number, seed: number): number[] {
  const g = gaussian(seededRandom(seed));
  return Array.from({ length: n }, () => med * Math.exp(0.5 * g()));
}

t.test('same distribution: never fires (30 seeds)', async (t) => {
  const verdicts = new Set<string>();
  for (let seed = 1; seed <= 30; seed++) {
    verdicts.add(compareDistributions(latencies(2000, 0.2, seed), latencies(1000, 0.2, seed + 1000)).verdict);
  }
  t.same([...verdicts], ['unchanged']);
});

t.test('a shift of the median is degraded / improved; a small one is not', async (t) => {
  const base = latencies(2000, 0.2, 1);
  const slower = compareDistributions(base, latencies(1000, 0.26, 2));
  t.equal(slower.verdict, 'degraded', slower.reason);
  t.equal(slower.direction, 'up');
  t.ok(Math.abs(slower.medianChange - 0.3) < 0.08, `median +${(slower.medianChange * 100).toFixed(1)} %`);
  t.ok(slower.pValue < 1e-10);
  const faster = compareDistributions(base, latencies(1000, 0.14, 3));
  t.equal(faster.verdict, 'improved');
  t.equal(faster.direction, 'down');
  // +3 % with 50k samples each: hugely significant, too small to matter
  const big = compareDistributions(latencies(50_000, 0.2, 4), latencies(50_000, 0.206, 5));
  t.ok(big.pValue < 1e-6, `p ${big.pValue}`);
  t.equal(big.verdict, 'unchanged', 'effect-size gate');
  // throughput: lower is worse
  const tput = compareDistributions(latencies(500, 100, 6), latencies(500, 70, 7), { higherIsWorse: false });
  t.equal(tput.verdict, 'degraded');
  t.equal(compareDistributions([1, 2, 3], [4, 5, 6]).verdict, 'insufficient data');
});

t.test('tail-only degradation (median holds) is caught by the tail test', async (t) => {
  const base = latencies(5000, 0.2, 11);
  const recent = latencies(2000, 0.2, 12).map((v, i) => (i % 25 === 0 ? v * 6 : v)); // 4 % of requests 6× slower
  const r = compareDistributions(base, recent);
  t.ok(Math.abs(r.medianChange) < 0.05, `median ${(r.medianChange * 100).toFixed(1)} %`);
  t.equal(r.verdict, 'degraded', r.reason);
  t.ok(r.tailPValue < 1e-6);
  t.ok(r.p99Change > 0.5, `p99 +${(r.p99Change * 100).toFixed(0)} %`);
  t.ok(r.tailExceedance > 0.02);
});

t.test('from HDR histograms (HdrTotal baseline vs HdrWindow recent)', async (t) => {
  let now = 0;
  const base = new HdrTotal();
  for (const v of latencies(3000, 0.2, 21)) base.record(v);
  const same = new HdrWindow({ windowMs: 60_000, slices: 6, now: () => now });
  for (const v of latencies(1500, 0.2, 22)) same.record(v);
  t.equal(compareHistograms(base, same).verdict, 'unchanged');
  now = 1_000_000; // a fresh window
  const slow = new HdrWindow({ windowMs: 60_000, slices: 6, now: () => now });
  for (const v of latencies(1500, 0.3, 23)) slow.record(v);
  const r = compareHistograms(base, slow);
  t.equal(r.verdict, 'degraded', r.reason);
  t.equal(r.recent.n, 1500);
  t.ok(Math.abs(r.medianChange - 0.5) < 0.1, `median +${(r.medianChange * 100).toFixed(1)} %`);
  // HDR and raw agree (0.1 % resolution)
  const raw = compareDistributions(latencies(3000, 0.2, 21), latencies(1500, 0.3, 23));
  t.ok(Math.abs(raw.medianChange - r.medianChange) < 0.005);
  t.same(Array.from(valuesOf([{ t: 1, v: 2 }])), [2]);
});
