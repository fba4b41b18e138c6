/**
 * `npm run bench-footprint`: what llmsoak's memory is made of. Prints
 * figures, asserts nothing.
 *
 *   node --expose-gc dist/bench/footprint.js [--only=daemon,holders,store] [--minutes=10] [--series=1000] [--hours=24] [--step-sec=5]
 *     [--node-flags="--max-semi-space-size=2"] [--env=MALLOC_ARENA_MAX=2] [--target=hostile] [--every=5] [--warmup-min=2]
 *
 * - daemon: `llmsoak run` exactly as `npm start` runs it (default config, the
 *   embedded simulator in its own process), in its own process, listening on
 *   an ephemeral loopback port, in a scratch directory. Its RSS (/proc),
 *   V8 heap used/total, external and array buffers and the series store's
 *   bytes (its /metrics) at start, after 1 min and after --minutes.
 *   Its node flags and environment settings are those of package.json's
 *   `start` script; --node-flags and --env (NAME=VALUE,…; empty for none)
 *   replace them, to try V8 or allocator settings on the daemon only, or
 *   another config (LLMSOAK_CONFIG=/abs/file.yaml, LLMSOAK_TRAFFIC__RATE=…).
 *   A point every --every minutes (default 1 up to 10 min, else 5); after
 *   --warmup-min, llmsoak's own leak detector (analyzer/trends.ts leakTrend,
 *   the one the leak rules use) judges the 5 s RSS readings.
 *   --target=hostile: the daemon soaks the hostile test server (garbage,
 *   stalls, resets, 10 MB bodies…; the mix of soak-self), run in this
 *   process so that none of its memory is the daemon's.
 * - holders: the large holders built alone in this process, each measured as
 *   the V8 heap + array buffers it adds (after a forced GC; --expose-gc) and,
 *   where it has one, by its own byte counter.
 * - store: a synthetic store of --series series over --hours at --step-sec
 *   (gauges that wander, counters that climb, histogram buckets): bytes
 *   held, bytes per stored sample, append and query cost.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { SeriesStore } from '../src/analyzer/series-store.js';
import { LocalSource } from '../src/analyzer/local-source.js';
import { seededRandom, gaussian } from '../src/analyzer/stats.js';
import { createRegistry } from '../src/metrics/registry.js';
import { Recorder } from '../src/metrics/recorder.js';
import { createRng } from '../src/traffic/random.js';
import { systemClock } from '../src/clock.js';
import { loadConfig } from '../src/config/load.js';
import { leakTrend } from '../src/analyzer/trends.js';
import { startHostileServer } from '../test/hostile-server.js';
import { HOSTILE_SOAK_MIX } from './hostile-mix.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const kv = a.replace(/^--/, '');
    const eq = kv.indexOf('=');
    return eq < 0 ? ([kv, 'true'] as const) : ([kv.slice(0, eq), kv.slice(eq + 1)] as const);
  }),
);
const only = new Set((args.get('only') ?? 'holders,store,daemon').split(','));
const MINUTES = Number(args.get('minutes') ?? 10);
const SERIES = Number(args.get('series') ?? 1000);
const HOURS = Number(args.get('hours') ?? 24);
const STEP_SEC = Number(args.get('step-sec') ?? 5);
const TARGET = args.get('target') ?? 'sim';
const EVERY = Number(args.get('every') ?? (MINUTES <= 10 ? 1 : 5));
const WARMUP_MIN = Number(args.get('warmup-min') ?? 2);

/** The environment settings and node flags of package.json's `start` script (`NAME=VALUE … node --flag … dist/src/cli.js run`). */
function startScript(): { env: Record<string, string>; flags: string[] } {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { scripts?: Record<string, string> };
  const m = /^((?:\w+=\S+\s+)*)node\s+((?:--\S+\s+)*)dist\/src\/cli\.js run/.exec(pkg.scripts?.start ?? '');
  if (!m) throw new Error('package.json: the start script is not `[NAME=VALUE …] node [--flag …] dist/src/cli.js run`; the bench would not run what npm start runs');
  const env = Object.fromEntries(
    (m[1] ?? '')
      .trim()
      .split(/\s+/)
      .filter((x) => x !== '')
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  return {
    env,
    flags: (m[2] ?? '')
      .trim()
      .split(/\s+/)
      .filter((x) => x !== ''),
  };
}
const START = args.has('node-flags') && args.has('env') ? undefined : startScript();
const NODE_FLAGS = args.has('node-flags') ? (args.get('node-flags') as string).split(' ').filter((x) => x !== '') : (START?.flags ?? []);
const EXTRA_ENV = args.has('env')
  ? Object.fromEntries(
      (args.get('env') as string)
        .split(',')
        .filter((x) => x.includes('='))
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    )
  : (START?.env ?? {});
const MB = 1024 * 1024;
const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

const gc = (globalThis as { gc?: () => void }).gc;
const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
const mb = (b: number) => f(b / MB, 1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padStart(widths[i] as number)).join(' | ') + ' |';
  return [line(headers), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map((r) => line(r.map(String)))].join('\n');
}

