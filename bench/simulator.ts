/**
 * Capacity of the simulator's HTTP/SSE path: the simulator runs in a child
 * process (src/simulator/standalone.ts) with zero service time
 * (engine.timeScale 0), and this process drives it with undici over many
 * keep-alive connections, closed loop (every connection sends its next request
 * as soon as the previous one ends), streamed chat completions with
 * include_usage and ignore_eos, `maxTokens` tokens each.
 *
 *   node dist/bench/simulator.js [--duration=10] [--connections=128] [--max-tokens=64]
 *
 * Prints a table; `benchSimulator()` returns the same figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Pool } from 'undici';

export interface SimBenchOptions {
  /** Measured time, s. Default 10. */
  durationSec?: number;
  /** Unmeasured warm-up before it, s. Default 1. */
  warmupSec?: number;
  /** Keep-alive connections = requests in flight. Default 128. */
  connections?: number;
  /** Output tokens per request. Default 64. */
  maxTokens?: number;
  /** Partial simulator config for the child (merged over the bench's: timeScale 0, enough slots and queue). */
  simulator?: Record<string, unknown>;
}

export interface SimBenchResult {
  connections: number;
  maxTokens: number;
  durationSec: number;
  requests: number;
  errors: number;
  reqPerSec: number;
  tokensPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** CPU seconds of the simulator process per wall second (1 = one core). */
  simulatorCpuCores: number;
  /** CPU of this (client) process per wall second. */
  clientCpuCores: number;
}

const STANDALONE = fileURLToPath(new URL('../src/simulator/standalone.js', import.meta.url));

interface Child {
  proc: ChildProcess;
  url: string;
  pid: number;
}

async function startChild(config: Record<string, unknown>): Promise<Child> {
  const proc = spawn(process.execPath, [STANDALONE, JSON.stringify(config), '--watch-stdin'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const stdout = proc.stdout;
  if (stdout === null) throw new Error('no stdout from the simulator child');
  const lines = createInterface({ input: stdout });
  return new Promise<Child>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error('simulator child not ready within 15 s'));
    }, 15_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`simulator child exited (${code ?? 'signal'}) before it was ready`));
    });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const msg = JSON.parse(line) as { ready?: boolean; url?: string; pid?: number };
      if (msg.ready !== true || typeof msg.url !== 'string') {
        reject(new Error(`unexpected line from the simulator: ${line}`));
        return;
      }
      resolve({ proc, url: msg.url, pid: msg.pid ?? proc.pid ?? 0 });
    });
  });
}

async function stopChild(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const kill = setTimeout(() => c.proc.kill('SIGKILL'), 3000);
    c.proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    c.proc.kill('SIGTERM');
  });
}

async function simulatorCpuSeconds(pool: Pool): Promise<number> {
  const { body } = await pool.request({ path: '/metrics', method: 'GET' });
  const text = await body.text();
  const m = /^process_cpu_seconds_total (\S+)$/m.exec(text);
  return m?.[1] !== undefined ? Number(m[1]) : NaN;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

export async function benchSimulator(opts: SimBenchOptions = {}): Promise<SimBenchResult> {
  const durationSec = opts.durationSec ?? 10;
  const warmupSec = opts.warmupSec ?? 1;
  const connections = opts.connections ?? 128;
  const maxTokens = opts.maxTokens ?? 64;
  const config = {
    port: 0,
    ...opts.simulator,
    engine: { timeScale: 0, maxNumSeqs: Math.max(256, connections), maxQueue: 4 * connections, ...(opts.simulator?.engine as object | undefined) },
  };
  const child = await startChild(config);
  const pool = new Pool(child.url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const model = 'model' in config && typeof config.model === 'string' ? config.model : 'sim-llama-3-8b';
  const body = JSON.stringify({
    model,
    messages: [{ role: 'user', content: 'Write a short story about a lighthouse keeper.' }],
    max_tokens: maxTokens,
    ignore_eos: true,
    stream: true,
    stream_options: { include_usage: true },
  });
  const headers = { 'content-type': 'application/json', authorization: 'Bearer bench' };

  const t0 = performance.now();
  const measureFrom = t0 + warmupSec * 1000;
  const measureTo = measureFrom + durationSec * 1000;
  const latencies: number[] = [];
  let tokens = 0;
  let errors = 0;
  let cpuStart = NaN;
  let clientCpuStart: NodeJS.CpuUsage | undefined;

  const worker = async (): Promise<void> => {
    while (performance.now() < measureTo) {
      const start = performance.now();
      let ok = false;
      let got = 0;
      try {
        const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers, body });
        const text = await res.body.text();
        const m = /"completion_tokens":(\d+)/.exec(text);
        got = m?.[1] !== undefined ? Number(m[1]) : 0;
        ok = res.statusCode === 200 && text.endsWith('data: [DONE]\n\n');
      } catch {
        ok = false;
      }
      const end = performance.now();
      if (start >= measureFrom && end <= measureTo) {
        if (ok) {
          latencies.push(end - start);
          tokens += got;
        } else errors++;
      }
    }
  };
  const marker = (async () => {
    await new Promise((r) => setTimeout(r, Math.max(0, measureFrom - performance.now())));
    clientCpuStart = process.cpuUsage();
    cpuStart = await simulatorCpuSeconds(pool);
  })();

  try {
    await Promise.all([marker, ...Array.from({ length: connections }, worker)]);
    const clientCpu = process.cpuUsage(clientCpuStart);
    const cpuEnd = await simulatorCpuSeconds(pool);
    latencies.sort((a, b) => a - b);
    return {
      connections,
      maxTokens,
      durationSec,
      requests: latencies.length,
      errors,
      reqPerSec: latencies.length / durationSec,
      tokensPerSec: tokens / durationSec,
      latencyP50Ms: percentile(latencies, 0.5),
      latencyP99Ms: percentile(latencies, 0.99),
      simulatorCpuCores: (cpuEnd - cpuStart) / durationSec,
      clientCpuCores: (clientCpu.user + clientCpu.system) / 1e6 / durationSec,
    };
  } finally {
    await pool.close();
    await stopChild(child);
  }
}

export function formatSimBench(r: SimBenchResult): string {
  const rows: [string, string][] = [
    ['connections (closed loop)', String(r.connections)],
    ['output tokens / request', String(r.maxTokens)],
    ['measured', `${r.durationSec} s`],
    ['requests ok / errors', `${r.requests} / ${r.errors}`],
    ['achieved req/s', r.reqPerSec.toFixed(0)],
    ['tokens/s', r.tokensPerSec.toFixed(0)],
    ['client latency p50', `${r.latencyP50Ms.toFixed(1)} ms`],
    ['client latency p99', `${r.latencyP99Ms.toFixed(1)} ms`],
    ['simulator CPU', `${(r.simulatorCpuCores * 100).toFixed(0)} % of a core`],
    ['bench client CPU', `${(r.clientCpuCores * 100).toFixed(0)} % of a core`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return ['simulator capacity (stream, include_usage, zero service time)', ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join('\n');
}

function arg(name: string, def: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? def : Number(a.slice(name.length + 3));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchSimulator({ durationSec: arg('duration', 10), connections: arg('connections', 128), maxTokens: arg('max-tokens', 64) })
    .then((r) => {
      console.log(formatSimBench(r));
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
