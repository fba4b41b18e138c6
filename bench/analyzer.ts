/**
 * Cost of the analyzer core: a SeriesStore holding 24 h of 1,000 series at a
 * 15 s step (800 gauges, 10 histograms of 16 buckets + _sum + _count, 20
 * counters), then a realistic evaluation cycle over it, timed over ≥ 20
 * cycles:
 *   - range over 1 h of every gauge (40 selectors × 20 series);
 *   - range over 24 h + Theil–Sen leak trend of every gauge (800 trends);
 *   - rate over 1 h (per step) of the 20 counters;
 *   - 20 histogram quantiles over 5 min (10 histograms × p50, p99);
 *   - p99 per step over 1 h of one histogram, Spearman-ranked against 10 gauges.
 * Also: Theil–Sen on 1,440 points (ours on block medians, ours exact,
 * ml-regression's exact), and one sampler scrape of a ~2,000-series registry.
 *
 *   node dist/bench/analyzer.js [--cycles=25] [--series=1000] [--hours=24]
 *
 * Prints a table; asserts nothing. `benchAnalyzer()` returns the figures.
 */
import { pathToFileURL } from 'node:url';
import mlRegression from 'ml-regression';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LocalSource } from '../src/analyzer/local-source.js';
import { Sampler } from '../src/analyzer/sampler.js';
import { SeriesStore } from '../src/analyzer/series-store.js';
import { rankCorrelations } from '../src/analyzer/correlate.js';
import { gaussian, seededRandom, theilSen } from '../src/analyzer/stats.js';
import { leakTrend } from '../src/analyzer/trends.js';

/** Bench options. */
export interface AnalyzerBenchOptions {
  /** Evaluation cycles timed (default 25, at least 20 recommended). */
  cycles?: number;
  /** Approximate series count (default 1,000; gauges take what histograms and counters leave). */
  series?: number;
  /** Hours of data (default 24). */
  hours?: number;
  /** Sampler step, s (default 15). */
  stepSec?: number;
}

/** Figures of one run (ms unless named otherwise). */
export interface AnalyzerBenchResult {
  series: number;
  hours: number;
  stepSec: number;
  /** Time to write all the samples, s. */
  fillSec: number;
  /** Store footprint, bytes, and per series. */
  storeBytes: number;
  bytesPerSeries: number;
  cycles: number;
  cycleMedianMs: number;
  cycleP99Ms: number;
  cycleMaxMs: number;
  /** Median per part of the cycle. */
  parts: { range1hMs: number; leak24hMs: number; rate1hMs: number; quantilesMs: number; correlationsMs: number };
  /** Leak trends per cycle, and points in each 24 h read. */
  leakTrends: number;
  leakPoints: number;
  /** Theil–Sen on 1,440 points. */
  theilSen: {
    points: number;
    blockMediansMs: number;
    exactOursMs: number;
    exactMlRegressionMs: number;
    /** Slope on 200 block medians vs the exact slope, %. */
    slopeDiffPct: number;
    /** ml-regression's exact slope vs ours (it takes one middle slope for an even count, we average the two), %. */
    mlDiffPct: number;
  };
  /** One sampler scrape of a prom-client registry. */
  sampler: { series: number; medianMs: number };
}

