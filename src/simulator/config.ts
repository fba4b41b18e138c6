/**
 * Configuration of the built-in simulator: an OpenAI-compatible server with a
 * continuous-batching performance model and fault injection.
 *
 * `simulatorConfigSchema` is the single source of truth for defaults and
 * bounds: the main config embeds it (ajv, useDefaults), and
 * `resolveSimulatorConfig` / the admin API validate against it with the small
 * interpreter at the bottom of this file, so the three never disagree.
 *
 * Benchmark setting ("near-zero service time"): `engine.timeScale: 0`. Every
 * engine step then takes no simulated time; tokens come out as fast as the
 * event loop can write them, and what is measured is the HTTP/SSE path alone.
 */

import { ConfigError } from '../errors.js';

/**
 * The performance model of the simulated inference engine (see engine.ts).
 *
 * The defaults look like an 8B model under vLLM on one data-centre GPU. Under
 * llmsoak's default scenario mix (prompts ~600 tokens on average, outputs
 * ~125) they give, measured: at 2 req/s TTFT p50 ~35 ms / p90 ~170 ms and ITL
 * p50 ~14.5 ms; at 20 req/s ITL p50 ~20 ms with ~100 ms steps while long
 * prompts prefill; the knee near 30 req/s (KV cache ~0.98 full, queue time
 * rising); at 40 req/s the queue grows without bound, the KV cache is full
 * and preemptions start.
 */
export interface EngineConfig {
  /** Concurrent sequences in the running batch (vLLM max_num_seqs; vLLM's default too). Default 256. */
  maxNumSeqs: number;
  /** KV-cache capacity, tokens; a running sequence holds prompt + generated tokens. Default 131072. */
  kvCacheTokens: number;
  /** Prefill speed, prompt tokens per second; a step's prefilled tokens add tokens / rate to it. Default 25000. */
  prefillTokensPerSec: number;
  /** Most prompt tokens prefilled in one step (chunked prefill, as vLLM's max_num_batched_tokens); longer prompts take several steps. Default 2048. */
  maxPrefillTokensPerStep: number;
  /** Fixed part of a step, ms (weights read once per step: memory-bandwidth bound). Default 14. */
  decodeStepBaseMs: number;
  /** Extra step time per sequence producing a token in the step, ms. Default 0.1. */
  decodeStepPerSeqMs: number;
  /** Waiting-queue capacity, requests (not counting those the free batch slots will take at the next step); arrivals beyond it get HTTP 429. Default 512. */
  maxQueue: number;
  /** Context length, tokens: prompt + max_tokens above it is a 400 (as vLLM does). Default 8192. */
  maxModelLen: number;
  /**
   * Multiplier on every step duration (prefill and decode). Default 1.
   * 0.1 = a ten times faster GPU; 0 = zero service time (benchmarks of the HTTP path).
   * The slowdown fault's added time is not scaled.
   */
  timeScale: number;
  /** Mean natural output length, tokens, when ignore_eos is false (log-normal draw, capped by max_tokens). Default 160. */
  outputTokensMean: number;
  /** Sigma of the log-normal output-length distribution (0 = always the mean). Default 0.6. */
  outputTokensSigma: number;
  /**
   * Automatic prefix caching (vLLM's, block-granular; see prefix-cache.ts): a
   * prompt's leading full blocks already computed are not prefilled again.
   * Default true.
   */
  prefixCaching: boolean;
  /** Tokens per KV block, the granularity of prefix-cache hits (vLLM's default block size). Default 16. */
  blockSize: number;
  /** Blocks the prefix cache keeps (least recently used evicted first). Default 8192 (= the default KV cache / 16). */
  prefixCacheBlocks: number;
}

