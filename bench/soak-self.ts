/**
 * `npm run soak-self`: llmsoak soaking itself. The whole daemon (traffic,
 * collectors, sampler, analyzer, checkpoints, /metrics scraped every 5 s)
 * drives the simulator (a separate process, zero service time) at a high
 * rate until it has sent a million requests, while its own RSS, heap and
 * event-loop lag are sampled. After the warm-up, RSS growth must stay under
 * 2 MB and llmsoak's own leak detector (analyzer/trends.ts leakTrend, the
 * one the leak rules use) must call the RSS series stable; exits 1 if not.
 *
 *   node --expose-gc dist/bench/soak-self.js [--requests=1000000] [--rate=800] [--warmup-sec=600] [--sample-sec=5] [--target=sim|hostile] [--bound-mb=2] [--out=samples.json]
 *
 * RSS is read twice each minute: as it is (what a production leak detector
 * would see) and after a forced full GC (what is retained; --expose-gc),
 * which is the figure the 2 MB bound applies to. `--target=hostile` soaks
 * the hostile test server (garbage, stalls, resets, 10 MB bodies…) instead.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { leakTrend } from '../src/analyzer/trends.js';
import { startSimChild } from './sim-child.js';
import { startHostileServer } from '../test/hostile-server.js';
import { HOSTILE_SOAK_MIX } from './hostile-mix.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const TOTAL = Number(args.get('requests') ?? 1_000_000);
const RATE = Number(args.get('rate') ?? 800);
// Warm-up: V8 sizes its heap, the series store allocates every series, the baseline is taken, the first checkpoints are written.
// (the undici pool creates its connection objects up to the in-flight high-water mark: measured flat after ~8 min)
const WARMUP_SEC = Number(args.get('warmup-sec') ?? 600);
const OUT = args.get('out');
const SAMPLE_SEC = Number(args.get('sample-sec') ?? 5);
const TARGET = args.get('target') ?? 'sim';
const gc = (globalThis as { gc?: () => void }).gc;
/** Allowed growth after warm-up, MB: 2 for the self-soak; 50 against the hostile server (10 MB bodies churn malloc). */
const BOUND_MB = Number(args.get('bound-mb') ?? (TARGET === 'hostile' ? 50 : 2));
const MB = 1024 * 1024;

interface Point {
  t: number;
  rss: number;
  heap: number;
  external: number;
  lagP99: number;
  lagMax: number;
  requests: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? ((s[(s.length - 1) >> 1] as number) + (s[s.length >> 1] as number)) / 2 : NaN;
};

