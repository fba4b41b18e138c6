/**
 * When quality runs happen: on a node-cron schedule (default hourly), or every
 * `intervalSec` seconds when that is set (compressed-time tests), plus once at
 * start. Runs never overlap: a tick that comes while a run is in progress is
 * skipped and counted. A failing run is logged once when runs start failing
 * and once when they recover (at debug in between), as the collectors do.
 *
 *   llmsoak_quality_runs_total{outcome}   ok | failed | skipped
 */
import { createTask, type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import { Counter, type Registry } from 'prom-client';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

export interface QualitySchedulerOptions {
  /** Cron expression (node-cron syntax); used when intervalSec is not set. */
  schedule: string;
  intervalSec?: number;
  /** Run once at start(). */
  runOnStart: boolean;
  /** One run; throws when it failed; must stop soon after `signal` aborts. */
  job: (signal: AbortSignal) => Promise<unknown>;
  registry: Registry;
  logger: Logger;
}

export class QualityScheduler {
  private readonly log: Logger;
  private readonly runsTotal: Counter<'outcome'>;
  private task: ScheduledTask | undefined;
  private interval: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private started = false;
  private failing = false;
  /** Finished runs, failed runs and skipped ticks so far. */
  readonly counts = { ok: 0, failed: 0, skipped: 0 };

  constructor(private readonly o: QualitySchedulerOptions) {
    this.log = o.logger.child({ component: 'quality' });
    this.runsTotal = new Counter({
      name: 'llmsoak_quality_runs_total',
      help: 'Quality runs by outcome: ok, failed (some checks got no answer, or the run broke), skipped (the previous run was still going).',
      labelNames: ['outcome'],
      registers: [o.registry],
    });
    for (const k of ['ok', 'failed', 'skipped']) this.runsTotal.labels(k).inc(0);
  }

  /** A run is in progress. */
  get running(): boolean {
    return this.current !== undefined;
  }

  /** When the next scheduled run is due (cron), or null. */
  nextRun(): Date | null {
    return this.task?.getNextRun() ?? null;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const iv = this.o.intervalSec;
    if (iv !== undefined) {
      this.interval = setInterval(() => void this.trigger(), iv * 1000);
      this.interval.unref();
    } else {
      const log = this.log;
      const cronLogger: CronLogger = {
        info: (m) => log.debug(m),
        debug: (m) => log.debug(String(m)),
        warn: (m) => log.warn(m),
        error: (m, err) => log.error({ err: err ? errorMessage(err) : undefined }, String(m)),
      };
      // The task only triggers; overlap is decided here, so node-cron never sees a long task.
      this.task = createTask(
        this.o.schedule,
        () => {
          void this.trigger();
        },
        { name: 'llmsoak-quality', logger: cronLogger, unref: true },
      );
      void this.task.start();
    }
    this.log.info(iv !== undefined ? { intervalSec: iv } : { schedule: this.o.schedule, next: this.nextRun()?.toISOString() }, 'quality checks scheduled');
    if (this.o.runOnStart) void this.trigger();
  }

  /** Run now unless a run is in progress (then the tick is skipped); resolves when it ends, true if it ran. */
  async trigger(): Promise<boolean> {
    if (!this.started) return false;
    if (this.current) {
      this.counts.skipped++;
      this.runsTotal.labels('skipped').inc();
      this.log.debug('quality run still in progress: this tick is skipped');
      return false;
    }
    const ac = new AbortController();
    this.abort = ac;
    const run = this.execute(ac.signal);
    this.current = run;
    try {
      await run;
    } finally {
      this.current = undefined;
      this.abort = undefined;
    }
    return true;
  }

  private async execute(signal: AbortSignal): Promise<void> {
    try {
      await this.o.job(signal);
      this.counts.ok++;
      this.runsTotal.labels('ok').inc();
      if (this.failing) {
        this.failing = false;
        this.log.info('quality runs recovered');
      }
    } catch (err) {
      if (signal.aborted) return;
      this.counts.failed++;
      this.runsTotal.labels('failed').inc();
      if (!this.failing) {
        this.failing = true;
        this.log.warn({ err: errorMessage(err) }, `quality run failed: ${errorMessage(err)} (logged once until runs recover)`);
      } else {
        this.log.debug({ err: errorMessage(err) }, 'quality run failed again');
      }
    }
  }

  /** Stop scheduling, abort a run in progress and wait for it. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    if (this.interval) clearInterval(this.interval);
    this.interval = undefined;
    if (this.task) await this.task.destroy();
    this.task = undefined;
    this.abort?.abort(new Error('quality checks stopping'));
    await this.current?.catch(() => undefined);
  }
}
