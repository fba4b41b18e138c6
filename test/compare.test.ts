/**
 * `llmsoak compare` and `llmsoak bench --baseline`: the statistics on
 * synthetic histograms (same distribution → same, a shift → worse/better
 * with the right sign, small samples → insufficient, the false-alarm rate
 * near α), then end to end as a pipeline runs it: two short soaks of the same
 * config against the built-in simulator, run side by side, compare "same" on
 * every figure they have enough requests for (p99 needs 1000: "insufficient"
 * in 10 s) and exit 0; a run whose simulator decodes 40 % slower is "worse" on
 * ITL, TPOT and E2E (not on error rate) and exits 1, and `bench --baseline`
 * fails on it; bad input exits 2 with one line.
 */
import t from 'tap';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCli } from './helpers.js';
import { HdrTotal } from '../src/metrics/hdr-window.js';
import { gaussian, hdrToWeighted, seededRandom } from '../src/analyzer/stats.js';
import { sampleRampReport, sampleSoakReport } from './fixtures/sample-reports.js';
import type { Report } from '../src/report/model.js';
import { compareReports, kneeResolution, type Comparison, type FigureComparison } from '../src/compare/compare.js';
import { defaultCompareConfig } from '../src/compare/config.js';
import { bootstrapQuantileDiff, poissonRateTest, twoProportionTest } from '../src/compare/stats.js';
import { renderCompareHtml, renderCompareMarkdown } from '../src/compare/render.js';

/** n log-normal latencies (median `median` s, sigma 0.3) from a seeded source, times `scale`. */
function latencies(n: number, seed: number, median: number, scale = 1): number[] {
  const z = gaussian(seededRandom(seed));
  return Array.from({ length: n }, () => median * Math.exp(0.3 * z()) * scale);
}

function hdr(values: number[]): HdrTotal {
  const h = new HdrTotal();
  for (const v of values) h.record(v);
  return h;
}

/** A soak report whose latency histograms hold these values (n requests, all ok). */
function soakWith(n: number, seed: number, scale = 1, extra: Partial<Report> = {}): Report {
  const r = sampleSoakReport();
  const hs = {
    ttft: hdr(latencies(n, seed, 0.05, scale)),
    itl: hdr(latencies(n * 8, seed + 1, 0.015, scale)),
    tpot: hdr(latencies(n, seed + 2, 0.015, scale)),
    e2e: hdr(latencies(n, seed + 3, 0.4, scale)),
  };
  r.histograms = Object.fromEntries(Object.entries(hs).map(([k, h]) => [k, h.encode()]));
  for (const k of ['ttft', 'itl', 'tpot', 'e2e'] as const) {
    const s = hs[k].snapshot();
    r.overall[k] = { count: s.count, mean: s.mean, p50: s.p50, p90: s.p90, p95: s.p95, p99: s.p99, max: s.max };
  }
  r.totals = { ...r.totals, requests: n, ok: n, good: n, dropped: 0, errors: {} };
  r.durationSec = n / 10;
  return { ...r, ...extra };
}

const byKey = (c: Comparison): Map<string, FigureComparison> => new Map(c.figures.map((f) => [f.key, f]));

t.test('statistics: same distribution → same; a shift → worse or better with its sign', async (t) => {
  const cfg = defaultCompareConfig();
  const same = compareReports(soakWith(2000, 1), soakWith(2000, 101), cfg);
  t.equal(same.pass, true);
  t.same(
    same.figures.filter((f) => f.verdict !== 'same').map((f) => `${f.label}: ${f.verdict}`),
    [],
    'two samples of one distribution: every figure same',
  );
  t.equal(same.figures.length, 16 + 3, '4 latencies × 4 percentiles, throughput, goodput, error rate (no knee in a soak)');

  const slower = compareReports(soakWith(2000, 1), soakWith(2000, 101, 1.2), cfg);
  const f = byKey(slower);
  for (const k of ['ttft', 'itl', 'tpot', 'e2e']) {
    const p50 = f.get(`${k}.p50`) as FigureComparison;
    t.equal(p50.verdict, 'worse', `${k} p50 20 % slower is worse`);
    t.ok((p50.change ?? 0) > 0 && (p50.relativeChange ?? 0) > 0.12 && (p50.relativeChange ?? 0) < 0.28, `${k} p50 change +${p50.relativeChange}`);
    t.ok((p50.test.ci?.[0] ?? 0) > 0, 'its interval lies above 0');
  }
  t.equal(f.get('errorRate')?.verdict, 'same', 'latency alone does not move the error rate');
  t.equal(slower.pass, false);
  t.ok(slower.regressions.includes('E2E p50'));

  const faster = compareReports(soakWith(2000, 1), soakWith(2000, 101, 0.8), cfg);
  t.equal(byKey(faster).get('tpot.p90')?.verdict, 'better', '20 % faster is better');
  t.equal(faster.pass, true, 'better is not a regression');

  // Inside the tolerance: 2 % slower is "same" however significant.
  const slight = compareReports(soakWith(20000, 1), soakWith(20000, 101, 1.02), cfg);
  const e2e = byKey(slight).get('e2e.p50') as FigureComparison;
  t.equal(e2e.verdict, 'same', `2 % on E2E p50 is within the 5 % tolerance (significant: ${e2e.test.significant})`);
});

