/**
 * What every mode shares: the host a mode drives (the daemon's traffic
 * engine, recorder and collectors, behind a small interface), and the
 * measurement of one load level:
 *
 *   set the rate or users → warm-up (excluded) → reset the step meter → hold
 *   (server gauges polled) → read the meter → cool-down (no load, in-flight
 *   requests drain; excluded) → StepResult.
 *
 * A step's figures are the requests that ENDED during its hold, read from a
 * recorder meter (the recorder is the only writer of traffic figures; a mode
 * never re-derives them). The pass/fail of a step and the knee's likely cause
 * are decided here too, so every mode judges the same way.
 */
import type { Clock, TimerHandle, Timers } from '../clock.js';
import type { ScenarioConfig } from '../traffic/config.js';
import type { Logger } from '../log.js';
import type { HdrTotal } from '../metrics/hdr-window.js';
import type { Meter, RecorderTotals } from '../metrics/recorder.js';
import type { Hint } from '../analyzer/hint.js';
import type { FailureEntry, Figures, IncidentEntry, RunEvent, StepResult } from '../report/model.js';
import type { StepTiming } from './config.js';
import type { SoakAnalysis } from './soak-analysis.js';
import type { SloConfig } from '../metrics/slo.js';

/** The per-request SLOs and the step thresholds, as the config has them (one declaration: metrics/slo.ts). */
export type SloLimits = SloConfig;

/** The target server's own gauges (normalised by the server collector) and the GPUs', read from the registry. */
export interface ServerGauges {
  waiting?: number;
  running?: number;
  kvCacheUsage?: number;
  /** Cumulative count. */
  preemptionsTotal?: number;
  gpuUtilization?: number;
}

/** What a mode drives. The daemon provides it (src/modes/host.ts); tests may fake it. */
export interface ModeHost {
  readonly clock: Clock;
  /** Every wait of a mode (warm-up, hold, cool-down, slices, gauge polls): the system's, or a test's fake clock. */
  readonly timers: Timers;
  readonly logger: Logger;
  readonly slo: SloLimits;
  readonly target: { url: string; model: string; embedded: boolean };
  /** Open-loop arrivals per second (0 = none). */
  setRate(rps: number): void;
  /** Closed-loop users (0 = none), each thinking `thinkTimeMs` between requests. */
  setUsers(users: number, thinkTimeMs: number): void;
  /** Build requests from these scenarios from now on; undefined = the configured ones. */
  useScenarios(scenarios: ScenarioConfig[] | undefined): void;
  inFlight(): number;
  /** A new meter, attached: it sees every request that ends from now on. */
  openMeter(): Meter;
  /** Attach a meter again after closeMeter() (idempotent). */
  attachMeter(m: Meter): void;
  closeMeter(m: Meter): void;
  /** The soak's configured load (what a soak bench runs). */
  readonly soakLoad: { rate: number; users: number; thinkTimeMs: number };
  serverGauges(): Promise<ServerGauges>;
  /** The analyzer's ranked hints now (empty without an analyzer). */
  hints(): Hint[];
  /** Aborted when the daemon stops: a mode ends early and reports what it measured. */
  readonly signal: AbortSignal;
  /** What runs now, for the status page (e.g. "ramp 40 req/s (3/8)"). */
  setActivity(text: string): void;
  /** Target changes (model, version, restart) detected in [fromMs, toMs], with before/after figures. */
  targetEvents?(fromMs: number, toMs: number): RunEvent[];
  /** Incidents (error storm, target down, latency excursion) overlapping [fromMs, toMs]. */
  incidents?(fromMs: number, toMs: number): IncidentEntry[];
  /** Failures in the server's own words seen in [fromMs, toMs] (src/failures/). */
  failures?(fromMs: number, toMs: number): FailureEntry[];
  /**
   * Scale-out: this process is replica `index` of `count`. The rates and users
   * a mode sets (and soakLoad) are the fleet's; the host sends this replica's
   * share (rate / count), so that the replicas together send the mode's load.
   */
  readonly replicas?: { index: number; count: number };
  /** Trends of the watched gauges and the hints that fired over a period, for a soak report (absent without an analyzer). */
  soakAnalysis?(fromMs: number, toMs: number): Promise<SoakAnalysis | undefined>;
}

/** One load level. */
export interface LoadSpec {
  label: string;
  /** Open-loop rate, req/s. */
  rate?: number;
  /** Closed-loop users. */
  users?: number;
  thinkTimeMs?: number;
  /** Fixed prompt tokens of this level (capacity surface); recorded on the step. */
  inputTokens?: number;
}

