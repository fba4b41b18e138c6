/**
 * The modes' timing on a fake clock (test/fake-clock.ts), with no wall-clock
 * wait: the daemon's ModeHost (src/modes/host.ts) over a real Recorder, its
 * meters and the real step judgement, driving a fake traffic engine whose
 * requests arrive and end on the fake clock. The engine records every load
 * it is given with the clock's time, and when each request ended, so the
 * test derives what a step must hold from what happened, not from the code.
 *
 * The fake target: a request sent within COLD_MS of a load change is slow
 * (a cold start, TTFT 900 ms: it must fall in the warm-up); above FAIL_ABOVE
 * req/s TTFT is 400 ms (over the 250 ms SLO); otherwise 80 ms (the soak and
 * spike tests give it their own slowdowns).
 */
import t from 'tap';
import { Registry } from 'prom-client';
import { NS_PER_MS } from '../src/clock.js';
import { silentLogger } from '../src/log.js';
import { Recorder, type ScenarioSeries } from '../src/metrics/recorder.js';
import type { RampModeConfig, SoakModeConfig, SpikeModeConfig } from '../src/modes/config.js';
import { DaemonModeHost } from '../src/modes/host.js';
import { runRamp } from '../src/modes/ramp.js';
import { startRun, type SloLimits } from '../src/modes/runner.js';
import { runSoak } from '../src/modes/soak.js';
import { runSpike } from '../src/modes/spike.js';
import type { Report } from '../src/report/model.js';
import type { Traffic, TrafficLoad } from '../src/traffic/traffic.js';
import type { WorkloadSpec } from '../src/traffic/workload-spec.js';
import { FakeClock } from './fake-clock.js';

const SLO: SloLimits = { ttftMs: 250, tpotMs: 50, e2eMs: 1500, maxErrorRate: 0.01, minGoodRatio: 0.95, minAchievedRatio: 0.9 };
const START_MS = 1_700_000_000_000;
const TICK_MS = 50;
const COLD_MS = 500;
const FAIL_ABOVE = 33;
const OUTPUT_TOKENS = 10;

interface Latency {
  ttftMs: number;
  e2eMs: number;
}

/** Normal / overloaded / cold-start latencies of the fake target. */
function defaultLatency(rate: number, sinceChangeMs: number): Latency {
  if (sinceChangeMs < COLD_MS) return { ttftMs: 900, e2eMs: 1000 };
  if (rate > FAIL_ABOVE) return { ttftMs: 400, e2eMs: 600 };
  return { ttftMs: 80, e2eMs: 120 };
}

/**
 * A Traffic engine on the fake clock: open-loop arrivals every TICK_MS at the
 * rate set (fractional credit carried over), each request recorded in the
 * Recorder when it ends.
 */
class FakeEngine implements Traffic {
  load: TrafficLoad = { rate: 0, users: 0, thinkTimeMs: 0 };
  rateProfile: Traffic['rateProfile'] = undefined;
  workloadSpec: WorkloadSpec = { kind: 'scenarios', scenarios: [], model: 'm', basePath: '/v1', options: {} };
  inFlightCount = 0;
  requestsSent = 0;
  /** Every load given, with the clock's time. */
  readonly applied: { atMs: number; set: 'rate' | 'users'; rate: number; users: number }[] = [];
  /** When each request ended and its TTFT. */
  readonly ends: { atMs: number; ttftMs: number }[] = [];
  latency: (rate: number, sinceChangeMs: number, sentAtMs: number) => Latency = defaultLatency;
  private readonly series: ScenarioSeries;
  private ticker: ReturnType<FakeClock['setTimeout']> | undefined;
  private readonly endTimers = new Set<number>();
  private credit = 0;
  private changedAtMs = 0;

  constructor(
    private readonly clock: FakeClock,
    private readonly recorder: Recorder,
  ) {
    this.series = recorder.scenario('fake', 'chat', 'm');
  }

  /** Timers this engine has pending (its arrivals and its requests' ends), to tell them from a mode's. */
  get timersPending(): number {
    return this.endTimers.size + (this.ticker !== undefined ? 1 : 0);
  }

  start(): void {}

