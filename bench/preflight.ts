/**
 * `npm run bench-preflight`: what the preflight costs at start on the built-in
 * simulator (default config, default scenarios). Prints figures, asserts
 * nothing.
 *
 *   node dist/bench/preflight.js [--runs=7] [--starts=3]
 *
 * 1. runPreflight alone against one simulator child, `runs` times (each run
 *    opens its own connections, as at start): median, min, max.
 * 2. `starts` daemon starts (each with its own embedded simulator): the
 *    preflight's duration inside Daemon.start(), and the whole start with the
 *    preflight on and off (start = until ready; the simulator's own start-up
 *    is most of it).
 */
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { systemClock } from '../src/clock.js';
import { PromptBuilder } from '../src/traffic/prompts.js';
import { createRng } from '../src/traffic/random.js';
import { runPreflight } from '../src/preflight/run.js';
import { startSimChild } from './sim-child.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k as string, v ?? 'true'] as const;
  }),
);
const RUNS = Number(args.get('runs') ?? 7);
const STARTS = Number(args.get('starts') ?? 3);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms, min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)} (n=${xs.length})`;

async function alone(): Promise<number[]> {
  const { config } = loadConfig({});
  const sim = await startSimChild({ port: 0 });
  const prompts = new PromptBuilder(createRng(1));
  const out: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const r = await runPreflight({
        baseUrl: `${sim.url}/v1`,
        shownUrl: `${sim.url}/v1`,
        metricsUrl: `${sim.url}/metrics`,
        model: 'sim-llama-3-8b',
        modelConfigured: false,
        headers: { 'content-type': 'application/json' },
        scenarios: config.traffic.scenarios,
        timeoutMs: 10_000,
        connectTimeoutMs: 5000,
        clock: systemClock,
        countTokens: (s) => prompts.countTokens(s),
        scrub: (s) => s,
      });
      if (!r.ok || r.problems.length > 0) throw new Error(`the preflight did not pass clean: ${r.problems.join('; ')}`);
      out.push(r.durationMs);
    }
  } finally {
    await sim.stop();
  }
  return out;
}

async function daemonStart(preflight: boolean): Promise<{ startMs: number; preflightMs?: number }> {
  const { config } = loadConfig({
    document: {
      server: { listen: '127.0.0.1:0' },
      simulator: { port: 0 },
      traffic: { rate: 0.001 },
      collectors: { gpu: { enabled: false } },
      analyzer: { enabled: false },
      log: { level: 'silent' },
      preflight: { enabled: preflight },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger() });
  const t0 = performance.now();
  await daemon.start();
  const startMs = performance.now() - t0;
  const pf = daemon.preflightReport;
  await daemon.stop('bench');
  if (preflight && (!pf?.ok || pf.problems.length > 0)) throw new Error('the preflight did not pass clean at start');
  return pf ? { startMs, preflightMs: pf.durationMs } : { startMs };
}

const solo = await alone();
console.log(`preflight alone on the simulator (default scenarios: 4 endpoint probes, GET /models x2, GET /metrics): ${fmt(solo)}`);
const on: number[] = [];
const inside: number[] = [];
const off: number[] = [];
for (let i = 0; i < STARTS; i++) {
  const a = await daemonStart(true);
  on.push(a.startMs);
  if (a.preflightMs !== undefined) inside.push(a.preflightMs);
  off.push((await daemonStart(false)).startMs);
}
console.log(`preflight inside Daemon.start(): ${fmt(inside)}`);
console.log(`Daemon.start() with preflight:    ${fmt(on)}`);
console.log(`Daemon.start() without preflight: ${fmt(off)}`);
