/**
 * LocalSource semantics beyond what the promtool comparison covers: per-step
 * rate alignment, quantileOverTime, helpers, absence, and reads across tiers.
 */
import t from 'tap';
import { LocalSource, withMatchers } from '../src/analyzer/local-source.js';
import { SeriesStore } from '../src/analyzer/series-store.js';
import { loadSeries } from '../src/analyzer/series-notation.js';
import { bucketQuantile, extrapolatedRate, sumByTime } from '../src/analyzer/source.js';

const T0 = Date.UTC(2025, 0, 1);

function fixture(): { src: LocalSource; end: Date } {
  const store = new SeriesStore({ stepSec: 15, rawRetentionSec: 3600, tiers: [{ resolutionSec: 60, retentionSec: 6 * 3600 }] });
  const r = loadSeries(
    store,
    [
      { series: 'tok_total{scenario="a"}', values: '0+30x400' }, // 2 tokens/s
      { series: 'tok_total{scenario="b"}', values: '0+15x200 0+15x199' }, // 1 token/s with a reset
      { series: 'kv_ratio{model="m"}', values: '0.5+0x400' },
      { series: 'kv_ratio{model="n"}', values: '0.1+0.001x400' },
      { series: 'lat_bucket{le="0.1"}', values: '0+10x400' },
      { series: 'lat_bucket{le="1"}', values: '0+20x400' },
      { series: 'lat_bucket{le="+Inf"}', values: '0+20x400' },
    ],
    { startMs: T0, intervalSec: 15 },
  );
  return { src: new LocalSource(store), end: new Date(r.endMs) };
}

t.test('defaults follow the store step', async (t) => {
  const { src } = fixture();
  t.equal(src.stepSec, 15);
  t.equal(src.lookbackSec, 30);
  t.equal(src.rateWindowSec, 60);
  t.equal(withMatchers('x_bucket', '{a="1"}'), 'x_bucket{a="1"}');
  t.equal(withMatchers('x_bucket', ' a="1" '), 'x_bucket{a="1"}');
  t.equal(withMatchers('x_bucket'), 'x_bucket');
});

t.test('rate: one point per step, aligned to absolute multiples, resets handled', async (t) => {
  const { src, end } = fixture();
  const rates = await src.rate('tok_total', 600, end);
  t.equal(rates.length, 2);
  const a = rates.find((s) => s.labels.scenario === 'a');
  t.equal(a?.labels.__name__, undefined, 'rate drops the metric name');
  t.equal(a?.points.length, 40, '600 s / 15 s');
  for (const p of a?.points ?? []) {
    t.equal(p.t % 15_000, 0);
    t.ok(Math.abs(p.v - 2) < 1e-9, `rate ${p.v}`);
  }
  const b = rates.find((s) => s.labels.scenario === 'b');
  for (const p of b?.points ?? []) t.ok(Math.abs(p.v - 1) < 0.35, `reset handled: ${p.v}`);
  const sum = sumByTime(rates);
  t.equal(sum.length, 40);
  t.ok(Math.abs((sum[0]?.v as number) - 3) < 0.35);
  // custom step and lookback
  const coarse = await src.rate('tok_total{scenario="a"}', 600, end, { stepSec: 60, rateWindowSec: 120 });
  t.equal(coarse[0]?.points.length, 10);
  t.equal(await src.increase('tok_total{scenario="a"}', 300, end), 600, '5 min at 2/s (extrapolated to the window)');
});

t.test('quantile and quantileOverTime', async (t) => {
  const { src, end } = fixture();
  // half the observations ≤ 0.1, all ≤ 1: p50 = 0.1, p75 = 0.55
  t.equal(await src.quantile(0.5, 'lat', 300, end), 0.1);
  const p75 = await src.quantile(0.75, 'lat', 300, end);
  t.ok(Math.abs((p75 as number) - 0.55) < 1e-12, `p75 ${p75}`);
  t.equal(await src.quantile(0.99, 'lat', 300, end, 'model="none"'), undefined, 'no buckets → undefined');
  t.equal(await src.quantile(0.99, 'nothing', 300, end), undefined);
  const series = await src.quantileOverTime(0.75, 'lat', 900, end);
  t.equal(series.length, 60);
  t.ok(series.every((p) => Math.abs(p.v - 0.55) < 1e-12));
});

