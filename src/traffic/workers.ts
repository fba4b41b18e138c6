/**
 * The traffic engine in worker threads, seen from the main thread as one
 * engine (the Traffic interface). Each worker runs its share of the load
 * (rate split evenly, users split as evenly as whole users allow); the
 * batches they send are written here into the recorder (prom-client, HDR
 * windows, meters), the request log and onRecord, so nothing of that runs on
 * a thread that times requests.
 *
 * A worker that fails is logged in one line and started again with the
 * current load and workload; one that keeps failing stops traffic (the
 * daemon goes on, with an error in its log).
 */
import { Worker } from 'node:worker_threads';
import { LlmsoakError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Recorder, ScenarioSeries } from '../metrics/recorder.js';
import type { RequestRecord } from '../types.js';
import type { RateProfile } from './rate-profile.js';
import type { Traffic, TrafficLoad } from './traffic.js';
import type { WorkloadSpec } from './workload-spec.js';
import type { Batch, FromWorker, ProfileSpec, ToWorker, WorkerInit } from './worker-protocol.js';

/** A worker's last heap report. */
export interface WorkerHeap {
  /** V8 heap used and allocated in the worker's isolate, bytes. */
  used: number;
  total: number;
  /** Whether the worker has loaded the tokenizer (about 14 MB of its heap and RSS: footprint bench). */
  tokenizer: boolean;
}

const WORKER_FILE = new URL('./worker-main.js', import.meta.url);
/** A worker restarted more often than this within RESTART_WINDOW_MS is given up. */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;
const RESTART_DELAY_MS = 500;
/** stop() waits this long past the drain deadline for a worker to answer, then terminates it. */
const STOP_GRACE_MS = 5_000;
/** With a rate profile, llmsoak_target_request_rate is refreshed this often, ms (as the in-process engine does). */
const PROFILE_GAUGE_MS = 250;

export interface TrafficWorkersDeps {
  count: number;
  /** What every worker starts from; `traffic` is the whole load (split here), `index` and `seed` are set per worker. */
  init: Omit<WorkerInit, 'index' | 'profile'>;
  profile?: RateProfile;
  recorder: Recorder;
  requestLog?: { offer(r: RequestRecord, requestBody?: string): boolean };
  onRecord?: (r: RequestRecord) => void;
  logger: Logger;
}

function profileSpec(p: RateProfile): ProfileSpec {
  return { points: p.points, shape: p.shape, timeScale: p.timeScale, startHour: p.startHour };
}

/** Worker i's share of n users among `count` workers. */
function usersShare(users: number, i: number, count: number): number {
  return Math.floor(users / count) + (i < users % count ? 1 : 0);
}

class WorkerSlot {
  worker: Worker | undefined;
  readonly series = new Map<number, ScenarioSeries>();
  inFlight = 0;
  sent = 0;
  /** Requests of the current worker started and not yet recorded (lost if it dies). */
  open = 0;
  restarts: number[] = [];
  /** The worker's last heap report (undefined until its first, and after it exits). */
  heap: WorkerHeap | undefined;
  stopped: ((r: { drained: number; cancelled: number }) => void) | undefined;
  /** Set until the first worker of this slot has built its engine. */
  onReady: ((err?: Error) => void) | undefined;
}

export class TrafficWorkers implements Traffic {
  private readonly log: Logger;
  private readonly slots: WorkerSlot[];
  private loadNow: TrafficLoad;
  private profile: RateProfile | undefined;
  private spec: WorkloadSpec;
  private model: string;
  private running = false;
  private stopping = false;
  private readonly readiness: Promise<void>[];
  /** The gauge of the asked rate is kept here (not from batches), so it is right the moment a rate is set. */
  private profileOriginNs: number | undefined;
  private profileGauge: NodeJS.Timeout | undefined;
  /** Sent by workers that were replaced (their counters start again at 0). */
  private sentBefore = 0;

  constructor(private readonly d: TrafficWorkersDeps) {
    this.log = d.logger.child({ component: 'traffic' });
    const t = d.init.traffic;
    this.loadNow = { rate: t.mode === 'closed' ? 0 : t.rate, users: t.mode === 'closed' ? t.users : 0, thinkTimeMs: t.thinkTimeMs };
    this.profile = d.profile;
    this.spec = d.init.workload;
    this.model = d.init.model;
    this.slots = Array.from({ length: Math.max(1, d.count) }, () => new WorkerSlot());
    this.readiness = this.slots.map(
      (slot) =>
        new Promise<void>((resolve, reject) => {
          slot.onReady = (err) => {
            slot.onReady = undefined;
            if (err) reject(new LlmsoakError('LLMSOAK_ERR_TRAFFIC', `the traffic worker did not start: ${err.message}`, 'set traffic.workers: 0 to run traffic in the main thread'));
            else resolve();
          };
        }),
    );
    // ready() reports a failed start; a caller that never asks must not see an unhandled rejection.
    for (const r of this.readiness) r.catch(() => undefined);
    this.slots.forEach((_, i) => this.spawn(i));
  }

