/** Triton Inference Server, TensorRT-LLM backend: its metric names (as the server's own /metrics exposes them; samples: test/fixtures/collectors/server/triton-trtllm.txt). */
import type { DialectSpec } from './server-dialect.js';

export const tritonDialect: DialectSpec<'triton'> = {
  name: 'triton',
  summary: 'Triton Inference Server, TensorRT-LLM backend',
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
};