  setRate(rps: number): void {
    this.load = { ...this.load, rate: rps };
    this.applied.push({ atMs: this.clock.wallMs(), set: 'rate', rate: rps, users: this.load.users });
    this.changedAtMs = this.clock.wallMs();
    this.credit = 0;
    if (this.ticker !== undefined) this.clock.clearTimeout(this.ticker);
    this.ticker = undefined;
    if (rps > 0) this.schedule();
  }

  setUsers(users: number, thinkTimeMs = 0): void {
    this.load = { ...this.load, users, thinkTimeMs };
    this.applied.push({ atMs: this.clock.wallMs(), set: 'users', rate: this.load.rate, users });
  }

  setProfile(profile: Traffic['rateProfile']): void {
    this.rateProfile = profile;
  }

  setWorkload(spec: WorkloadSpec): void {
    this.workloadSpec = spec;
  }

  setModel(): void {}

  async stop(): Promise<{ drained: number; cancelled: number }> {
    return { drained: 0, cancelled: 0 };
  }

  /** The nonzero rates set, in order, with their times. */
  rates(): { atMs: number; rate: number }[] {
    return this.applied.filter((a) => a.set === 'rate' && a.rate > 0).map(({ atMs, rate }) => ({ atMs, rate }));
  }

  private schedule(): void {
    this.ticker = this.clock.setTimeout(() => {
      this.credit += (this.load.rate * TICK_MS) / 1000;
      while (this.credit >= 1 - 1e-9) {
        this.credit -= 1;
        this.send();
      }
      this.schedule();
    }, TICK_MS);
  }

  private send(): void {
    const now = this.clock.wallMs();
    const sentNs = this.clock.monoNs();
    const lat = this.latency(this.load.rate, now - this.changedAtMs, now);
    this.recorder.started();
    this.inFlightCount++;
    this.requestsSent++;
    const h = this.clock.setTimeout(() => {
      this.endTimers.delete(h.id);
      this.inFlightCount--;
      this.ends.push({ atMs: this.clock.wallMs(), ttftMs: lat.ttftMs });
      const first = sentNs + BigInt(lat.ttftMs) * NS_PER_MS;
      const end = sentNs + BigInt(lat.e2eMs) * NS_PER_MS;
      this.recorder.record(
        this.series,
        {
          id: String(this.requestsSent),
          scenario: 'fake',
          endpoint: 'chat',
          model: 'm',
          stream: true,
          scheduledAt: sentNs,
          sentAt: sentNs,
          firstTokenAt: first,
          lastTokenAt: end,
          endedAt: end,
          tokenGapsNs: [],
          contentChunks: OUTPUT_TOKENS,
          inputTokens: 100,
          outputTokens: OUTPUT_TOKENS,
          tokenSource: 'usage',
          outcome: 'ok',
        },
        0,
      );
    }, lat.e2eMs);
    this.endTimers.add(h.id);
  }
}

function setup(soakLoad = { rate: 0, users: 0, thinkTimeMs: 0 }) {
  const clock = new FakeClock(START_MS);
  const recorder = new Recorder(new Registry(), { slo: SLO, windowMs: 60_000, clock });
  const engine = new FakeEngine(clock, recorder);
  const host = new DaemonModeHost({
    engine,
    recorder,
    registry: new Registry(),
    hints: () => [],
    target: { url: 'http://127.0.0.1:1', model: 'm', embedded: false },
    slo: SLO,
    logger: silentLogger(),
    clock,
    timers: clock,
    soakLoad,
    makeWorkload: () => engine.workloadSpec,
    scenarios: [],
    setActivity: () => undefined,
  });
  return { clock, recorder, engine, host };
}

/** Advance the clock in steps until `p` settles (bounded); returns its value. */
async function runToEnd<T>(clock: FakeClock, p: Promise<T>, maxMs: number): Promise<T> {
  let done = false;
  let value: T | undefined;
  void p.then((v) => {
    done = true;
    value = v;
  });
  await clock.advance(0);
  for (let waited = 0; !done && waited < maxMs; waited += 1000) await clock.advance(1000);
  if (!done) throw new Error(`not settled within ${maxMs} ms of fake time`);
  return value as T;
}

const iso = (ms: number): string => new Date(ms).toISOString();

