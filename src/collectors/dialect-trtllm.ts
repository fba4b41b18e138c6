/**
 * TensorRT-LLM's own OpenAI server (`trtllm-serve`, and Dynamo's TensorRT-LLM
 * workers), whose MetricsCollector (tensorrt_llm/metrics/collector.py)
 * exposes `trtllm_` series labelled by `model_name` (and `engine_type`). Not
 * Triton's TensorRT-LLM backend: that one speaks ./dialect-triton.ts. The
 * iteration gauges (queue, running, KV) need `enable_iter_perf_stats`; the
 * per-request histograms and token counters need `return_perf_metrics`.
 */
import { hist, type DialectSpec } from './server-dialect.js';

export const trtllmDialect: DialectSpec<'trtllm'> = {
  name: 'trtllm',
  summary: 'TensorRT-LLM trtllm-serve (its own OpenAI server)',
  prefixes: ['trtllm_'],
  modelLabel: 'model_name',
  waiting: [{ name: 'trtllm_num_requests_waiting' }],
  running: [{ name: 'trtllm_num_requests_running' }],
  // used / max KV blocks, 0–1 (the collector divides usedNumBlocks by maxNumBlocks); the block gauges as a fallback
  kvUsage: [{ name: 'trtllm_kv_cache_utilization' }, { num: { name: 'trtllm_kv_cache_used_blocks' }, den: { name: 'trtllm_kv_cache_max_blocks' } }],
  // TensorRT-LLM pauses requests rather than counting preemptions: nothing cumulative to read
  preemptions: [],
  promptTokens: [{ name: 'trtllm_prompt_tokens_total' }],
  generationTokens: [{ name: 'trtllm_generation_tokens_total' }],
  ttft: [hist('trtllm_time_to_first_token_seconds')],
  // a histogram of each request's time per output token: Δsum/Δcount is a mean of per-request means
  itl: [hist('trtllm_time_per_output_token_seconds')],
  prefixCache: [],
  // block reuse rate of the last iteration (reused / (reused + missed) blocks)
  prefixCacheGauge: [{ name: 'trtllm_kv_cache_hit_rate' }],
};
