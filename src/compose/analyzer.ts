/**
 * The analysis (src/analyzer/, src/alerting/): series input (local store and
 * sampler, or Prometheus) → rules → hint tracker → Alertmanager and the
 * incident tracker, and the slices the target-change detector reads its
 * "before" figures from. Built before traffic, started once traffic runs.
 */
import type { Registry } from 'prom-client';
import { AlertmanagerNotifier } from '../alerting/alertmanager.js';
import { Analyzer, type HintSink } from '../analyzer/engine.js';
import { IncidentTracker } from '../analyzer/incidents.js';
import type { Baseline } from '../analyzer/rule.js';
import { builtInRules } from '../analyzer/rules/index.js';
import { userRule } from '../analyzer/rules/user.js';
import { chooseSeriesInput } from '../analyzer/series-input.js';
import type { TargetChangeDetector } from '../analyzer/target-changes.js';
import { HintTracker, type TrackerSnapshot } from '../analyzer/tracker.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { FailureSamples } from '../failures/samples.js';
import type { Logger } from '../log.js';
import type { Checkpointer } from '../state/checkpointer.js';
import { Teardown } from './teardown.js';

/** How long the notifier may take to send its last batch on stop, ms. */
const NOTIFIER_FLUSH_MS = 5000;

export interface Analysis {
  /** Absent when analyzer.enabled is false, or on a replica that leaves Prometheus to replica 0. */
  analyzer: Analyzer | undefined;
  incidents: IncidentTracker | undefined;
  /** Starts the notifier, the sampler and the rules' loop (the change detector's slices run from the build). */
  start(): void;
  /** The analyzer, then incidents, target changes, the notifier and the sampler, in that order. */
  stop(): Promise<void>;
}

export function createAnalysis(
  cfg: Config,
  o: {
    registry: Registry;
    logger: Logger;
    clock: Clock;
    changes: TargetChangeDetector;
    failures: FailureSamples;
    checkpointer: Checkpointer | undefined;
    /** Where alerts link back to (alerting.externalUrl, or llmsoak's own server). */
    listenUrl: string;
  },
): Analysis {
  const a = cfg.analyzer;
  // Its own stack: one stop for the daemon, the parts' order kept here.
  const parts = new Teardown(o.logger);
  const starts: (() => void)[] = [];
  const input = a.enabled ? chooseSeriesInput(a, cfg.traffic.replicas.index, { registry: o.registry, clock: o.clock, logger: o.logger, checkpointer: o.checkpointer }) : undefined;
  const sampler = input?.sampler;
  if (sampler) parts.push('sampler', () => sampler.stop());
  const sinks: HintSink[] = [];
  if (input && cfg.alerting.alertmanagers.length > 0) {
    const alerting = { ...cfg.alerting, externalUrl: cfg.alerting.externalUrl ?? o.listenUrl };
    const notifier = new AlertmanagerNotifier(alerting, { registry: o.registry, logger: o.logger, clock: o.clock, evaluationIntervalMs: a.intervalSec * 1000 });
    starts.push(() => notifier.start());
    parts.push('alertmanager notifier', () => notifier.stop(NOTIFIER_FLUSH_MS));
    sinks.push(notifier);
  }
  // The detector's slices start before traffic does; it stops after the analyzer's last evaluation and before the notifier's last flush.
  if (cfg.target.changes.enabled) o.changes.start();
  parts.push('target changes', () => o.changes.stop());
  if (!input) return { analyzer: undefined, incidents: undefined, start: () => runAll(starts), stop: () => parts.run() };

  const { src } = input;
  const tracker = new HintTracker({ registry: o.registry });
  o.checkpointer?.register({ name: 'tracker', save: () => ({ json: tracker.toSnapshot() }), restore: (d) => tracker.restore(d.json as TrackerSnapshot) });
  let analyzer: Analyzer | undefined;
  // Onset, detection and recovery of error storms, target down and latency excursions.
  const incidents = new IncidentTracker({ src, thresholds: a.thresholds, baseline: () => analyzer?.baseline, windowSec: a.windowSec, cfg: a.incidents, registry: o.registry, logger: o.logger });
  parts.push('incidents', () => incidents.idle());
  sinks.push(incidents);
  analyzer = new Analyzer({
    cfg: a,
    rules: [...builtInRules(), ...a.rules.map(userRule)],
    src,
    tracker,
    sinks,
    registry: o.registry,
    logger: o.logger,
    clock: o.clock,
    // A resumed soak keeps its start: warm-up is not repeated, windows and trends span the restart.
    runStartMs: o.checkpointer?.runInfo.startedAtMs ?? o.clock.wallMs(),
    failures: o.failures,
  });
  const built = analyzer;
  o.checkpointer?.register({
    name: 'analyzer',
    save: () => ({ json: { baseline: built.baseline ?? null } }),
    restore: (d) => {
      const b = (d.json as { baseline: Baseline | null }).baseline;
      if (b) built.restoreBaseline(b);
    },
  });
  parts.push('analyzer', () => built.stop());
  if (sampler) starts.push(() => sampler.start());
  starts.push(() => built.start());
  return { analyzer: built, incidents, start: () => runAll(starts), stop: () => parts.run() };
}

function runAll(fns: (() => void)[]): void {
  for (const f of fns) f();
}
