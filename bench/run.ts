/**
 * `npm run bench`: prints figures, asserts nothing (a noisy machine makes
 * timed tests flaky; these are for the notes and for people).
 *
 *   node dist/bench/run.js [--only=simulator,pacing,accuracy,capacity,collectors,compare] [--seconds=10] [--pairs=3] [--collector-interval-ms=5000]
 */
import autocannon from 'autocannon';
import { benchSimulator, formatSimBench } from './simulator.js';
import { startSimChild, processCpuSeconds, type SimChild } from './sim-child.js';
import { bareClientAccuracy } from './accuracy-floor.js';
import type { RequestRecord } from '../src/types.js';
import { accuracyCollector, runTrafficBench, type AccuracyResult, type TrafficBenchResult } from './traffic.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k as string, v ?? 'true'] as const;
  }),
);
const only = new Set((args.get('only') ?? 'simulator,pacing,accuracy,capacity,collectors,compare').split(','));
const SECONDS = Number(args.get('seconds') ?? 10);

/** Zero service time and room for thousands in flight: the simulator is not what is measured. */
const FAST_SIM = { port: 0, engine: { timeScale: 0, maxNumSeqs: 4096, maxQueue: 8192, kvCacheTokens: 10_000_000 } };
/** Real step times (2 ms per decode step) so inter-token gaps are worth comparing. */
const TIMED_SIM = { port: 0, engine: { timeScale: 1, maxNumSeqs: 4096, maxQueue: 8192, kvCacheTokens: 10_000_000, decodeStepBaseMs: 2, decodeStepPerSeqMs: 0, prefillTokensPerSec: 1_000_000 } };

const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padStart(widths[i] as number)).join(' | ') + ' |';
  return [line(headers), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map((r) => line(r.map(String)))].join('\n');
}

function pacingRow(r: TrafficBenchResult): (string | number)[] {
  return [r.targetRate, f(r.achievedRps, 1), r.sent, r.errors, r.dropped, f(r.lagP50Ms, 3), f(r.lagP99Ms, 3), f(r.lagMaxMs, 2), f(r.cpuSecPer1000, 3), r.scrapes];
}
const PACING_HEAD = ['target/s', 'achieved/s', 'sent', 'errors', 'dropped', 'lag p50 ms', 'lag p99 ms', 'lag max ms', 'CPU s/1k req', 'scrapes'];

async function withSim<T>(cfg: Record<string, unknown>, fn: (sim: SimChild) => Promise<T>): Promise<T> {
  const sim = await startSimChild(cfg);
  try {
    return await fn(sim);
  } finally {
    await sim.stop();
  }
}

