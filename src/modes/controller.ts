/**
 * The daemon's mode runs, reports and schedules in one place: runs one mode
 * at a time on the daemon's engine (pausing the soak or adding to it), writes
 * each report to the report directory, keeps the soak's own meter for
 * periodic soak reports, the live history of the status page, and the cron
 * schedules. The daemon builds it once traffic exists and stops it first.
 */
import type { Registry } from 'prom-client';
import type { Clock, TimerHandle, Timers } from '../clock.js';
import type { Config, ScenarioConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Hint } from '../analyzer/hint.js';
import type { Meter, Recorder } from '../metrics/recorder.js';
import type { Traffic } from '../traffic/traffic.js';
import type { WorkloadSpec } from '../traffic/workload-spec.js';
import type { FailureEntry, IncidentEntry, Plot, Report, RunEvent } from '../report/model.js';
import { join } from 'node:path';
import { listReports, writeReport, type ReportListing, type WrittenReport } from '../report/write.js';
import { LiveHistory, statusInput } from '../report/live.js';
import { renderStatusPage } from '../report/status-page.js';
import { Scheduler, type JobOutcome, type ScheduleStatus } from '../schedule/scheduler.js';
import { LlmsoakError, errorMessage } from '../errors.js';
import type { ModeConfig, ScheduleConfig } from './config.js';
import { DaemonModeHost } from './host.js';
import { describeMode, runMode } from './index.js';
import { analyseSoak, soakPeriodReport } from './soak.js';
import { capPoints, type SoakAnalysis } from './soak-analysis.js';

export interface ControllerDeps {
  config: Config;
  engine: Traffic;
  recorder: Recorder;
  registry: Registry;
  hints: () => Hint[];
  target: { url: string; model: string; embedded: boolean };
  logger: Logger;
  clock: Clock;
  /** The waits of mode runs and the final report's timeout (systemTimers in the daemon). */
  timers: Timers;
  version: string;
  startedAtMs: number;
  /** The soak's load, the fleet's (a replica sends its share). */
  soakLoad: { rate: number; users: number; thinkTimeMs: number };
  /** Scale-out: this replica of the fleet (default: the only one). */
  replicas?: { index: number; count: number };
  /** The analyzer's trends and hints over a period (soak reports), when an analyzer runs. */
  analysis?: (fromMs: number, toMs: number) => Promise<SoakAnalysis | undefined>;
  makeWorkload: (scenarios: ScenarioConfig[]) => WorkloadSpec;
  /** History points every this many ms (default 5000). */
  historyStepMs?: number;
  /** Target changes and incidents, for every report (src/analyzer/target-changes.ts, incidents.ts). */
  targetEvents?: (fromMs: number, toMs: number) => RunEvent[];
  incidents?: (fromMs: number, toMs: number) => IncidentEntry[];
  /** Takes secrets out of the report files (the target may echo a key into a model id or an error). */
  scrub?: (text: string) => string;
  /** Failures in the server's words seen in [fromMs, toMs] (src/failures/), for every report and the status page. */
  failures?: (fromMs: number, toMs: number) => FailureEntry[];
}

export interface RunOptions {
  /** Pause the soak while the mode runs (default true). */
  pauseSoak?: boolean;
  /** Where the report goes (default the configured report.dir). */
  dir?: string;
  /** Who asked, for logs and the status page (a schedule's name, "bench"). */
  by?: string;
}

export class ModeController {
  private readonly log: Logger;
  private readonly live: LiveHistory;
  /** The daemon's one scheduler: mode schedules, and side jobs others add (quality checks). */
  readonly scheduler: Scheduler;
  private current: { label: string; host: DaemonModeHost; done: Promise<unknown> } | undefined;
  private activityText: string;
  /** The soak's own figures since the last soak report (detached while a mode pauses the soak). */
  private soakMeter: Meter | undefined;
  private soakFromMs: number;
  private soakPausedMs = 0;
  private pausedSinceMs: number | undefined;

  constructor(private readonly d: ControllerDeps) {
    this.log = d.logger.child({ component: 'modes' });
    this.live = new LiveHistory(d.recorder, d.clock, d.historyStepMs ?? 5000);
    this.scheduler = new Scheduler(d.config.schedules, {
      logger: d.logger,
      run: (job) => this.runScheduled(job),
      busy: () => this.current?.label,
    });
    this.activityText = this.soakText();
    this.soakFromMs = d.clock.wallMs();
  }

  get reportDir(): string {
    return this.d.config.report.dir;
  }