async function main(): Promise<number> {
  let targetUrl: string;
  let targetPid: number | undefined;
  let stopTarget: () => Promise<void>;
  if (TARGET === 'hostile') {
    const h = await startHostileServer({
      mix: HOSTILE_SOAK_MIX,
      seed: 11,
    });
    targetUrl = h.url;
    stopTarget = () => h.close();
  } else {
    const sim = await startSimChild({ port: 0, engine: { timeScale: 0, maxNumSeqs: 8192, maxQueue: 16384, kvCacheTokens: 100_000_000 } });
    targetUrl = sim.url;
    targetPid = sim.pid;
    stopTarget = () => sim.stop();
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'llmsoak-soak-self-'));
  const { config } = loadConfig({
    document: {
      target: {
        url: `${targetUrl}/v1`,
        model: TARGET === 'hostile' ? 'hostile' : 'sim-llama-3-8b',
        ...(targetPid ? { pid: targetPid } : {}),
        ...(TARGET === 'hostile' ? { timeouts: { connectMs: 1000, headersMs: 1000, idleMs: 1500, totalMs: 3000 } } : {}),
      },
      server: { listen: '127.0.0.1:0' },
      traffic: {
        rate: RATE,
        arrival: 'poisson',
        seed: 9,
        maxInFlight: 512,
        scenarios: [
          { name: 'chat', weight: 8, endpoint: 'chat', stream: true, prompt: { dist: 'fixed', value: 32 }, output: { dist: 'fixed', value: 16 } },
          { name: 'completion', weight: 2, endpoint: 'completions', stream: false, prompt: { dist: 'fixed', value: 32 }, output: { dist: 'fixed', value: 16 } },
        ],
      },
      run: { dataDir, checkpointIntervalSec: 60, drainMs: 5000 },
      collectors: { intervalMs: 5000, gpu: { enabled: false } },
      analyzer: { stepSec: 5, intervalSec: 30, warmupSec: 60, baselineSec: 120 },
      log: { level: 'silent' },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger(), checkpoints: true });
  await daemon.start();
  const rec = daemon.trafficRecorder;
  if (!rec) throw new Error('traffic did not start');
  console.log(
    `soak-self: ${TOTAL.toLocaleString('en')} requests at ${RATE}/s against the ${TARGET === 'hostile' ? 'hostile test server' : 'simulator (separate process, zero service time)'}; node ${process.version}; forced GC ${gc ? 'available' : 'NOT available (run with --expose-gc)'}`,
  );

  // Prometheus' view: scrape /metrics every 5 s for the whole run.
  let scraping = true;
  const scraper = (async () => {
    while (scraping) {
      await sleep(5000);
      try {
        const res = await request(`${daemon.listenUrl}/metrics`);
        await res.body.text();
      } catch {
        // counted nowhere: the daemon's own health is what is measured
      }
    }
  })();

  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const t0 = Date.now();
  const raw: Point[] = [];
  const retained: Point[] = [];
  let lastGc = 0;
  let lastPrint = 0;
  while (rec.totals.requests < TOTAL) {
    await sleep(SAMPLE_SEC * 1000);
    const now = Date.now();
    const m = process.memoryUsage();
    const p: Point = { t: now, rss: m.rss, heap: m.heapUsed, external: m.external, lagP99: loop.percentile(99) / 1e6, lagMax: loop.max / 1e6, requests: rec.totals.requests };
    loop.reset();
    raw.push(p);
    if (gc && now - lastGc >= 60_000) {
      lastGc = now;
      gc();
      const g = process.memoryUsage();
      retained.push({ ...p, rss: g.rss, heap: g.heapUsed, external: g.external });
    }
    if (now - lastPrint >= 60_000) {
      lastPrint = now;
      const el = (now - t0) / 1000;
      console.log(
        `${el.toFixed(0).padStart(5)} s  ${p.requests.toLocaleString('en').padStart(10)} requests (${(p.requests / el).toFixed(0)}/s)  RSS ${(p.rss / MB).toFixed(1)} MB  heap ${(p.heap / MB).toFixed(1)} MB  loop lag p99 ${p.lagP99.toFixed(1)} ms`,
      );
    }
  }
  const elapsed = (Date.now() - t0) / 1000;
  scraping = false;
  await scraper;
  const lag = rec.totalsHdr.scheduleLag.snapshot();
  const totals = { ...rec.totals };
  await daemon.stop('soak-self done');
  await stopTarget();
  rmSync(dataDir, { recursive: true, force: true });
  loop.disable();

  const warmEnd = t0 + WARMUP_SEC * 1000;
  const after = (xs: Point[]) => xs.filter((p) => p.t >= warmEnd);
  const rawAfter = after(raw);
  const retAfter = after(retained);
  const window = (xs: Point[], first: boolean, f: (p: Point) => number) => {
    const n = Math.max(1, Math.round(xs.length * 0.15));
    return median((first ? xs.slice(0, n) : xs.slice(-n)).map(f));
  };
  const growth = (xs: Point[], f: (p: Point) => number) => (window(xs, false, f) - window(xs, true, f)) / MB;
  const verdict = (xs: Point[], f: (p: Point) => number) =>
    leakTrend(
      xs.map((p) => ({ t: p.t, v: f(p) })),
      { warmupSec: 0, minSpanSec: 300, minPoints: 10 },
    );

  if (OUT) writeFileSync(OUT, JSON.stringify({ rate: RATE, warmupSec: WARMUP_SEC, t0, raw, retained }));
  const rssTrend = verdict(rawAfter, (p) => p.rss);
  const heapTrend = verdict(rawAfter, (p) => p.heap);
  const retTrend = retAfter.length >= 10 ? verdict(retAfter, (p) => p.rss) : undefined;
  const rssGrowth = growth(rawAfter, (p) => p.rss);
  const retGrowth = retAfter.length >= 2 ? growth(retAfter, (p) => p.rss) : NaN;
  const heapGrowth = retAfter.length >= 2 ? growth(retAfter, (p) => p.heap) : growth(rawAfter, (p) => p.heap);
  const lagP99s = rawAfter.map((p) => p.lagP99);
  const errors =
    Object.entries(totals.errors)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';

  console.log(
    `\nsoak-self: ${totals.requests.toLocaleString('en')} requests in ${(elapsed / 60).toFixed(1)} min (${(totals.requests / elapsed).toFixed(0)}/s achieved of ${RATE}/s), ${totals.ok.toLocaleString('en')} ok, errors: ${errors}, dropped ${totals.dropped}`,
  );
  console.log(`schedule lag: p50 ${(lag.p50 * 1000).toFixed(3)} ms, p99 ${(lag.p99 * 1000).toFixed(3)} ms, p99.9 ${(lag.p999 * 1000).toFixed(2)} ms, max ${(lag.max * 1000).toFixed(1)} ms`);
  console.log(
    `event-loop lag after warm-up (per ${SAMPLE_SEC} s sample): median p99 ${median(lagP99s).toFixed(1)} ms, worst p99 ${Math.max(...lagP99s).toFixed(1)} ms, max ${Math.max(...rawAfter.map((p) => p.lagMax)).toFixed(1)} ms`,
  );
  console.log(
    `RSS: ${((raw[0]?.rss ?? 0) / MB) | 0} MB at first sample, ${((rawAfter[0]?.rss ?? 0) / MB).toFixed(1)} MB after the ${WARMUP_SEC} s warm-up, ${((raw[raw.length - 1]?.rss ?? 0) / MB).toFixed(1)} MB at the end`,
  );
  console.log(
    `growth after warm-up (median of the last 15 % minus the first 15 % of samples): RSS ${rssGrowth.toFixed(2)} MB as sampled, ${Number.isFinite(retGrowth) ? retGrowth.toFixed(2) : 'n/a'} MB retained (after full GC); heap ${heapGrowth.toFixed(2)} MB`,
  );
  const show = (name: string, tr: ReturnType<typeof leakTrend> | undefined) =>
    tr ? `${name}: ${tr.verdict} (slope ${(tr.slopePerHour / MB).toFixed(2)} MB/h, R² ${tr.r2.toFixed(2)}, Mann-Kendall p ${tr.pValue.toExponential(1)}, ${tr.points} points)` : `${name}: n/a`;
  console.log(`llmsoak's leak detector on itself: ${show('RSS', rssTrend)}; ${show('retained RSS', retTrend)}; ${show('heap', heapTrend)}`);
  const bound = Number.isFinite(retGrowth) ? retGrowth : rssGrowth;
  const pass = bound < BOUND_MB && rssTrend.verdict !== 'increasing' && (retTrend === undefined || retTrend.verdict !== 'increasing');
  console.log(pass ? `PASS: growth under ${BOUND_MB} MB and the leak detector calls it stable` : `FAIL: memory grew past ${BOUND_MB} MB after warm-up, or the leak detector sees an increase`);
  return pass ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
