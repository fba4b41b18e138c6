/**
 * Benchmarks of the traffic engine against the simulator in a child process:
 * pacing (schedule lag), accuracy against the simulator's ground truth,
 * capacity, and the cost of collectors. The engine runs inside a real Daemon
 * (HTTP server up, /metrics scraped every second while it runs).
 */
import { request } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import type { RequestRecord } from '../src/types.js';

export interface TrafficBenchOptions {
  simUrl: string;
  rate: number;
  seconds: number;
  warmupSec?: number;
  /** Scrape the daemon's /metrics this often while running, ms (0 = never). */
  scrapeEveryMs?: number;
  collectors?: boolean;
  /** Interval of every collector when they are on, ms (default 1000). */
  collectorIntervalMs?: number;
  stream?: boolean;
  promptTokens?: number;
  outputTokens?: number;
  maxInFlight?: number;
  onRecord?: (r: RequestRecord) => void;
  /** Closed loop with this many users and no think time, instead of a rate. */
  closedUsers?: number;
}

export interface TrafficBenchResult {
  targetRate: number;
  seconds: number;
  sent: number;
  achievedRps: number;
  ok: number;
  errors: number;
  dropped: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  e2eP50Ms: number;
  cpuSecPer1000: number;
  scrapes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runTrafficBench(o: TrafficBenchOptions): Promise<TrafficBenchResult> {
  const collectors = o.collectors ?? false;
  const { config } = loadConfig({
    document: {
      target: { url: `${o.simUrl}/v1`, model: 'sim-llama-3-8b' },
      server: { listen: '127.0.0.1:0' },
      log: { level: 'silent' },
      traffic: {
        rate: o.rate,
        arrival: 'constant',
        seed: 7,
        maxInFlight: o.maxInFlight ?? 2048,
        ...(o.closedUsers ? { mode: 'closed', users: o.closedUsers, thinkTimeMs: 0 } : {}),
        scenarios: [
          {
            name: 'bench',
            endpoint: 'chat',
            stream: o.stream ?? true,
            prompt: { dist: 'fixed', value: o.promptTokens ?? 32 },
            output: { dist: 'fixed', value: o.outputTokens ?? 64 },
          },
        ],
      },
      collectors: collectors
        ? { intervalMs: o.collectorIntervalMs ?? 1000 }
        : { host: { enabled: false }, process: { enabled: false }, gpu: { enabled: false }, server: { enabled: false }, cost: { enabled: false } },
      run: { drainMs: 5000 },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger(), ...(o.onRecord ? { onRecord: o.onRecord } : {}) });
  await daemon.start();
  const rec = daemon.trafficRecorder;
  if (!rec) throw new Error('traffic did not start');

  let scrapes = 0;
  let scraping = true;
  const scraper = (async () => {
    if (!o.scrapeEveryMs) return;
    while (scraping) {
      await sleep(o.scrapeEveryMs);
      if (!scraping) break;
      const res = await request(`${daemon.listenUrl}/metrics`);
      await res.body.text();
      scrapes++;
    }
  })();

  await sleep((o.warmupSec ?? 2) * 1000);
  rec.totalsHdr.scheduleLag.reset();
  rec.totalsHdr.e2e.reset();
  const before = { ...rec.totals, errorsSum: sumErrors(rec.totals.errors) };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await sleep(o.seconds * 1000);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const lag = rec.totalsHdr.scheduleLag.snapshot();
  const e2e = rec.totalsHdr.e2e.snapshot();
  const after = { ...rec.totals, errorsSum: sumErrors(rec.totals.errors) };
  scraping = false;
  await scraper;
  await daemon.stop('bench done');

  const sent = after.requests - before.requests;
  return {
    targetRate: o.rate,
    seconds: wall,
    sent,
    achievedRps: sent / wall,
    ok: after.ok - before.ok,
    errors: after.errorsSum - before.errorsSum,
    dropped: after.dropped - before.dropped,
    lagP50Ms: lag.p50 * 1000,
    lagP99Ms: lag.p99 * 1000,
    lagMaxMs: lag.max * 1000,
    e2eP50Ms: e2e.p50 * 1000,
    cpuSecPer1000: sent > 0 ? ((cpu.user + cpu.system) / 1e6 / sent) * 1000 : 0,
    scrapes,
  };
}

function sumErrors(e: Partial<Record<string, number>>): number {
  let n = 0;
  for (const v of Object.values(e)) n += v ?? 0;
  return n;
}

/** Client-vs-server accuracy: absolute errors of every ITL gap and of TTFT, ms. */
export interface AccuracyResult {
  requests: number;
  gaps: number;
  itlAbsErrP50Ms: number;
  itlAbsErrP99Ms: number;
  ttftErrMeanMs: number;
  ttftAbsErrP50Ms: number;
  ttftAbsErrP99Ms: number;
}

/** Compares each record with the simulator's timings; requests sent in the first `warmupMs` (connections being opened, JIT) are left out, as runTrafficBench leaves them out of its lag figures. */
export function accuracyCollector(warmupMs = 2000): { onRecord: (r: RequestRecord) => void; result: () => AccuracyResult } {
  const itlErr: number[] = [];
  const ttftErr: number[] = [];
  let requests = 0;
  let firstSentAt: bigint | undefined;
  return {
    onRecord(r) {
      const st = r.serverTimings;
      firstSentAt ??= r.sentAt;
      if (r.sentAt - firstSentAt < BigInt(warmupMs) * 1_000_000n) return;
      if (r.outcome !== 'ok' || !st || r.firstTokenAt === undefined) return;
      if (st.itl_ms.length !== r.tokenGapsNs.length) return; // chunks merged: not comparable one to one
      requests++;
      for (let i = 0; i < st.itl_ms.length; i++) itlErr.push(Math.abs((r.tokenGapsNs[i] as number) / 1e6 - (st.itl_ms[i] as number)));
      ttftErr.push(Number(r.firstTokenAt - r.sentAt) / 1e6 - st.ttft_ms);
    },
    result() {
      const abs = ttftErr.map(Math.abs);
      return {
        requests,
        gaps: itlErr.length,
        itlAbsErrP50Ms: pct(itlErr, 0.5),
        itlAbsErrP99Ms: pct(itlErr, 0.99),
        ttftErrMeanMs: ttftErr.reduce((a, b) => a + b, 0) / Math.max(1, ttftErr.length),
        ttftAbsErrP50Ms: pct(abs, 0.5),
        ttftAbsErrP99Ms: pct(abs, 0.99),
      };
    },
  };
}

function pct(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}