// ------------------------------------------------------------------ daemon

interface DaemonPoint {
  label: string;
  /** RSS read from /proc every 5 s over the minute before this point: median and max (a single reading moves with GC by ±20 MB). */
  rssMedian: number;
  rssMax: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** The traffic workers' own heaps (their isolates: not in the main thread's nodejs_heap_*), summed. */
  workerHeapUsed: number;
  workerHeapTotal: number;
  external: number;
  arrayBuffers: number;
  storeBytes: number;
  storeSeries: number;
}

/** `name value` lines of a Prometheus text exposition: the first value of each name, and under `sum:name` the sum over its label sets. */
function metricValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})? (\S+)/.exec(line);
    if (!m) continue;
    const name = m[1] as string;
    if (!out.has(name)) out.set(name, Number(m[2]));
    out.set(`sum:${name}`, (out.get(`sum:${name}`) ?? 0) + Number(m[2]));
  }
  return out;
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function daemonPoint(label: string, pid: number, url: string): Promise<DaemonPoint> {
  const res = await request(`${url}/metrics`);
  const m = metricValues(await res.body.text());
  const v = (name: string) => m.get(name) ?? NaN;
  return {
    label,
    rssMedian: NaN,
    rssMax: NaN,
    rss: rssOf(pid),
    heapUsed: v('nodejs_heap_size_used_bytes'),
    heapTotal: v('nodejs_heap_size_total_bytes'),
    workerHeapUsed: v('sum:llmsoak_traffic_worker_heap_used_bytes'),
    workerHeapTotal: v('sum:llmsoak_traffic_worker_heap_total_bytes'),
    external: v('nodejs_external_memory_bytes'),
    arrayBuffers: v('llmsoak_process_array_buffers_bytes'),
    storeBytes: v('llmsoak_analyzer_store_bytes'),
    storeSeries: v('llmsoak_analyzer_store_series'),
  };
}

/** The hostile test server in this process, and the daemon settings that point at it (soak-self's timeouts). */
async function hostileTarget(): Promise<{ env: Record<string, string>; close: () => Promise<void> }> {
  const h = await startHostileServer({ mix: HOSTILE_SOAK_MIX, seed: 11 });
  return {
    env: {
      LLMSOAK_TARGET__URL: `${h.url}/v1`,
      LLMSOAK_TARGET__MODEL: 'hostile',
      LLMSOAK_TARGET__TIMEOUTS__CONNECT_MS: '1000',
      LLMSOAK_TARGET__TIMEOUTS__HEADERS_MS: '1000',
      LLMSOAK_TARGET__TIMEOUTS__IDLE_MS: '1500',
      LLMSOAK_TARGET__TIMEOUTS__TOTAL_MS: '3000',
    },
    close: () => h.close(),
  };
}

/** RSS readings every 5 s, for the leak verdict. */
const rssReadings: { t: number; rss: number }[] = [];