const RAMP: RampModeConfig = {
  by: 'rate',
  from: 10,
  to: 50,
  steps: 5,
  spacing: 'linear',
  stopAfterFailedSteps: 1,
  refineSteps: 2,
  warmupSec: 2,
  holdSec: 3,
  cooldownSec: 1,
};

t.test('ramp: levels in order, warm-up / hold / cool-down exact on the clock, steps from their holds only, the knee', async (t) => {
  const { clock, engine, host } = setup();
  host.begin(true);
  const report: Report = await runToEnd(clock, runRamp(host, RAMP), 120_000);
  host.end();

  // Levels 10..50: 40 fails, so the ramp stops there (stopAfterFailedSteps 1), then bisection 35 (fails), 32.5 (holds).
  const rates = engine.rates();
  t.same(
    rates.map((r) => r.rate),
    [10, 20, 30, 40, 35, 32.5],
    'levels applied in measurement order: the ramp, then the refinement',
  );
  t.equal(rates[0]?.atMs, START_MS, 'the first level is applied when the run starts');

  const byIndex = [...report.steps].sort((a, b) => a.index - b.index);
  t.equal(byIndex.length, rates.length, 'one step per level applied');
  for (const [i, r] of rates.entries()) {
    const step = byIndex[i];
    if (step === undefined) continue;
    const holdStart = r.atMs + RAMP.warmupSec * 1000;
    const holdEnd = holdStart + RAMP.holdSec * 1000;
    t.equal(step.targetRate, r.rate, `step ${i}: its level`);
    t.equal(step.startedAt, iso(holdStart), `step ${i}: the hold starts after exactly warmupSec`);
    t.equal(step.durationSec, RAMP.holdSec, `step ${i}: the hold lasts exactly holdSec`);
    // The load stops exactly at the end of the hold (cool-down: rate 0).
    const stopAt = engine.applied.find((a) => a.atMs > r.atMs && a.set === 'rate' && a.rate === 0);
    t.equal(stopAt?.atMs, holdEnd, `step ${i}: the load stops at the end of the hold`);
    // Cool-down: the next level only once every request of this one ended (polled every 100 ms), at most cooldownSec.
    const next = rates[i + 1];
    const lastEnd = Math.max(...engine.ends.filter((e) => e.atMs > r.atMs && e.atMs <= (next?.atMs ?? Infinity)).map((e) => e.atMs));
    if (next !== undefined) {
      t.ok(lastEnd > holdEnd, `step ${i}: requests were still in flight at the end of the hold`);
      t.equal(next.atMs, holdEnd + Math.ceil((lastEnd - holdEnd) / 100) * 100, `step ${i}: the next level comes at the first cool-down poll with nothing in flight`);
      t.ok(next.atMs - holdEnd <= RAMP.cooldownSec * 1000, `step ${i}: cool-down within cooldownSec`);
    }
    // The step's figures are the requests that ended in its hold, none from the warm-up or the cool-down.
    const inHold = engine.ends.filter((e) => e.atMs > holdStart && e.atMs <= holdEnd);
    const warmOrCool = engine.ends.filter((e) => e.atMs > r.atMs && e.atMs <= (next?.atMs ?? Infinity) && (e.atMs <= holdStart || e.atMs > holdEnd));
    t.ok(warmOrCool.length > 0, `step ${i}: requests ended during the warm-up and the cool-down too`);
    t.equal(step.requests, inHold.length, `step ${i}: exactly the requests that ended during the hold`);
    t.ok(step.ttft.max < 0.9, `step ${i}: no cold-start request (TTFT 900 ms, ended in the warm-up) in the step (max ${step.ttft.max})`);
    t.equal(step.sloMet, r.rate <= FAIL_ABOVE, `step ${i}: ${r.rate} req/s ${r.rate <= FAIL_ABOVE ? 'held' : 'broke'} the SLOs`);
  }
  t.equal(report.knee?.value, 32.5, 'the knee: the highest level that held, below the lowest that failed');
  t.match(report.knee?.reason, /^at 35 req\/s: .*TTFT p99/, 'why the level above failed');
  t.equal(clock.timersPending - engine.timersPending, 0, 'no timer of the mode is left');
  t.equal(engine.inFlightCount, 0, 'the run drained');
  t.notOk(
    report.events.some((e) => e.kind === 'not_drained' || e.kind === 'stopped'),
    'neither stopped nor undrained',
  );
});

