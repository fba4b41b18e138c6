/**
 * promtool's series notation, and the LocalSource checked against promtool
 * itself: the same input series are loaded into a SeriesStore and written to
 * a promtool test file whose expected values are what LocalSource computes;
 * `promtool test rules` must agree (instant values with missing and stale
 * samples, rate with a counter reset, increase, histogram_quantile).
 * promtool absent is a failure, not a skip: apt-get install prometheus.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalSource } from '../src/analyzer/local-source.js';
import { SeriesStore } from '../src/analyzer/series-store.js';
import { expandSeriesValues, loadSeries, parseSeriesDescription, type InputSeries } from '../src/analyzer/series-notation.js';

t.test('expanding notation (promtool semantics)', async (t) => {
  t.same(expandSeriesValues('0+10x5'), [0, 10, 20, 30, 40, 50], "'a+bxn' is n+1 values");
  t.same(expandSeriesValues('1 2 3'), [1, 2, 3]);
  t.same(expandSeriesValues('_'), [undefined]);
  t.same(expandSeriesValues('stale'), ['stale']);
  t.same(expandSeriesValues('1+0x10 _x3 5-1x4'), [...Array<number>(11).fill(1), undefined, undefined, undefined, 5, 4, 3, 2, 1], "'_xn' is n values");
  t.same(expandSeriesValues('1x5'), [1, 1, 1, 1, 1, 1], "'1x5' = '1+0x5'");
  t.same(expandSeriesValues('-2+4x3'), [-2, 2, 6, 10], 'documented example 1');
  t.same(expandSeriesValues(' 1-2x4'), [1, -1, -3, -5, -7], 'documented example 2');
  t.same(expandSeriesValues('1 -1 _x3 3'), [1, -1, undefined, undefined, undefined, 3]);
  t.same(expandSeriesValues('stalex2'), ['stale', 'stale', 'stale']);
  t.same(expandSeriesValues('1e3 +Inf -Inf 0.5 .5'), [1000, Infinity, -Infinity, 0.5, 0.5]);
  t.ok(Number.isNaN(expandSeriesValues('NaN')[0]));
  t.same(expandSeriesValues('0.1+0.1x2'), [0.1, 0.2, 0.30000000000000004], 'accumulates by addition like promtool');
  t.throws(() => expandSeriesValues('1+2'), SyntaxError);
  t.throws(() => expandSeriesValues('abc'), SyntaxError);
  t.throws(() => expandSeriesValues('1x'), SyntaxError);
  t.same(parseSeriesDescription('up{job="a", instance="b"}'), { name: 'up', labels: { job: 'a', instance: 'b' } });
  t.throws(() => parseSeriesDescription('up{job=~"a"}'), SyntaxError);
});

t.test('loadSeries: one sample per interval, missing vs stale', async (t) => {
  const store = new SeriesStore({ stepSec: 60, rawRetentionSec: 86_400, tiers: [] });
  const r = loadSeries(
    store,
    [
      { series: 'g{a="1"}', values: '1 2 _ 4 stale 6' },
      { series: 'short', values: '7' },
    ],
    { startMs: 1_000_000, intervalSec: 60 },
  );
  t.same(r, { startMs: 1_000_000, endMs: 1_300_000, samples: 6 });
  const src = new LocalSource(store, { lookbackSec: 300 });
  const at = async (sel: string, ms: number) => (await src.instant(sel, new Date(ms)))[0]?.points[0]?.v;
  t.equal(await at('g', 1_120_000), 2, 'missing: looks back');
  t.equal(await at('g', 1_240_000), undefined, 'stale: ends the series');
  t.equal(await at('g', 1_300_000), 6);
  t.equal(await at('short', 1_240_000), 7, 'a series that ended is missing, not stale');
  t.equal(await at('short', 1_300_000), undefined, 'lookback is left-open: exactly 5 min old is out');
  t.equal(store.select('g')[0]?.kind, 'gauge');
  loadSeries(store, [{ series: 'c_total', values: '1' }], { startMs: 2_000_000, intervalSec: 60 });
  t.equal(store.select('c_total')[0]?.kind, 'counter', '_total → counter');
});

function findPromtool(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p !== '' ? p : undefined;
}

/** Go model.Duration text of whole seconds ("3m20s", "1h", "0s"), as promtool prints eval times. */
function goDuration(sec: number): string {
  if (sec === 0) return '0s';
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}

/** Canonical `{a="1",b="2"}` text (sorted, __name__ included as a label). */
function canon(labels: Record<string, string>): string {
  return `{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',')}}`;
}

/**
 * Parse promtool's failure report into expr@time → (labels → value). Every
 * expectation is written empty, so promtool prints what IT computed for each
 * non-empty result ("got: {labels} value, …"), at full float precision.
 */
function parsePromtoolGot(out: string): Map<string, Map<string, number>> {
  const res = new Map<string, Map<string, number>>();
  const re = /expr: "((?:[^"\\]|\\.)*)", time: (\S+),\s*\n\s*exp: [^\n]*\n\s*got: ([^\n]*)/g;
  for (const m of out.matchAll(re)) {
    const expr = JSON.parse(`"${m[1] as string}"`) as string;
    const got = new Map<string, number>();
    for (const g of (m[3] as string).matchAll(/\{([^}]*)\} ([-+0-9.eE]+|NaN|[+-]Inf)/g)) {
      const labels: Record<string, string> = {};
      for (const l of (g[1] as string).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = JSON.parse(`"${l[2] as string}"`) as string;
      got.set(canon(labels), Number((g[2] as string).replace('Inf', 'Infinity')));
    }
    res.set(`${expr}@${(m[2] as string).replace(/,$/, '')}`, got);
  }
  return res;
}

