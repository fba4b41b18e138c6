/**
 * The traffic engine: open-loop pacing (absolute fire times from the start of
 * the run, precise to well under a millisecond) or closed-loop virtual users,
 * an in-flight cap that counts drops instead of queueing, and a graceful stop
 * with two deadlines (stop starting work; then cancel what is in flight).
 */
import type { Clock } from '../clock.js';
import type { ScenarioConfig, TrafficConfig } from './config.js';
import type { Logger } from '../log.js';
import { createArrivals, type ArrivalProcess } from './arrivals.js';
import { arrivalSpecOf } from './arrival-kinds.js';
import type { RateProfile } from './rate-profile.js';
import { sendRequest, type ClientOptions } from './client.js';
import type { Rng } from './random.js';
import type { Prepared, WorkloadSource } from './workload.js';
import type { BuiltWorkload, WorkloadSpec } from './workload-spec.js';
import type { Traffic, TrafficLoad, TrafficSink } from './traffic.js';
import type { RequestRecord } from '../types.js';

/**
 * Timers have millisecond resolution and fire up to ~1 ms off, so a pacer
 * built on them alone under-delivers at high rates. Wait with a timer until
 * about 1 ms before the next arrival, then finish with setImmediate turns
 * (I/O keeps flowing between them) to land within tens of microseconds.
 */
const SPIN_BELOW_NS = 1_200_000n;
/** A timer is set to wake this much before the arrival. */
const TIMER_EARLY_NS = 1_000_000n;
/** With a rate profile, llmsoak_target_request_rate is refreshed this often, ms. */
const PROFILE_GAUGE_MS = 250;

export interface EngineDeps<S> {
  traffic: TrafficConfig;
  /** What requests are built from at the start. */
  workload: WorkloadSpec;
  /** Builds a spec (the same spec twice: the same workload, see WorkloadCache). */
  buildWorkload: (spec: WorkloadSpec) => BuiltWorkload;
  /** The open-loop rate is `rate` times this daily curve (not applied to a replay). */
  profile?: RateProfile;
  recorder: TrafficSink<S>;
  client: ClientOptions;
  rng: Rng;
  clock: Clock;
  logger: Logger;
  /** The model requested (a label on every series). */
  model: string;
  /** Sees every finished record after it is recorded; must not block. */
  onRecord?: (r: RequestRecord) => void;
  /** The sampled request log (src/tracing/request-log.ts): decides, before recording, which requests carry exemplars. */
  requestLog?: { offer(r: RequestRecord, requestBody?: string): boolean };
}

export class TrafficEngine<S> implements Traffic {
  private readonly log: Logger;
  private readonly inFlight = new Set<AbortController>();
  private readonly series = new Map<string, S>();
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private arrivals: ArrivalProcess | undefined;
  private runStartNs = 0n;
  private nextFireNs = 0n;
  private warnedDrop = false;
  private rate: number;
  private readonly idleWaiters: (() => void)[] = [];
  private sent = 0;
  /** Closed loop: users wanted now, users whose loop is alive, and their think time. */
  private userTarget = 0;
  private activeUsers = 0;
  private thinkTimeMs: number;
  private workload: WorkloadSource;
  private spec: WorkloadSpec;
  private scenarios: ScenarioConfig[];
  private replayArrivals: (() => ArrivalProcess) | undefined;
  private profile: RateProfile | undefined;
  /** Time 0 of the profile: the first start. A rate change restarts arrivals, never the profile's day. */
  private profileOriginNs: bigint | undefined;
  private profileGauge: NodeJS.Timeout | undefined;
  /** The next open-loop request, built ahead of its fire time (from `workload`: a swap makes it stale). */
  private ahead: { sc: ScenarioConfig; s: S; prepared: Prepared; workload: WorkloadSource } | undefined;

  /** The model label of the series (deps.model, until setModel()). */
  private model: string;

  constructor(private readonly deps: EngineDeps<S>) {
    this.model = deps.model;
    this.log = deps.logger.child({ component: 'traffic' });
    this.rate = deps.traffic.mode === 'closed' ? 0 : deps.traffic.rate;
    this.userTarget = deps.traffic.mode === 'closed' ? deps.traffic.users : 0;
    this.thinkTimeMs = deps.traffic.thinkTimeMs;
    this.spec = deps.workload;
    const built = deps.buildWorkload(deps.workload);
    this.workload = built.workload;
    this.scenarios = built.scenarios;
    this.replayArrivals = built.replayArrivals;
    this.profile = deps.profile;
    this.bindSeries(built.scenarios);
  }

  private bindSeries(scenarios: ScenarioConfig[]): void {
    for (const sc of scenarios) {
      if (!this.series.has(sc.name)) this.series.set(sc.name, this.deps.recorder.scenario(sc.name, sc.endpoint, this.model));
    }
  }