/** Grow the simulator's resident memory (Buffers written page by page, kept referenced). */
export interface LeakFault {
  /** Growth rate, MiB per minute. Default 60. */
  mbPerMinute: number;
}
/** Decode step time grows linearly with time since the fault was set. */
export interface SlowdownFault {
  /** Added step time per minute since the fault was set, ms/min. Default 5. */
  decodeMsPerMinute: number;
}
/** Answer some requests with an HTTP error in OpenAI's error shape (decided on arrival). */
export interface ErrorsFault {
  /** Probability per request, 0–1. Default 0.1. */
  rate: number;
  /** HTTP status of the error, 400–599. Default 500. */
  status: number;
}
/** Mid-response, send nothing for `seconds`, then continue (tokens produced meanwhile arrive in a burst). */
export interface StallFault {
  /** Probability per request, 0–1. Default 0.05. */
  rate: number;
  /** Length of the stall, s. Default 5. */
  seconds: number;
}
/** Mid-response, reset the TCP connection (RST). */
export interface ResetFault {
  /** Probability per request, 0–1. Default 0.05. */
  rate: number;
}
/** Mid-stream, send one SSE event whose data is not valid JSON (non-stream: a truncated JSON body). */
export interface MalformedFault {
  /** Probability per request, 0–1. Default 0.05. */
  rate: number;
}
/** Synchronous busy work on arrival (a slow tokenizer / frontend), blocking the event loop. */
export interface CpuBoundFault {
  /** Busy time per request, ms. Default 5. */
  msPerRequest: number;
}
/** Override the KV-cache budget with a smaller one (more preemptions and queueing). */
export interface KvPressureFault {
  /** KV-cache capacity while the fault is on, tokens. Default 4096. */
  kvCacheTokens: number;
}

/** Answer recognised golden prompts (see answers.ts) wrongly: quality drift. */
export interface QualityFault {
  /** Probability per recognised request of a wrong answer, 0–1. Default 0.2. */
  rate: number;
}

/** Faults that are on. A fault present here is on; absent is off. */
export interface FaultsConfig {
  leak?: LeakFault;
  slowdown?: SlowdownFault;
  errors?: ErrorsFault;
  stall?: StallFault;
  reset?: ResetFault;
  malformed?: MalformedFault;
  cpuBound?: CpuBoundFault;
  kvPressure?: KvPressureFault;
  quality?: QualityFault;
}

export type FaultName = keyof FaultsConfig;

export const FAULT_NAMES: readonly FaultName[] = ['leak', 'slowdown', 'errors', 'stall', 'reset', 'malformed', 'cpuBound', 'kvPressure', 'quality'];

export interface SimulatorConfig {
  /** Listen address. Default '127.0.0.1'. */
  host: string;
  /** Listen port (0 = ephemeral). Default 18000. */
  port: number;
  /** The one model name served; any other name in a request is a 404. Default 'sim-llama-3-8b'. */
  model: string;
  /** Performance model. */
  engine: EngineConfig;
  /** Faults on from the start (each can be changed at runtime through /admin/faults). Default: none. */
  faults: FaultsConfig;
  /** Length of /v1/embeddings vectors, floats. Default 768. */
  embeddingDim: number;
  /** Seed of the simulator's random draws (output lengths, words, fault dice); same seed, same sequence. Default 1. */
  seed: number;
  /** Largest accepted request body, bytes; larger is a 413. Default 33554432 (32 MiB). */
  maxBodyBytes: number;
}

// ---------------------------------------------------------------------------
// JSON Schema (draft-07 subset) — defaults and bounds live here only.

/** The subset of JSON Schema used here (and understood by `applySchema`). */
export interface JsonSchema {
  type: 'object' | 'number' | 'integer' | 'string' | 'boolean';
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean;
  required?: string[];
}

const rate = (def: number): JsonSchema => ({
  type: 'number',
  minimum: 0,
  maximum: 1,
  default: def,
  description: 'probability per request, 0–1',
});

function faultSchema(description: string, properties: Record<string, JsonSchema>): JsonSchema {
  return { type: 'object', description, additionalProperties: false, properties };
}