t.test('LocalSource agrees with promtool test rules', async (t) => {
  const promtool = findPromtool();
  if (!promtool) {
    t.fail('promtool not found (apt-get install prometheus)');
    return;
  }
  const input: InputSeries[] = [
    { series: 'gauge_x{k="v"}', values: '1 2 _ 4 stale 6 _x3 9 10-0.5x20' },
    { series: 'req_total{job="a"}', values: '0+10x30' },
    { series: 'req_total{job="b"}', values: '100+5x10 0+7x19' },
    { series: 'req_total{job="c"}', values: '_x5 3+1.5x10 _x3 20+2x10' },
    { series: 'lat_bucket{le="0.1",m="x"}', values: '0+1x30' },
    { series: 'lat_bucket{le="0.5",m="x"}', values: '0+5x30' },
    { series: 'lat_bucket{le="1",m="x"}', values: '0+8x30' },
    { series: 'lat_bucket{le="+Inf",m="x"}', values: '0+10x30' },
    { series: 'lat_bucket{le="0.1",m="y"}', values: '0+3x30' },
    { series: 'lat_bucket{le="0.5",m="y"}', values: '0+3x30' },
    { series: 'lat_bucket{le="1",m="y"}', values: '0+4x30' },
    { series: 'lat_bucket{le="+Inf",m="y"}', values: '0+4x12 48+1x17' },
  ];
  const store = new SeriesStore({ stepSec: 60, rawRetentionSec: 86_400, tiers: [] });
  loadSeries(store, input, { startMs: 0, intervalSec: 60 });
  const src = new LocalSource(store, { lookbackSec: 300 });
  // Eval times avoid instants exactly 5 min after a sample: promtool 2.x ranges are closed, Prometheus 3 (and ours) left-open.
  const times = [60, 120, 150, 200, 250, 270, 330, 480, 540, 570, 690, 750, 810, 1110, 1290, 1530, 1770];
  const mine = new Map<string, Map<string, number>>();
  const exprs: string[] = [];
  for (const sec of times) {
    const now = new Date(sec * 1000);
    const put = (expr: string, entries: [Record<string, string>, number][]) => {
      if (!exprs.includes(expr)) exprs.push(expr);
      mine.set(`${expr}@${goDuration(sec)}`, new Map(entries.map(([l, v]) => [canon(l), v])));
    };
    put(
      'gauge_x',
      (await src.instant('gauge_x', now)).map((s) => [s.labels, s.points[0]?.v as number]),
    );
    // rate(x[5m]) at exactly `now`: a one-point subquery (window = step = 10 s; every eval time is a multiple of 10 s)
    put(
      'rate(req_total[5m])',
      (await src.rate('req_total', 10, now, { rateWindowSec: 300, stepSec: 10 })).map((s) => [s.labels, s.points[s.points.length - 1]?.v as number]),
    );
    const inc = await src.increase('req_total', 300, now);
    put('sum(increase(req_total[5m]))', inc === undefined ? [] : [[{}, inc]]);
    for (const q of [0.5, 0.9, 0.99]) {
      const v = await src.quantile(q, 'lat', 300, now);
      put(`histogram_quantile(${q}, sum by (le) (increase(lat_bucket[5m])))`, v === undefined ? [] : [[{}, v]]);
      const vy = await src.quantile(q, 'lat', 300, now, 'm="y"');
      put(`histogram_quantile(${q}, sum by (le) (increase(lat_bucket{m="y"}[5m])))`, vy === undefined ? [] : [[{}, vy]]);
    }
  }
  const nonEmpty = [...mine.values()].filter((m) => m.size > 0).length;
  t.ok(nonEmpty > 100, `${nonEmpty} of ${mine.size} expressions have values`);
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-promtool-'));
  let out = '';
  try {
    const file = join(dir, 'test.yml');
    const tests = times.flatMap((sec) => exprs.map((expr) => ({ expr, eval_time: `${sec}s`, exp_samples: [] })));
    // JSON is YAML: promtool reads it as is.
    writeFileSync(
      file,
      JSON.stringify({ rule_files: [], evaluation_interval: '1m', tests: [{ interval: '1m', input_series: input.map((s) => ({ series: s.series, values: s.values })), promql_expr_test: tests }] }),
    );
    const r = spawnSync(promtool, ['test', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
    out = `${r.stdout}${r.stderr}`;
    t.ok(out.includes('FAILED') || nonEmpty === 0, 'promtool reported its values');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const theirs = parsePromtoolGot(out);
  let compared = 0;
  const bad: string[] = [];
  for (const [key, m] of mine) {
    const g = theirs.get(key) ?? new Map<string, number>();
    const labels = new Set([...m.keys(), ...g.keys()]);
    for (const l of labels) {
      const a = m.get(l);
      const b = g.get(l);
      compared++;
      // 1e-12 relative: promtool 2.x multiplies in a different order than Prometheus 3 (last-bit differences)
      if (a === undefined || b === undefined || Math.abs(a - b) > 1e-12 * Math.max(1, Math.abs(b))) bad.push(`${key} ${l}: ours ${a} promtool ${b}`);
    }
  }
  t.same(bad, [], `LocalSource = promtool on ${compared} values`);
  t.ok(compared > 150, `${compared} values compared`);
});