/** Server-side figures of a step, kept for the cause (the report keeps the means). */
export interface StepServer {
  waitingMean?: number;
  waitingMax?: number;
  runningMean?: number;
  runningMax?: number;
  kvMean?: number;
  kvMax?: number;
  preemptions?: number;
  gpuMean?: number;
}

export interface MeasuredStep {
  result: StepResult;
  /** Why the step failed (empty when it held), for people. */
  failures: string[];
  totals: RecorderTotals;
  /** Requests sent during the hold. */
  sent: number;
  server: StepServer;
  /** Causes of the analyzer's firing hints at the end of the hold, ranked. */
  hintCauses: string[];
}

/** Milliseconds left of `sec` from now, on the monotonic clock. */
export function msLeft(host: ModeHost, sec: number): () => number {
  const end = host.clock.monoNs() + BigInt(Math.round(sec * 1e9));
  return () => Number(end - host.clock.monoNs()) / 1e6;
}

/**
 * Wait `ms` on the host's timers (every wait of a mode goes through here, so
 * a test drives a run with a fake clock); ends early, without throwing, when
 * the run is aborted.
 */
export function sleep(host: ModeHost, ms: number): Promise<void> {
  const { signal, timers } = host;
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      timers.clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = timers.setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Summary of an HDR total as the report's Figures (seconds). */
export function figuresOf(h: HdrTotal): Figures {
  const s = h.snapshot();
  return { count: s.count, mean: s.mean, p50: s.p50, p90: s.p90, p95: s.p95, p99: s.p99, max: s.max };
}

export function errorsOf(t: RecorderTotals): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(t.errors)) if (v !== undefined && v > 0) out[k] = v;
  return out;
}

const fmtS = (sec: number): string => (sec < 1 ? `${Math.round(sec * 1000)} ms` : `${Number(sec.toPrecision(3))} s`);
const fmtP = (r: number): string => `${Number((r * 100).toPrecision(3))}%`;
export const fmtLoad = (spec: { rate?: number; users?: number }): string => (spec.rate !== undefined ? `${Number(spec.rate.toPrecision(4))} req/s` : `${spec.users ?? 0} users`);

/**
 * Whether a step held every SLO, and if not, why (most telling first): the
 * per-request SLO percentiles, the share of good requests, errors, dropped
 * arrivals and (open loop) throughput short of the asked rate.
 */
export function judgeStep(step: StepResult, totals: RecorderTotals, slo: SloLimits, sent?: number): string[] {
  const out: string[] = [];
  if (totals.requests === 0) return ['no request ended during the step'];
  const goodRatio = totals.good / totals.requests;
  if (goodRatio < slo.minGoodRatio) {
    const over: string[] = [];
    if (step.ttft.count > 0 && step.ttft.p99 * 1000 > slo.ttftMs) over.push(`TTFT p99 ${fmtS(step.ttft.p99)} > SLO ${fmtS(slo.ttftMs / 1000)}`);
    if (step.tpot.count > 0 && step.tpot.p99 * 1000 > slo.tpotMs) over.push(`TPOT p99 ${fmtS(step.tpot.p99)} > SLO ${fmtS(slo.tpotMs / 1000)}`);
    if (step.e2e.count > 0 && step.e2e.p99 * 1000 > slo.e2eMs) over.push(`E2E p99 ${fmtS(step.e2e.p99)} > SLO ${fmtS(slo.e2eMs / 1000)}`);
    out.push(...over);
    out.push(`${fmtP(goodRatio)} of requests met every SLO (< ${fmtP(slo.minGoodRatio)})`);
  }
  if (step.errorRate > slo.maxErrorRate) {
    const top = Object.entries(step.errors).sort((a, b) => b[1] - a[1])[0];
    out.push(`errors ${fmtP(step.errorRate)} > ${fmtP(slo.maxErrorRate)}${top ? ` (mostly ${top[0]})` : ''}`);
  }
  if (totals.dropped > 0) out.push(`${totals.dropped} arrivals dropped at the in-flight cap (traffic.maxInFlight)`);
  // Keeping up: requests that ended against requests sent (and dropped) during the step. Both
  // carry the same arrival noise, so their ratio stays near 1 until the target falls behind.
  const offered = (sent ?? 0) + totals.dropped;
  if (sent !== undefined && offered > 0 && totals.requests < slo.minAchievedRatio * offered) {
    out.push(`${totals.requests} of ${offered} requests sent during the step ended in it: the target is not keeping up`);
  }
  return out;
}

