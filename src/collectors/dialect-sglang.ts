/** SGLang: its metric names (as the server's own /metrics exposes them; samples: test/fixtures/collectors/server/sglang.txt). */
import { hist, type DialectSpec } from './server-dialect.js';

export const sglangDialect: DialectSpec<'sglang'> = {
  name: 'sglang',
  summary: 'SGLang',
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
};
