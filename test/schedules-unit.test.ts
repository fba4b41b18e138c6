/**
 * The scheduler's rules on a fake clock, with cron tasks the test fires itself
 * (no wall-clock wait): a run's record and times, never two runs at once (a
 * job due while another, itself or a mode run is running is skipped, logged
 * and counted), missed runs logged and counted, a failing or failed run
 * recorded as such, and stop() waiting for the running job and ending the rest;
 * side jobs (quality checks) beside them.
 * The end-to-end test with node-cron's real timers is test/schedules.test.ts.
 */
import t from 'tap';
import type { TaskContext } from 'node-cron';
import { createLogger } from '../src/log.js';
import type { ScheduleConfig } from '../src/modes/config.js';
import { type CronTask, type JobOutcome, Scheduler } from '../src/schedule/scheduler.js';
import { FakeClock } from './fake-clock.js';
import { logLines } from './helpers.js';

type Handler = (ctx: TaskContext) => Promise<void> | void;

/** A cron task that comes due only when the test says so. */
class FiredTask implements CronTask {
  started = false;
  destroyed = false;
  private readonly handlers = new Map<string, Handler[]>();

  constructor(
    private readonly fire: (ctx: TaskContext) => Promise<void>,
    private readonly clock: FakeClock,
    private readonly everyMs: number,
  ) {}

  start(): void {
    this.started = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  getNextRuns(count: number): Date[] {
    const next = Math.ceil((this.clock.wallMs() + 1) / this.everyMs) * this.everyMs;
    return Array.from({ length: count }, (_, i) => new Date(next + i * this.everyMs));
  }
  on(event: string, fn: Handler): void {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn]);
  }
  /** The task comes due now: node-cron calls the job's function. */
  due(): Promise<void> {
    const date = new Date(this.clock.wallMs());
    return this.fire({ date, dateLocalIso: date.toISOString(), triggeredAt: date });
  }
  /** node-cron reports an event (missed, overlap) for the time now. */
  emit(event: string): void {
    const date = new Date(this.clock.wallMs());
    for (const fn of this.handlers.get(event) ?? []) void fn({ date, dateLocalIso: date.toISOString(), triggeredAt: date });
  }
}

/** A run the test ends when it wants. */
interface Pending {
  job: string;
  end: (out: JobOutcome) => void;
  fail: (err: Error) => void;
}

function setup(busy: () => string | undefined = () => undefined) {
  const clock = new FakeClock(Date.parse('2026-12-07T00:00:00Z'));
  const { stream: sink, lines } = logLines();
  const tasks = new Map<string, FiredTask>();
  const runs: Pending[] = [];
  const schedules: ScheduleConfig[] = [
    { name: 'ramp-job', cron: '0 0 2 * * *', pauseSoak: true, mode: { kind: 'ramp' } } as ScheduleConfig,
    { name: 'soak-report', cron: '0 0 * * * *', pauseSoak: false, mode: { kind: 'soak' } } as ScheduleConfig,
  ];
  const scheduler = new Scheduler(schedules, {
    logger: createLogger('info', sink),
    clock,
    busy,
    run: (job) =>
      new Promise<JobOutcome>((resolve, reject) => {
        runs.push({ job: job.name, end: resolve, fail: reject });
      }),
    createTask: (cron, fire, options) => {
      const task = new FiredTask(fire, clock, cron.startsWith('0 0 2') ? 86_400_000 : 3_600_000);
      tasks.set(String(options.name).replace(/^llmsoak-/, ''), task);
      return task;
    },
  });
  const task = (name: string): FiredTask => {
    const x = tasks.get(name);
    if (x === undefined) throw new Error(`no task ${name}`);
    return x;
  };
  const status = (name: string) => {
    const s = scheduler.snapshot().find((x) => x.name === name);
    if (s === undefined) throw new Error(`no schedule ${name}`);
    return s;
  };
  return { clock, lines, runs, scheduler, task, status };
}

t.test('a run: started, its report and verdict, the times on the clock', async (t) => {
  const { clock, runs, scheduler, task, status } = setup();
  scheduler.start();
  t.ok(task('ramp-job').started && task('soak-report').started, 'every task started');
  t.same(status('soak-report').nextRuns, ['2026-12-07T01:00:00.000Z', '2026-12-07T02:00:00.000Z', '2026-12-07T03:00:00.000Z'], 'the next three runs');
  const done = task('ramp-job').due();
  t.equal(scheduler.running, 'ramp-job');
  t.match(status('ramp-job'), { running: true, runs: 1, lastRun: { startedAt: '2026-12-07T00:00:00.000Z', outcome: 'running' } });
  await clock.advance(5000);
  runs[0]?.end({ report: 'ramp-20261207', pass: true });
  await done;
  t.equal(scheduler.running, undefined);
  t.match(status('ramp-job'), {
    running: false,
    runs: 1,
    skipped: 0,
    lastRun: { startedAt: '2026-12-07T00:00:00.000Z', endedAt: '2026-12-07T00:00:05.000Z', outcome: 'pass', report: 'ramp-20261207' },
  });
});

