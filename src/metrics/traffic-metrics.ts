/**
 * The traffic series of the metric contract (DESIGN.md), registered once.
 * Buckets are chosen for LLM latencies and always include the SLO thresholds,
 * so latency SLOs can be computed exactly from the histograms.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SloConfig } from './slo.js';

const LABELS = ['scenario', 'endpoint', 'model'] as const;

const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60];
const ITL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5];
const E2E_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600];
const LAG_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const CHUNK_TOKEN_BUCKETS = [1, 2, 3, 4, 6, 8, 12, 16, 32, 64];
/** Request phases span loopback writes (tens of µs) to a slow server's wait (minutes). */
const PHASE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Buckets plus the threshold (seconds), sorted and unique. */
export function withThreshold(buckets: number[], thresholdSec: number): number[] {
  return [...new Set([...buckets, thresholdSec])].sort((a, b) => a - b);
}

export class TrafficMetrics {
  readonly requests: Counter<'scenario' | 'endpoint' | 'model' | 'outcome'>;
  readonly errors: Counter<'scenario' | 'endpoint' | 'model' | 'class'>;
  readonly good: Counter<'scenario' | 'endpoint' | 'model'>;
  readonly dropped: Counter<'scenario' | 'endpoint' | 'model'>;
  readonly inputTokens: Counter<'scenario' | 'endpoint' | 'model'>;
  readonly outputTokens: Counter<'scenario' | 'endpoint' | 'model'>;
  readonly tokenSource: Counter<'scenario' | 'endpoint' | 'model' | 'source'>;
  readonly ttft: Histogram<'scenario' | 'endpoint' | 'model'>;
  readonly itl: Histogram<'scenario' | 'endpoint' | 'model'>;
  readonly tpot: Histogram<'scenario' | 'endpoint' | 'model'>;
  readonly e2e: Histogram<'scenario' | 'endpoint' | 'model'>;
  readonly corrected: Histogram<'scenario' | 'endpoint' | 'model'>;
  readonly scheduleLag: Histogram<'scenario' | 'endpoint' | 'model'>;
  readonly tokensPerChunk: Histogram<'scenario' | 'endpoint' | 'model'>;
  readonly phase: Histogram<'phase' | 'scenario'>;
  readonly inFlight: Gauge;
  readonly targetRate: Gauge;
  readonly tokenizerError: Gauge<'scenario' | 'endpoint' | 'model'>;

  constructor(registry: Registry, slo: SloConfig) {
    const registers = [registry];
    this.requests = new Counter({ name: 'llmsoak_requests_total', help: 'Requests finished, by outcome (ok or an error class).', labelNames: [...LABELS, 'outcome'], registers });
    this.errors = new Counter({ name: 'llmsoak_request_errors_total', help: 'Failed requests by error class.', labelNames: [...LABELS, 'class'], registers });
    this.good = new Counter({ name: 'llmsoak_good_requests_total', help: 'Requests that met every SLO (TTFT, TPOT, E2E); rate() of it is goodput.', labelNames: LABELS, registers });
    this.dropped = new Counter({ name: 'llmsoak_dropped_requests_total', help: 'Arrivals not sent because max in-flight was reached (open loop).', labelNames: LABELS, registers });
    this.inputTokens = new Counter({ name: 'llmsoak_input_tokens_total', help: 'Prompt tokens sent (usage.prompt_tokens, else tokenizer count).', labelNames: LABELS, registers });
    this.outputTokens = new Counter({
      name: 'llmsoak_output_tokens_total',
      help: 'Output tokens received, counted as their chunks arrive and reconciled with usage at the end.',
      labelNames: LABELS,
      registers,
    });
    this.tokenSource = new Counter({
      name: 'llmsoak_output_token_source_total',
      help: 'Requests by where their output token count came from (usage or tokenizer).',
      labelNames: [...LABELS, 'source'],
      registers,
    });
    this.tokenizerError = new Gauge({
      name: 'llmsoak_output_token_tokenizer_error_ratio',
      help: 'Last sampled (tokenizer count - usage count) / usage count of output tokens.',
      labelNames: LABELS,
      registers,
    });
    // enableExemplars: sampled requests (the request log's) carry their trace_id, shown when /metrics is asked for
    // OpenMetrics (src/metrics/openmetrics.ts). prom-client refuses exemplars on a registry whose default format is
    // Prometheus text, so these two are registered after construction; that format simply leaves exemplars out.
    this.ttft = new Histogram({
      name: 'llmsoak_time_to_first_token_seconds',
      help: 'Time from send to the first chunk carrying content.',
      labelNames: LABELS,
      buckets: withThreshold(TTFT_BUCKETS, slo.ttftMs / 1000),
      registers: [],
      enableExemplars: true,
    });
    registry.registerMetric(this.ttft);
    this.itl = new Histogram({ name: 'llmsoak_inter_token_latency_seconds', help: 'Every gap between content chunks, pooled.', labelNames: LABELS, buckets: ITL_BUCKETS, registers });
    this.tpot = new Histogram({
      name: 'llmsoak_time_per_output_token_seconds',
      help: '(E2E - TTFT) / (output tokens - 1), per request with more than one output token.',
      labelNames: LABELS,
      buckets: withThreshold(ITL_BUCKETS, slo.tpotMs / 1000),
      registers,
    });
    this.e2e = new Histogram({
      name: 'llmsoak_request_duration_seconds',
      help: 'End-to-end: send to last content chunk (whole response when not streamed).',
      labelNames: LABELS,
      buckets: withThreshold(E2E_BUCKETS, slo.e2eMs / 1000),
      registers: [],
      enableExemplars: true,
    });
    registry.registerMetric(this.e2e);
    this.corrected = new Histogram({
      name: 'llmsoak_request_corrected_duration_seconds',
      help: 'Intended (scheduled) send time to end, every request that ended (failed ones too): latency corrected for coordinated omission.',
      labelNames: LABELS,
      buckets: withThreshold(E2E_BUCKETS, slo.e2eMs / 1000),
      registers,
    });
    this.scheduleLag = new Histogram({
      name: 'llmsoak_schedule_lag_seconds',
      help: 'Actual send time minus intended send time (the generator falling behind).',
      labelNames: LABELS,
      buckets: LAG_BUCKETS,
      registers,
    });
    this.tokensPerChunk = new Histogram({
      name: 'llmsoak_tokens_per_chunk',
      help: 'Output tokens per content chunk, per streamed request (mean).',
      labelNames: LABELS,
      buckets: CHUNK_TOKEN_BUCKETS,
      registers,
    });
    this.phase = new Histogram({
      name: 'llmsoak_request_phase_seconds',
      help: 'Where request time went, by phase: dns, connect, tls (new connections), request_sent, headers (server wait), first_token, last_token, close.',
      labelNames: ['phase', 'scenario'],
      buckets: PHASE_BUCKETS,
      registers,
    });
    this.inFlight = new Gauge({ name: 'llmsoak_in_flight_requests', help: 'Requests sent and not yet finished.', registers });
    this.targetRate = new Gauge({ name: 'llmsoak_target_request_rate', help: 'Requests per second asked for (open loop).', registers });
  }
}
