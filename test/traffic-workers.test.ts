/**
 * The traffic engine in worker threads (src/traffic/workers.ts), against the
 * built-in simulator on loopback:
 *  - records cross whole: trace id, phases, server timings, token gaps and
 *    counts as the client measured them; the recorder, the request log and
 *    onRecord see each finished request once; counts add up after stop();
 *  - the rate splits across workers: two workers together send the rate;
 *  - a worker that fails is logged and restarted, one that keeps failing
 *    stops its share of traffic, and the main thread carries on.
 */
import t, { type Test } from 'tap';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger, silentLogger } from '../src/log.js';
import { Recorder } from '../src/metrics/recorder.js';
import { startSimulator } from '../src/simulator/server.js';
import { defaultSimulatorConfig } from '../src/simulator/config.js';
import { TrafficWorkers, type TrafficWorkersDeps } from '../src/traffic/workers.js';
import type { RequestRecord } from '../src/types.js';

let MODEL = '';
const SLO = { ttftMs: 1000, tpotMs: 100, e2eMs: 10_000, maxErrorRate: 0.01, minGoodRatio: 0.9, minAchievedRatio: 0.9 };

/** The simulator's URL; requests ask for its model. */
async function simulator(t: Test): Promise<string> {
  const cfg = defaultSimulatorConfig();
  Object.assign(cfg.engine, { decodeStepBaseMs: 1, decodeStepPerSeqMs: 0, prefillTokensPerSec: 1e6 });
  const sim = await startSimulator(cfg, { logger: silentLogger(), host: '127.0.0.1', port: 0 });
  t.teardown(() => sim.close());
  MODEL = cfg.model;
  return sim.url;
}

function deps(simUrl: string, rate: number, count: number, over: Partial<TrafficWorkersDeps> = {}): TrafficWorkersDeps & { recorder: Recorder } {
  const { config } = loadConfig({
    document: {
      traffic: {
        rate,
        arrival: 'constant',
        seed: 3,
        scenarios: [{ name: 'w', endpoint: 'chat', stream: true, prompt: { dist: 'fixed', value: 16 }, output: { dist: 'fixed', value: 12 } }],
      },
    },
  });
  const recorder = new Recorder(new Registry(), { slo: SLO, windowMs: 60_000, clock: systemClock });
  return {
    count,
    init: {
      traffic: config.traffic,
      workload: { kind: 'scenarios', scenarios: config.traffic.scenarios, model: MODEL, basePath: '/v1', options: {} },
      seed: 3,
      model: MODEL,
      pool: { origin: simUrl, connections: 64, timeouts: config.target.timeouts },
      headers: { 'content-type': 'application/json' },
      totalTimeoutMs: 20_000,
      maxBodyBytes: 1 << 20,
      keepBodies: false,
      secrets: [],
      logLevel: 'warn',
      batchMs: 25,
    },
    recorder,
    logger: silentLogger(),
    ...over,
  };
}

const until = async (cond: () => boolean, timeoutMs: number): Promise<boolean> => {
  const end = Date.now() + timeoutMs;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
};

