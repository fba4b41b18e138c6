/**
 * Quality checks beside the soak: golden prompts (suite.ts) sent to the target
 * and scored (runner.ts, score.ts) on a schedule (a side job of the daemon's
 * scheduler, src/schedule/; one run at a time: job.ts), exported as
 * `llmsoak_quality_score{suite}`; the analyzer's `quality_drift` rule compares
 * that score with its baseline.
 */
import type { Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { QualityConfig } from './config.js';
import { QualityRunner, type RunReport } from './runner.js';
import { QualityJob } from './job.js';
import type { Suite } from './suite.js';

export { loadSuites } from './suite.js';
export type { QualityConfig } from './config.js';

/**
 * What quality checks need of the daemon's scheduler (src/schedule/scheduler.ts, whose Scheduler is
 * one): declared here so that quality/ does not import schedule/ (which imports config/, which imports quality/).
 */
export interface SideJobScheduler {
  addSideJob(job: { name: string; cron: string; everySec?: number; runOnStart: boolean; trigger: () => Promise<unknown> }): void;
  nextSideRun(name: string): Date | null;
}

/** The side job's name (logs: "quality checks scheduled"). */
const JOB_NAME = 'quality checks';

export interface QualityChecks {
  readonly runner: QualityRunner;
  readonly job: QualityJob;
  /** For /api/status. */
  snapshot(): QualitySnapshot;
  stop(): Promise<void>;
}

export interface QualitySnapshot {
  suites: { name: string; prompts: number; source: string }[];
  schedule: string;
  intervalSec: number | null;
  nextRun: string | null;
  running: boolean;
  runs: { ok: number; failed: number; skipped: number };
  lastRun: RunReport | null;
}

/** Build the runner and add its runs to the daemon's scheduler (they start when it starts). */
export function startQualityChecks(o: {
  cfg: QualityConfig;
  suites: Suite[];
  baseUrl: string;
  model: string;
  apiKey?: string;
  registry: Registry;
  logger: Logger;
  clock: Clock;
  scheduler: SideJobScheduler;
}): QualityChecks {
  const runner = new QualityRunner({
    suites: o.suites,
    baseUrl: o.baseUrl,
    model: o.model,
    timeoutMs: o.cfg.timeoutMs,
    registry: o.registry,
    logger: o.logger,
    clock: o.clock,
    ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}),
  });
  const job = new QualityJob({ registry: o.registry, logger: o.logger, job: (signal) => runner.run(signal) });
  o.scheduler.addSideJob({
    name: JOB_NAME,
    cron: o.cfg.schedule,
    ...(o.cfg.intervalSec !== undefined ? { everySec: o.cfg.intervalSec } : {}),
    runOnStart: o.cfg.runOnStart,
    trigger: () => job.trigger(),
  });
  return {
    runner,
    job,
    snapshot: () => ({
      suites: o.suites.map((s) => ({ name: s.name, prompts: s.prompts.length, source: s.source })),
      schedule: o.cfg.schedule,
      intervalSec: o.cfg.intervalSec ?? null,
      nextRun: o.scheduler.nextSideRun(JOB_NAME)?.toISOString() ?? null,
      running: job.running,
      runs: { ...job.counts },
      lastRun: runner.lastReport ?? null,
    }),
    async stop() {
      await job.stop();
      await runner.close();
    },
  };
}