const pct = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
const med = (xs: number[]): number =>
  pct(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

const BUCKETS = [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15];

/** Build the store, run the cycles, return the figures. Takes ~10–20 s. */
export async function benchAnalyzer(opts: AnalyzerBenchOptions = {}): Promise<AnalyzerBenchResult> {
  const cycles = opts.cycles ?? 25;
  const hours = opts.hours ?? 24;
  const stepSec = opts.stepSec ?? 15;
  const nHist = 10;
  const nCounters = 20;
  const perName = 20;
  const gaugeNames = Math.max(1, Math.round(((opts.series ?? 1000) - nHist * (BUCKETS.length + 3) - nCounters) / perName));
  const store = new SeriesStore({ stepSec, maxSeries: 20_000 });
  const rand = seededRandom(1);
  const g = gaussian(rand);

  // series ids
  const gauges: number[] = [];
  for (let k = 0; k < gaugeNames; k++) for (let i = 0; i < perName; i++) gauges.push(store.ref(`bench_gauge_${k}`, { i: String(i) }, 'gauge'));
  const counters: number[] = [];
  for (let c = 0; c < nCounters; c++) counters.push(store.ref(`bench_counter_${c}_total`, {}, 'counter'));
  const hist = Array.from({ length: nHist }, (_, h) => ({
    buckets: [...BUCKETS.map(String), '+Inf'].map((le) => store.ref(`bench_lat_${h}_seconds_bucket`, { le }, 'counter')),
    sum: store.ref(`bench_lat_${h}_seconds_sum`, {}, 'counter'),
    count: store.ref(`bench_lat_${h}_seconds_count`, {}, 'counter'),
    cum: new Float64Array(BUCKETS.length + 1),
    total: 0,
    sumV: 0,
  }));
  const counterV = new Float64Array(nCounters);
  const steps = Math.round((hours * 3600) / stepSec);
  const t0 = Date.UTC(2025, 0, 1);
  const fillStart = nowMs();
  for (let s = 0; s < steps; s++) {
    const t = t0 + s * stepSec * 1000;
    store.beginSample(t);
    const hoursIn = (s * stepSec) / 3600;
    for (let j = 0; j < gauges.length; j++) {
      const leak = j % 10 === 0 ? 0.01 * hoursIn : 0; // every 10th gauge leaks 1 %/h
      store.setById(gauges[j] as number, 100 * (1 + leak) + g() * 2);
    }
    for (let c = 0; c < nCounters; c++) {
      counterV[c] = (counterV[c] as number) + 10 + rand() * 5;
      store.setById(counters[c] as number, counterV[c] as number);
    }
    for (const h of hist) {
      for (let o = 0; o < 20; o++) {
        const v = 0.3 * Math.exp(0.6 * g());
        let b = 0;
        while (b < BUCKETS.length && v > (BUCKETS[b] as number)) b++;
        for (let k = b; k <= BUCKETS.length; k++) h.cum[k] = (h.cum[k] as number) + 1;
        h.total++;
        h.sumV += v;
      }
      for (let k = 0; k <= BUCKETS.length; k++) store.setById(h.buckets[k] as number, h.cum[k] as number);
      store.setById(h.sum, h.sumV);
      store.setById(h.count, h.total);
    }
    store.commitSample();
  }
  const fillSec = (nowMs() - fillStart) / 1000;
  const src = new LocalSource(store);
  const now = new Date(t0 + (steps - 1) * stepSec * 1000);

  const cycleMs: number[] = [];
  const parts = { range1hMs: [] as number[], leak24hMs: [] as number[], rate1hMs: [] as number[], quantilesMs: [] as number[], correlationsMs: [] as number[] };
  let leakTrends = 0;
  let leakPoints = 0;
  let sink = 0;
  for (let c = 0; c < cycles; c++) {
    const a = nowMs();
    for (let k = 0; k < gaugeNames; k++) sink += (await src.range(`bench_gauge_${k}`, 3600, now)).length;
    const b = nowMs();
    leakTrends = 0;
    for (let k = 0; k < gaugeNames; k++) {
      for (const s of await src.range(`bench_gauge_${k}`, 86_400, now)) {
        const r = leakTrend(s);
        leakPoints = s.points.length;
        leakTrends++;
        if (r.verdict === 'increasing') sink++;
      }
    }
    const d = nowMs();
    for (let k = 0; k < nCounters; k++) sink += (await src.rate(`bench_counter_${k}_total`, 3600, now))[0]?.points.length ?? 0;
    const e = nowMs();
    for (let h = 0; h < nHist; h++) {
      sink += (await src.quantile(0.5, `bench_lat_${h}_seconds`, 300, now)) ?? 0;
      sink += (await src.quantile(0.99, `bench_lat_${h}_seconds`, 300, now)) ?? 0;
    }
    const f = nowMs();
    const p99 = await src.quantileOverTime(0.99, 'bench_lat_0_seconds', 3600, now);
    const cands = (await src.range('bench_gauge_0', 3600, now)).slice(0, 10);
    sink += rankCorrelations(p99, cands, { toleranceMs: stepSec * 500 }).length;
    const end = nowMs();
    cycleMs.push(end - a);
    parts.range1hMs.push(b - a);
    parts.leak24hMs.push(d - b);
    parts.rate1hMs.push(e - d);
    parts.quantilesMs.push(f - e);
    parts.correlationsMs.push(end - f);
  }
  if (sink === -1) console.log(sink); // keep the work observable

  // Theil–Sen on 1,440 points (24 h of 1-min points)
  const x = Array.from({ length: 1440 }, (_, i) => i * 60);
  const y = x.map((s) => 100 + s * 0.001 + g());
  for (let i = 0; i < 50; i++) theilSen(x, y, 200); // warm the JIT
  let q = nowMs();
  const ours = theilSen(x, y, 200);
  const blockMediansMs = nowMs() - q;
  q = nowMs();
  const exact = theilSen(x, y, 1440);
  const exactOursMs = nowMs() - q;
  q = nowMs();
  const ml = new mlRegression.TheilSenRegression(x, y);
  const exactMlRegressionMs = nowMs() - q;
  const slopeDiffPct = ((ours?.slope ?? 0) / (exact?.slope ?? 1) - 1) * 100;

  // one sampler scrape of a ~2,000-series registry
  const registry = new Registry();
  for (let k = 0; k < 5; k++) {
    const h = new Histogram({ name: `h${k}_seconds`, help: 'h', labelNames: ['scenario'], buckets: [...BUCKETS, 20, 30, 60, 90, 120], registers: [registry] });
    for (let s = 0; s < 10; s++) h.labels(`s${s}`).observe(0.3);
  }
  const gauge = new Gauge({ name: 'g', help: 'g', labelNames: ['i'], registers: [registry] });
  const counter = new Counter({ name: 'c_total', help: 'c', labelNames: ['i'], registers: [registry] });
  for (let i = 0; i < 425; i++) {
    gauge.labels(String(i)).set(i);
    counter.labels(String(i)).inc(i);
  }
  let wall = t0;
  const sstore = new SeriesStore({ stepSec: 15 });
  const sampler = new Sampler({ registry, store: sstore, clock: { monoNs: () => process.hrtime.bigint(), wallMs: () => (wall += 15_000) }, stepSec: 15 });
  const sampleMs: number[] = [];
  for (let i = 0; i < 30; i++) {
    q = nowMs();
    await sampler.sampleOnce();
    if (i > 0) sampleMs.push(nowMs() - q);
  }

  const sorted = [...cycleMs].sort((a, b) => a - b);
  return {
    series: store.stats().series,
    hours,
    stepSec,
    fillSec,
    storeBytes: store.footprintBytes(),
    bytesPerSeries: store.stats().bytesPerSeries,
    cycles,
    cycleMedianMs: pct(sorted, 0.5),
    cycleP99Ms: pct(sorted, 0.99),
    cycleMaxMs: sorted[sorted.length - 1] as number,
    parts: {
      range1hMs: med(parts.range1hMs),
      leak24hMs: med(parts.leak24hMs),
      rate1hMs: med(parts.rate1hMs),
      quantilesMs: med(parts.quantilesMs),
      correlationsMs: med(parts.correlationsMs),
    },
    leakTrends,
    leakPoints,
    theilSen: { points: 1440, blockMediansMs, exactOursMs, exactMlRegressionMs, slopeDiffPct, mlDiffPct: (ml.slope / (exact?.slope ?? 1) - 1) * 100 },
    sampler: { series: sampler.stats().lastSeries, medianMs: med(sampleMs) },
  };
}

/** Human-readable table of the figures. */
export function formatAnalyzerBench(r: AnalyzerBenchResult): string {
  const f = (n: number, d = 1) => n.toFixed(d);
  const rows: [string, string][] = [
    ['store', `${r.series} series, ${r.hours} h at ${r.stepSec} s (filled in ${f(r.fillSec)} s)`],
    ['store memory', `${f(r.storeBytes / 1e6)} MB (${f(r.bytesPerSeries / 1024)} KiB per series)`],
    [`evaluation cycle (${r.cycles} cycles)`, `median ${f(r.cycleMedianMs)} ms, p99 ${f(r.cycleP99Ms)} ms, max ${f(r.cycleMaxMs)} ms`],
    ['  range 1 h, every gauge', `${f(r.parts.range1hMs)} ms`],
    [`  range 24 h + leak trend ×${r.leakTrends}`, `${f(r.parts.leak24hMs)} ms (${r.leakPoints} points each)`],
    ['  rate per step over 1 h ×20', `${f(r.parts.rate1hMs)} ms`],
    ['  histogram quantile over 5 min ×20', `${f(r.parts.quantilesMs)} ms`],
    ['  p99 per step 1 h + Spearman ×10', `${f(r.parts.correlationsMs)} ms`],
    [
      `Theil–Sen, ${r.theilSen.points} points`,
      `block medians ${f(r.theilSen.blockMediansMs, 2)} ms · exact (ours) ${f(r.theilSen.exactOursMs)} ms · exact (ml-regression) ${f(r.theilSen.exactMlRegressionMs)} ms · block vs exact slope ${f(r.theilSen.slopeDiffPct, 2)} %, ml-regression vs ours ${f(r.theilSen.mlDiffPct, 4)} %`,
    ],
    [`sampler scrape, ${r.sampler.series} series`, `median ${f(r.sampler.medianMs, 2)} ms`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return ['analyzer core', ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join('\n');
}

function arg(name: string, def: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? def : Number(a.slice(name.length + 3));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchAnalyzer({ cycles: arg('cycles', 25), series: arg('series', 1000), hours: arg('hours', 24) })
    .then((r) => {
      console.log(formatAnalyzerBench(r));
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