t.test('statistics: small samples give insufficient or same, never a false alarm', async (t) => {
  const cfg = defaultCompareConfig();
  let worse = 0;
  for (let s = 0; s < 20; s++) {
    const c = compareReports(soakWith(12, 1000 + s), soakWith(12, 2000 + s), cfg);
    worse += c.figures.filter((f) => f.verdict === 'worse').length;
    const f = byKey(c);
    t.equal(f.get('ttft.p99')?.verdict, 'insufficient', 'p99 of 12 values cannot be tested');
    t.match(f.get('ttft.p99')?.note ?? '', /needs at least 1000 values/);
  }
  t.equal(worse, 0, 'no figure called worse between small samples of one distribution');
  // A report without a histogram (no request ended) is insufficient too, not an error.
  const empty = soakWith(500, 1);
  empty.histograms = {};
  t.ok(
    compareReports(soakWith(500, 1), empty, cfg)
      .figures.filter((f) => f.unit === 'seconds')
      .every((f) => f.verdict === 'insufficient'),
  );
});

t.test('statistics: the bootstrap is calibrated and seeded', async (t) => {
  // Under the null hypothesis a test at α = 0.01 should reject about 1 % of the time.
  let rejected = 0;
  const trials = 100;
  for (let i = 0; i < trials; i++) {
    const a = hdrToWeighted(hdr(latencies(400, 10 + i, 0.1)));
    const b = hdrToWeighted(hdr(latencies(400, 5000 + i, 0.1)));
    if (bootstrapQuantileDiff(a, b, 0.9, { alpha: 0.01, resamples: 1000, seed: i }).significant) rejected++;
  }
  t.ok(rejected <= 6, `${rejected} of ${trials} same-distribution pairs rejected at α = 0.01`);
  const a = hdrToWeighted(hdr(latencies(300, 1, 0.1)));
  const b = hdrToWeighted(hdr(latencies(300, 2, 0.1, 1.5)));
  const r1 = bootstrapQuantileDiff(a, b, 0.5, { alpha: 0.01, resamples: 2000, seed: 7 });
  const r2 = bootstrapQuantileDiff(a, b, 0.5, { alpha: 0.01, resamples: 2000, seed: 7 });
  t.same(r1, r2, 'same seed, same answer');
  t.ok(r1.significant && r1.diff > 0 && r1.ci[0] > 0 && r1.ci[0] < r1.diff && r1.diff < r1.ci[1], `interval ${r1.ci.join('…')} around +${r1.diff}`);
});