  /** The target serves another model now: label series with it from here on (the caller swaps the workload). */
  setModel(model: string): void {
    this.model = model;
    this.ahead = undefined;
    this.series.clear();
    this.bindSeries(this.scenarios);
  }

  get requestsSent(): number {
    return this.sent;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const t = this.deps.traffic;
    this.profileOriginNs ??= this.deps.clock.monoNs();
    this.publishTargetRate();
    this.profileGauge = setInterval(() => {
      if (this.profile) this.publishTargetRate();
    }, PROFILE_GAUGE_MS);
    this.profileGauge.unref();
    if (t.mode === 'closed') {
      this.log.info({ users: this.userTarget, thinkTimeMs: this.thinkTimeMs }, 'closed-loop traffic started');
      this.spawnUsers();
      return;
    }
    this.log.info({ rate: this.rate, arrival: t.arrival, maxInFlight: t.maxInFlight }, 'open-loop traffic started');
    this.startArrivals();
  }

  /** The load asked for now: open-loop rate and closed-loop users (both may run at once). */
  get load(): TrafficLoad {
    return { rate: this.rate, users: this.userTarget, thinkTimeMs: this.thinkTimeMs };
  }

  /** Change the open-loop rate (0 = no arrivals); arrivals restart from now at the new rate. */
  setRate(rps: number): void {
    this.rate = rps;
    this.publishTargetRate();
    if (this.running) {
      this.clearWait();
      this.startArrivals();
    }
  }

  /** The daily curve the open-loop rate follows (undefined: none). */
  get rateProfile(): RateProfile | undefined {
    return this.profile;
  }

  /** Follow another curve (undefined: the plain rate) from now on; the profile's clock keeps running. */
  setProfile(profile: RateProfile | undefined): void {
    if (profile === this.profile) return;
    this.profile = profile;
    this.publishTargetRate();
    if (this.running) {
      this.clearWait();
      this.startArrivals();
    }
  }

  /** The open-loop rate asked for at this moment: `rate`, times the profile's multiple now. */
  get targetRate(): number {
    if (!this.profile || this.replayArrivals || this.profileOriginNs === undefined) return this.rate;
    return this.rate * this.profile.multipleAt(Number(this.deps.clock.monoNs() - this.profileOriginNs) / 1e9);
  }

  private publishTargetRate(): void {
    this.deps.recorder.setTargetRate(this.targetRate);
  }

  /**
   * Change the closed-loop users (0 = none). New users start at once; users
   * beyond the new number leave after their request in flight ends (never
   * cancelled), so the figures of that request are kept.
   */
  setUsers(users: number, thinkTimeMs = this.thinkTimeMs): void {
    this.userTarget = Math.max(0, Math.floor(users));
    this.thinkTimeMs = thinkTimeMs;
    if (this.running) this.spawnUsers();
  }

  /** What requests are built from now. */
  get workloadSpec(): WorkloadSpec {
    return this.spec;
  }

  /**
   * Build requests from another workload from now on (a mode's own request
   * shape, and back). A replay brings its own arrivals; otherwise they follow the rate.
   */
  setWorkload(spec: WorkloadSpec): void {
    const built = this.deps.buildWorkload(spec);
    this.bindSeries(built.scenarios);
    this.spec = spec;
    this.workload = built.workload;
    this.scenarios = built.scenarios;
    const hadReplay = this.replayArrivals !== undefined;
    const replayArrivals = built.replayArrivals;
    this.replayArrivals = replayArrivals;
    if (this.running && (hadReplay || replayArrivals !== undefined)) {
      this.clearWait();
      this.startArrivals();
    }
  }

  private spawnUsers(): void {
    while (this.activeUsers < this.userTarget) {
      this.activeUsers++;
      void this.user();
    }
  }

  private startArrivals(): void {
    this.runStartNs = this.deps.clock.monoNs();
    if (this.rate <= 0 && !this.replayArrivals) {
      this.arrivals = undefined;
      return;
    }
    const t = this.deps.traffic;
    // A profile is laid from its own origin: arrivals restarted now begin this far into it.
    const integrated = this.profile && this.profileOriginNs !== undefined ? this.profile.intensity(this.rate, Number(this.runStartNs - this.profileOriginNs) / 1e9) : undefined;
    this.arrivals = this.replayArrivals ? this.replayArrivals() : createArrivals(arrivalSpecOf(t, this.rate, integrated), this.deps.rng);
    if (this.advance()) this.pace();
  }

