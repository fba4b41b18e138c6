/**
 * Shared health series of every collector (one place):
 *   llmsoak_collector_last_success{collector}     1 if the last run succeeded, else 0
 *   llmsoak_collector_duration_seconds{collector} wall time of the last run
 *   llmsoak_collector_failures_total{collector}   runs that failed or were abandoned
 */
import type { Counter, Gauge, Registry } from 'prom-client';
import { getOrCreateCounter, getOrCreateGauge } from './metrics-util.js';

export interface HealthHandle {
  /** Records one finished (or abandoned) run. */
  record(ok: boolean, durationSeconds: number): void;
}

export class CollectorHealth {
  private static readonly perRegistry = new WeakMap<Registry, CollectorHealth>();

  /** One instance per registry, so several createCollectors() calls share the series. */
  static for(registry: Registry): CollectorHealth {
    let h = CollectorHealth.perRegistry.get(registry);
    if (h === undefined) {
      h = new CollectorHealth(registry);
      CollectorHealth.perRegistry.set(registry, h);
    }
    return h;
  }

  private readonly lastSuccess: Gauge<'collector'>;
  private readonly duration: Gauge<'collector'>;
  private readonly failures: Counter<'collector'>;

  private constructor(registry: Registry) {
    this.lastSuccess = getOrCreateGauge(registry, 'llmsoak_collector_last_success', 'Whether the last collection of this collector succeeded (1) or not (0).', ['collector']);
    this.duration = getOrCreateGauge(registry, 'llmsoak_collector_duration_seconds', 'Wall-clock duration of the last collection of this collector, in seconds.', ['collector']);
    this.failures = getOrCreateCounter(registry, 'llmsoak_collector_failures_total', 'Collections of this collector that failed or were abandoned after their timeout.', ['collector']);
  }

  bind(collector: string): HealthHandle {
    const last = this.lastSuccess.labels({ collector });
    const dur = this.duration.labels({ collector });
    const fail = this.failures.labels({ collector });
    fail.inc(0);
    return {
      record(ok: boolean, durationSeconds: number): void {
        last.set(ok ? 1 : 0);
        dur.set(durationSeconds);
        if (!ok) fail.inc();
      },
    };
  }
}