t.test('statistics: Poisson rates and two proportions', async (t) => {
  t.ok(poissonRateTest(1000, 100, 1000, 100).p > 0.9, 'equal counts over equal time');
  t.ok(poissonRateTest(1000, 100, 800, 100).p < 1e-4, '10 vs 8 req/s over 100 s');
  t.ok(poissonRateTest(10, 1, 8, 1).p > 0.5, '10 vs 8 over 1 s is noise');
  t.ok(twoProportionTest(0, 500, 0, 500).p === 1, 'no errors in either');
  t.ok(twoProportionTest(5, 1000, 60, 1000).p < 1e-6, '0.5 % vs 6 %');
  t.ok(twoProportionTest(1, 100, 2, 100).p > 0.5, '1 vs 2 in 100');

  const cfg = defaultCompareConfig();
  const r = soakWith(1000, 1);
  const base = soakWith(1000, 1, 1, { totals: { ...r.totals, requests: 10000, ok: 10000, good: 10000 }, durationSec: 1000 });
  const errors = soakWith(1000, 1, 1, { totals: { ...r.totals, requests: 10000, ok: 9400, good: 9400, errors: { http_5xx: 600 } }, durationSec: 1000 });
  const c = byKey(compareReports(base, errors, cfg));
  t.equal(c.get('errorRate')?.verdict, 'worse', '6 % errors against none');
  t.equal(c.get('goodput')?.verdict, 'worse', 'goodput fell 6 % of 10 req/s over 1000 s (beyond 5 %, significant)');
  t.equal(c.get('throughput')?.verdict, 'same', 'throughput held');
  // The same fall over 100 s is within Poisson noise at α = 0.01: same, not a false alarm.
  const short = byKey(
    compareReports(
      { ...base, totals: { ...base.totals, requests: 1000, ok: 1000, good: 1000 }, durationSec: 100 },
      { ...errors, totals: { ...errors.totals, requests: 1000, ok: 940, good: 940 }, durationSec: 100 },
      cfg,
    ),
  );
  t.equal(short.get('goodput')?.verdict, 'same', `goodput 10 → 9.4 req/s over 100 s: p = ${short.get('goodput')?.test.p}`);
  t.equal(short.get('errorRate')?.verdict, 'worse', 'while 60 errors in 1000 against none is significant');
});

/** The ramp fixture, without its placeholder histogram (latency rows insufficient; the knee is what is tested). */
function ramp(): Report {
  return { ...sampleRampReport(), histograms: {} };
}

t.test('knee: compared only when both have one, within the bisection resolution', async (t) => {
  const cfg = defaultCompareConfig();
  const a = ramp();
  t.equal(kneeResolution(a), 5, 'fixture knee 35 with the next level at 40');
  const near = ramp();
  near.knee = { ...(near.knee as NonNullable<Report['knee']>), value: 32 };
  t.equal(byKey(compareReports(a, near, cfg)).get('knee')?.verdict, 'same', '35 → 32 is inside the 5 req/s resolution');
  const low = ramp();
  low.knee = { ...(low.knee as NonNullable<Report['knee']>), value: 25 };
  const kc = compareReports(a, low, cfg);
  t.equal(byKey(kc).get('knee')?.verdict, 'worse', '35 → 25 is a lower capacity');
  t.equal(kc.pass, false);
  const none = ramp();
  delete none.knee;
  t.equal(byKey(compareReports(a, none, cfg)).get('knee')?.verdict, 'insufficient');
  t.notOk(byKey(compareReports(soakWith(100, 1), soakWith(100, 2), cfg)).has('knee'), 'soaks have no knee row');
  t.throws(() => compareReports(a, soakWith(100, 1), cfg), /reports of different kinds/);
  t.throws(() => compareReports(sampleRampReport(), ramp(), cfg), /baseline: histogram "ttft" is not an encoded HDR histogram/, 'a corrupt histogram is named');
});

