/**
 * The simulator's own Prometheus registry (never the global one), with vLLM v1
 * metric names and labels (`model_name`, `engine`), plus prom-client's default
 * process metrics for the simulator's process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the engine reports at scrape time. */
export interface EngineSnapshot {
  waiting: number;
  running: number;
  /** KV-cache use, 0–1. */
  kvUsage: number;
}

/** vLLM's buckets (vllm/v1/metrics/loggers.py). */
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
const ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const REQUEST_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];

export type FinishedReason = 'stop' | 'length' | 'abort' | 'error';

interface Observer {
  observe(v: number): void;
}
interface Incrementer {
  inc(v?: number): void;
}

export class SimMetrics {
  readonly registry: Registry;
  readonly ttft: Observer;
  readonly itl: Observer;
  readonly e2e: Observer;
  readonly queueTime: Observer;
  readonly promptTokens: Incrementer;
  /** Prompt tokens looked up in the prefix cache. */
  readonly prefixCacheQueries: Incrementer;
  /** Prompt tokens served from the prefix cache. */
  readonly prefixCacheHits: Incrementer;
  readonly generationTokens: Incrementer;
  readonly preemptions: Incrementer;
  private readonly success: Record<FinishedReason, Incrementer>;

  constructor(model: string, snapshot: () => EngineSnapshot) {
    const registry = new Registry();
    this.registry = registry;
    const labels = { model_name: model, engine: '0' };
    const labelNames = ['model_name', 'engine'] as const;
    const registers = [registry];

    // Gauges are read from the engine at scrape time: nothing on the hot path.
    new Gauge({
      name: 'vllm:num_requests_waiting',
      help: 'Number of requests waiting to be processed.',
      labelNames,
      registers,
      collect() {
        this.set(labels, snapshot().waiting);
      },
    });
    new Gauge({
      name: 'vllm:num_requests_running',
      help: 'Number of requests in model execution batches.',
      labelNames,
      registers,
      collect() {
        this.set(labels, snapshot().running);
      },
    });
    new Gauge({
      name: 'vllm:kv_cache_usage_perc',
      help: 'KV-cache usage. 1 means 100 percent usage.',
      labelNames,
      registers,
      collect() {
        this.set(labels, snapshot().kvUsage);
      },
    });

    const counter = (name: string, help: string): Incrementer => {
      const child = new Counter({ name, help, labelNames, registers }).labels(labels);
      child.inc(0); // export the zero so rates work from the first scrape
      return child;
    };
    this.preemptions = counter('vllm:num_preemptions_total', 'Cumulative number of preemptions from the engine.');
    const promptTokens = counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.');
    // vLLM v1's prefix-cache counters, in prompt tokens looked up and found
    // (counted once per cacheable request, at its first admission; both stay 0 with caching off).
    this.prefixCacheQueries = counter('vllm:prefix_cache_queries_total', 'Prefix cache queries, in terms of number of queried tokens.');
    this.prefixCacheHits = counter('vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.');
    this.promptTokens = promptTokens;
    this.generationTokens = counter('vllm:generation_tokens_total', 'Number of generation tokens processed.');
    const success = new Counter({
      name: 'vllm:request_success_total',
      help: 'Count of successfully processed requests.',
      labelNames: ['model_name', 'engine', 'finished_reason'] as const,
      registers,
    });
    const reasons: FinishedReason[] = ['stop', 'length', 'abort', 'error'];
    const bound = {} as Record<FinishedReason, Incrementer>;
    for (const r of reasons) {
      const child = success.labels({ ...labels, finished_reason: r });
      child.inc(0); // export the zero so rates work from the first scrape
      bound[r] = child;
    }
    this.success = bound;

    const hist = (name: string, help: string, buckets: number[]): Observer => new Histogram({ name, help, labelNames, buckets, registers }).labels(labels);
    this.ttft = hist('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', TTFT_BUCKETS);
    this.itl = hist('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', ITL_BUCKETS);
    this.e2e = hist('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', REQUEST_BUCKETS);
    this.queueTime = hist('vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', REQUEST_BUCKETS);

    collectDefaultMetrics({ register: registry });
  }

  finished(reason: FinishedReason): void {
    this.success[reason].inc();
  }
}
