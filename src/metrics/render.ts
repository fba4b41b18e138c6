/**
 * The registry read one metric at a time, giving the event loop back between
 * metrics whenever about a millisecond of work has been done.
 *
 * prom-client's registry.metrics() and getMetricsAsJSON() build every metric
 * in one go: with ~1,700 series (llmsoak's own, collectors', phase histograms)
 * that is a 5–6 ms block each time /metrics is scraped or the sampler samples,
 * and the traffic engine's sends due in that block go out late (it was the
 * largest term of schedule lag p99 at 500 req/s). Same text, same CPU, but
 * no block longer than about a millisecond plus one metric.
 *
 * Default labels are not applied here: llmsoak's registry has none.
 */
import type { Metric, MetricObjectWithValues, MetricValue, Registry } from 'prom-client';
import { performance } from 'node:perf_hooks';

/** Work done between yields, ms. */
const SLICE_MS = 1;

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Visits every metric of the registry in registration order, yielding to the event loop between slices of work. */
async function eachMetric<T>(registry: Registry, fn: (name: string, metric: Metric) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let sliceStart = performance.now();
  // The names first: a metric registered while we yield is picked up next time, one removed is skipped.
  for (const { name } of registry.getMetricsAsArray()) {
    const metric = registry.getSingleMetric(name);
    if (metric === undefined) continue;
    out.push(await fn(name, metric));
    if (performance.now() - sliceStart >= SLICE_MS) {
      await yieldToLoop();
      sliceStart = performance.now();
    }
  }
  return out;
}

/** The Prometheus text exposition, as registry.metrics() renders it. */
export async function renderPrometheusText(registry: Registry): Promise<string> {
  const parts = await eachMetric(registry, (name) => registry.getSingleMetricAsString(name));
  return `${parts.join('\n\n')}\n`;
}

/** The registry as JSON, as registry.getMetricsAsJSON() gives it. */
export async function metricsAsJson(registry: Registry): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
  return eachMetric(registry, async (_name, metric) => (await metric.get()) as MetricObjectWithValues<MetricValue<string>>);
}