  /** What runs now, for the status page and /api/status. */
  get activity(): string {
    return this.activityText;
  }

  private soakText(): string {
    const l = this.d.soakLoad;
    if (this.d.config.traffic.replay) return `soak: replaying ${this.d.config.traffic.replay.file}`;
    const fleet = (this.d.replicas?.count ?? 1) > 1 ? ` for the fleet (replica ${this.d.replicas?.index} of ${this.d.replicas?.count})` : '';
    return l.users > 0 ? `soak ${l.users} users${fleet}` : `soak ${l.rate} req/s${fleet}`;
  }

  /** Start the live history, the soak meter, the scheduler's side jobs and (unless told not to) the mode schedules. */
  start(opts: { schedules: boolean; soak: boolean }): void {
    this.live.start();
    if (opts.soak) {
      this.soakMeter = this.d.recorder.openMeter();
      this.soakFromMs = this.d.clock.wallMs();
    } else this.activityText = 'idle';
    this.scheduler.start({ schedules: opts.schedules });
  }

  /** Name of what runs now (a mode run or a schedule), or undefined. */
  get busy(): string | undefined {
    return this.current?.label ?? this.scheduler.running;
  }

  private host(): DaemonModeHost {
    const cfg = this.d.config;
    return new DaemonModeHost({
      engine: this.d.engine,
      recorder: this.d.recorder,
      registry: this.d.registry,
      hints: this.d.hints,
      target: this.d.target,
      ...(this.d.targetEvents ? { targetEvents: this.d.targetEvents } : {}),
      ...(this.d.incidents ? { incidents: this.d.incidents } : {}),
      ...(this.d.failures ? { failures: this.d.failures } : {}),
      slo: cfg.slo,
      logger: this.d.logger,
      clock: this.d.clock,
      timers: this.d.timers,
      soakLoad: this.d.soakLoad,
      ...(this.d.replicas !== undefined ? { replicas: this.d.replicas } : {}),
      ...(this.d.analysis !== undefined ? { analysis: this.d.analysis } : {}),
      makeWorkload: this.d.makeWorkload,
      scenarios: cfg.traffic.scenarios,
      setActivity: (text) => {
        this.activityText = text;
      },
    });
  }

  /**
   * Run one mode to its end and write its report. One at a time: a second
   * call while one runs is refused (LLMSOAK_ERR_USAGE-like busy error).
   */
  async run(mode: ModeConfig, opts: RunOptions = {}): Promise<{ report: Report; name: string; files: Omit<WrittenReport, 'name'> }> {
    if (this.current !== undefined) throw new LlmsoakError('LLMSOAK_ERR_USAGE', `cannot start ${mode.kind}: ${this.current.label} is still running`);
    const pauseSoak = opts.pauseSoak ?? true;
    const label = `${opts.by ?? mode.kind}: ${describeMode(mode)}`;
    const host = this.host();
    let resolveDone: () => void = () => undefined;
    this.current = { label, host, done: new Promise<void>((r) => (resolveDone = r)) };
    this.log.info({ mode: mode.kind, by: opts.by, pauseSoak }, `${label}: starting${pauseSoak ? ' (soak paused)' : ''}`);
    if (pauseSoak) this.pauseSoakMeter();
    host.begin(pauseSoak);
    try {
      const report = await runMode(host, mode);
      const { name, ...files } = await writeReport(opts.dir ?? this.reportDir, report, this.d.scrub, this.d.config.report.formats);
      this.log.info({ report: name, pass: report.verdict.pass, failures: report.verdict.failures, knee: report.knee }, `${label}: done, report ${files.html}`);
      return { report, name, files };
    } finally {
      host.end();
      if (pauseSoak) this.resumeSoakMeter();
      this.activityText = this.soakMeter ? this.soakText() : 'idle';
      this.current = undefined;
      resolveDone();
    }
  }

  private pauseSoakMeter(): void {
    if (!this.soakMeter) return;
    this.d.recorder.closeMeter(this.soakMeter);
    this.pausedSinceMs = this.d.clock.wallMs();
  }

  private resumeSoakMeter(): void {
    if (!this.soakMeter) return;
    this.d.recorder.attachMeter(this.soakMeter);
    if (this.pausedSinceMs !== undefined) this.soakPausedMs += this.d.clock.wallMs() - this.pausedSinceMs;
    this.pausedSinceMs = undefined;
  }

