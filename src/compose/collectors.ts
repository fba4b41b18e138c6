/**
 * The collectors (host, process, GPU, target server, cost; src/collectors/)
 * and the target-change detector they feed, with a poller of the served
 * models when target.changes is on. Built here (a bad regex throws before
 * anything runs), started by start().
 */
import type { Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import { TargetChangeDetector, collectorIdentitySinks, observeServedModels } from '../analyzer/target-changes.js';
import { createCollectors as buildCollectors, type Collector } from '../collectors/index.js';
import { ModelsCollector } from '../collectors/models.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Recorder } from '../metrics/recorder.js';
import type { Target } from './target.js';

export interface Collectors {
  /** Model, version and restart changes of the target (src/analyzer/target-changes.ts); started apart (see daemon.ts). */
  changes: TargetChangeDetector;
  start(): void;
  stop(): Promise<void>;
}

export function createCollectors(cfg: Config, target: Target, o: { registry: Registry; logger: Logger; clock: Clock; recorder: Recorder; onModelChange: (served: string[]) => void }): Collectors {
  const watched: { pid?: number; processName?: string; metricsUrl?: string } = { metricsUrl: target.metricsUrl };
  if (target.pid !== undefined) watched.pid = target.pid;
  if (cfg.target.processName !== undefined) watched.processName = cfg.target.processName;
  // The embedded simulator's process is "node" by name; say what it is.
  const collectorsCfg = target.embedded && cfg.collectors.process.label === undefined ? { ...cfg.collectors, process: { ...cfg.collectors.process, label: 'llmsoak-simulator' } } : cfg.collectors;
  // Identity readings come from the collectors and the models poller; before/after figures from the recorder.
  const changes = new TargetChangeDetector({ cfg: cfg.target.changes, registry: o.registry, logger: o.logger, clock: o.clock, meters: o.recorder, onModelChange: o.onModelChange });
  const collectors: Collector[] = buildCollectors(collectorsCfg, {
    registry: o.registry,
    logger: o.logger,
    clock: o.clock,
    target: watched,
    outputTokens: () => o.recorder.totals.outputTokens,
    ...(cfg.target.changes.enabled ? { identity: collectorIdentitySinks(changes) } : {}),
  });
  if (cfg.target.changes.enabled) {
    collectors.push(
      new ModelsCollector({
        intervalMs: cfg.target.changes.modelsIntervalMs,
        timeoutMs: cfg.collectors.timeoutMs,
        logger: o.logger,
        clock: o.clock,
        registry: o.registry,
        baseUrl: target.baseUrl,
        headers: target.headers,
        onModels: (ids) => observeServedModels(changes, ids),
      }),
    );
  }
  return {
    changes,
    start: () => {
      for (const c of collectors) c.start();
    },
    stop: async () => {
      await Promise.allSettled(collectors.map((c) => c.stop()));
    },
  };
}