t.test('ramp: an abort mid-hold ends the run at once, nothing left pending, the report says stopped', async (t) => {
  const { clock, engine, host } = setup();
  host.begin(true);
  let report: Report | undefined;
  const p = runRamp(host, RAMP).then((r) => (report = r));
  // Into the first hold, then one second of it.
  await clock.advance(RAMP.warmupSec * 1000 + 1000);
  t.equal(report, undefined, 'running');
  const abortedAt = clock.wallMs();
  host.abort();
  await clock.advance(0);
  const endedAtOnce = report !== undefined;
  t.ok(endedAtOnce, 'the run ended without the clock moving');
  // A run that did not end at once is still brought to its end (bounded), so the rest can be checked.
  await runToEnd(clock, p, 120_000);
  host.end();
  if (report === undefined) return;
  if (endedAtOnce) t.equal(clock.wallMs(), abortedAt, 'no time passed');
  t.equal(clock.timersPending - engine.timersPending, 0, 'no timer of the mode is left pending');
  t.equal(report.endedAt, iso(abortedAt), 'the report ends at the abort');
  t.equal(report.steps.length, 1, 'the step in progress is reported');
  t.equal(report.steps[0]?.durationSec, 1, 'with the part of its hold that ran');
  t.ok(
    report.events.some((e) => e.kind === 'stopped'),
    'a stopped event',
  );
  t.ok(report.verdict.failures.includes('stopped before the ramp ended'), 'the verdict says stopped');
  t.ok(
    report.events.some((e) => e.kind === 'not_drained'),
    'requests in flight at the abort are named as not drained',
  );
});

t.test('finish(): waits for requests in flight up to drainSec on the clock', async (t) => {
  t.test('some still in flight at drainSec: not_drained', async (t) => {
    const { clock, engine, host } = setup();
    host.begin(true);
    const run = startRun(host);
    engine.latency = () => ({ ttftMs: 100, e2eMs: 10_000 });
    host.setRate(10);
    await clock.advance(1000);
    const t0 = clock.wallMs();
    let end: { endedAtMs: number } | undefined;
    const p = run.finish(2).then((e) => (end = e));
    await clock.advance(1999);
    t.equal(end, undefined, 'still waiting 1 ms before drainSec');
    await clock.advance(1);
    t.ok(end !== undefined, 'ended at drainSec');
    await runToEnd(clock, p, 60_000);
    host.end();
    t.equal(end?.endedAtMs, t0 + 2000, 'ends exactly at drainSec');
    t.ok(engine.inFlightCount > 0, 'requests still in flight');
    const nd = run.events.find((e) => e.kind === 'not_drained');
    t.equal(nd?.at, iso(t0 + 2000), 'a not_drained event at the end');
    t.match(nd?.detail, new RegExp(`^${engine.inFlightCount} requests still in flight`), 'with the number left');
    t.equal(clock.timersPending - engine.timersPending, 0, 'no timer of the mode is left');
  });

  t.test('all end within drainSec: the run ends at the first poll after the last, with them in its totals', async (t) => {
    const { clock, engine, host } = setup();
    host.begin(true);
    const run = startRun(host);
    engine.latency = () => ({ ttftMs: 100, e2eMs: 730 });
    host.setRate(10);
    await clock.advance(1000);
    const t0 = clock.wallMs();
    const sent = engine.requestsSent;
    const end = await runToEnd(clock, run.finish(2), 2000);
    host.end();
    const lastEnd = Math.max(...engine.ends.map((e) => e.atMs));
    t.ok(lastEnd > t0, 'requests ended during the drain');
    t.equal(end.endedAtMs, t0 + Math.ceil((lastEnd - t0) / 100) * 100, 'ends at the first 100 ms poll with nothing in flight');
    t.notOk(
      run.events.some((e) => e.kind === 'not_drained'),
      'no not_drained event',
    );
    t.equal(run.meter.totals.requests, sent, 'every request sent is in the run totals, the drained ones too');
  });
});