t.test('renderers: Markdown table and self-contained HTML with verdicts', async (t) => {
  const c = compareReports(soakWith(2000, 1), soakWith(2000, 101, 1.2), defaultCompareConfig(), { baseline: 'a<b>.json', candidate: 'c.json' });
  const md = renderCompareMarkdown(c);
  t.match(md, /\*\*FAIL\*\*: REGRESSION in \d+ figures/);
  t.match(md, /\| E2E p50 \| [\d.]+ ms \| [\d.]+ ms \| \+[\d.]+ ms \(\+[\d.]+%\) \| WORSE \| bootstrap: CI/);
  const html = renderCompareHtml(c);
  t.match(html, /<span class="v worse">WORSE<\/span>/);
  t.match(html, /a&lt;b&gt;\.json/, 'file names escaped');
  t.notMatch(html, /<script|<link|src=|@import|url\(/i, 'no script, no external resource');
});

// ---------------------------------------------------------------- end to end

/**
 * ~600 requests in a 10 s soak: enough for p50–p95, not for p99 (1000 needed).
 * A 30 ms decode step keeps the machine's scheduling noise (this host is
 * shared; a few ms) small against the figures. 10 s rather than 6 s: a stall
 * of the machine (all three soaks frozen 0.4 s every 7 s by busy loops at
 * nice −20) then holds fewer of the requests that make p90 and p95; under it
 * this test passed 4 runs in 4 (6 s side by side: 3 in 4).
 */
function benchConfig(decodeStepBaseMs: number): string {
  return stringify({
    simulator: { port: 0, engine: { maxNumSeqs: 64, decodeStepBaseMs, decodeStepPerSeqMs: 0.25 } },
    traffic: { rate: 60, arrival: 'constant', scenarios: [{ name: 'qa', endpoint: 'chat', prompt: { dist: 'fixed', value: 32 }, output: { dist: 'fixed', value: 8 } }] },
    slo: { ttftMs: 2000, tpotMs: 200, e2eMs: 5000 },
    collectors: { intervalMs: 1000, gpu: { enabled: false } },
    mode: { kind: 'soak', soak: { durationSec: 10, warmupSec: 1 } },
    // Tolerances for this shared, busy test machine (load average ~10 on 2 cores): with the
    // default 5 %, back-to-back runs of one build came out significantly apart at p95
    // (TTFT p95 +7 %). The 40 % slowdown stays far beyond 15 %.
    compare: { tolerances: Object.fromEntries(['ttft', 'itl', 'tpot', 'e2e'].map((k) => [k, { relative: 0.15, absoluteMs: 2 }])) },
    log: { level: 'warn' },
  });
}

async function reportIn(dir: string): Promise<string> {
  const f = (await readdir(dir)).find((n) => n.startsWith('soak-') && n.endsWith('.json'));
  if (f === undefined) throw new Error(`no report in ${dir}`);
  return join(dir, f);
}

t.test('end to end: same build side by side → same on every testable figure (exit 0); 40 % slower decode → worse (exit 1); bench --baseline gates', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'llmsoak-compare-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const env = { PATH: process.env.PATH ?? '' };
  const config = join(dir, 'a.yaml');
  const slowConfig = join(dir, 'slow.yaml');
  await writeFile(config, benchConfig(30));
  await writeFile(slowConfig, benchConfig(42));

  // The three soaks run at the same time. This machine is shared and its load moves within seconds: a
  // baseline soaked one minute before its candidate once went through a stall (TTFT p90 137 ms against
  // 69 ms), so runs one after another compared two moments of the machine, not two builds. Side by side
  // they see the same machine, and "same" and "worse" are about the builds.
  const bench = (cfg: string, out: string) => runCli(['bench', '--config', cfg, '--out', join(dir, out)], { env, timeoutMs: 60_000 });
  const runs = await Promise.all([bench(config, 'base'), bench(config, 'same'), bench(slowConfig, 'slow')]);
  runs.forEach((r, i) => t.equal(r.code, 0, `${['baseline', 'same build', 'slower build'][i]}: its own SLOs hold, exit 0 (stderr: ${r.stderr.slice(-300)})`));
  const [base, same, slow] = await Promise.all(['base', 'same', 'slow'].map((d) => reportIn(join(dir, d))));
  if (base === undefined || same === undefined || slow === undefined) throw new Error('three reports expected');

  const sameRun = await runCli(['compare', base, same, '--config', config, '--out', join(dir, 'cmp-same')], { env, timeoutMs: 20_000 });
  t.equal(sameRun.code, 0, `same build against its twin: exit 0\n${sameRun.stdout}`);
  t.match(sameRun.stdout, /llmsoak compare: no regression/);
  const sameCmp = JSON.parse(await readFile(join(dir, 'cmp-same', 'compare.json'), 'utf8')) as Comparison;
  const p99 = (f: FigureComparison) => f.key.endsWith('.p99');
  t.same(
    sameCmp.figures.filter((f) => !p99(f) && f.verdict !== 'same').map((f) => `${f.label}: ${f.verdict} (${f.note ?? f.relativeChange})`),
    [],
    'every figure but p99 "same"',
  );
  t.same(
    sameCmp.figures.filter(p99).map((f) => f.verdict),
    ['insufficient', 'insufficient', 'insufficient', 'insufficient'],
    'p99 of ~600 requests: insufficient, not a verdict',
  );
  t.equal(sameCmp.figures.length, 19);
  t.ok(sameCmp.baseline.requests >= 200 && sameCmp.candidate.requests >= 200, `${sameCmp.baseline.requests} and ${sameCmp.candidate.requests} requests: enough for p95`);

  // The command on its own: table on stdout, files, JSON, exit codes.
  const slowRun = await runCli(['compare', base, slow, '--config', config, '--out', join(dir, 'cmp-slow')], { env, timeoutMs: 20_000 });
  t.equal(slowRun.code, 1, `compare exits 1 on a regression\n${slowRun.stdout}`);
  t.match(slowRun.stdout, /^TPOT p50 +[\d.]+ ms +[\d.]+ ms +\+[\d.]+ ms \(\+[\d.]+%\) +WORSE +bootstrap/m);
  t.same((await readdir(join(dir, 'cmp-slow'))).sort(), ['compare.html', 'compare.json', 'compare.md']);
  const slowCmp = JSON.parse(await readFile(join(dir, 'cmp-slow', 'compare.json'), 'utf8')) as Comparison;
  const f = byKey(slowCmp);
  for (const k of ['itl', 'tpot', 'e2e']) {
    for (const p of ['p50', 'p90']) t.equal(f.get(`${k}.${p}`)?.verdict, 'worse', `${k} ${p} worse (${f.get(`${k}.${p}`)?.relativeChange})`);
  }
  t.equal(f.get('errorRate')?.verdict, 'same', 'error rate is not worse');
  t.equal(f.get('throughput')?.verdict, 'same', 'the open-loop rate is still met');
  t.equal(slowCmp.figures.filter((x) => x.verdict === 'better').length, 0, 'nothing better');
  const json = await runCli(['compare', base, same, '--config', config, '--json'], { env, timeoutMs: 20_000 });
  t.equal(json.code, 0);
  t.equal((JSON.parse(json.stdout) as Comparison).pass, true, '--json prints the comparison');

  // bench --baseline, as a pipeline gates on it: the slower build against the reports of the normal one.
  // (Its verdict rests on the p50s, 40 % apart, which a moment of load cannot close.)
  const gate = await runCli(['bench', '--config', slowConfig, '--out', join(dir, 'gate'), '--baseline', same], { env, timeoutMs: 60_000 });
  t.equal(gate.code, 1, `a slower build fails the bench although its SLOs hold\n${gate.stdout}`);
  t.match(gate.stdout, /: PASS$/m, 'its own SLOs held');
  t.match(gate.stdout, /llmsoak compare: REGRESSION in \d+ figures: .*ITL p50/);
  const gateCmp = JSON.parse(await readFile(join(dir, 'gate', 'compare.json'), 'utf8')) as Comparison;
  t.equal(gateCmp.pass, false, 'compare.json written beside the report');
  t.equal(byKey(gateCmp).get('itl.p50')?.verdict, 'worse');

  // Bad input: one line naming the problem, exit 2.
  const missing = await runCli(['compare', base, join(dir, 'nope.json')], { env, timeoutMs: 10_000 });
  t.equal(missing.code, 2);
  t.match(missing.stderr, /^llmsoak compare: .*nope\.json: no such file\n$/);
  const other = JSON.parse(await readFile(base, 'utf8')) as Report;
  await writeFile(join(dir, 'ramp.json'), JSON.stringify({ ...other, kind: 'ramp' }));
  const kinds = await runCli(['compare', base, join(dir, 'ramp.json')], { env, timeoutMs: 10_000 });
  t.equal(kinds.code, 2);
  t.match(kinds.stderr, /^llmsoak compare: reports of different kinds: .* is a soak, .*ramp\.json is a ramp\n$/);
  await writeFile(join(dir, 'junk.json'), '{"hello": 1}');
  const junk = await runCli(['compare', join(dir, 'junk.json'), base], { env, timeoutMs: 10_000 });
  t.equal(junk.code, 2);
  t.match(junk.stderr, /junk\.json: not an llmsoak report/);
  const benchBad = await runCli(['bench', '--config', config, '--baseline', join(dir, 'ramp.json'), '--out', join(dir, 'x')], { env, timeoutMs: 10_000 });
  t.equal(benchBad.code, 2, 'bench --baseline of another mode is refused before the run');
  t.match(benchBad.stderr, /is a ramp report; this bench runs a soak/);
});