/** Polls the server gauges every `everyMs` until stopped; means, maxima and the preemption increase. */
export class GaugePoller {
  private readonly sums = { waiting: 0, running: 0, kv: 0, gpu: 0 };
  private readonly counts = { waiting: 0, running: 0, kv: 0, gpu: 0 };
  private readonly maxima = { waiting: -Infinity, running: -Infinity, kv: -Infinity };
  private preemptFirst: number | undefined;
  private preemptLast: number | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly host: ModeHost,
    private readonly everyMs = 500,
  ) {}

  start(): void {
    const tick = () => {
      this.pending = this.sample().finally(() => {
        this.pending = undefined;
      });
      if (this.stopped) return;
      this.timer = this.host.timers.setTimeout(tick, this.everyMs);
      this.timer.unref?.();
    };
    tick();
  }

  private async sample(): Promise<void> {
    let g: ServerGauges;
    try {
      g = await this.host.serverGauges();
    } catch {
      return;
    }
    const add = (k: 'waiting' | 'running' | 'kv' | 'gpu', v: number | undefined) => {
      if (v === undefined || !Number.isFinite(v)) return;
      this.sums[k] += v;
      this.counts[k]++;
      if (k !== 'gpu' && v > this.maxima[k]) this.maxima[k] = v;
    };
    add('waiting', g.waiting);
    add('running', g.running);
    add('kv', g.kvCacheUsage);
    add('gpu', g.gpuUtilization);
    if (g.preemptionsTotal !== undefined) {
      this.preemptFirst ??= g.preemptionsTotal;
      this.preemptLast = g.preemptionsTotal;
    }
  }

  async stop(): Promise<StepServer> {
    this.stopped = true;
    if (this.timer) this.host.timers.clearTimeout(this.timer);
    await this.pending;
    await this.sample();
    const mean = (k: 'waiting' | 'running' | 'kv' | 'gpu') => (this.counts[k] > 0 ? this.sums[k] / this.counts[k] : undefined);
    const max = (k: 'waiting' | 'running' | 'kv') => (this.counts[k] > 0 ? this.maxima[k] : undefined);
    const s: StepServer = {};
    const set = <K extends keyof StepServer>(k: K, v: StepServer[K] | undefined) => {
      if (v !== undefined) s[k] = v;
    };
    set('waitingMean', mean('waiting'));
    set('waitingMax', max('waiting'));
    set('runningMean', mean('running'));
    set('runningMax', max('running'));
    set('kvMean', mean('kv'));
    set('kvMax', max('kv'));
    set('gpuMean', mean('gpu'));
    if (this.preemptFirst !== undefined && this.preemptLast !== undefined) s.preemptions = Math.max(0, this.preemptLast - this.preemptFirst);
    return s;
  }
}

const round = (v: number, d = 6): number => Number(v.toFixed(d));

/** Apply a load level (the other kind of load set to none). */
export function applyLoad(host: ModeHost, spec: LoadSpec): void {
  if (spec.users !== undefined) {
    host.setRate(0);
    host.setUsers(spec.users, spec.thinkTimeMs ?? 0);
  } else {
    host.setUsers(0, 0);
    host.setRate(spec.rate ?? 0);
  }
}

/** No load; wait up to `maxSec` for requests in flight to end. */
export async function coolDown(host: ModeHost, maxSec: number): Promise<void> {
  host.setRate(0);
  host.setUsers(0, 0);
  const leftMs = msLeft(host, maxSec);
  while (host.inFlight() > 0 && leftMs() > 0 && !host.signal.aborted) await sleep(host, Math.min(100, leftMs()));
}

/** A hold in progress: the meter was reset at its start and the server gauges are being polled. */
export interface Hold {
  meter: Meter;
  t0: bigint;
  startedAt: string;
  poller: GaugePoller;
}

/** Start measuring now: reset the meter and poll the server gauges. */
export function beginHold(host: ModeHost, meter: Meter): Hold {
  const poller = new GaugePoller(host);
  const t0 = host.clock.monoNs();
  meter.reset(host.clock.wallMs());
  poller.start();
  return { meter, t0, startedAt: new Date(meter.startedAtMs).toISOString(), poller };
}