/** Run `llmsoak run` as `npm start` does, in a scratch directory, and read its memory over time. */
async function benchDaemon(minutes: number): Promise<DaemonPoint[]> {
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-footprint-'));
  const target = TARGET === 'hostile' ? await hostileTarget() : undefined;
  const child = spawn(process.execPath, [...NODE_FLAGS, CLI, 'run', '--listen', '127.0.0.1:0'], {
    cwd: dir,
    env: { ...process.env, ...EXTRA_ENV, ...target?.env, LLMSOAK_SIMULATOR__PORT: '0', LLMSOAK_LOG__LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let err = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => {
        err += d;
        const m = /metrics at (http:\/\/\S+)\/metrics/.exec(err);
        if (m) resolve(m[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`llmsoak run exited (${code}) before serving: ${err.slice(-500)}`)));
    });
    const pid = child.pid as number;
    const points = [await daemonPoint('start', pid, url)];
    const t0 = nowMs();
    const marks = [...new Set([1, ...Array.from({ length: Math.floor(minutes / EVERY) }, (_, i) => (i + 1) * EVERY), Math.max(1, minutes)])].sort((a, b) => a - b);
    const readings = rssReadings;
    for (const m of marks) {
      const due = t0 + m * 60_000;
      while (nowMs() < due) {
        await sleep(Math.min(5000, Math.max(0, due - nowMs())));
        readings.push({ t: nowMs(), rss: rssOf(pid) });
      }
      const p = await daemonPoint(`${m} min`, pid, url);
      const lastMinute = readings
        .filter((r) => r.t > due - 60_000)
        .map((r) => r.rss)
        .sort((a, b) => a - b);
      p.rssMedian = lastMinute[Math.floor(lastMinute.length / 2)] ?? NaN;
      p.rssMax = lastMinute[lastMinute.length - 1] ?? NaN;
      points.push(p);
      process.stderr.write(`daemon: ${m} min, RSS ${mb(p.rss)} MB (median of the minute before ${mb(p.rssMedian)} MB)\n`);
    }
    return points;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        r(undefined);
      }, 20_000);
      child.once('exit', () => {
        clearTimeout(timer);
        r(undefined);
      });
    });
    rmSync(dir, { recursive: true, force: true });
    await target?.close();
  }
}

/** llmsoak's leak detector on the RSS readings after the warm-up (needs 5 min of them). */
function rssVerdict(t0: number): string {
  const after = rssReadings.filter((r) => r.t >= t0 + WARMUP_MIN * 60_000);
  if (after.length < 10 || (after[after.length - 1]?.t ?? 0) - (after[0]?.t ?? 0) < 300_000) return `leak detector: n/a (under 5 min of readings after the ${WARMUP_MIN} min warm-up)`;
  const tr = leakTrend(
    after.map((r) => ({ t: r.t, v: r.rss })),
    { warmupSec: 0, minSpanSec: 300, minPoints: 10 },
  );
  const rss = after.map((r) => r.rss).sort((a, b) => a - b);
  return `after the ${WARMUP_MIN} min warm-up: RSS ${mb(rss[0] ?? NaN)}-${mb(rss[rss.length - 1] ?? NaN)} MB (median ${mb(rss[rss.length >> 1] ?? NaN)}), ${after.length} readings; llmsoak's leak detector: ${tr.verdict} (slope ${(tr.slopePerHour / MB).toFixed(2)} MB/h, R² ${tr.r2.toFixed(2)}, Mann-Kendall p ${tr.pValue.toExponential(1)})`;
}

// ----------------------------------------------------------------- holders

interface Held {
  heap: number;
  arrayBuffers: number;
}