/** Schema of the `faults` object (also what POST /admin/faults accepts, plus `null` to clear one). */
export const faultsSchema: JsonSchema = {
  type: 'object',
  description: 'Faults on from the start; a fault present is on. Change at runtime via /admin/faults.',
  additionalProperties: false,
  default: {},
  properties: {
    leak: faultSchema('grow resident memory', {
      mbPerMinute: { type: 'number', minimum: 0, default: 60, description: 'MiB per minute' },
    }),
    slowdown: faultSchema('decode step time grows linearly with time since set', {
      decodeMsPerMinute: { type: 'number', minimum: 0, default: 5, description: 'ms added per minute' },
    }),
    errors: faultSchema('HTTP errors on arrival, OpenAI error shape', {
      rate: rate(0.1),
      status: { type: 'integer', minimum: 400, maximum: 599, default: 500, description: 'HTTP status' },
    }),
    stall: faultSchema('mid-response, send nothing for `seconds`', {
      rate: rate(0.05),
      seconds: { type: 'number', minimum: 0, default: 5, description: 'stall length, s' },
    }),
    reset: faultSchema('mid-response, reset the connection', { rate: rate(0.05) }),
    malformed: faultSchema('mid-stream, an SSE event whose data is not JSON', { rate: rate(0.05) }),
    cpuBound: faultSchema('busy CPU per request in one frontend thread, before the engine queue (a slow tokenizer)', {
      msPerRequest: { type: 'number', minimum: 0, default: 5, description: 'ms of busy CPU per request' },
    }),
    kvPressure: faultSchema('smaller KV-cache budget', {
      kvCacheTokens: { type: 'integer', minimum: 1, default: 4096, description: 'KV budget, tokens' },
    }),
    quality: faultSchema('wrong answers to recognised golden prompts', { rate: rate(0.2) }),
  },
};

const engineSchema: JsonSchema = {
  type: 'object',
  description: 'continuous-batching performance model',
  additionalProperties: false,
  default: {},
  properties: {
    maxNumSeqs: { type: 'integer', minimum: 1, default: 256, description: 'running batch slots' },
    kvCacheTokens: { type: 'integer', minimum: 1, default: 131072, description: 'KV-cache capacity, tokens' },
    prefillTokensPerSec: { type: 'number', exclusiveMinimum: 0, default: 25000, description: 'prefill speed, tokens/s' },
    maxPrefillTokensPerStep: { type: 'integer', minimum: 1, default: 2048, description: 'prompt tokens prefilled per step (chunked prefill)' },
    decodeStepBaseMs: { type: 'number', minimum: 0, default: 14, description: 'fixed step time, ms' },
    decodeStepPerSeqMs: { type: 'number', minimum: 0, default: 0.1, description: 'step time per batched sequence, ms' },
    maxQueue: { type: 'integer', minimum: 0, default: 512, description: 'waiting-queue capacity; beyond it 429' },
    maxModelLen: { type: 'integer', minimum: 1, default: 8192, description: 'context length, tokens' },
    timeScale: { type: 'number', minimum: 0, default: 1, description: 'multiplier on step times; 0 = zero service time' },
    outputTokensMean: { type: 'number', minimum: 1, default: 160, description: 'mean natural output length, tokens' },
    outputTokensSigma: { type: 'number', minimum: 0, default: 0.6, description: 'log-normal sigma of output length' },
    prefixCaching: { type: 'boolean', default: true, description: 'automatic prefix caching: cached leading blocks skip prefill' },
    blockSize: { type: 'integer', minimum: 1, maximum: 1024, default: 16, description: 'tokens per KV block (prefix-cache granularity)' },
    prefixCacheBlocks: { type: 'integer', minimum: 0, default: 8192, description: 'blocks the prefix cache keeps (LRU)' },
  },
};