/** End a hold: read the meter at once (what ends after this instant belongs to no step) and judge the step. */
export async function endHold(host: ModeHost, hold: Hold, spec: LoadSpec, index: number): Promise<MeasuredStep> {
  const durationSec = Number(host.clock.monoNs() - hold.t0) / 1e9;
  const snap = readMeter(hold.meter);
  const hintCauses = host
    .hints()
    .filter((h) => h.state === 'firing')
    .map((h) => h.cause);
  const server = await hold.poller.stop();
  const m = stepFromMeter(host, snap, spec, index, hold.startedAt, durationSec, server);
  host.logger.info(
    {
      step: spec.label,
      requests: m.totals.requests,
      achievedRps: m.result.achievedRps,
      ttftP99: m.result.ttft.p99,
      e2eP99: m.result.e2e.p99,
      errorRate: m.result.errorRate,
      sloMet: m.result.sloMet,
      failures: m.failures,
    },
    'step measured',
  );
  return { ...m, hintCauses };
}

/** A meter's content at one instant. */
export interface MeterSnapshot {
  totals: RecorderTotals;
  /** Requests sent while the meter was attached (undefined: do not judge keeping up). */
  sent?: number;
  ttft: Figures;
  itl: Figures;
  tpot: Figures;
  e2e: Figures;
  scheduleLag: Figures;
}

export function readMeter(meter: Meter): MeterSnapshot {
  return {
    totals: structuredClone(meter.totals),
    sent: meter.sent,
    ttft: figuresOf(meter.hdr.ttft),
    itl: figuresOf(meter.hdr.itl),
    tpot: figuresOf(meter.hdr.tpot),
    e2e: figuresOf(meter.hdr.e2e),
    scheduleLag: figuresOf(meter.hdr.scheduleLag),
  };
}

/** A StepResult (judged against the SLOs) from what a meter held over `durationSec`. */
export function stepFromMeter(host: ModeHost, snap: MeterSnapshot, spec: LoadSpec, index: number, startedAt: string, durationSec: number, server: StepServer = {}): MeasuredStep {
  const { totals } = snap;
  const d = durationSec > 0 ? durationSec : 1;
  const result: StepResult = {
    index,
    label: spec.label,
    ...(spec.rate !== undefined && spec.users === undefined ? { targetRate: spec.rate } : {}),
    ...(spec.users !== undefined ? { concurrency: spec.users } : {}),
    ...(spec.inputTokens !== undefined ? { inputTokens: spec.inputTokens } : {}),
    startedAt,
    durationSec: round(durationSec, 3),
    requests: totals.requests,
    ok: totals.ok,
    achievedRps: round(totals.requests / d, 4),
    goodputRps: round(totals.good / d, 4),
    errors: errorsOf(totals),
    errorRate: totals.requests > 0 ? round((totals.requests - totals.ok) / totals.requests, 5) : 0,
    outputTokensPerSec: round(totals.outputTokens / d, 2),
    ttft: snap.ttft,
    itl: snap.itl,
    tpot: snap.tpot,
    e2e: snap.e2e,
    scheduleLag: snap.scheduleLag,
    ...(server.gpuMean !== undefined ? { gpuUtilization: round(server.gpuMean, 4) } : {}),
    sloMet: false,
  };
  const srv: NonNullable<StepResult['server']> = {};
  if (server.waitingMean !== undefined) srv.waiting = round(server.waitingMean, 3);
  if (server.runningMean !== undefined) srv.running = round(server.runningMean, 3);
  if (server.kvMean !== undefined) srv.kvCacheUsage = round(server.kvMean, 4);
  if (server.preemptions !== undefined) srv.preemptions = server.preemptions;
  if (Object.keys(srv).length > 0) result.server = srv;
  const failures = judgeStep(result, totals, host.slo, snap.sent);
  result.sloMet = failures.length === 0;
  return { result, failures, totals, sent: snap.sent ?? totals.requests, server, hintCauses: [] };
}

/**
 * Measure one load level: apply it, warm up, hold, cool down. `meter` is the
 * mode's step meter (opened once, reset at the start of each hold); `index`
 * is the measurement order.
 */
export async function measureStep(host: ModeHost, meter: Meter, spec: LoadSpec, timing: StepTiming, index: number): Promise<MeasuredStep> {
  applyLoad(host, spec);
  await sleep(host, timing.warmupSec * 1000);
  const hold = beginHold(host, meter);
  await sleep(host, timing.holdSec * 1000);
  const m = await endHold(host, hold, spec, index);
  if (timing.cooldownSec > 0) await coolDown(host, timing.cooldownSec);
  return m;
}