  private spawn(i: number): void {
    const slot = this.slots[i] as WorkerSlot;
    const n = this.slots.length;
    const init: WorkerInit = {
      ...this.d.init,
      index: i,
      // Worker 0 keeps the configured seed: one worker sends what the in-process engine would.
      seed: this.d.init.seed + i * 7919,
      // The in-flight cap and the pool are the process's: each worker has its share of both.
      traffic: {
        ...this.d.init.traffic,
        rate: this.loadNow.rate / n,
        users: usersShare(this.loadNow.users, i, n),
        thinkTimeMs: this.loadNow.thinkTimeMs,
        maxInFlight: Math.max(1, Math.ceil(this.d.init.traffic.maxInFlight / n)),
      },
      pool: { ...this.d.init.pool, connections: Math.max(1, Math.ceil(this.d.init.pool.connections / n)) },
      workload: this.spec,
      model: this.model,
      ...(this.profile ? { profile: profileSpec(this.profile) } : {}),
    };
    const w = new Worker(WORKER_FILE, { workerData: init });
    slot.worker = w;
    slot.series.clear();
    slot.inFlight = 0;
    slot.open = 0;
    w.on('message', (m: FromWorker) => this.onMessage(slot, m));
    w.on('error', (err) => {
      this.log.error(`traffic worker ${i} failed: ${err.message}`);
      slot.onReady?.(err);
    });
    w.on('exit', (code) => {
      if (slot.worker !== w) return;
      slot.worker = undefined;
      slot.heap = undefined;
      this.sentBefore += slot.sent;
      slot.sent = 0;
      slot.inFlight = 0;
      if (this.stopping) {
        // Terminated past the drain deadline: what it had in flight is never recorded.
        if (slot.open > 0) this.d.recorder.abandoned(slot.open);
        slot.open = 0;
        slot.stopped?.({ drained: 0, cancelled: 0 });
        return;
      }
      this.restart(i, code);
    });
    if (this.running) this.post(slot, { type: 'start' });
  }

  private restart(i: number, code: number): void {
    const slot = this.slots[i] as WorkerSlot;
    const now = Date.now();
    slot.restarts = slot.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (slot.open > 0) {
      this.log.warn({ lost: slot.open }, `traffic worker ${i}: requests in flight when it ended are not recorded`);
      this.d.recorder.abandoned(slot.open);
      slot.open = 0;
    }
    if (slot.restarts.length >= MAX_RESTARTS) {
      this.log.error(`traffic worker ${i} ended (exit code ${code}) ${MAX_RESTARTS} times within ${RESTART_WINDOW_MS / 1000} s: its share of the traffic is stopped`);
      return;
    }
    slot.restarts.push(now);
    this.log.error(`traffic worker ${i} ended (exit code ${code}); starting it again`);
    const t = setTimeout(() => {
      if (!this.stopping) this.spawn(i);
    }, RESTART_DELAY_MS);
    t.unref();
  }

  private onMessage(slot: WorkerSlot, m: FromWorker): void {
    switch (m.type) {
      case 'batch':
        this.apply(slot, m);
        break;
      case 'log':
        this.forwardLog(m.line);
        break;
      case 'heap':
        slot.heap = { used: m.used, total: m.total, tokenizer: m.tokenizer };
        break;
      case 'ready':
        slot.onReady?.();
        break;
      case 'started':
        // The profile's time 0 is when the first worker's engine started (not when start() was asked: a worker boots first).
        if (this.profileOriginNs === undefined) {
          this.profileOriginNs = m.originNs;
          this.publishTargetRate();
        }
        break;
      case 'stopped':
        slot.stopped?.({ drained: m.drained, cancelled: m.cancelled });
        break;
    }
  }

  /** A batch into the recorder, in the order the worker saw it: series, starts, tokens, drops, then finished requests. */
  private apply(slot: WorkerSlot, b: Batch): void {
    const rec = this.d.recorder;
    for (const def of b.series) slot.series.set(def.idx, rec.scenario(def.name, def.endpoint, def.model));
    for (let i = 0; i < b.started; i++) rec.started();
    slot.open += b.started;
    for (let i = 0; i + 1 < b.tokens.length; i += 2) {
      const s = slot.series.get(b.tokens[i] as number);
      if (s) rec.tokensArrived(s, b.tokens[i + 1] as number);
    }
    for (const idx of b.dropped) {
      const s = slot.series.get(idx);
      if (s) rec.dropped(s);
    }
    for (const x of b.records) {
      const s = slot.series.get(x.s);
      if (!s) continue;
      slot.open--;
      if (this.d.requestLog?.offer(x.r, x.body)) x.r.sampled = true;
      rec.record(s, x.r, x.live);
      this.d.onRecord?.(x.r);
    }
    if (b.inFlight >= 0) slot.inFlight = b.inFlight;
    if (b.sent >= 0) slot.sent = b.sent;
  }

