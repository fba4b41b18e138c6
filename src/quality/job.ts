/**
 * One quality run at a time: a tick of the daemon's scheduler (src/schedule/,
 * quality.schedule or every quality.intervalSec, and once at start) that comes
 * while a run is in progress is skipped and counted. A failing run is logged
 * once when runs start failing and once when they recover (at debug in
 * between), as the collectors do.
 *
 *   llmsoak_quality_runs_total{outcome}   ok | failed | skipped
 */
import { Counter, type Registry } from 'prom-client';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

export interface QualityJobOptions {
  /** One run; throws when it failed; must stop soon after `signal` aborts. */
  job: (signal: AbortSignal) => Promise<unknown>;
  registry: Registry;
  logger: Logger;
}

export class QualityJob {
  private readonly log: Logger;
  private readonly runsTotal: Counter<'outcome'>;
  private current: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private stopped = false;
  private failing = false;
  /** Finished runs, failed runs and skipped ticks so far. */
  readonly counts = { ok: 0, failed: 0, skipped: 0 };

  constructor(private readonly o: QualityJobOptions) {
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

  /** Run now unless a run is in progress (then the tick is skipped); resolves when it ends, true if it ran. */
  async trigger(): Promise<boolean> {
    if (this.stopped) return false;
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

  /** No new runs; abort a run in progress and wait for it. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort?.abort(new Error('quality checks stopping'));
    await this.current?.catch(() => undefined);
  }
}
