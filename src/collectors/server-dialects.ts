/**
 * Which metric of which LLM server means what (REFERENCE.md's table, checked
 * against the servers' own expositions). For every normalised figure the
 * alternatives are tried in order; the first that is present wins (newer name
 * first, older name after).
 */

export type Dialect = 'vllm' | 'sglang' | 'tgi' | 'llamacpp' | 'triton';
export const DIALECTS: readonly Dialect[] = ['vllm', 'sglang', 'tgi', 'llamacpp', 'triton'];

/** One metric, optionally only its samples whose labels equal `match`. */
export interface Source {
  name: string;
  match?: Readonly<Record<string, string>>;
}

/** A ratio computed from two gauges (Triton KV blocks used / max). */
export interface RatioSource {
  num: Source;
  den: Source;
}

/** A mean from two cumulative values: Δsum / Δcount over the scrape interval. */
export interface MeanSource {
  sum: string;
  count: string;
}

export interface DialectSpec {
  /** Metric-name prefixes that identify the server. */
  prefixes: readonly string[];
  /** Label carrying the model name, if the server labels by model. */
  modelLabel?: string;
  /** Gauges, summed over label sets of one model. */
  waiting: readonly Source[];
  running: readonly Source[];
  /** Ratio 0–1, the MAX over label sets of one model (the fullest engine). */
  kvUsage: ReadonlyArray<Source | RatioSource>;
  /** Counters (or histogram _sum series, which are cumulative too). */
  preemptions: readonly Source[];
  promptTokens: readonly Source[];
  generationTokens: readonly Source[];
  ttft: readonly MeanSource[];
  itl: readonly MeanSource[];
  /** Prefix-cache hits and queries counters (hit ratio = Δhits / Δqueries). */
  prefixCache: ReadonlyArray<{ hits: string; queries: string }>;
  /** A hit-rate gauge the server computes itself (0–1), averaged over label sets. */
  prefixCacheGauge: readonly Source[];
}

const hist = (base: string): MeanSource => ({ sum: `${base}_sum`, count: `${base}_count` });