t.test('instant helpers and absence', async (t) => {
  const { src, end } = fixture();
  t.equal(await src.last('kv_ratio{model="m"}', end, 'max'), 0.5);
  t.ok(Math.abs(((await src.last('kv_ratio{model="n"}', end)) as number) - 0.5) < 1e-9);
  t.equal(await src.last('kv_ratio', end, 'count'), 2);
  t.equal(await src.last('kv_ratio', new Date(end.getTime() + 31_000)), undefined, 'beyond the 2-step lookback');
  t.equal(await src.last('nothing', end), undefined);
  t.same(await src.range('nothing', 60, end), []);
  t.same(await src.rate('nothing', 60, end), []);
  t.equal(await src.increase('nothing', 60, end), undefined);
  t.equal(await src.avgOverTime('kv_ratio{model="m"}', 600, end), 0.5);
  t.ok(Math.abs(((await src.maxOverTime('kv_ratio', 600, end)) as number) - 0.5) < 1e-9);
  t.equal(await src.avgOverTime('nothing', 600, end), undefined);
  const r = await src.range('kv_ratio{model="m"}', 60, end);
  t.equal(r[0]?.points.length, 4, '(now − 60 s, now] at 15 s');
  t.equal(r[0]?.labels.__name__, 'kv_ratio');
  await t.rejects(src.range('kv_ratio{', 60, end), SyntaxError, 'a malformed selector is a bug, not absence');
});

t.test('long ranges read through the downsampled tier', async (t) => {
  const { src, end } = fixture();
  const r = await src.range('kv_ratio{model="n"}', 6 * 3600, end);
  const pts = r[0]?.points ?? [];
  t.ok(pts.length > 0);
  t.ok((pts[0]?.t as number) >= T0, 'starts at the data');
  // rate over a range older than raw retention still works on counters (last value per minute)
  const rates = await src.rate('tok_total{scenario="a"}', 90 * 60, end, { stepSec: 60, rateWindowSec: 300 });
  t.ok((rates[0]?.points.length ?? 0) >= 80, 'a point per minute across the tier seam');
  for (const p of rates[0]?.points ?? []) t.ok(Math.abs(p.v - 2) < 0.05, `coarse-tier rate ${p.v}`);
});

t.test('pure PromQL helpers', async (t) => {
  t.equal(
    bucketQuantile(0.5, [
      { le: Infinity, count: 0 },
      { le: 1, count: 0 },
    ]),
    undefined,
    'no observations',
  );
  t.equal(bucketQuantile(0.5, [{ le: 1, count: 5 }]), undefined, 'no +Inf bucket');
  t.equal(
    bucketQuantile(1, [
      { le: 1, count: 5 },
      { le: Infinity, count: 10 },
    ]),
    1,
    'rank in +Inf → largest finite bound',
  );
  t.equal(
    bucketQuantile(-1, [
      { le: 1, count: 5 },
      { le: Infinity, count: 10 },
    ]),
    -Infinity,
  );
  t.equal(
    bucketQuantile(0.5, [
      { le: 2, count: 4 },
      { le: 1, count: 6 },
      { le: Infinity, count: 10 },
    ]),
    1 * (5 / 6),
    'non-monotonic counts forced monotonic',
  );
  t.equal(extrapolatedRate([0, 60_000], [0, 60], 0, 2, 0, 0, 60_000, true, true), 1);
  t.equal(extrapolatedRate([0], [0], 0, 1, 0, 0, 60_000, true, true), undefined, 'one point → undefined');
});
