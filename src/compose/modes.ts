/**
 * Mode runs, reports, the status page's history and the schedules
 * (src/modes/), on the soak's engine; and the golden-prompt quality checks
 * beside the soak (src/quality/).
 */
import type { Registry } from 'prom-client';
import type { Analysis } from './analyzer.js';
import { systemTimers, type Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { FailureSamples } from '../failures/samples.js';
import type { Logger } from '../log.js';
import type { Recorder } from '../metrics/recorder.js';
import { ModeController } from '../modes/controller.js';
import { soakAnalysisOf } from '../modes/soak-analysis.js';
import { startQualityChecks, type QualityChecks, type SideJobScheduler } from '../quality/index.js';
import type { Suite } from '../quality/suite.js';
import { redactUrl } from '../security/secrets.js';
import { fleetLoad } from '../traffic/soak-plan.js';
import { VERSION } from '../version.js';
import type { Target } from './target.js';
import type { SoakTraffic, TrafficPlan } from './traffic.js';
import type { ModelFollower } from '../traffic/follow-model.js';
import type { Collectors } from './collectors.js';

/** Built, not started: start({ schedules, soak }) once the quality checks run (they stop after the modes). */
export function createModes(
  cfg: Config,
  o: {
    traffic: SoakTraffic;
    plan: TrafficPlan;
    target: Target;
    /** The model at start (shown in reports); the follower has the one requested now (target.changes.followModel). */
    model: string;
    follower: ModelFollower;
    recorder: Recorder;
    analysis: Analysis;
    collectors: Collectors;
    failures: FailureSamples;
    registry: Registry;
    logger: Logger;
    clock: Clock;
    startedAtMs: number;
    scrub: (text: string) => string;
  },
): ModeController {
  const { analyzer, incidents } = o.analysis;
  return new ModeController({
    // The scenarios the preflight let through (modes build their requests from them too).
    config: { ...cfg, traffic: o.plan.kept },
    engine: o.traffic.engine,
    recorder: o.recorder,
    registry: o.registry,
    logger: o.logger,
    clock: o.clock,
    // The daemon injects no timers (its clock is for reading time): mode waits are real ones.
    timers: systemTimers,
    version: VERSION,
    startedAtMs: o.startedAtMs,
    hints: () => analyzer?.snapshot().hints ?? [],
    target: { url: redactUrl(o.target.baseUrl), model: o.model, embedded: o.target.embedded },
    // The fleet's soak load: a mode's host sends this replica's share of whatever it sets.
    soakLoad: fleetLoad(o.plan.kept),
    replicas: cfg.traffic.replicas,
    analysis: async (fromMs, toMs) => (analyzer ? soakAnalysisOf(await analyzer.period(fromMs, toMs)) : undefined),
    makeWorkload: (sc) => o.plan.scenarioWorkload(sc, o.follower.model),
    targetEvents: (fromMs, toMs) => o.collectors.changes.events(fromMs, toMs),
    incidents: (fromMs, toMs) => incidents?.entries(fromMs, toMs) ?? [],
    failures: (fromMs, toMs) => o.failures.snapshot(fromMs, toMs),
    scrub: o.scrub,
  });
}

/** Golden prompts beside the soak, scored into llmsoak_quality_score{suite}; undefined without suites. */
export function createQuality(
  cfg: Config,
  suites: Suite[],
  o: { baseUrl: string; model: string; registry: Registry; logger: Logger; clock: Clock; scheduler: SideJobScheduler },
): QualityChecks | undefined {
  if (suites.length === 0) return undefined;
  return startQualityChecks({
    scheduler: o.scheduler,
    cfg: cfg.quality,
    suites,
    baseUrl: o.baseUrl,
    model: o.model,
    registry: o.registry,
    logger: o.logger,
    clock: o.clock,
    ...(cfg.target.apiKey ? { apiKey: cfg.target.apiKey } : {}),
  });
}