async function main(): Promise<void> {
  console.log(`llmsoak bench on ${process.platform}/${process.arch}, node ${process.version}, ${(await import('node:os')).cpus().length} cores; ${SECONDS} s per point\n`);

  if (only.has('simulator')) {
    console.log('## Simulator capacity (64-token streams, zero service time, closed loop)\n');
    const r = await benchSimulator({ durationSec: SECONDS, connections: 128, maxTokens: 64 });
    console.log(formatSimBench(r) + '\n');
  }

  let maxRate = 0;
  if (only.has('pacing')) {
    console.log('## Pacing: schedule lag of 64-token streams, /metrics scraped every second\n');
    const rows: (string | number)[][] = [];
    for (const rate of [100, 500, 1000]) {
      const r = await withSim(FAST_SIM, (sim) => runTrafficBench({ simUrl: sim.url, rate, seconds: SECONDS, scrapeEveryMs: 1000 }));
      rows.push(pacingRow(r));
    }
    console.log(table(PACING_HEAD, rows) + '\n');
  }

  if (only.has('capacity')) {
    console.log('## Capacity: highest rate of 64-token streams with schedule lag p99 <= 1 ms (and >= 98% delivered)\n');
    const rows: (string | number)[][] = [];
    let lo = 0;
    let hi = 0;
    for (const rate of [1000, 1500, 2000, 3000, 4000]) {
      const r = await withSim(FAST_SIM, (sim) => runTrafficBench({ simUrl: sim.url, rate, seconds: Math.min(SECONDS, 6), scrapeEveryMs: 1000 }));
      rows.push(pacingRow(r));
      if (r.lagP99Ms <= 1 && r.achievedRps >= 0.98 * rate && r.errors === 0) lo = rate;
      else {
        hi = rate;
        break;
      }
    }
    // Refine between the last rate that held and the first that did not.
    for (let i = 0; i < 2 && hi > 0 && hi - lo > 100; i++) {
      const rate = Math.round((lo + hi) / 2);
      const r = await withSim(FAST_SIM, (sim) => runTrafficBench({ simUrl: sim.url, rate, seconds: Math.min(SECONDS, 6), scrapeEveryMs: 1000 }));
      rows.push(pacingRow(r));
      if (r.lagP99Ms <= 1 && r.achievedRps >= 0.98 * rate && r.errors === 0) lo = rate;
      else hi = rate;
    }
    maxRate = lo;
    console.log(table(PACING_HEAD, rows));
    console.log(`\nsustained with lag p99 <= 1 ms: ${lo} req/s${hi ? ` (fails at ${hi})` : ' (highest tried)'}\n`);
  }

  if (only.has('accuracy')) {
    const rate = maxRate > 0 ? Math.round(maxRate / 2) : 500;
    console.log(`## Accuracy: client vs simulator ground truth at ${rate} req/s (2 ms decode steps, 64 tokens)\n`);
    const acc = accuracyCollector();
    const r = await withSim(TIMED_SIM, (sim) => runTrafficBench({ simUrl: sim.url, rate, seconds: SECONDS, scrapeEveryMs: 1000, onRecord: acc.onRecord }));
    const a = acc.result();
    // The same streams from a bare client: the machine's own floor (see accuracy-floor.ts).
    const floor = await withSim(TIMED_SIM, (sim) => bareClientAccuracy(sim.url, rate, SECONDS));
    const accRow = (name: string, x: AccuracyResult, lag: string) => [
      name,
      x.requests,
      x.gaps,
      f(x.itlAbsErrP50Ms, 3),
      f(x.itlAbsErrP99Ms, 3),
      f(x.ttftErrMeanMs, 3),
      f(x.ttftAbsErrP50Ms, 3),
      f(x.ttftAbsErrP99Ms, 3),
      lag,
    ];
    console.log(
      table(
        ['client', 'requests', 'gaps', 'ITL |err| p50 ms', 'ITL |err| p99 ms', 'TTFT err mean ms', 'TTFT |err| p50 ms', 'TTFT |err| p99 ms', 'lag p99 ms'],
        [accRow('llmsoak', a, f(r.lagP99Ms, 3)), accRow('bare node:http', floor, '-')],
      ),
    );
    console.log('TTFT error = client TTFT (from send) - server TTFT (from body received): includes the request write and the server parsing it.');
    console.log('bare node:http = one timestamp per SSE event and nothing else: the floor this machine puts under any client.\n');
  }

  if (only.has('collectors')) {
    const intervalMs = Number(args.get('collector-interval-ms') ?? 5000);
    console.log(`## Collectors: schedule lag at 500 req/s with collectors off and on (${intervalMs / 1000} s interval; the default is 5 s)\n`);
    // Alternating off/on pairs: a single p99 over 10 s moves by ±50% run to run on a shared VM, so the lags of
    // every run of a setting are also pooled (first 2 s of each left out) and one p99 taken over all of them.
    const pairs = Number(args.get('pairs') ?? 3);
    const rows: (string | number)[][] = [];
    const p99: Record<'off' | 'on', number[]> = { off: [], on: [] };
    const pooled: Record<'off' | 'on', number[]> = { off: [], on: [] };
    for (let i = 0; i < pairs; i++) {
      for (const collectors of [false, true]) {
        const key = collectors ? 'on' : 'off';
        let first: bigint | undefined;
        const onRecord = (rec: RequestRecord) => {
          first ??= rec.scheduledAt;
          if (rec.scheduledAt - first >= 2_000_000_000n) pooled[key].push(Number(rec.sentAt - rec.scheduledAt) / 1e6);
        };
        const r = await withSim(FAST_SIM, (sim) => runTrafficBench({ simUrl: sim.url, rate: 500, seconds: SECONDS, scrapeEveryMs: 1000, collectors, collectorIntervalMs: intervalMs, onRecord }));
        rows.push([key, ...pacingRow(r)]);
        p99[key].push(r.lagP99Ms);
      }
    }
    console.log(table(['collectors', ...PACING_HEAD], rows));
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const q99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(0.99 * (xs.length - 1))] as number;
    const pct = (on: number, off: number) => `${on >= off ? '+' : ''}${f((on / off - 1) * 100, 1)}%`;
    console.log(`\nmedian of per-run lag p99 (${pairs} runs each): off ${f(med(p99.off), 3)} ms, on ${f(med(p99.on), 3)} ms (${pct(med(p99.on), med(p99.off))})`);
    console.log(
      `lag p99 over all runs pooled (${pooled.off.length} / ${pooled.on.length} requests): off ${f(q99(pooled.off), 3)} ms, on ${f(q99(pooled.on), 3)} ms (${pct(q99(pooled.on), q99(pooled.off))})\n`,
    );
  }

  if (only.has('compare')) {
    console.log('## Against autocannon (closed loop, 64 connections, same non-streamed and streamed requests)\n');
    const rows: (string | number)[][] = [];
    for (const stream of [false, true]) {
      const body = JSON.stringify({
        model: 'sim-llama-3-8b',
        messages: [{ role: 'user', content: 'hello '.repeat(30) }],
        max_tokens: 64,
        ignore_eos: true,
        stream,
        ...(stream ? { stream_options: { include_usage: true } } : {}),
      });
      const ac = await withSim(FAST_SIM, async (sim) => {
        const cpu0 = await processCpuSeconds(sim.pid);
        const res = await autocannon({ url: `${sim.url}/v1/chat/completions`, method: 'POST', body, headers: { 'content-type': 'application/json' }, connections: 64, duration: SECONDS });
        const cpu1 = await processCpuSeconds(sim.pid);
        return { rps: res.requests.average, p50: res.latency.p50, p99: res.latency.p99, errors: res.errors + res.non2xx, simCpu: (cpu1 - cpu0) / SECONDS };
      });
      const ls = await withSim(FAST_SIM, (sim) => runTrafficBench({ simUrl: sim.url, rate: 0, seconds: SECONDS, closedUsers: 64, stream, promptTokens: 32, outputTokens: 64 }));
      rows.push([stream ? 'stream' : 'non-stream', f(ac.rps, 0), f(ls.achievedRps, 0), f(ls.achievedRps / ac.rps, 2), f(ac.p50, 1), f(ls.e2eP50Ms, 1), ac.errors, ls.errors]);
    }
    console.log(table(['mode', 'autocannon req/s', 'llmsoak req/s', 'ratio', 'autocannon p50 ms', 'llmsoak p50 ms', 'ac errors', 'llmsoak errors'], rows));
    console.log('autocannon measures whole responses only; llmsoak also parses every SSE event, times every token and records HDR + Prometheus histograms.\n');
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
