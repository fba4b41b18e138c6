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

import type { FromSchema } from 'json-schema-to-ts';
import { ConfigError } from '../errors.js';

// ---------------------------------------------------------------------------
// JSON Schema (draft-07 subset) — defaults and bounds live here only.

/** The subset of JSON Schema used here (and understood by `applySchema`). */
export interface JsonSchema {
  readonly type: 'object' | 'number' | 'integer' | 'string' | 'boolean';
  readonly description?: string;
  readonly default?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly minLength?: number;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly additionalProperties?: boolean;
  readonly required?: readonly string[];
}

const rate = (def: number) =>
  ({
    type: 'number',
    minimum: 0,
    maximum: 1,
    default: def,
    description: 'Probability per request, 0–1.',
  }) as const;

function faultSchema<const P extends Readonly<Record<string, JsonSchema>>>(description: string, properties: P) {
  return { type: 'object', description, additionalProperties: false, properties } as const;
}

/** Schema of the `faults` object (also what POST /admin/faults accepts, plus `null` to clear one). */
export const faultsSchema = {
  type: 'object',
  description: 'Faults on from the start; a fault present is on. Change at runtime via /admin/faults.',
  additionalProperties: false,
  default: {},
  properties: {
    leak: faultSchema("Grow the simulator's resident memory (Buffers written page by page, kept referenced).", {
      mbPerMinute: { type: 'number', minimum: 0, default: 60, description: 'Growth rate, MiB per minute.' },
    }),
    slowdown: faultSchema('Decode step time grows linearly with time since the fault was set.', {
      decodeMsPerMinute: { type: 'number', minimum: 0, default: 5, description: 'Added step time per minute since the fault was set, ms/min.' },
    }),
    errors: faultSchema("Answer some requests with an HTTP error in OpenAI's error shape (decided on arrival).", {
      rate: rate(0.1),
      status: { type: 'integer', minimum: 400, maximum: 599, default: 500, description: 'HTTP status of the error, 400–599.' },
    }),
    stall: faultSchema('Mid-response, send nothing for `seconds`, then continue (tokens produced meanwhile arrive in a burst).', {
      rate: rate(0.05),
      seconds: { type: 'number', minimum: 0, default: 5, description: 'Length of the stall, s.' },
    }),
    reset: faultSchema('Mid-response, reset the TCP connection (RST).', { rate: rate(0.05) }),
    malformed: faultSchema('Mid-stream, one SSE event whose data is not valid JSON (non-stream: a truncated JSON body).', { rate: rate(0.05) }),
    cpuBound: faultSchema('Synchronous busy work on arrival in one frontend thread, before the engine queue (a slow tokenizer), blocking its event loop.', {
      msPerRequest: { type: 'number', minimum: 0, default: 5, description: 'Busy time per request, ms.' },
    }),
    kvPressure: faultSchema('Override the KV-cache budget with a smaller one (more preemptions and queueing).', {
      kvCacheTokens: { type: 'integer', minimum: 1, default: 4096, description: 'KV-cache capacity while the fault is on, tokens.' },
    }),
    quality: faultSchema('Answer recognised golden prompts (src/simulator/answers.ts) wrongly: quality drift.', { rate: rate(0.2) }),
  },
} as const satisfies JsonSchema;

