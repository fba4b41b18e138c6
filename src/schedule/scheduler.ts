/**
 * The daemon's one scheduler: every timed job runs from here (node-cron).
 *
 * Mode schedules from config: a nightly ramp that pauses the soak and resumes
 * it, a daily soak report, … They never overlap, neither with themselves nor
 * with each other nor with any other mode run: a job that comes due while
 * something runs is skipped and logged. Runs node-cron reports as missed (the
 * process was blocked or asleep past the time) are logged and counted. What
 * each did last and when it runs next is in snapshot() (served at
 * /api/schedules).
 *
 * Side jobs (addSideJob: the quality checks) run beside the soak and the mode
 * runs; each only must not overlap itself, which its own trigger decides (and
 * counts). They start with the scheduler even when mode schedules do not
 * (`llmsoak bench`), as they always have.
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

/** A job beside the soak and the mode runs (quality checks): it must not overlap itself only, and its trigger decides that. */
export interface SideJob {
  name: string;
  /** node-cron expression (5 fields, or 6 with seconds first); ignored when everySec is set. */
  cron: string;
  /** Every this many seconds instead of the cron expression (compressed-time tests and soaks). */
  everySec?: number;
  /** Once when the scheduler starts, too. */
  runOnStart: boolean;
  /** Runs it now or skips the tick (a run in progress); never throws. */
  trigger: () => Promise<unknown>;
}

/** A task that fires every `sec` seconds, in the shape of a node-cron task (the next runs are the interval's ticks). */
function intervalTask(sec: number, fire: () => void, clock: Clock): CronTask {
  let timer: NodeJS.Timeout | undefined;
  let startedMs = 0;
  const ms = sec * 1000;
  return {
    start: () => {
      if (timer) return;
      startedMs = clock.wallMs();
      timer = setInterval(fire, ms);
      timer.unref();
    },
    destroy: () => {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    getNextRuns: (count: number) => {
      if (!timer) return [];
      const now = clock.wallMs();
      const next = startedMs + Math.ceil((now - startedMs + 1) / ms) * ms;
      return Array.from({ length: count }, (_, i) => new Date(next + i * ms));
    },
    on: () => undefined,
  };
}

export class Scheduler {
  private readonly log: Logger;
  private readonly jobs: Job[] = [];
  private readonly sideJobs: { job: SideJob; task: CronTask }[] = [];
  private readonly create: CronTaskFactory;
  private readonly cronLogger: NonNullable<TaskOptions['logger']>;
  private current: { name: string; done: Promise<void> } | undefined;
  private started = false;
  private stopped = false;
  private readonly clock: Clock;

  constructor(
    schedules: ScheduleConfig[],
    private readonly deps: SchedulerDeps,
  ) {
    this.log = deps.logger.child({ component: 'schedule' });
    this.clock = deps.clock ?? systemClock;
    const create: CronTaskFactory = deps.createTask ?? createTask;
    this.create = create;
    const cronLog = this.log.child({ component: 'node-cron' });
    const logger = {
      info: (m: string) => cronLog.debug(m),
      warn: (m: string) => cronLog.debug(m),
      error: (m: string | Error) => cronLog.warn({ err: m instanceof Error ? m : undefined }, typeof m === 'string' ? m : m.message),
      debug: (m: string | Error) => cronLog.debug(typeof m === 'string' ? m : m.message),
    };
    this.cronLogger = logger;
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

  /** Adds a side job; it starts with the scheduler (at once when the scheduler runs already). */
  addSideJob(job: SideJob): void {
    if (this.stopped) return;
    const fire = (): void => void job.trigger();
    // The task only triggers; overlap is the job's to decide, so node-cron never sees a long task.
    const task =
      job.everySec !== undefined
        ? intervalTask(job.everySec, fire, this.clock)
        : this.create(job.cron, () => Promise.resolve(fire()), { name: `llmsoak-${job.name}`, logger: this.cronLogger, unref: true });
    this.sideJobs.push({ job, task });
    if (this.started) this.startSideJob(job, task);
  }

  /** When a side job runs next (null when it is not scheduled). */
  nextSideRun(name: string): Date | null {
    const s = this.sideJobs.find((x) => x.job.name === name);
    return (this.stopped ? undefined : s?.task.getNextRuns(1)[0]) ?? null;
  }

  /** Starts the side jobs, and the mode schedules unless told not to (`llmsoak bench` runs none). */
  start(opts: { schedules: boolean } = { schedules: true }): void {
    if (this.started || this.stopped) return;
    this.started = true;
    for (const { job, task } of this.sideJobs) this.startSideJob(job, task);
    if (!opts.schedules) return;
    for (const j of this.jobs) j.task.start();
    if (this.jobs.length > 0) {
      this.log.info({ schedules: this.snapshot().map((s) => ({ name: s.name, cron: s.cron, next: s.nextRuns[0] })) }, `${this.jobs.length} schedule(s) started`);
    }
  }

  private startSideJob(job: SideJob, task: CronTask): void {
    void task.start();
    this.log.info(job.everySec !== undefined ? { job: job.name, everySec: job.everySec } : { job: job.name, cron: job.cron, next: this.nextSideRun(job.name)?.toISOString() }, `${job.name} scheduled`);
    if (job.runOnStart) void job.trigger();
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
    for (const s of this.sideJobs) await s.task.destroy();
    await this.current?.done;
  }
}
