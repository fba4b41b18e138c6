/**
 * `npm run bench-truth`: the wire as the judge. The simulator runs in its own
 * process, tcpdump captures loopback (kernel timestamps, ns), and the real
 * daemon runs in another process with the request log at sampleRatio 1,
 * /metrics scraped every second and the analyzer at 1 s steps. Requests are
 * joined to the log by the trace id of their traceparent header; printed:
 * TTFT and E2E as llmsoak saw them minus as the wire saw them, per request,
 * in the steady state (after the first 10 s), the wire pacing error (each
 * request's first byte against the ideal grid of a constant rate), and the
 * daemon's CPU per content chunk. A capture with packets dropped by the
 * kernel makes the run void.
 *
 *   node dist/bench/truth.js [--rates=100,400,1000] [--seconds=30] [--workers=N] [--cli=PATH/dist/src/cli.js]
 *
 * At 1,000/s only requests are captured (client to server, with payload, a
 * small snap length) and the simulator has zero service time: that run gives
 * the pacing and CPU figures, not TTFT.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startSimChild, processCpuSeconds, threadCpuSeconds } from './sim-child.js';
import { readPcap, reassemble } from './pcap.js';
import { parseRequests, parseResponses } from './wire-http.js';
import type { RequestLogLine } from '../src/tracing/request-log.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k as string, v ?? 'true'] as const;
  }),
);
const RATES = (args.get('rates') ?? '100,400,1000').split(',').map(Number);
const SECONDS = Number(args.get('seconds') ?? 30);
const STEADY_AFTER_S = 10;
const CLI = args.get('cli') ?? fileURLToPath(new URL('../src/cli.js', import.meta.url));
const WORKERS = args.get('workers');
/** Rates at or above this capture requests only (pacing and CPU, no TTFT). */
const REQUESTS_ONLY_FROM = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function simConfig(zeroServiceTime: boolean): Record<string, unknown> {
  return {
    port: 0,
    engine: {
      timeScale: zeroServiceTime ? 0 : 1,
      maxNumSeqs: 4096,
      maxQueue: 100_000,
      kvCacheTokens: 10_000_000,
      decodeStepBaseMs: 2,
      decodeStepPerSeqMs: 0,
      prefillTokensPerSec: 1_000_000,
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function ensureTcpdump(): void {
  if (spawnSync('tcpdump', ['--version']).status === 0) return;
  const apt = spawnSync('apt-get', ['install', '-y', 'tcpdump'], { stdio: 'ignore' });
  if (apt.status !== 0) throw new Error('tcpdump is missing and apt-get install tcpdump failed');
}

interface Capture {
  proc: ChildProcess;
  stderr: () => string;
}

async function startCapture(file: string, simPort: number, requestsOnly: boolean): Promise<Capture> {
  // Requests only: client to server, packets with payload, a snap length that keeps the request line.
  const filter = requestsOnly ? `tcp dst port ${simPort} and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) > 0)` : `tcp port ${simPort}`;
  const argv = ['-i', 'lo', '-n', '-B', '262144', '--time-stamp-precision=nano', '-w', file, ...(requestsOnly ? ['-s', '96'] : []), filter];
  const proc = spawn('tcpdump', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  // tcpdump says "listening on lo" once the capture is armed.
  for (let i = 0; i < 100 && !err.includes('listening on'); i++) await sleep(50);
  if (!err.includes('listening on')) throw new Error(`tcpdump did not start: ${err.trim()}`);
  return { proc, stderr: () => err };
}

async function stopCapture(c: Capture): Promise<number> {
  await new Promise<void>((resolve) => {
    c.proc.once('exit', () => resolve());
    c.proc.kill('SIGINT');
  });
  const m = /(\d+) packets? dropped by kernel/.exec(c.stderr());
  return m ? Number(m[1]) : -1;
}

async function outputTokens(metricsUrl: string): Promise<number> {
  const res = await request(metricsUrl);
  const text = await res.body.text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith('llmsoak_output_tokens_total{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

interface Stats {
  n: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
  min: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return { n: s.length, mean: s.reduce((a, b) => a + b, 0) / (s.length || 1), p50: q(0.5), p99: q(0.99), max: s[s.length - 1] ?? NaN, min: s[0] ?? NaN };
}

const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const fmt = (s: Stats) => `mean ${f(s.mean)}  p50 ${f(s.p50)}  p99 ${f(s.p99)}  max ${f(s.max)}  min ${f(s.min)} ms (n ${s.n})`;

/** The rate the wire shows in the steady state: least-squares slope of request starts against their index, per second. */
function fittedRate(startsNs: number[]): number {
  const sorted = [...startsNs].sort((a, b) => a - b);
  const s = sorted.filter((t) => t >= (sorted[0] ?? 0) + STEADY_AFTER_S * 1e9);
  const n = s.length;
  const mx = (n - 1) / 2;
  const my = s.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  s.forEach((y, i) => {
    sxy += (i - mx) * (y - my);
    sxx += (i - mx) * (i - mx);
  });
  return 1e9 / (sxy / sxx);
}

/** Pacing error of request starts against the grid t0 + i/rate (t0 puts the median error at 0), steady state, ms. */
function pacingErrors(startsNs: number[], rate: number): number[] {
  const s = [...startsNs].sort((a, b) => a - b);
  const gap = 1e9 / rate;
  const steadyFrom = (s[0] ?? 0) + STEADY_AFTER_S * 1e9;
  // The grid's phase from the steady state only: a slow start (cold code, first connections) is not the grid.
  const offsets = s.map((t, i) => t - i * gap).filter((_, i) => (s[i] as number) >= steadyFrom);
  const t0 = [...offsets].sort((a, b) => a - b)[Math.floor(offsets.length / 2)] ?? 0;
  return offsets.map((o) => Math.abs(o - t0) / 1e6);
}

async function runOne(rate: number): Promise<void> {
  const requestsOnly = rate >= REQUESTS_ONLY_FROM;
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-truth-'));
  const sim = await startSimChild(simConfig(requestsOnly));
  const simPort = Number(new URL(sim.url).port);
  const pcap = join(dir, 'lo.pcap');
  const cap = await startCapture(pcap, simPort, requestsOnly);
  const port = await freePort();
  const logFile = join(dir, 'requests.jsonl');
  const config = {
    target: { url: `${sim.url}/v1`, model: 'sim-llama-3-8b' },
    server: { listen: `127.0.0.1:${port}` },
    log: { level: 'warn' },
    traffic: {
      rate,
      arrival: 'constant',
      seed: 7,
      maxInFlight: 4096,
      ...(WORKERS !== undefined ? { workers: Number(WORKERS) } : {}),
      scenarios: [{ name: 'truth', endpoint: 'chat', stream: true, prompt: { dist: 'fixed', value: 32 }, output: { dist: 'fixed', value: 64 }, ignoreEos: true }],
    },
    collectors: { gpu: { enabled: false } },
    analyzer: { stepSec: 1, intervalSec: 1 },
    requestLog: { enabled: true, sampleRatio: 1, file: logFile, maxBytes: 1024 * 1024 * 1024 },
    run: { dataDir: dir, drainMs: 5000, durationSec: 0 },
  };
  const cfgFile = join(dir, 'config.json');
  writeFileSync(cfgFile, JSON.stringify(config));
  const daemon = spawn(process.execPath, [CLI, 'run', '--config', cfgFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let daemonErr = '';
  daemon.stderr?.on('data', (d: Buffer) => (daemonErr += d.toString()));
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  let up = false;
  for (let i = 0; i < 200 && !up; i++) {
    await sleep(100);
    up = await request(metricsUrl).then(
      (r) => r.body.text().then(() => r.statusCode === 200),
      () => false,
    );
  }
  if (!up) throw new Error(`daemon did not come up: ${daemonErr.trim().slice(-500)}`);
  const startMs = Date.now();
  let scraping = true;
  const scraper = (async () => {
    while (scraping) {
      await request(metricsUrl).then(
        (r) => r.body.text(),
        () => undefined,
      );
      await sleep(1000);
    }
  })();
  await sleep(STEADY_AFTER_S * 1000 - (Date.now() - startMs));
  const cpu0 = await processCpuSeconds(daemon.pid as number);
  const wcpu0 = await threadCpuSeconds(daemon.pid as number, 'llmsoak-traf');
  const tok0 = await outputTokens(metricsUrl);
  const t0 = Date.now();
  await sleep((SECONDS - STEADY_AFTER_S) * 1000);
  const cpu1 = await processCpuSeconds(daemon.pid as number);
  const wcpu1 = await threadCpuSeconds(daemon.pid as number, 'llmsoak-traf');
  const tok1 = await outputTokens(metricsUrl);
  const wallS = (Date.now() - t0) / 1000;
  scraping = false;
  await scraper;
  await new Promise<void>((resolve) => {
    daemon.once('exit', () => resolve());
    daemon.kill('SIGTERM');
  });
  const dropped = await stopCapture(cap);
  await sim.stop();

  const cpuS = cpu1 - cpu0;
  const chunks = tok1 - tok0;
  console.log(`## ${rate}/s for ${SECONDS} s (steady state after ${STEADY_AFTER_S} s)${requestsOnly ? ', simulator timeScale 0, requests-only capture' : ''}`);
  console.log(`  capture: ${dropped === 0 ? '0 packets dropped by kernel' : `VOID: ${dropped < 0 ? 'drop count unknown' : `${dropped} packets dropped by kernel`}`}`);
  console.log(`  daemon CPU: ${f(cpuS / wallS, 2)} core; ${f(chunks / Math.max(cpuS, 1e-9), 0)} content chunks per CPU-second (${chunks} chunks, ${f(cpuS, 2)} CPU-s over ${f(wallS, 1)} s)`);
  const wcpuS = wcpu1 - wcpu0;
  if (wcpuS > 0) console.log(`  traffic worker thread(s): ${f(wcpuS / wallS, 2)} core; ${f(chunks / wcpuS, 0)} content chunks per CPU-second of the worker`);

  const packets = readPcap(pcap);
  if (requestsOnly) {
    const starts = packets.filter((p) => p.dstPort === simPort && p.payload.subarray(0, 5).toString('latin1') === 'POST ').map((p) => p.timeNs);
    const span = starts.length > 1 ? ((starts[starts.length - 1] as number) - (starts[0] as number)) / 1e9 : 0;
    console.log(`  wire: ${starts.length} requests, ${f((starts.length - 1) / Math.max(span, 1e-9), 1)}/s delivered`);
    console.log(`  wire pacing error: ${fmt(stats(pacingErrors(starts, rate)))}; fitted rate ${f(fittedRate(starts), 3)}/s`);
  } else {
    const streams = reassemble(packets);
    const byKey = new Map(streams.map((s) => [s.key, s]));
    const wire = new Map<string, { startNs: number; firstNs?: number; lastNs?: number }>();
    const starts: number[] = [];
    for (const s of streams) {
      if (s.dstPort !== simPort) continue;
      const reqs = parseRequests(s);
      const back = byKey.get(`${s.dstPort}>${s.srcPort}`);
      const resps = back ? parseResponses(back) : [];
      reqs.forEach((r, i) => {
        // The traffic only: the collectors' GET /metrics and /v1/models go to the same port.
        if (r.method !== 'POST') return;
        starts.push(r.startNs);
        const res = resps[i];
        if (r.traceId)
          wire.set(r.traceId, {
            startNs: r.startNs,
            ...(res?.firstContentNs !== undefined ? { firstNs: res.firstContentNs } : {}),
            ...(res?.lastContentNs !== undefined ? { lastNs: res.lastContentNs } : {}),
          });
      });
    }
    const firstStart = Math.min(...starts);
    const lines = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as RequestLogLine);
    const ttft: number[] = [];
    const e2e: number[] = [];
    const wireTtft: number[] = [];
    let joined = 0;
    for (const l of lines) {
      const w = l.traceId ? wire.get(l.traceId) : undefined;
      if (!w) continue;
      joined++;
      if (w.startNs < firstStart + STEADY_AFTER_S * 1e9 || l.outcome !== 'ok') continue;
      if (w.firstNs !== undefined) wireTtft.push((w.firstNs - w.startNs) / 1e6);
      if (l.ttftMs !== undefined && w.firstNs !== undefined) ttft.push(l.ttftMs - (w.firstNs - w.startNs) / 1e6);
      if (w.lastNs !== undefined) e2e.push(l.e2eMs - (w.lastNs - w.startNs) / 1e6);
    }
    console.log(`  wire: ${starts.length} requests; request log: ${lines.length} lines, ${joined} joined by trace id`);
    console.log(`  TTFT on the wire:   ${fmt(stats(wireTtft))}`);
    console.log(`  TTFT client - wire: ${fmt(stats(ttft))}`);
    console.log(`  E2E  client - wire: ${fmt(stats(e2e))}`);
    console.log(`  wire pacing error: ${fmt(stats(pacingErrors(starts, rate)))}; fitted rate ${f(fittedRate(starts), 3)}/s`);
  }
  console.log('');
  rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  ensureTcpdump();
  const os = await import('node:os');
  console.log(
    `llmsoak truth bench: ${CLI}; node ${process.version}, ${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
  );
  for (const rate of RATES) await runOne(rate);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