t.test('soak: warm-up left out, slices of durationSec/60 on the clock, a slowdown in the right slice', async (t) => {
  const SOAK: SoakModeConfig = { durationSec: 120, warmupSec: 5 };
  const rate = 20;
  const { clock, engine, host } = setup({ rate, users: 0, thinkTimeMs: 0 });
  const warmEnd = START_MS + SOAK.warmupSec * 1000;
  const slowFrom = warmEnd + 61_000;
  // From 61 s into the soak the target slows down (TTFT 200 ms); the first requests are cold (TTFT 900 ms).
  engine.latency = (_r, since, sentAtMs) => (since < COLD_MS ? { ttftMs: 900, e2eMs: 1000 } : sentAtMs >= slowFrom ? { ttftMs: 200, e2eMs: 310 } : { ttftMs: 80, e2eMs: 120 });
  host.begin(true);
  const report = await runToEnd(clock, runSoak(host, SOAK), 200_000);
  host.end();

  t.equal(engine.rates()[0]?.atMs, START_MS, 'the soak load is applied at the start (warm-up)');
  t.equal(report.startedAt, iso(warmEnd), 'the report starts after exactly warmupSec');
  const soakEnd = warmEnd + SOAK.durationSec * 1000;
  const stopAt = engine.applied.find((a) => a.atMs > START_MS && a.set === 'rate' && a.rate === 0);
  t.equal(stopAt?.atMs, soakEnd, 'the load stops after exactly durationSec');
  t.equal(report.overall.ttft.max < 0.9, true, 'no cold-start request (ended in the warm-up) in the report');
  const counted = engine.ends.filter((e) => e.atMs > warmEnd);
  t.equal(report.totals.requests, counted.length, 'the report holds every request that ended after the warm-up (the drained ones too)');

  const rps = report.timeseries.find((p) => p.name === 'Completed requests per second');
  const ttft = report.timeseries.find((p) => p.name.startsWith('TTFT p99'));
  const sliceMs = (SOAK.durationSec / 60) * 1000;
  t.same(
    rps?.points.map((p) => p[0]),
    Array.from({ length: 60 }, (_, k) => warmEnd + (k + 1) * sliceMs),
    'one point per 2 s slice, at the end of each',
  );
  for (const [at, v] of rps?.points ?? []) {
    const n = engine.ends.filter((e) => e.atMs > at - sliceMs && e.atMs <= at).length;
    t.equal(v, n / (sliceMs / 1000), `slice ending ${at - warmEnd} ms: completed per second`);
  }
  // The first slice with a slow request is the one that holds the first end after slowFrom.
  const firstSlow = engine.ends.find((e) => e.ttftMs === 200)?.atMs ?? 0;
  const slowSlice = warmEnd + Math.ceil((firstSlow - warmEnd) / sliceMs) * sliceMs;
  const points = ttft?.points ?? [];
  t.ok(points.length === 60, '60 TTFT points');
  t.ok(
    points.filter((p) => p[0] < slowSlice).every((p) => p[1] < 0.1),
    'TTFT p99 under 100 ms in every slice before the slowdown',
  );
  t.ok(
    points.filter((p) => p[0] >= slowSlice).every((p) => p[1] > 0.19),
    'about 200 ms from the slice where the first slow request ended',
  );
});