/** JSON Schema of `SimulatorConfig` (embed as the `simulator` property of the main config schema). */
export const simulatorConfigSchema: JsonSchema = {
  type: 'object',
  description: 'built-in OpenAI-compatible simulator',
  additionalProperties: false,
  default: {},
  properties: {
    host: { type: 'string', minLength: 1, default: '127.0.0.1', description: 'listen address' },
    port: { type: 'integer', minimum: 0, maximum: 65535, default: 18000, description: 'listen port, 0 = ephemeral' },
    model: { type: 'string', minLength: 1, default: 'sim-llama-3-8b', description: 'served model name' },
    engine: engineSchema,
    faults: faultsSchema,
    embeddingDim: { type: 'integer', minimum: 1, maximum: 65536, default: 768, description: 'embedding length' },
    seed: { type: 'integer', minimum: 0, default: 1, description: 'seed of random draws' },
    maxBodyBytes: { type: 'integer', minimum: 1024, default: 33554432, description: 'largest request body, bytes' },
  },
};

export function defaultSimulatorConfig(): SimulatorConfig {
  return {
    host: '127.0.0.1',
    port: 18000,
    model: 'sim-llama-3-8b',
    engine: {
      maxNumSeqs: 256,
      kvCacheTokens: 131072,
      prefillTokensPerSec: 25000,
      maxPrefillTokensPerStep: 2048,
      decodeStepBaseMs: 14,
      decodeStepPerSeqMs: 0.1,
      maxQueue: 512,
      maxModelLen: 8192,
      timeScale: 1,
      outputTokensMean: 160,
      outputTokensSigma: 0.6,
      prefixCaching: true,
      blockSize: 16,
      prefixCacheBlocks: 8192,
    },
    faults: {},
    embeddingDim: 768,
    seed: 1,
    maxBodyBytes: 33554432,
  };
}

/**
 * Fill defaults into a partial config and validate it against the schema.
 * Throws ConfigError with every problem found.
 */
export function resolveSimulatorConfig(partial: unknown, source = 'simulator'): SimulatorConfig {
  const problems: string[] = [];
  const value = applySchema(simulatorConfigSchema, partial === undefined ? {} : structuredClone(partial), source, problems);
  if (problems.length > 0) throw new ConfigError(problems, source);
  return value as SimulatorConfig;
}

// ---------------------------------------------------------------------------
// A small interpreter of the schema subset above: fills defaults, collects
// problems as `path: message`. Behaves as ajv with useDefaults + allErrors.

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

export function applySchema(schema: JsonSchema, value: unknown, path: string, problems: string[]): unknown {
  switch (schema.type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        problems.push(`${path}: must be an object (got ${typeOf(value)})`);
        return value;
      }
      const obj = value as Record<string, unknown>;
      const props = schema.properties ?? {};
      for (const key of Object.keys(obj)) {
        if (!(key in props) && schema.additionalProperties === false) {
          problems.push(`${path}: unknown property '${key}' (allowed: ${Object.keys(props).join(', ')})`);
        }
      }
      for (const [key, sub] of Object.entries(props)) {
        if (obj[key] === undefined) {
          if (sub.default !== undefined) obj[key] = structuredClone(sub.default);
          else if (schema.required?.includes(key)) {
            problems.push(`${path}: missing required property '${key}'`);
            continue;
          } else continue;
        }
        obj[key] = applySchema(sub, obj[key], `${path}.${key}`, problems);
      }
      return obj;
    }
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        problems.push(`${path}: must be a ${schema.type} (got ${typeOf(value)})`);
        return value;
      }
      if (schema.type === 'integer' && !Number.isInteger(value)) problems.push(`${path}: must be an integer (got ${value})`);
      if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${path}: must be >= ${schema.minimum} (got ${value})`);
      if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${path}: must be <= ${schema.maximum} (got ${value})`);
      if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) problems.push(`${path}: must be > ${schema.exclusiveMinimum} (got ${value})`);
      return value;
    }
    case 'string': {
      if (typeof value !== 'string') {
        problems.push(`${path}: must be a string (got ${typeOf(value)})`);
        return value;
      }
      if (schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${path}: must have at least ${schema.minLength} character(s)`);
      return value;
    }
    case 'boolean': {
      if (typeof value !== 'boolean') problems.push(`${path}: must be a boolean (got ${typeOf(value)})`);
      return value;
    }
  }
}