export const DIALECT_SPECS: Readonly<Record<Dialect, DialectSpec>> = {
  vllm: {
    prefixes: ['vllm:'],
    modelLabel: 'model_name',
    waiting: [{ name: 'vllm:num_requests_waiting' }],
    running: [{ name: 'vllm:num_requests_running' }],
    // kv_cache_usage_perc is a 0–1 fraction despite its name; gpu_cache_usage_perc before v0.10
    kvUsage: [{ name: 'vllm:kv_cache_usage_perc' }, { name: 'vllm:gpu_cache_usage_perc' }],
    preemptions: [{ name: 'vllm:num_preemptions_total' }],
    promptTokens: [{ name: 'vllm:prompt_tokens_total' }],
    generationTokens: [{ name: 'vllm:generation_tokens_total' }],
    ttft: [hist('vllm:time_to_first_token_seconds')],
    itl: [hist('vllm:inter_token_latency_seconds'), hist('vllm:time_per_output_token_seconds')],
    prefixCache: [
      { hits: 'vllm:prefix_cache_hits_total', queries: 'vllm:prefix_cache_queries_total' },
      { hits: 'vllm:gpu_prefix_cache_hits_total', queries: 'vllm:gpu_prefix_cache_queries_total' },
    ],
    prefixCacheGauge: [{ name: 'vllm:gpu_prefix_cache_hit_rate' }],
  },
  sglang: {
    prefixes: ['sglang:'],
    modelLabel: 'model_name',
    waiting: [{ name: 'sglang:num_queue_reqs' }],
    running: [{ name: 'sglang:num_running_reqs' }],
    kvUsage: [{ name: 'sglang:token_usage' }],
    preemptions: [{ name: 'sglang:num_retracted_requests_total' }, { name: 'sglang:num_retracted_reqs_total' }],
    promptTokens: [{ name: 'sglang:prompt_tokens_total' }],
    generationTokens: [{ name: 'sglang:generation_tokens_total' }],
    ttft: [hist('sglang:time_to_first_token_seconds')],
    itl: [hist('sglang:inter_token_latency_seconds'), hist('sglang:time_per_output_token_seconds')],
    prefixCache: [],
    prefixCacheGauge: [{ name: 'sglang:cache_hit_rate' }],
  },
  tgi: {
    prefixes: ['tgi_'],
    waiting: [{ name: 'tgi_queue_size' }],
    running: [{ name: 'tgi_batch_current_size' }],
    kvUsage: [],
    preemptions: [],
    // per-request histograms: their _sum is the cumulative token count
    promptTokens: [{ name: 'tgi_request_input_length_sum' }],
    generationTokens: [{ name: 'tgi_request_generated_tokens_sum' }],
    ttft: [],
    // a histogram of each request's mean time per token: Δsum/Δcount is a mean of
    // per-request means (requests weigh equally, not tokens)
    itl: [hist('tgi_request_mean_time_per_token_duration')],
    prefixCache: [],
    prefixCacheGauge: [],
  },
  llamacpp: {
    prefixes: ['llamacpp:'],
    waiting: [{ name: 'llamacpp:requests_deferred' }],
    running: [{ name: 'llamacpp:requests_processing' }],
    kvUsage: [{ name: 'llamacpp:kv_cache_usage_ratio' }],
    preemptions: [],
    promptTokens: [{ name: 'llamacpp:prompt_tokens_total' }],
    generationTokens: [{ name: 'llamacpp:tokens_predicted_total' }],
    ttft: [],
    // decode seconds per generated token over the interval (server-side time per token)
    itl: [{ sum: 'llamacpp:tokens_predicted_seconds_total', count: 'llamacpp:tokens_predicted_total' }],
    prefixCache: [],
    prefixCacheGauge: [],
  },
  triton: {
    prefixes: ['nv_trt_llm_', 'nv_inference_', 'nv_llm_'],
    modelLabel: 'model',
    waiting: [
      { name: 'nv_trt_llm_request_metrics', match: { request_type: 'waiting' } },
      // older Triton: pending requests per model (every model of an ensemble counts)
      { name: 'nv_inference_pending_request_count' },
    ],
    running: [
      { name: 'nv_trt_llm_request_metrics', match: { request_type: 'active' } },
      { name: 'nv_trt_llm_request_metrics', match: { request_type: 'scheduled' } },
    ],
    kvUsage: [
      { name: 'nv_trt_llm_kv_cache_block_metrics', match: { kv_cache_block_type: 'fraction' } },
      {
        num: { name: 'nv_trt_llm_kv_cache_block_metrics', match: { kv_cache_block_type: 'used' } },
        den: { name: 'nv_trt_llm_kv_cache_block_metrics', match: { kv_cache_block_type: 'max' } },
      },
    ],
    preemptions: [],
    promptTokens: [{ name: 'nv_llm_input_token_len_sum' }],
    generationTokens: [{ name: 'nv_llm_output_token_len_sum' }],
    ttft: [],
    itl: [],
    prefixCache: [],
    prefixCacheGauge: [],
  },
};

/** Every metric name any dialect reads (the parse keeps only these lines). */
export const WANTED_NAMES: ReadonlySet<string> = (() => {
  const s = new Set<string>();
  const src = (x: Source | RatioSource): void => {
    if ('name' in x) s.add(x.name);
    else {
      s.add(x.num.name);
      s.add(x.den.name);
    }
  };
  for (const d of DIALECTS) {
    const spec = DIALECT_SPECS[d];
    for (const list of [spec.waiting, spec.running, spec.kvUsage, spec.preemptions, spec.promptTokens, spec.generationTokens, spec.prefixCacheGauge]) list.forEach(src);
    for (const m of [...spec.ttft, ...spec.itl]) {
      s.add(m.sum);
      s.add(m.count);
    }
    for (const p of spec.prefixCache) {
      s.add(p.hits);
      s.add(p.queries);
    }
  }
  return s;
})();

/** The dialect whose prefixes most metric names carry; undefined when none does. */
export function detectDialect(names: Iterable<string>): Dialect | undefined {
  const score = new Map<Dialect, number>();
  for (const n of names) {
    for (const d of DIALECTS) {
      if (DIALECT_SPECS[d].prefixes.some((p) => n.startsWith(p))) score.set(d, (score.get(d) ?? 0) + 1);
    }
  }
  let best: Dialect | undefined;
  let bestScore = 0;
  for (const d of DIALECTS) {
    const s = score.get(d) ?? 0;
    if (s > bestScore) {
      best = d;
      bestScore = s;
    }
  }
  return best;
}