t.test('spike: warm-up, baseline, spike and after on the clock; recovery from the end of the spike to the first clean window', async (t) => {
  const SPIKE: SpikeModeConfig = { baseRate: 10, multiple: 4, warmupSec: 2, baselineSec: 10, spikeSec: 5, afterSec: 20, windowSec: 2, recoveryTolerance: 0.1, recoveryToleranceMs: 5 };
  const { clock, engine, host } = setup();
  const spikeFrom = START_MS + (SPIKE.warmupSec + SPIKE.baselineSec) * 1000;
  const spikeTo = spikeFrom + SPIKE.spikeSec * 1000;
  const backlogMs = 6000;
  // Cold at the start; slow (TTFT 500 ms) from the spike until 6 s after it (a backlog draining); else 80 ms.
  engine.latency = (_r, _since, sentAtMs) =>
    sentAtMs < START_MS + COLD_MS ? { ttftMs: 900, e2eMs: 1000 } : sentAtMs >= spikeFrom && sentAtMs < spikeTo + backlogMs ? { ttftMs: 500, e2eMs: 610 } : { ttftMs: 80, e2eMs: 120 };
  host.begin(true);
  const report = await runToEnd(clock, runSpike(host, SPIKE), 120_000);
  host.end();

  t.same(
    engine.rates(),
    [
      { atMs: START_MS, rate: 10 },
      { atMs: spikeFrom, rate: 40 },
      { atMs: spikeTo, rate: 10 },
    ],
    'base rate, the spike after warm-up + baseline, the base rate again after spikeSec',
  );
  const afterEnd = spikeTo + SPIKE.afterSec * 1000;
  t.equal(engine.applied.find((a) => a.atMs > spikeTo && a.set === 'rate' && a.rate === 0)?.atMs, afterEnd, 'the load stops after exactly afterSec');
  const [baseline, spike, after] = report.steps;
  t.equal(baseline?.startedAt, iso(START_MS + SPIKE.warmupSec * 1000), 'the baseline starts after the warm-up');
  t.equal(baseline?.durationSec, SPIKE.baselineSec, 'the baseline lasts baselineSec');
  t.ok((baseline?.ttft.max ?? 1) < 0.9, 'no cold-start request in the baseline');
  t.equal(spike?.startedAt, iso(spikeFrom), 'the spike step starts with the spike');
  t.equal(spike?.durationSec, SPIKE.spikeSec, 'and lasts spikeSec');
  t.equal(after?.durationSec, SPIKE.afterSec, 'after: afterSec');
  t.equal(report.spike?.startedAt, iso(spikeFrom), 'the spike as reported');

  // Windows of two 1 s slices sampled every second from the end of the spike: recovered at the
  // first sample whose window holds no slow request (and enough requests to count).
  const expected = Array.from({ length: SPIKE.afterSec }, (_, k) => spikeTo + (k + 1) * 1000).find((at) => {
    const inWindow = engine.ends.filter((e) => e.atMs > at - SPIKE.windowSec * 1000 && e.atMs <= at);
    return inWindow.length >= 5 && inWindow.every((e) => e.ttftMs === 80);
  });
  t.ok(expected !== undefined && expected > spikeTo + backlogMs, 'the slow requests outlast the spike');
  t.equal(report.spike?.recoverySec, ((expected ?? 0) - spikeTo) / 1000, 'recovery: from the end of the spike to the first window without a slow request');
  t.equal(clock.timersPending - engine.timersPending, 0, 'no timer of the mode is left');
});

t.test('spike: recovered within 10 % or 5 ms of the baseline, whichever is larger', async (t) => {
  // Baseline TTFT 20 ms; after the spike 24 ms: 20 % above the baseline, but only 4 ms.
  const run = async (recoveryToleranceMs: number) => {
    const cfg: SpikeModeConfig = { baseRate: 10, multiple: 4, warmupSec: 2, baselineSec: 6, spikeSec: 3, afterSec: 8, windowSec: 2, recoveryTolerance: 0.1, recoveryToleranceMs };
    const { clock, engine, host } = setup();
    const spikeFrom = START_MS + (cfg.warmupSec + cfg.baselineSec) * 1000;
    const spikeTo = spikeFrom + cfg.spikeSec * 1000;
    engine.latency = (_r, _since, sentAtMs) =>
      sentAtMs < START_MS + COLD_MS ? { ttftMs: 900, e2eMs: 1000 } : sentAtMs < spikeFrom ? { ttftMs: 20, e2eMs: 60 } : sentAtMs < spikeTo ? { ttftMs: 500, e2eMs: 610 } : { ttftMs: 24, e2eMs: 64 };
    host.begin(true);
    const report = await runToEnd(clock, runSpike(host, cfg), 60_000);
    host.end();
    return report.spike;
  };
  const withFloor = await run(5);
  t.ok(withFloor?.recoverySec !== null && (withFloor?.recoverySec ?? 0) > 0, `recovered after ${withFloor?.recoverySec} s with the 5 ms floor`);
  t.equal(withFloor?.recoveryThresholdSec, 0.025, 'threshold: 20 ms + 5 ms (10 % would be 22 ms)');
  const relativeOnly = await run(0);
  t.equal(relativeOnly?.recoverySec, null, 'never recovered at 10 % alone (24 ms > 22 ms)');
  t.equal(relativeOnly?.recoveryThresholdSec, 0.022, 'threshold: 20 ms + 10 %');
});
