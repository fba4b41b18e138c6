/** Hugging Face Text Generation Inference: its metric names (as the server's own /metrics exposes them; samples: test/fixtures/collectors/server/tgi.txt). */
import { hist, type DialectSpec } from './server-dialect.js';

export const tgiDialect: DialectSpec<'tgi'> = {
  name: 'tgi',
  summary: 'Hugging Face Text Generation Inference',
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
};
