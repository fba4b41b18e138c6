/**
 * Cron schedules from config (node-cron): a nightly ramp that pauses the soak
 * and resumes it, a daily soak report, … Jobs never overlap, neither with
 * themselves nor with each other nor with any other mode run: a job that
 * comes due while something runs is skipped and logged. Runs node-cron
 * reports as missed (the process was blocked or asleep past the time) are
 * logged and counted. What each job did last and when it runs next is in
 * snapshot() (served at /api/schedules).
 */
import { createTask, type ScheduledTask, type TaskContext, type TaskOptions } from 'node-cron';
import { type Clock, systemClock } from '../clock.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { ScheduleConfig } from '../config/modes.js';

/** What a job run produced. */
export interface JobOutcome {
  /** Report name (served at /api/reports/<name>.html). */
  report?: string;
  /** The report's verdict. */
  pass?: boolean;
}

export interface LastRun {
  startedAt: string;
  endedAt?: string;
  outcome: 'running' | 'pass' | 'fail' | 'error';
  report?: string;
  error?: string;
}

export interface ScheduleStatus {
  name: string;
  cron: string;
  timezone?: string;
  kind: string;
  pauseSoak: boolean;
  /** The next times it comes due, ISO 8601 (3 at most). */
  nextRuns: string[];
  running: boolean;
  lastRun: LastRun | null;
  runs: number;
  /** Came due while something else (or itself) was running. */
  skipped: number;
  /** node-cron could not fire it on time (blocked event loop, suspended host). */
  missed: number;
  lastSkippedAt?: string;
  lastMissedAt?: string;
}

export interface SchedulerDeps {
  logger: Logger;
  /** Run one job to its end. */
  run: (job: ScheduleConfig) => Promise<JobOutcome>;
  /** What else is running now (a bench or another mode run), or undefined when nothing is. */
  busy: () => string | undefined;
  /** The cron tasks (node-cron's by default; unit tests pass tasks they fire themselves). */
  createTask?: CronTaskFactory;
  /** For the times in lastRun (the system clock by default). */
  clock?: Clock;
}

/** What the scheduler uses of a node-cron task. */
export type CronTask = Pick<ScheduledTask, 'start' | 'destroy' | 'getNextRuns' | 'on'>;
export type CronTaskFactory = (cron: string, fire: (ctx: TaskContext) => Promise<void>, options: TaskOptions) => CronTask;

interface Job {
  cfg: ScheduleConfig;
  task: CronTask;
  status: ScheduleStatus;
}

export class Scheduler {
  private readonly log: Logger;
  private readonly jobs: Job[] = [];
  private current: { name: string; done: Promise<void> } | undefined;
  private stopped = false;
  private readonly clock: Clock;

  constructor(
    schedules: ScheduleConfig[],
    private readonly deps: SchedulerDeps,
  ) {
    this.log = deps.logger.child({ component: 'schedule' });
    this.clock = deps.clock ?? systemClock;
    const create: CronTaskFactory = deps.createTask ?? createTask;
    const cronLog = this.log.child({ component: 'node-cron' });
    const logger = {
      info: (m: string) => cronLog.debug(m),
      warn: (m: string) => cronLog.debug(m),
      error: (m: string | Error) => cronLog.warn({ err: m instanceof Error ? m : undefined }, typeof m === 'string' ? m : m.message),
      debug: (m: string | Error) => cronLog.debug(typeof m === 'string' ? m : m.message),
    };
    for (const cfg of schedules) {
      const task = create(cfg.cron, (ctx: TaskContext) => this.fire(cfg.name, ctx.date), {
        name: `llmsoak-${cfg.name}`,
        noOverlap: true,
        logger,
        ...(cfg.timezone !== undefined ? { timezone: cfg.timezone } : {}),
      });
      const status: ScheduleStatus = {
        name: cfg.name,
        cron: cfg.cron,
        ...(cfg.timezone !== undefined ? { timezone: cfg.timezone } : {}),
        kind: cfg.mode.kind,
        pauseSoak: cfg.pauseSoak,
        nextRuns: [],
        running: false,
        lastRun: null,
        runs: 0,
        skipped: 0,
        missed: 0,
      };
      const job: Job = { cfg, task, status };
      task.on('execution:missed', (ctx) => {
        status.missed++;
        status.lastMissedAt = ctx.date.toISOString();
        this.log.warn({ schedule: cfg.name, dueAt: ctx.date.toISOString() }, `schedule ${cfg.name}: missed the run due at ${ctx.date.toISOString()} (the process was blocked or suspended past it)`);
      });
      task.on('execution:overlap', (ctx) => this.skip(job, ctx.date, `${cfg.name} itself is still running`));
      this.jobs.push(job);
    }
  }

  start(): void {
    for (const j of this.jobs) j.task.start();
    if (this.jobs.length > 0) {
      this.log.info({ schedules: this.snapshot().map((s) => ({ name: s.name, cron: s.cron, next: s.nextRuns[0] })) }, `${this.jobs.length} schedule(s) started`);
    }
  }

  /** Is a job running now? Its name. */
  get running(): string | undefined {
    return this.current?.name;
  }

  private skip(job: Job, due: Date, why: string): void {
    job.status.skipped++;
    job.status.lastSkippedAt = due.toISOString();
    this.log.warn({ schedule: job.cfg.name, dueAt: due.toISOString(), reason: why }, `schedule ${job.cfg.name}: run due at ${due.toISOString()} skipped: ${why}`);
  }

  private async fire(name: string, due: Date): Promise<void> {
    const job = this.jobs.find((j) => j.cfg.name === name);
    if (job === undefined || this.stopped) return;
    const other = this.current?.name ?? this.deps.busy();
    if (other !== undefined) {
      this.skip(job, due, `${other} is still running`);
      return;
    }
    const st = job.status;
    const last: LastRun = { startedAt: new Date(this.clock.wallMs()).toISOString(), outcome: 'running' };
    st.lastRun = last;
    st.running = true;
    st.runs++;
    this.log.info({ schedule: name, kind: job.cfg.mode.kind, pauseSoak: job.cfg.pauseSoak }, `schedule ${name}: ${job.cfg.mode.kind} starting`);
    let resolveDone: () => void = () => undefined;
    this.current = { name, done: new Promise<void>((r) => (resolveDone = r)) };
    try {
      const out = await this.deps.run(job.cfg);
      last.outcome = out.pass === false ? 'fail' : 'pass';
      if (out.report !== undefined) last.report = out.report;
      this.log.info({ schedule: name, report: out.report, pass: out.pass }, `schedule ${name}: done${out.report !== undefined ? `, report ${out.report}` : ''}`);
    } catch (err) {
      last.outcome = 'error';
      last.error = errorMessage(err);
      this.log.error({ schedule: name, err }, `schedule ${name}: failed: ${errorMessage(err)}`);
    } finally {
      last.endedAt = new Date(this.clock.wallMs()).toISOString();
      st.running = false;
      this.current = undefined;
      resolveDone();
    }
  }

  snapshot(): ScheduleStatus[] {
    return this.jobs.map((j) => ({
      ...j.status,
      nextRuns: this.stopped ? [] : j.task.getNextRuns(3).map((d) => d.toISOString()),
      ...(j.status.lastRun ? { lastRun: { ...j.status.lastRun } } : {}),
    }));
  }

  /** No new runs; wait for the one running (the caller aborts it first). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const j of this.jobs) await j.task.destroy();
    await this.current?.done;
  }
}
