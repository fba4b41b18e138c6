import { Registry, collectDefaultMetrics, Gauge } from 'prom-client';
import { VERSION } from '../version.js';

/**
 * The one registry the daemon serves on /metrics. Every writer (recorder,
 * collectors, analyzer) registers its metrics here once at start-up.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  // prom-client's process_* and nodejs_* series, event-loop lag included
  // (monitored with a 10 ms resolution histogram by perf_hooks).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  // These three are gauges named *_total, which Prometheus' naming rules (and
  // `promtool check metrics`) reject; the handle/request counts add little.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  // prom-client reports heap and external memory but not array buffers (typed arrays, Buffers): part of RSS V8's heap does not show.
  new Gauge({
    name: 'llmsoak_process_array_buffers_bytes',
    help: 'Bytes of ArrayBuffers and Buffers of this process (process.memoryUsage().arrayBuffers).',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage().arrayBuffers);
    },
  });
  const info = new Gauge({
    name: 'llmsoak_build_info',
    help: 'llmsoak build information; always 1.',
    labelNames: ['version', 'node'] as const,
    registers: [registry],
  });
  info.labels(VERSION, process.versions.node).set(1);
  return registry;
}