function heldNow(): Held {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

/** Heap + array buffers that `build` adds and keeps (the result is kept alive until measured). */
async function heldBy<T>(build: () => T | Promise<T>): Promise<{ bytes: number; value: T }> {
  const before = heldNow();
  const value = await build();
  const after = heldNow();
  return { bytes: after.heap - before.heap + after.arrayBuffers - before.arrayBuffers, value };
}

async function benchHolders(): Promise<(string | number)[][]> {
  if (!gc) process.stderr.write('holders: run with node --expose-gc for figures after a full GC\n');
  const rows: (string | number)[][] = [];
  const config = loadConfig({ env: {}, flags: {} }).config;
  const reg = await heldBy(() => createRegistry());
  rows.push(['prom-client registry + default metrics', mb(reg.bytes), '-']);
  const rec = await heldBy(() => new Recorder(reg.value, { slo: config.slo, windowMs: config.metrics.windowMs, clock: systemClock, maxLabelValues: config.metrics.maxLabelValues }));
  let hdr = 0;
  for (const w of Object.values(rec.value.windows)) hdr += w.footprintBytes();
  rows.push(['recorder (traffic series, HDR windows)', mb(rec.bytes), `HDR windows ${mb(hdr)}`]);
  // Imported here, not above, so that the tokenizer's tables are counted (they load with the module).
  const prompts = await heldBy(async () => {
    const { PromptBuilder } = await import('../src/traffic/prompts.js');
    const p = new PromptBuilder(createRng(1));
    p.text(256);
    p.countTokens('hello world');
    return p;
  });
  rows.push(['tokenizer (o200k ranks) + prompt corpus', mb(prompts.bytes), '-']);
  const stepSec = config.analyzer.stepSec;
  const store = await heldBy(() => fillStore({ series: 2000, hours: 1, stepSec }).store);
  rows.push([`series store: 2,000 series × 1 h at ${stepSec} s`, mb(store.bytes), `own count ${mb(store.value.footprintBytes())}`]);
  return rows;
}

// ------------------------------------------------------------------- store

interface FilledStore {
  store: SeriesStore;
  samples: number;
  appendNsPerValue: number;
}

/**
 * A store of `series` series in the mix of the daemon's own registry
 * (measured on `npm start`'s /metrics: 75 % histogram buckets, 8 % histogram
 * _sum/_count, 5 % counters, 12 % gauges), filled with `hours` of samples at
 * `stepSec`, with values like the daemon's: buckets climb by a few requests
 * (the narrow ones rarely), sums by latencies (full-precision floats),
 * counters by whole numbers; half the gauges are byte counts (pages of 4 KiB
 * that wander), half ratios computed from two readings (full precision).
 */
function fillStore(o: { series: number; hours: number; stepSec: number }): FilledStore {
  const store = new SeriesStore({ stepSec: o.stepSec, maxSeries: Math.max(20_000, o.series) });
  const rand = seededRandom(7);
  const g = gaussian(rand);
  type Kind = 'bucket' | 'sum' | 'count' | 'counter' | 'bytes' | 'ratio';
  const mix: [Kind, number][] = [
    ['bucket', 0.75],
    ['sum', 0.04],
    ['count', 0.04],
    ['counter', 0.05],
    ['bytes', 0.06],
    ['ratio', 0.06],
  ];
  const ids: number[] = [];
  const kinds: Kind[] = [];
  const chance: number[] = [];
  for (const [kind, share] of mix) {
    const n = Math.round(o.series * share);
    for (let i = 0; i < n; i++) {
      const hist = Math.floor(i / 16);
      const name =
        kind === 'bucket'
          ? `bench_latency_${hist}_seconds_bucket`
          : kind === 'sum'
            ? `bench_latency_${i}_seconds_sum`
            : kind === 'count'
              ? `bench_latency_${i}_seconds_count`
              : kind === 'counter'
                ? `bench_counter_${i % 10}_total`
                : `bench_${kind}_${i % 50}`;
      const labels: Record<string, string> = kind === 'bucket' ? { le: String(0.005 * 2 ** (i % 16)) } : { i: String(i) };
      ids.push(store.ref(name, labels, kind === 'bytes' || kind === 'ratio' ? 'gauge' : 'counter'));
      kinds.push(kind);
      // A narrow bucket (small le) takes an observation less often than a wide one.
      chance.push(kind === 'bucket' ? Math.min(1, ((i % 16) + 1) / 12) : 1);
    }
  }
  const state = new Float64Array(ids.length);
  for (let j = 0; j < ids.length; j++) state[j] = kinds[j] === 'bytes' ? 4096 * Math.round(2e4 * (1 + (j % 7))) : 0;
  const steps = Math.round((o.hours * 3600) / o.stepSec);
  const t0 = Date.UTC(2025, 0, 1);
  let ns = 0;
  for (let s = 0; s < steps; s++) {
    for (let j = 0; j < ids.length; j++) {
      const x = state[j] as number;
      switch (kinds[j]) {
        case 'bucket':
          if (rand() < (chance[j] as number) * 0.5) state[j] = x + 1 + Math.floor(rand() * 10);
          break;
        case 'sum':
          state[j] = x + rand() * 20;
          break;
        case 'count':
        case 'counter':
          state[j] = x + Math.floor(rand() * 20);
          break;
        case 'bytes':
          if (rand() < 0.5) state[j] = x + 4096 * Math.round(g() * 8);
          break;
        case 'ratio':
          state[j] = (0.5 + 0.2 * Math.sin(s / 100) + 0.01 * g()) / (1 + rand());
          break;
      }
    }
    const a = process.hrtime.bigint();
    // Jitter of a real scrape: the wall clock at each tick is a few ms off the grid.
    store.beginSample(t0 + s * o.stepSec * 1000 + Math.floor(rand() * 5));
    for (let j = 0; j < ids.length; j++) store.setById(ids[j] as number, state[j] as number);
    store.commitSample();
    ns += Number(process.hrtime.bigint() - a);
  }
  return { store, samples: steps, appendNsPerValue: ns / (steps * ids.length) };
}

/** Values the store holds (every tier), for bytes per stored sample. */
function storedValues(store: SeriesStore): number {
  const st = store.stats();
  let n = 0;
  for (const t of st.tiers) n += t.count;
  return n * st.series;
}

function benchStore(): (string | number)[][] {
  const t0 = nowMs();
  const filled = fillStore({ series: SERIES, hours: HOURS, stepSec: STEP_SEC });
  const fillSec = (nowMs() - t0) / 1000;
  const store = filled.store;
  const bytes = store.footprintBytes();
  const values = storedValues(store);
  const src = new LocalSource(store);
  const end = new Date(store.lastSampleMs);
  const timed = (fn: () => unknown) => {
    const xs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const a = nowMs();
      fn();
      xs.push(nowMs() - a);
    }
    return xs.sort((a, b) => a - b)[2] as number;
  };
  const range1h = timed(() => src.rangeSync('bench_bytes_0', 3600, end.getTime()));
  const range24h = timed(() => src.rangeSync('bench_bytes_0', 24 * 3600, end.getTime()));
  const rate1h = timed(() => void src.rate('bench_counter_0_total', 3600, end));
  const quantile5m = timed(() => void src.quantile(0.99, 'bench_latency_0_seconds', 300, end));
  const perName = store.select('bench_bytes_0').length;
  return [
    ['series × hours at step', `${SERIES} × ${HOURS} h at ${STEP_SEC} s`],
    ['store bytes (own count)', `${mb(bytes)} MB`],
    ['values held (every tier)', values],
    ['bytes per stored value', f(bytes / values, 2)],
    ['append, per value', `${f(filled.appendNsPerValue, 0)} ns`],
    ['fill time', `${f(fillSec, 1)} s`],
    [`range 1 h of ${perName} series`, `${f(range1h, 2)} ms`],
    [`range 24 h of ${perName} series`, `${f(range24h, 2)} ms`],
    ['rate 1 h per step, 1 series', `${f(rate1h, 2)} ms`],
    ['histogram p99 over 5 min (16 buckets)', `${f(quantile5m, 2)} ms`],
  ];
}

