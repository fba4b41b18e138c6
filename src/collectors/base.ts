/**
 * The loop every collector runs in.
 *
 * - Own interval, driven by setTimeout (unref'd): a run starts only after the
 *   previous one ended, so runs never overlap; the next run is scheduled
 *   `intervalMs` after the previous one *started* (minus nothing if it ran
 *   longer), or after `nextDelayMs` when the run asked for it (e.g. "no GPU,
 *   look again in 5 minutes").
 * - Every run is bounded by `timeoutMs`: past it the run is abandoned (its
 *   AbortSignal fires), counted as a failure, and while the abandoned work has
 *   still not settled later runs are skipped and counted as failures too, so a
 *   hung syscall or FFI call cannot pile up work.
 * - Nothing throws out of the loop. Health is recorded after every run.
 * - Logging: ONE line when the collector starts failing (with the reason) and
 *   ONE when it recovers; repeated failures log at debug only.
 */
import type { Registry } from 'prom-client';
import { nsToSeconds, systemTimers, type Clock, type TimerHandle, type Timers } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { CollectorHealth, type HealthHandle } from './health.js';

export interface Collector {
  readonly name: string;
  /** Starts the collector's own loop (first run at once). Idempotent. */
  start(): void;
  /** Stops the loop, aborts a run in flight, releases resources. Idempotent. */
  stop(): Promise<void>;
  /** Runs one collection now (or joins the one in flight); never rejects. */
  collectOnce(): Promise<void>;
}

export interface RunResult {
  ok: boolean;
  /** Why it failed: one short line, logged once when the collector starts failing. */
  reason?: string;
  /** Overrides the delay before the next run of the loop, ms. */
  nextDelayMs?: number;
  /** Level of the one "failing" line: 'info' for an expected absence (no GPU on this host). */
  level?: 'info' | 'warn';
}

export interface PeriodicOptions {
  intervalMs: number;
  timeoutMs: number;
  logger: Logger;
  clock: Clock;
  /** Timers of the loop and of the per-run timeout (default: the system's; tests drive a fake clock). */
  timers?: Timers;
  registry: Registry;
}

export const OK: RunResult = Object.freeze({ ok: true });

export function fail(reason: string, extra?: Omit<RunResult, 'ok' | 'reason'>): RunResult {
  return { ok: false, reason, ...extra };
}

export abstract class PeriodicCollector implements Collector {
  readonly name: string;
  protected readonly log: Logger;
  protected readonly clock: Clock;
  private readonly timers: Timers;
  protected readonly intervalMs: number;
  protected readonly timeoutMs: number;
  private readonly health: HealthHandle;
  private timer: TimerHandle | undefined;
  private started = false;
  private stopped = false;
  private current: Promise<RunResult> | undefined;
  private abandoned: Promise<RunResult> | undefined;
  private inflight: AbortController | undefined;
  private state: 'new' | 'ok' | 'failing' = 'new';
  private failingSinceNs = 0n;

  constructor(name: string, opts: PeriodicOptions) {
    this.name = name;
    this.intervalMs = opts.intervalMs;
    this.timeoutMs = opts.timeoutMs;
    this.clock = opts.clock;
    this.timers = opts.timers ?? systemTimers;
    this.log = opts.logger.child({ component: 'collector', collector: name });
    this.health = CollectorHealth.for(opts.registry).bind(name);
  }

  /** One collection. Should honour `signal` and write nothing once it fired. */
  protected abstract collect(signal: AbortSignal): Promise<RunResult>;

  /** Releases resources (children, native handles, sockets) on stop. */
  protected async dispose(): Promise<void> {
    // nothing by default
  }

  protected get isStopped(): boolean {
    return this.stopped;
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.arm(0);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.inflight?.abort(new Error('collector stopping'));
    if (this.current !== undefined) await this.current;
    try {
      await this.dispose();
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'dispose failed');
    }
  }

  async collectOnce(): Promise<void> {
    if (this.stopped) return;
    await this.run();
  }

  private arm(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.timers.setTimeout(
      () => {
        this.timer = undefined;
        void this.tick();
      },
      Math.max(0, delayMs),
    );
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    const t0 = this.clock.monoNs();
    let next = this.intervalMs;
    try {
      const r = await this.run();
      const elapsedMs = Number(this.clock.monoNs() - t0) / 1e6;
      next = r.nextDelayMs ?? Math.max(0, this.intervalMs - elapsedMs);
    } catch (err) {
      // run() does not reject; this is only a last guard so the loop never dies
      this.log.error({ err: errorMessage(err) }, `${this.name} collector loop error`);
    }
    if (!this.stopped) this.arm(next);
  }

  private run(): Promise<RunResult> {
    if (this.current !== undefined) return this.current;
    const p: Promise<RunResult> = this.runBounded().finally(() => {
      if (this.current === p) this.current = undefined;
    });
    this.current = p;
    return p;
  }

  private async runBounded(): Promise<RunResult> {
    const t0 = this.clock.monoNs();
    let result: RunResult;
    if (this.abandoned !== undefined) {
      result = fail(`previous collection still running after its ${this.timeoutMs} ms timeout`);
    } else {
      const ac = new AbortController();
      this.inflight = ac;
      const work = this.collect(ac.signal).catch((err: unknown): RunResult => fail(errorMessage(err)));
      let timer: TimerHandle | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = this.timers.setTimeout(() => resolve('timeout'), this.timeoutMs);
      });
      const raced = await Promise.race([work, timeout]);
      if (timer !== undefined) this.timers.clearTimeout(timer);
      this.inflight = undefined;
      if (raced === 'timeout') {
        ac.abort(new Error(`collection timed out after ${this.timeoutMs} ms`));
        this.abandoned = work;
        void work.finally(() => {
          if (this.abandoned === work) this.abandoned = undefined;
        });
        result = fail(`timed out after ${this.timeoutMs} ms (abandoned)`);
      } else {
        result = raced;
      }
    }
    this.health.record(result.ok, nsToSeconds(this.clock.monoNs() - t0));
    this.transition(result);
    return result;
  }

  private transition(r: RunResult): void {
    if (this.stopped) return;
    if (r.ok) {
      if (this.state === 'failing') {
        const failingForS = Math.round(nsToSeconds(this.clock.monoNs() - this.failingSinceNs));
        this.log.info({ failingForS }, `${this.name} collector recovered`);
      } else if (this.state === 'new') {
        this.log.debug(`${this.name} collector first collection succeeded`);
      }
      this.state = 'ok';
      return;
    }
    const reason = r.reason ?? 'unknown error';
    if (this.state !== 'failing') {
      this.state = 'failing';
      this.failingSinceNs = this.clock.monoNs();
      const msg = `${this.name} collector failing: ${reason}`;
      if (r.level === 'info') this.log.info({ reason }, msg);
      else this.log.warn({ reason }, msg);
    } else {
      this.log.debug({ reason }, `${this.name} collector still failing`);
    }
  }
}