t.test('never two at once: a job due while another, itself or a mode run is running is skipped, logged and counted', async (t) => {
  let modeRun: string | undefined;
  const { clock, lines, runs, scheduler, task, status } = setup(() => modeRun);
  scheduler.start();
  const ramp = task('ramp-job').due();
  await clock.advance(1000);
  await task('soak-report').due();
  t.equal(runs.length, 1, 'the soak report did not start');
  t.match(status('soak-report'), { runs: 0, skipped: 1, lastSkippedAt: '2026-12-07T00:00:01.000Z' });
  t.ok(
    lines.some((l) => l.includes('schedule soak-report: run due at 2026-12-07T00:00:01.000Z skipped: ramp-job is still running')),
    'the skip is logged with its reason',
  );
  task('ramp-job').emit('execution:overlap');
  t.match(status('ramp-job'), { runs: 1, skipped: 1 });
  t.ok(
    lines.some((l) => l.includes('skipped: ramp-job itself is still running')),
    'its own overlap is a skip too',
  );
  runs[0]?.end({ report: 'ramp-1', pass: true });
  await ramp;

  modeRun = 'bench';
  await task('soak-report').due();
  t.equal(runs.length, 1, 'not while a bench runs');
  t.match(status('soak-report'), { runs: 0, skipped: 2 });
  t.ok(lines.some((l) => l.includes('skipped: bench is still running')));
  modeRun = undefined;

  const soak = task('soak-report').due();
  t.equal(runs.length, 2, 'once nothing runs, it runs');
  runs[1]?.end({ report: 'soak-1', pass: true });
  await soak;
  const events = lines.map((l) => /"msg":"schedule ([a-z-]+): (?:(?:ramp|soak) (starting)|(done|failed))/.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  t.same(
    events.map((m) => `${m[1]}:${m[2] ?? m[3]}`),
    ['ramp-job:starting', 'ramp-job:done', 'soak-report:starting', 'soak-report:done'],
    'start, end, start, end',
  );
});

t.test('a missed run (the process blocked past its time) is logged and counted', async (t) => {
  const { clock, lines, scheduler, task, status } = setup();
  scheduler.start();
  await clock.advance(3_600_000);
  task('soak-report').emit('execution:missed');
  t.match(status('soak-report'), { missed: 1, runs: 0, lastMissedAt: '2026-12-07T01:00:00.000Z' });
  t.ok(lines.some((l) => l.includes('"level":40') && l.includes('schedule soak-report: missed the run due at 2026-12-07T01:00:00.000Z')));
});

t.test('a run that fails its verdict is "fail"; one that throws is "error", with its message', async (t) => {
  const { runs, scheduler, task, status } = setup();
  scheduler.start();
  const first = task('ramp-job').due();
  runs[0]?.end({ report: 'ramp-1', pass: false });
  await first;
  t.match(status('ramp-job').lastRun, { outcome: 'fail', report: 'ramp-1' });
  const second = task('ramp-job').due();
  runs[1]?.fail(new Error('target unreachable'));
  await second;
  t.match(status('ramp-job').lastRun, { outcome: 'error', error: 'target unreachable' });
  t.equal(status('ramp-job').running, false);
  t.equal(scheduler.running, undefined, 'a failure frees the slot');
});

t.test('stop: waits for the running job, ends every task, and nothing fires after', async (t) => {
  const { runs, scheduler, task, status } = setup();
  scheduler.start();
  const ramp = task('ramp-job').due();
  let stopped = false;
  const stopping = scheduler.stop().then(() => {
    stopped = true;
  });
  await new Promise((r) => setImmediate(r));
  t.notOk(stopped, 'stop waits while the job runs');
  runs[0]?.end({ report: 'ramp-1', pass: true });
  await ramp;
  await stopping;
  t.ok(stopped);
  t.ok(task('ramp-job').destroyed && task('soak-report').destroyed, 'every task destroyed');
  await task('soak-report').due();
  t.equal(runs.length, 1, 'a task that still fires after stop runs nothing');
  t.same(status('soak-report').nextRuns, [], 'no next runs once stopped');
});

t.test('side jobs (quality checks): start even without the mode schedules, run beside a mode run, end at stop', async (t) => {
  const { runs, scheduler, task } = setup(() => 'a ramp from the API');
  let triggered = 0;
  scheduler.addSideJob({
    name: 'quality checks',
    cron: '0 * * * *',
    runOnStart: true,
    trigger: async () => {
      triggered++;
    },
  });
  scheduler.start({ schedules: false });
  t.ok(task('quality checks').started, 'the side job started');
  t.notOk(task('ramp-job').started, 'the mode schedules did not (llmsoak bench)');
  t.equal(triggered, 1, 'once at start (runOnStart)');
  t.equal(scheduler.nextSideRun('quality checks')?.toISOString(), '2026-12-07T01:00:00.000Z', 'its next run, from its task');
  await task('quality checks').due();
  t.equal(triggered, 2, 'due while a mode run is running, it runs: only its own trigger decides on overlap');
  t.equal(runs.length, 0, 'no mode job ran');
  await scheduler.stop();
  t.ok(task('quality checks').destroyed, 'stop ends it');
  t.equal(scheduler.nextSideRun('quality checks'), null, 'and it has no next run');
});