  /** The open-loop rate asked for now (the gauge), as the in-process engine computes it: rate times the profile's multiple. */
  private publishTargetRate(): void {
    let rate = this.loadNow.rate;
    if (this.profile && this.spec.kind !== 'replay') {
      rate *= this.profile.multipleAt(this.profileOriginNs === undefined ? 0 : (Number(process.hrtime.bigint()) - this.profileOriginNs) / 1e9);
    }
    this.d.recorder.setTargetRate(rate);
  }

  /** A worker's pino line, written by the main thread's logger. */
  private forwardLog(line: string): void {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    // Bindings this logger adds itself (component) or that say nothing here (time, pid, host) are dropped.
    const { level, msg, time: _time, pid: _pid, hostname: _hostname, component: _component, app: _app, ...fields } = o;
    const text = typeof msg === 'string' ? msg : '';
    const n = typeof level === 'number' ? level : 30;
    if (n >= 50) this.log.error(fields, text);
    else if (n >= 40) this.log.warn(fields, text);
    else if (n >= 30) this.log.info(fields, text);
    else this.log.debug(fields, text);
  }

  private post(slot: WorkerSlot, m: ToWorker): void {
    slot.worker?.postMessage(m);
  }

  private each(m: (i: number) => ToWorker): void {
    this.slots.forEach((slot, i) => this.post(slot, m(i)));
  }

  /**
   * Resolves once every worker has built its engine (a start() before it is
   * queued and acted on then); rejects with the first worker's error.
   */
  ready(): Promise<void> {
    return Promise.all(this.readiness).then(() => undefined);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.publishTargetRate();
    this.profileGauge = setInterval(() => {
      if (this.profile) this.publishTargetRate();
    }, PROFILE_GAUGE_MS);
    this.profileGauge.unref();
    this.each(() => ({ type: 'start' }));
  }

  get load(): TrafficLoad {
    return { ...this.loadNow };
  }

  setRate(rps: number): void {
    this.loadNow.rate = rps;
    this.publishTargetRate();
    const n = this.slots.length;
    this.each(() => ({ type: 'setRate', rps: rps / n }));
  }

  setUsers(users: number, thinkTimeMs = this.loadNow.thinkTimeMs): void {
    this.loadNow.users = Math.max(0, Math.floor(users));
    this.loadNow.thinkTimeMs = thinkTimeMs;
    const n = this.slots.length;
    this.each((i) => ({ type: 'setUsers', users: usersShare(this.loadNow.users, i, n), thinkTimeMs }));
  }

  get rateProfile(): RateProfile | undefined {
    return this.profile;
  }

  setProfile(profile: RateProfile | undefined): void {
    if (profile === this.profile) return;
    this.profile = profile;
    this.publishTargetRate();
    this.each(() => ({ type: 'setProfile', profile: profile ? profileSpec(profile) : null }));
  }

  get workloadSpec(): WorkloadSpec {
    return this.spec;
  }

  setWorkload(spec: WorkloadSpec): void {
    this.spec = spec;
    this.each(() => ({ type: 'setWorkload', spec }));
  }

  setModel(model: string): void {
    this.model = model;
    this.each(() => ({ type: 'setModel', model }));
  }

  get inFlightCount(): number {
    return this.slots.reduce((a, s) => a + s.inFlight, 0);
  }

  get requestsSent(): number {
    return this.sentBefore + this.slots.reduce((a, s) => a + s.sent, 0);
  }

  /** Each running worker's last heap report (every 5 s), by worker index. */
  heapStats(): ({ worker: number } & WorkerHeap)[] {
    return this.slots.flatMap((s, worker) => (s.heap ? [{ worker, ...s.heap }] : []));
  }

  async stop(drainMs: number): Promise<{ drained: number; cancelled: number }> {
    this.stopping = true;
    this.running = false;
    if (this.profileGauge) clearInterval(this.profileGauge);
    const results = await Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<{ drained: number; cancelled: number }>((resolve) => {
            const w = slot.worker;
            if (!w) return resolve({ drained: 0, cancelled: 0 });
            const late = setTimeout(() => {
              this.log.warn('a traffic worker did not stop in time: terminated');
              void w.terminate();
            }, drainMs + STOP_GRACE_MS);
            slot.stopped = (r) => {
              clearTimeout(late);
              slot.stopped = undefined;
              resolve(r);
            };
            this.post(slot, { type: 'stop', drainMs });
          }),
      ),
    );
    await Promise.all(this.slots.map((s) => s.worker?.terminate()));
    return results.reduce((a, r) => ({ drained: a.drained + r.drained, cancelled: a.cancelled + r.cancelled }), { drained: 0, cancelled: 0 });
  }
}