async function main(): Promise<void> {
  console.log(`llmsoak footprint bench, node ${process.version}${gc ? '' : ' (no --expose-gc: holder figures include garbage)'}\n`);
  if (only.has('holders')) {
    console.log('## Large holders, each built alone (V8 heap + array buffers kept, after a full GC)\n');
    console.log(table(['holder', 'MB', 'own counter'], await benchHolders()) + '\n');
  }
  if (only.has('store')) {
    console.log(`## Series store, synthetic (${SERIES} series, ${HOURS} h at ${STEP_SEC} s; default tiers)\n`);
    console.log(table(['figure', 'value'], benchStore()) + '\n');
  }
  if (only.has('daemon')) {
    const extra = [...NODE_FLAGS, ...Object.entries(EXTRA_ENV).map(([k, v]) => `${k}=${v}`)].join(' ');
    const against = TARGET === 'hostile' ? 'the hostile test server (in the bench process)' : 'embedded simulator in its own process';
    console.log(`## \`llmsoak run\` as \`npm start\` (default config, ${against}), ${MINUTES} min${extra ? `, with ${extra}` : ''}\n`);
    const t0 = nowMs();
    const points = await benchDaemon(MINUTES);
    console.log(
      table(
        [
          'when',
          'RSS MB',
          'RSS median, max of the minute before',
          'heap used MB',
          'heap total MB',
          'worker heap used MB',
          'worker heap total MB',
          'external MB',
          'array buffers MB',
          'store MB',
          'store series',
        ],
        points.map((p) => [
          p.label,
          mb(p.rss),
          Number.isFinite(p.rssMedian) ? `${mb(p.rssMedian)}, ${mb(p.rssMax)}` : '-',
          mb(p.heapUsed),
          mb(p.heapTotal),
          mb(p.workerHeapUsed),
          mb(p.workerHeapTotal),
          mb(p.external),
          mb(p.arrayBuffers),
          mb(p.storeBytes),
          p.storeSeries,
        ]),
      ) + '\n',
    );
    console.log(rssVerdict(t0) + '\n');
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