const engineSchema = {
  type: 'object',
  description: 'The continuous-batching performance model.',
  additionalProperties: false,
  default: {},
  properties: {
    maxNumSeqs: { type: 'integer', minimum: 1, default: 256, description: "Concurrent sequences in the running batch (vLLM's max_num_seqs, and its default)." },
    kvCacheTokens: { type: 'integer', minimum: 1, default: 131072, description: 'KV-cache capacity, tokens; a running sequence holds prompt + generated tokens.' },
    prefillTokensPerSec: { type: 'number', exclusiveMinimum: 0, default: 25000, description: "Prefill speed, prompt tokens per second; a step's prefilled tokens add tokens / rate to it." },
    maxPrefillTokensPerStep: {
      type: 'integer',
      minimum: 1,
      default: 2048,
      description: "Most prompt tokens prefilled in one step (chunked prefill, as vLLM's max_num_batched_tokens); longer prompts take several steps.",
    },
    decodeStepBaseMs: { type: 'number', minimum: 0, default: 14, description: 'Fixed part of a step, ms (weights read once per step: memory-bandwidth bound).' },
    decodeStepPerSeqMs: { type: 'number', minimum: 0, default: 0.1, description: 'Extra step time per sequence producing a token in the step, ms.' },
    maxQueue: {
      type: 'integer',
      minimum: 0,
      default: 512,
      description: 'Waiting-queue capacity, requests (not counting those the free batch slots will take at the next step); arrivals beyond it get HTTP 429.',
    },
    maxModelLen: { type: 'integer', minimum: 1, default: 8192, description: 'Context length, tokens: prompt + max_tokens above it is a 400 (as vLLM does).' },
    timeScale: {
      type: 'number',
      minimum: 0,
      default: 1,
      description:
        "Multiplier on every step duration (prefill and decode): 0.1 = a ten times faster GPU; 0 = zero service time (benchmarks of the HTTP path). The slowdown fault's added time is not scaled.",
    },
    outputTokensMean: { type: 'number', minimum: 1, default: 160, description: 'Mean natural output length, tokens, when ignore_eos is false (log-normal draw, capped by max_tokens).' },
    outputTokensSigma: { type: 'number', minimum: 0, default: 0.6, description: 'Sigma of the log-normal output-length distribution (0 = always the mean).' },
    prefixCaching: {
      type: 'boolean',
      default: true,
      description: "Automatic prefix caching (vLLM's, block-granular; src/simulator/prefix-cache.ts): a prompt's leading full blocks already computed are not prefilled again.",
    },
    blockSize: { type: 'integer', minimum: 1, maximum: 1024, default: 16, description: "Tokens per KV block, the granularity of prefix-cache hits (vLLM's default block size)." },
    prefixCacheBlocks: { type: 'integer', minimum: 0, default: 8192, description: 'Blocks the prefix cache keeps (least recently used evicted first); the default = the default KV cache / 16.' },
  },
} as const satisfies JsonSchema;

/** JSON Schema of `SimulatorConfig` (embed as the `simulator` property of the main config schema). */
export const simulatorConfigSchema = {
  type: 'object',
  description: 'The built-in OpenAI-compatible simulator (`llmsoak simulate`, and the target when target.url is absent).',
  additionalProperties: false,
  default: {},
  properties: {
    host: { type: 'string', minLength: 1, default: '127.0.0.1', description: 'Listen address.' },
    port: { type: 'integer', minimum: 0, maximum: 65535, default: 18000, description: 'Listen port (0 = ephemeral).' },
    model: { type: 'string', minLength: 1, default: 'sim-llama-3-8b', description: 'The one model name served; any other name in a request is a 404.' },
    engine: engineSchema,
    faults: faultsSchema,
    embeddingDim: { type: 'integer', minimum: 1, maximum: 65536, default: 768, description: 'Length of /v1/embeddings vectors, floats.' },
    seed: { type: 'integer', minimum: 0, default: 1, description: "Seed of the simulator's random draws (output lengths, words, fault dice); same seed, same sequence." },
    maxBodyBytes: { type: 'integer', minimum: 1024, default: 33554432, description: 'Largest accepted request body, bytes; larger is a 413.' },
  },
} as const satisfies JsonSchema;

/** The validated `simulator` section (defaults applied), derived from the schema: its descriptions are the reference. */
export type SimulatorConfig = FromSchema<typeof simulatorConfigSchema>;
/** The performance model: a continuous-batching engine (see the header). */
export type EngineConfig = SimulatorConfig['engine'];
/** Faults that are on. A fault present here is on; absent is off. */
export type FaultsConfig = SimulatorConfig['faults'];
export type FaultName = keyof FaultsConfig;
export type LeakFault = NonNullable<FaultsConfig['leak']>;
export type SlowdownFault = NonNullable<FaultsConfig['slowdown']>;
export type ErrorsFault = NonNullable<FaultsConfig['errors']>;
export type StallFault = NonNullable<FaultsConfig['stall']>;
export type ResetFault = NonNullable<FaultsConfig['reset']>;
export type MalformedFault = NonNullable<FaultsConfig['malformed']>;
export type CpuBoundFault = NonNullable<FaultsConfig['cpuBound']>;
export type KvPressureFault = NonNullable<FaultsConfig['kvPressure']>;
export type QualityFault = NonNullable<FaultsConfig['quality']>;

export const FAULT_NAMES: readonly FaultName[] = ['leak', 'slowdown', 'errors', 'stall', 'reset', 'malformed', 'cpuBound', 'kvPressure', 'quality'];

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
