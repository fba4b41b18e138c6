/** vLLM (v1; v0 names as fallbacks): its metric names (as the server's own /metrics exposes them; samples: test/fixtures/collectors/server/vllm-v1-a.txt, vllm-v0.txt). */
import { hist, type DialectSpec } from './server-dialect.js';

export const vllmDialect: DialectSpec<'vllm'> = {
  name: 'vllm',
  summary: 'vLLM (v1; v0 names as fallbacks)',
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
};
