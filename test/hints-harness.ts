/**
 * Harness for the end-to-end hint tests: the simulator as a separate process
 * (so its CPU and RSS are its own), llmsoak soaking it with the analyzer on in
 * compressed time, and helpers to inject faults and wait for hints.
 */
import type { Test } from 'tap';
import { request } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import type { Hint } from '../src/analyzer/hint.js';
import { aboutLlmsoak } from '../src/analyzer/engine.js';
import { freePort, startSimulator, waitFor } from './helpers.js';
import { startDelayProxy } from './delay-proxy.js';

/** Compressed time: 1 s steps, 2 s evaluations, 12 s windows (so fewer blocks per test: alpha 0.01). */
export const ANALYZER = { stepSec: 1, intervalSec: 2, windowSec: 12, warmupSec: 4, baselineSec: 20, leakWindowSec: 40, thresholds: { alpha: 0.01 } };

export interface Scenario {
  simUrl: string;
  /** With `viaProxy`: hold back every byte the server sends by this many ms (0: none). */
  setNetworkDelay(ms: number): void;
  daemon: Daemon;
  setFaults(body: Record<string, unknown>): Promise<void>;
  clearFaults(): Promise<void>;
  snapshot(): { topCause: string | null; hints: Hint[] };
  waitBaseline(): Promise<void>;
  /** Wait until the rules run (warm-up over): for a fault whose rule needs no baseline. */
  waitEvaluating(): Promise<void>;
  /** Wait until the top firing cause is `cause`, from a hint about the target; returns the hint and how long it took, s. */
  waitTopCause(cause: string, timeoutSec: number): Promise<{ hint: Hint; afterSec: number }>;
  /** Wait until no hint of `cause` about the target is firing (llmsoak's own leak may go on). */
  waitResolved(cause: string, timeoutSec: number): Promise<number>;
}

export async function startScenario(
  t: Test,
  opts: {
    simEnv?: Record<string, string>;
    traffic?: Record<string, unknown>;
    analyzer?: Record<string, unknown>;
    quality?: Record<string, unknown>;
    /** Requests go through a loopback delay proxy (test/delay-proxy.ts); the server's /metrics is scraped directly. */
    viaProxy?: boolean;
  } = {},
): Promise<Scenario> {
  const simPort = await freePort();
  const sim = startSimulator(['--port', String(simPort)], { PATH: process.env.PATH ?? '', LLMSOAK_LOG__LEVEL: 'warn', ...opts.simEnv });
  t.teardown(() => sim.child.kill('SIGKILL'));
  const simUrl = `http://127.0.0.1:${simPort}`;
  await waitFor(async () => ((await request(`${simUrl}/health`)).statusCode === 200 ? true : undefined), 15_000);

  const proxy = opts.viaProxy ? await startDelayProxy(simPort) : undefined;
  if (proxy) t.teardown(() => proxy.close());
  const { config } = loadConfig({
    document: {
      target: proxy ? { url: `${proxy.url}/v1`, metricsUrl: `${simUrl}/metrics`, pid: sim.child.pid } : { url: `${simUrl}/v1`, pid: sim.child.pid },
      server: { listen: '127.0.0.1:0' },
      traffic: {
        rate: 8,
        seed: 11,
        scenarios: [{ name: 'qa', endpoint: 'chat', prompt: { dist: 'uniform', min: 100, max: 400 }, output: { dist: 'uniform', min: 20, max: 60 } }],
        ...opts.traffic,
      },
      collectors: { intervalMs: 1000, gpu: { enabled: false } },
      analyzer: { ...ANALYZER, ...opts.analyzer },
      ...(opts.quality ? { quality: opts.quality } : {}),
      run: { drainMs: 1000 },
      log: { level: 'silent' },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger() });
  await daemon.start();
  t.teardown(() => daemon.stop('teardown'));
  const admin = async (method: 'POST' | 'DELETE', body?: Record<string, unknown>) => {
    const res = await request(`${simUrl}/admin/faults`, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`admin ${method}: ${res.statusCode} ${text}`);
  };
  const snapshot = () => {
    const s = daemon.hintAnalyzer?.snapshot();
    if (!s) throw new Error('analyzer not running');
    return s;
  };
  return {
    simUrl,
    setNetworkDelay: (ms) => {
      if (!proxy) throw new Error('setNetworkDelay needs startScenario(t, { viaProxy: true })');
      proxy.setDelay(ms);
    },
    daemon,
    setFaults: (b) => admin('POST', b),
    clearFaults: () => admin('DELETE'),
    snapshot,
    async waitBaseline() {
      await waitFor(async () => (snapshot().baselineCapturedAt ? true : undefined), (ANALYZER.warmupSec + ANALYZER.baselineSec + 10) * 1000, 200);
    },
    async waitEvaluating() {
      await waitFor(async () => (snapshot().rules.some((r) => r.lastEvaluation !== undefined) ? true : undefined), (ANALYZER.warmupSec + 10) * 1000, 200);
    },
    async waitTopCause(cause, timeoutSec) {
      const start = Date.now();
      const hint = await waitFor(
        async () => {
          const s = snapshot();
          // The top hint must be about the target: a leak of llmsoak's own process (here the test
          // runner) is cause 'leak' too, and would otherwise pass for the injected one.
          const top = s.hints.find((h) => h.state === 'firing');
          return s.topCause === cause && top && !aboutLlmsoak(top) ? top : undefined;
        },
        timeoutSec * 1000,
        200,
      ).catch((err: unknown) => {
        const s = snapshot();
        throw new Error(`${String(err)}; top cause ${s.topCause}; hints: ${s.hints.map((h) => `${h.rule}/${h.cause}/${h.state}: ${h.summary}`).join(' | ')}`);
      });
      return { hint, afterSec: (Date.now() - start) / 1000 };
    },
    async waitResolved(cause, timeoutSec) {
      const start = Date.now();
      const firing = () => snapshot().hints.some((h) => h.cause === cause && h.state === 'firing' && !aboutLlmsoak(h));
      await waitFor(async () => (firing() ? undefined : true), timeoutSec * 1000, 200);
      return (Date.now() - start) / 1000;
    },
  };
}

/**
 * Hints firing before a fault that would be false positives, as `rule: summary`.
 * Two are let through: generator_bound, which reports llmsoak's own machine (a
 * busy 2-core CI machine) rather than the target and marks every other hint
 * untrustworthy while it fires; and a leak of llmsoak's own process, which in
 * these tests is the test runner itself (tap, the harness, the daemon starting
 * up in compressed time), not a daemon alone.
 */
export function unexpectedHints(hints: Hint[]): string[] {
  return hints.filter((h) => !aboutLlmsoak(h)).map((h) => `${h.rule}: ${h.summary}`);
}