t.test('records cross whole and are recorded once each', async (t) => {
  const url = await simulator(t);
  const records: RequestRecord[] = [];
  const offered: RequestRecord[] = [];
  const d = deps(url, 40, 1, {
    onRecord: (r) => records.push(r),
    requestLog: { offer: (r) => (offered.push(r), r.traceId?.endsWith('0') ?? false) },
  });
  const traffic = new TrafficWorkers(d);
  traffic.start();
  t.ok(await until(() => records.length >= 20, 20_000), 'records arrive from the worker');
  const stopped = await traffic.stop(5000);
  t.equal(stopped.cancelled, 0, 'nothing in flight was cancelled');
  t.equal(traffic.inFlightCount, 0, 'nothing in flight after stop');
  t.equal(traffic.requestsSent, records.length, 'every request sent ended as one record');
  t.equal(offered.length, records.length, 'each record was offered to the request log once');
  const totals = d.recorder.totals;
  t.equal(totals.requests, records.length, 'the recorder saw each record once');
  t.equal(d.recorder.snapshot().inFlight, 0, 'the in-flight gauge is back to 0');
  const ok = records.filter((r) => r.outcome === 'ok');
  t.ok(ok.length >= 20, `requests succeeded (${[...new Set(records.map((r) => r.outcome))].join(', ')})`);
  t.equal(
    totals.outputTokens,
    records.reduce((a, r) => a + r.outputTokens, 0),
    'output tokens: live counts reconciled with the records',
  );
  for (const r of ok.slice(0, 5)) {
    t.match(r.traceId, /^[0-9a-f]{32}$/, 'trace id crossed');
    t.type(r.sentAt, 'bigint', 'instants stay bigint ns');
    t.ok(r.firstTokenAt !== undefined && r.firstTokenAt > r.sentAt, 'TTFT instant crossed');
    t.ok(r.phases !== undefined && r.phases.first_token !== undefined, 'phases crossed');
    t.ok(r.serverTimings !== undefined, 'server timings crossed');
    t.equal(r.tokenGapsNs.length, r.contentChunks - 1, 'every inter-token gap crossed');
  }
  const sampled = records.filter((r) => r.sampled === true);
  t.same(
    sampled.map((r) => r.id),
    records.filter((r) => r.traceId?.endsWith('0')).map((r) => r.id),
    'requests the log took carry sampled, and only those',
  );
});

t.test('two workers share the rate; their log lines reach the main logger', async (t) => {
  const url = await simulator(t);
  const lines: string[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    }),
  );
  const d = deps(url, 60, 2, { logger });
  d.init.logLevel = 'info';
  const traffic = new TrafficWorkers(d);
  traffic.start();
  // Both workers booted: on a busy machine the second isolate can start a second after the first,
  // and a window opened at the first request would count one worker's share for that long.
  const bothStarted = () => lines.filter((l) => l.includes('open-loop traffic started')).length >= 2;
  t.ok(await until(() => traffic.requestsSent > 0 && bothStarted(), 10_000), 'traffic started in both workers');
  const from = traffic.requestsSent;
  const fromMs = Date.now();
  await new Promise((r) => setTimeout(r, 2000));
  const rate = ((traffic.requestsSent - from) * 1000) / (Date.now() - fromMs);
  await traffic.stop(5000);
  t.ok(rate > 60 * 0.8 && rate < 60 * 1.2, `two workers together send the rate asked for (${rate.toFixed(1)}/s of 60/s)`);
  t.same(traffic.load, { rate: 60, users: 0, thinkTimeMs: d.init.traffic.thinkTimeMs }, 'the load is the whole, not a share');
  const started = lines.filter((l) => l.includes('open-loop traffic started')).map((l) => JSON.parse(l) as { worker: number; rate: number; component: string });
  t.same(
    started.map((l) => [l.worker, l.rate, l.component]).sort(),
    [
      [0, 30, 'traffic'],
      [1, 30, 'traffic'],
    ],
    'each worker says it started, with its share, through the main logger',
  );
});

t.test('a failing worker is logged and restarted; one that keeps failing stops its traffic, not the process', async (t) => {
  const url = await simulator(t);
  const lines: string[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    }),
  );
  const d = deps(url, 20, 1, { logger });
  const traffic = new TrafficWorkers(d);
  traffic.start();
  t.ok(await until(() => traffic.requestsSent > 0, 10_000), 'traffic started');
  // A replay file that cannot be read: the worker fails building it, at once and at every restart.
  traffic.setWorkload({ kind: 'replay', replay: { file: '/nonexistent/llmsoak-replay.jsonl', speed: 1, loop: true }, model: MODEL, basePath: '/v1' });
  const given = () => lines.some((l) => l.includes('its share of the traffic is stopped'));
  t.ok(await until(given, 20_000), 'gave up after repeated failures');
  t.ok(
    lines.some((l) => l.includes('starting it again')),
    'restarted before giving up',
  );
  t.ok(
    lines.some((l) => l.includes('traffic worker 0 failed') && l.includes('llmsoak-replay.jsonl')),
    'the failure is one line naming the cause',
  );
  const r = await traffic.stop(1000);
  t.same(r, { drained: 0, cancelled: 0 }, 'stop() ends with no worker left');
  t.equal(d.recorder.snapshot().inFlight, 0, 'requests that died with a worker are out of the in-flight gauge');
});
