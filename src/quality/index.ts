/**
 * Quality checks beside the soak: golden prompts (suite.ts) sent to the target
 * and scored (runner.ts, score.ts) on a schedule (scheduler.ts), exported as
 * `llmsoak_quality_score{suite}`; the analyzer's `quality_drift` rule compares
 * that score with its baseline.
 */
import type { Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { QualityConfig } from './config.js';
import { QualityRunner, type RunReport } from './runner.js';
import { QualityScheduler } from './scheduler.js';
import type { Suite } from './suite.js';

export { loadSuites } from './suite.js';
export type { QualityConfig } from './config.js';

export interface QualityChecks {
  readonly runner: QualityRunner;
  readonly scheduler: QualityScheduler;
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

/** Build and start the runner and its scheduler (the daemon calls this once traffic runs). */
export function startQualityChecks(o: { cfg: QualityConfig; suites: Suite[]; baseUrl: string; model: string; apiKey?: string; registry: Registry; logger: Logger; clock: Clock }): QualityChecks {
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
  const scheduler = new QualityScheduler({
    schedule: o.cfg.schedule,
    runOnStart: o.cfg.runOnStart,
    registry: o.registry,
    logger: o.logger,
    ...(o.cfg.intervalSec !== undefined ? { intervalSec: o.cfg.intervalSec } : {}),
    job: (signal) => runner.run(signal),
  });
  scheduler.start();
  return {
    runner,
    scheduler,
    snapshot: () => ({
      suites: o.suites.map((s) => ({ name: s.name, prompts: s.prompts.length, source: s.source })),
      schedule: o.cfg.schedule,
      intervalSec: o.cfg.intervalSec ?? null,
      nextRun: scheduler.nextRun()?.toISOString() ?? null,
      running: scheduler.running,
      runs: { ...scheduler.counts },
      lastRun: runner.lastReport ?? null,
    }),
    async stop() {
      await scheduler.stop();
      await runner.close();
    },
  };
}