  /** A report of the soak since the last one (or the start), written to the report directory; the soak meter starts afresh. */
  async soakReport(dir = this.reportDir): Promise<{ report: Report; name: string }> {
    const meter = this.soakMeter;
    if (!meter) throw new LlmsoakError('LLMSOAK_ERR_USAGE', 'no soak is running');
    const now = this.d.clock.wallMs();
    const from = this.soakFromMs;
    const measuredSec = Math.max(0, (now - from - this.soakPausedMs) / 1000);
    this.live.sample();
    const hist = this.live.history(from, now);
    const timeseries: Plot[] = [];
    if (hist.length > 1) {
      timeseries.push({ name: 'TTFT p99 (history steps)', unit: 'seconds', points: capPoints(hist.map((h) => [h.t, h.p99TtftSec])) });
      timeseries.push({ name: 'Completed requests per second', unit: 'req/s', points: capPoints(hist.map((h) => [h.t, h.rps])) });
    }
    const host = this.host();
    const parameters = { periodSec: Math.round((now - from) / 1000), pausedSec: Math.round(this.soakPausedMs / 1000) };
    // The figures are read at `now`, before the analysis awaits: the next period starts there.
    const report = soakPeriodReport(host, meter, { fromMs: from, toMs: now, measuredSec, timeseries, parameters });
    meter.reset(now);
    this.soakFromMs = now;
    this.soakPausedMs = 0;
    const events: Report['events'] = [];
    const analysis = await analyseSoak(host, from, now, events);
    if (analysis !== undefined) {
      report.trends = analysis.trends;
      report.hints = analysis.hints;
      report.timeseries.push(...analysis.timeseries);
    }
    report.events.push(...events);
    const { name, html } = await writeReport(dir, report, this.d.scrub, this.d.config.report.formats);
    this.log.info({ report: name, pass: report.verdict.pass, requests: report.totals.requests }, `soak report ${html}`);
    return { report, name };
  }

  /**
   * The last soak report, on stop (after traffic has drained, so its totals
   * are final): the soak since the previous report. Bounded by `timeoutMs`;
   * a failure or a timeout is one log line and the stop goes on.
   */
  async finalSoakReport(timeoutMs: number): Promise<void> {
    if (!this.soakMeter) return;
    this.resumeSoakMeter();
    let timer: TimerHandle | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = this.d.timers.setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const got = await Promise.race([this.soakReport().then((r) => r.name), timeout]);
      if (got === 'timeout') this.log.warn(`final soak report not written within ${timeoutMs} ms; stopping without it`);
      else this.log.info({ report: got }, `final soak report ${join(this.reportDir, `${got}.html`)}`);
    } catch (err) {
      this.log.warn(`final soak report failed (${errorMessage(err)}); stopping without it`);
    } finally {
      if (timer !== undefined) this.d.timers.clearTimeout(timer);
      this.d.recorder.closeMeter(this.soakMeter);
      this.soakMeter = undefined;
    }
  }

  private async runScheduled(job: ScheduleConfig): Promise<JobOutcome> {
    if (job.mode.kind === 'soak') {
      const { report, name } = await this.soakReport();
      return { report: name, pass: report.verdict.pass };
    }
    const { report, name } = await this.run(job.mode, { pauseSoak: job.pauseSoak, by: `schedule ${job.name}` });
    return { report: name, pass: report.verdict.pass };
  }

  schedules(): ScheduleStatus[] {
    return this.scheduler.snapshot();
  }

  reports(): Promise<ReportListing[]> {
    return listReports(this.reportDir);
  }

  /** The live page at `/`. */
  async statusPage(): Promise<string> {
    return renderStatusPage(
      statusInput({
        version: this.d.version,
        startedAtMs: this.d.startedAtMs,
        nowMs: this.d.clock.wallMs(),
        target: this.d.target,
        mode: this.activityText,
        targetRate: this.d.engine.load.rate,
        recorder: this.d.recorder,
        windowMs: this.d.config.metrics.windowMs,
        hints: this.d.hints(),
        reports: await this.reports(),
        history: this.live.history(),
        failures: this.d.failures?.(-Infinity, Infinity) ?? [],
      }),
    );
  }

  /**
   * Stop: no new schedules, abort the mode running (it still writes what it
   * measured), stop the history. The soak meter stays attached, so that the
   * requests that end while traffic drains count in finalSoakReport().
   */
  async stop(): Promise<void> {
    const cur = this.current;
    cur?.host.abort();
    await this.scheduler.stop();
    await cur?.done.catch(() => undefined);
    this.live.stop();
  }
}
