/** llama.cpp server with --metrics: its metric names (as the server's own /metrics exposes them; samples: test/fixtures/collectors/server/llamacpp.txt). */
import type { DialectSpec } from './server-dialect.js';

export const llamacppDialect: DialectSpec<'llamacpp'> = {
  name: 'llamacpp',
  summary: 'llama.cpp server with --metrics',
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
};