  /** Fire every arrival that is due, then wait for the next one. */
  private readonly pace = (): void => {
    this.timer = undefined;
    this.immediate = undefined;
    if (!this.running || !this.arrivals) return;
    let now = this.deps.clock.monoNs();
    // Catch up: every due arrival fires now with its own intended time, so lateness is measured, not absorbed.
    while (this.nextFireNs <= now) {
      this.fire(this.nextFireNs);
      if (!this.advance()) return;
      now = this.deps.clock.monoNs();
    }
    if (this.ahead === undefined) {
      this.prepareNext();
      now = this.deps.clock.monoNs();
    }
    const wait = this.nextFireNs - now;
    if (wait < SPIN_BELOW_NS) this.immediate = setImmediate(this.pace);
    else this.timer = setTimeout(this.pace, Number((wait - TIMER_EARLY_NS) / 1_000_000n));
  };

  /** Take the next arrival; false when there is none (a replay that does not loop has ended). */
  private advance(): boolean {
    const offset = this.arrivals ? this.arrivals.next() : Infinity;
    if (!Number.isFinite(offset)) {
      this.arrivals = undefined;
      this.log.info('no more arrivals (replay finished)');
      return false;
    }
    this.nextFireNs = this.runStartNs + BigInt(Math.round(offset));
    return true;
  }

  /**
   * Build the next open-loop request now, while waiting for its fire time
   * (prompt text, tokenizer counts, JSON body), so that firing is a dispatch.
   */
  private prepareNext(): void {
    const sc = this.workload.pick();
    this.ahead = { sc, s: this.series.get(sc.name) as S, prepared: this.workload.prepare(sc), workload: this.workload };
  }

  private fire(scheduledAt: bigint): void {
    const next = this.ahead !== undefined && this.ahead.workload === this.workload ? this.ahead : undefined;
    this.ahead = undefined;
    const w = this.workload;
    const sc = next?.sc ?? w.pick();
    const s = next?.s ?? (this.series.get(sc.name) as S);
    if (this.inFlight.size >= this.deps.traffic.maxInFlight) {
      this.deps.recorder.dropped(s);
      if (!this.warnedDrop) {
        this.warnedDrop = true;
        this.log.warn({ maxInFlight: this.deps.traffic.maxInFlight }, 'in-flight cap reached: arrivals are being dropped (counted in llmsoak_dropped_requests_total); this warning is shown once');
      }
      return;
    }
    void this.send(sc, s, scheduledAt, next?.prepared);
  }

  private async send(sc: ScenarioConfig, s: S, scheduledAt: bigint, ready?: Prepared): Promise<boolean> {
    const w = this.workload;
    const prepared = ready ?? w.prepare(sc);
    const ac = new AbortController();
    this.inFlight.add(ac);
    this.deps.recorder.started();
    this.sent++;
    let live = 0;
    const { record, text } = await sendRequest(
      this.deps.client,
      prepared.request,
      scheduledAt,
      (n) => {
        live += n;
        this.deps.recorder.tokensArrived(s, n);
      },
      ac.signal,
    );
    this.inFlight.delete(ac);
    if (this.deps.requestLog?.offer(record, prepared.request.body)) record.sampled = true;
    this.deps.recorder.record(s, record, live, prepared.request.body);
    this.deps.onRecord?.(record);
    if (prepared.session) w.complete(prepared.session, record.outcome === 'ok', text, record.outputTokens);
    if (this.inFlight.size === 0) for (const f of this.idleWaiters.splice(0)) f();
    return record.outcome === 'ok';
  }

  /** A closed-loop virtual user: send, wait for the answer, think, repeat; leaves when there are more users than wanted. */
  private async user(): Promise<void> {
    let intended = this.deps.clock.monoNs();
    try {
      while (this.running && this.activeUsers <= this.userTarget) {
        const sc = this.workload.pick();
        const s = this.series.get(sc.name) as S;
        await this.send(sc, s, intended);
        if (!this.running || this.activeUsers > this.userTarget) return;
        const think = this.thinkTimeMs > 0 ? this.deps.rng.exponential(1 / this.thinkTimeMs) : 0;
        await new Promise<void>((r) => {
          const h = setTimeout(r, think);
          h.unref();
        });
        intended = this.deps.clock.monoNs();
      }
    } finally {
      this.activeUsers--;
    }
  }

  private clearWait(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  /**
   * Stop: no new requests; wait up to drainMs for those in flight, then cancel
   * the rest (each ends as a `cancelled` record, so nothing is lost).
   */
  async stop(drainMs: number): Promise<{ drained: number; cancelled: number }> {
    this.running = false;
    this.clearWait();
    if (this.profileGauge) clearInterval(this.profileGauge);
    this.profileGauge = undefined;
    const before = this.inFlight.size;
    if (before > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, drainMs);
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const cancelled = this.inFlight.size;
    if (cancelled > 0) {
      for (const ac of this.inFlight) ac.abort();
      await new Promise<void>((resolve) => {
        if (this.inFlight.size === 0) return resolve();
        this.idleWaiters.push(resolve);
      });
    }
    this.log.info({ drained: before - cancelled, cancelled }, 'traffic stopped');
    return { drained: before - cancelled, cancelled };
  }
}
