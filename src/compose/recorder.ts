/** The traffic recorder (src/metrics/): the only writer of traffic figures. On stop it logs the soak's final totals. */
import type { Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { Recorder } from '../metrics/recorder.js';

export function createRecorder(cfg: Config, o: { registry: Registry; logger: Logger; clock: Clock }): { recorder: Recorder; stop(): void } {
  const recorder = new Recorder(o.registry, {
    slo: cfg.slo,
    windowMs: cfg.metrics.windowMs,
    clock: o.clock,
    maxLabelValues: cfg.metrics.maxLabelValues,
    onLabelFold: (label, value, max) =>
      o.logger.warn({ label, value, max }, `more than ${max} distinct ${label} label values: later ones are exported as "other" (metrics.maxLabelValues); logged once`),
  });
  return { recorder, stop: () => o.logger.info({ totals: recorder.totals }, 'final totals') };
}