/** A mode run: its run meter (the report's totals and whole-run figures), a step meter, and its end. */
export interface Run {
  meter: Meter;
  stepMeter: Meter;
  startedAtMs: number;
  events: { at: string; kind: string; detail: string }[];
  /** No load; wait for requests in flight (up to drainSec); close the meters. */
  finish(drainSec?: number): Promise<{ endedAtMs: number; durationSec: number }>;
}

export function startRun(host: ModeHost): Run {
  const meter = host.openMeter();
  const stepMeter = host.openMeter();
  const t0 = host.clock.monoNs();
  const run: Run = {
    meter,
    stepMeter,
    startedAtMs: meter.startedAtMs,
    events: [],
    async finish(drainSec = 30) {
      host.closeMeter(stepMeter);
      await coolDown(host, drainSec);
      const left = host.inFlight();
      if (left > 0) run.events.push({ at: new Date(host.clock.wallMs()).toISOString(), kind: 'not_drained', detail: `${left} requests still in flight at the end are not in this report` });
      if (host.signal.aborted)
        run.events.push({ at: new Date(host.clock.wallMs()).toISOString(), kind: 'stopped', detail: 'the daemon was stopped before the run ended; the report has what was measured' });
      host.closeMeter(meter);
      return { endedAtMs: host.clock.wallMs(), durationSec: Number(host.clock.monoNs() - t0) / 1e9 };
    },
  };
  return run;
}

/** Maps an error class to the analyzer's cause for it (src/analyzer/rules/traffic.ts uses the same tokens). */
const ERROR_CAUSE: Record<string, string> = {
  http_429: 'rate_limited',
  http_5xx: 'server_errors',
  http_4xx: 'client_errors',
  stream_cut: 'stream_interruptions',
  timeout_connect: 'timeouts',
  timeout_headers: 'timeouts',
  timeout_total: 'timeouts',
  timeout_idle: 'stalled_streams',
  connect: 'target_unreachable',
  malformed: 'bad_responses',
  empty: 'bad_responses',
};

/**
 * The likely cause of a failing step, in the analyzer's vocabulary, with the
 * evidence in words. The analyzer's own top hint wins when one was firing;
 * otherwise the server's series decide (KV cache full with preemptions →
 * kv_cache_pressure; a queue with every running slot busy → overload), then
 * the dominant error class.
 */
export function likelyCause(step: MeasuredStep, slo: SloLimits, runningCeiling?: number): { cause?: string; detail?: string } {
  const s = step.server;
  const top = step.hintCauses.find((c) => c !== 'generator_bound');
  if (top !== undefined) return { cause: top, detail: "the analyzer's top firing hint" };
  const errRate = step.result.errorRate;
  const errs = Object.entries(step.result.errors).sort((a, b) => b[1] - a[1]);
  const topErr = errs[0]?.[0];
  const queueFull = topErr === 'http_429' && (s.waitingMax ?? 0) > 0;
  if (errRate > slo.maxErrorRate && topErr !== undefined && !queueFull && topErr !== 'cancelled') {
    // The step's failures already say which errors: no detail to add.
    return { cause: ERROR_CAUSE[topErr] ?? 'errors' };
  }
  if ((s.kvMax ?? 0) >= 0.9 && (s.preemptions ?? 0) > 0) {
    return { cause: 'kv_cache_pressure', detail: `KV cache ${Math.round((s.kvMax ?? 0) * 100)}% full with ${s.preemptions} preemptions` };
  }
  if ((s.waitingMean ?? 0) >= 1 || queueFull) {
    const running = s.runningMax !== undefined ? Math.round(s.runningMax) : undefined;
    const allBusy = running !== undefined && runningCeiling !== undefined && running >= runningCeiling;
    return {
      cause: 'overload',
      detail: `server queue ${Number((s.waitingMean ?? 0).toFixed(1))} waiting on average${running !== undefined ? ` with ${running} running${allBusy ? ' (every sequence slot busy)' : ''}` : ''}${queueFull ? '; queue full (429)' : ''}`,
    };
  }
  if (errRate > slo.maxErrorRate && topErr !== undefined) return { cause: ERROR_CAUSE[topErr] ?? 'errors' };
  if (step.totals.requests < slo.minAchievedRatio * (step.sent + step.totals.dropped)) {
    return { cause: 'overload', detail: 'the target ended fewer requests than were sent' };
  }
  return {};
}
