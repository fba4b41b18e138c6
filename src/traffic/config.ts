/**
 * traffic.*: what the soak sends. Its JSON Schema (embedded in the main schema,
 * src/config/schema.ts) and the types derived from it; the traffic engine owns
 * both, src/config/ assembles them into Config. Where the loader narrows what
 * the schema admits (a length's fields per `dist`, `replicas.index: auto`),
 * the type says the narrower shape; the arrival kinds' own fields come from
 * their files (src/traffic/arrival-*.ts).
 */
import type { FromSchema } from 'json-schema-to-ts';
import { ARRIVAL_KIND_NAMES, arrivalFieldSchemas, type ArrivalConfigFields } from './arrival-kinds.js';
import type { EdgeCaseKind } from './edge-cases.js';
import type { LengthSpec } from './lengths.js';

const lengthSpec = (defaults: Readonly<Record<string, unknown>>, description: string) =>
  ({
    type: 'object',
    description,
    additionalProperties: false,
    default: defaults,
    required: ['dist'],
    properties: {
      dist: { description: 'fixed: always `value`; lognormal: median/sigma; negbin: mean/dispersion; uniform: min..max.', type: 'string', enum: ['fixed', 'lognormal', 'negbin', 'uniform'] },
      value: { description: 'fixed: the length.', type: 'integer', minimum: 1 },
      median: { description: 'lognormal: the median length.', type: 'number', exclusiveMinimum: 0 },
      sigma: { description: 'lognormal: sigma of the underlying normal (0.5 ≈ lengths within ×/÷ 2.7 of the median 95 % of the time).', type: 'number', minimum: 0 },
      mean: { description: 'negbin: the mean length.', type: 'number', exclusiveMinimum: 0 },
      dispersion: { description: 'negbin: dispersion; variance = mean + mean²/dispersion (smaller: wider).', type: 'number', exclusiveMinimum: 0 },
      min: { description: 'Shortest length: a draw below it is drawn again (then raised to it); uniform: the low end.', type: 'integer', minimum: 1 },
      max: { description: 'Longest length: a draw above it is drawn again (then cut to it); uniform: the high end.', type: 'integer', minimum: 1 },
    },
  }) as const;

const scenario = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'endpoint'],
  properties: {
    name: { description: 'Label value on every traffic series: keep it short and stable.', type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$' },
    weight: { description: 'Relative share of requests (any non-negative number; normalised).', type: 'number', minimum: 0, default: 1 },
    endpoint: {
      description: 'moderations: POST /moderations with the prompt as `input`, timed as a non-streamed request (stream: false).',
      type: 'string',
      enum: ['chat', 'completions', 'embeddings', 'moderations'],
    },
    stream: { description: 'Ask for a streamed response (SSE); TTFT and inter-token gaps are measured only on streams.', type: 'boolean', default: true },
    prompt: lengthSpec({ dist: 'lognormal', median: 200, sigma: 0.6, min: 16, max: 2048 }, 'Prompt length in tokens.'),
    output: lengthSpec({ dist: 'negbin', mean: 128, dispersion: 4, min: 8, max: 1024 }, 'Output length in tokens, sent as max_tokens.'),
    turns: {
      description: 'Multi-turn chat: turns per session (1 = single-shot). A session keeps its history.',
      type: 'object',
      additionalProperties: false,
      default: { min: 1, max: 1 },
      properties: {
        min: { description: 'Fewest turns of a session.', type: 'integer', minimum: 1, default: 1 },
        max: { description: 'Most turns of a session (drawn uniformly between min and max).', type: 'integer', minimum: 1, default: 1 },
      },
    },
    ignoreEos: { description: "Ask the server to generate exactly max_tokens (vLLM's ignore_eos), so output lengths follow `output`.", type: 'boolean', default: true },
    promptKind: { description: 'Kind of prompt text: a question or a document to summarise.', type: 'string', enum: ['qa', 'summary'], default: 'qa' },
  },
} as const;

export const DEFAULT_SCENARIOS = [
  {
    name: 'short_qa',
    weight: 50,
    endpoint: 'chat',
    stream: true,
    promptKind: 'qa',
    prompt: { dist: 'lognormal', median: 180, sigma: 0.6, min: 16, max: 2048 },
    output: { dist: 'negbin', mean: 120, dispersion: 4, min: 8, max: 1024 },
  },
  {
    name: 'long_summary',
    weight: 15,
    endpoint: 'chat',
    stream: true,
    promptKind: 'summary',
    prompt: { dist: 'lognormal', median: 2500, sigma: 0.35, min: 1000, max: 7000 },
    output: { dist: 'negbin', mean: 250, dispersion: 6, min: 32, max: 1024 },
  },
  {
    name: 'multi_turn_chat',
    weight: 20,
    endpoint: 'chat',
    stream: true,
    promptKind: 'qa',
    prompt: { dist: 'lognormal', median: 80, sigma: 0.5, min: 8, max: 512 },
    output: { dist: 'negbin', mean: 100, dispersion: 4, min: 8, max: 512 },
    turns: { min: 2, max: 6 },
  },
  {
    name: 'completion_batch',
    weight: 10,
    endpoint: 'completions',
    stream: false,
    promptKind: 'qa',
    prompt: { dist: 'lognormal', median: 300, sigma: 0.5, min: 16, max: 2048 },
    output: { dist: 'negbin', mean: 60, dispersion: 4, min: 4, max: 512 },
  },
  {
    name: 'embeddings',
    weight: 5,
    endpoint: 'embeddings',
    stream: false,
    promptKind: 'qa',
    prompt: { dist: 'lognormal', median: 120, sigma: 0.5, min: 8, max: 512 },
    output: { dist: 'fixed', value: 1 },
  },
] as const;

export const trafficConfigSchema = {
  description: 'The soak traffic: how requests arrive and what they ask.',
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    mode: { description: 'open: arrivals at a rate whatever the server does (default); closed: N users with think time.', type: 'string', enum: ['open', 'closed'], default: 'open' },
    arrival: {
      description: 'Open-loop arrival process: a kind registered in src/traffic/arrival-kinds.ts (docs/extending.md).',
      type: 'string',
      enum: [...ARRIVAL_KIND_NAMES],
      default: 'poisson',
    },
    rate: { description: 'Requests per second asked for (open loop).', type: 'number', minimum: 0, default: 2 },
    // The fields the arrival kinds read (gamma: burstiness; step: steps), each declared in its kind's file.
    ...arrivalFieldSchemas(),
    users: { description: 'Closed loop: virtual users, each sending its next request after think time.', type: 'integer', minimum: 1, default: 8 },
    thinkTimeMs: { description: 'Closed loop: pause of a user between the end of a request and its next, ms.', type: 'number', minimum: 0, default: 1000 },
    maxInFlight: { description: 'Requests in flight at most; a request due beyond this is dropped and counted, not queued.', type: 'integer', minimum: 1, default: 256 },
    workers: {
      description: 'Worker threads that send the traffic (pacing, HTTP, SSE, timing), the load split between them; 0 = in the main thread.',
      type: 'integer',
      minimum: 0,
      maximum: 64,
      default: 1,
    },
    seed: { description: 'RNG seed for arrivals, lengths and prompts; absent: random per run.', type: 'integer' },
    scenarios: {
      description: 'Weighted request kinds; each is its own `scenario` label value. The default is a mix of Q&A, summaries, multi-turn chats, completions and embeddings.',
      type: 'array',
      minItems: 1,
      items: scenario,
      default: DEFAULT_SCENARIOS,
    },
    replay: {
      description: 'Replay a JSONL recording instead of the scenarios (see src/traffic/replay.ts for the format).',
      type: 'object',
      additionalProperties: false,
      required: ['file'],
      properties: {
        file: {
          description: 'The JSONL recording: one request a line, `t` (seconds from the start), endpoint, stream, inputTokens and outputTokens, or a whole `body`.',
          type: 'string',
          minLength: 1,
        },
        speed: { description: '2 = twice as fast as recorded.', type: 'number', exclusiveMinimum: 0, default: 1 },
        loop: { description: 'Start again from the top when the recording ends.', type: 'boolean', default: true },
        augment: {
          description: 'Test the tail: requests with rare lengths are repeated in the schedule.',
          type: 'object',
          additionalProperties: false,
          properties: {
            oversample: {
              description: 'Repeat the rare requests (long inputs or outputs) so the tail has enough samples.',
              type: 'object',
              additionalProperties: false,
              properties: {
                factor: {
                  description: 'Each rare request appears this many times per lap (1 = as recorded); the copies are spread over the lap.',
                  type: 'integer',
                  minimum: 1,
                  maximum: 1000,
                  default: 4,
                },
                quantile: { description: "Rare = input or output tokens above this quantile of the recording's.", type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.95 },
              },
            },
          },
        },
      },
    },
    profile: {
      description: 'The open-loop rate follows a daily curve: traffic.rate times a multiple of the hour (README "Rate profiles"). Give `points` or `csv`.',
      type: 'object',
      additionalProperties: false,
      properties: {
        points: {
          description: '(hour of the day, multiple of traffic.rate); the day wraps at 24 h.',
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['hour', 'multiple'],
            properties: {
              hour: { description: 'Hour of the day, 0 to < 24 (fractions allowed).', type: 'number', minimum: 0, exclusiveMaximum: 24 },
              multiple: { description: 'traffic.rate × this at that hour.', type: 'number', minimum: 0 },
            },
          },
        },
        csv: { description: 'Observed rates per minute: columns minute,rate or timestamp,rate (UTC); multiples of their mean.', type: 'string', minLength: 1 },
        shape: { description: 'linear: ramps between points; step: each point holds until the next. Default linear for points, step for csv.', type: 'string', enum: ['linear', 'step'] },
        timeScale: { description: 'Profile hours per real hour: 24 runs a day in an hour.', type: 'number', exclusiveMinimum: 0, default: 1 },
        startHour: {
          description: 'Hour of the day the run starts at; `clock`: the current UTC hour.',
          type: ['number', 'string'],
          minimum: 0,
          exclusiveMaximum: 24,
          pattern: '^clock$',
          default: 0,
        },
      },
    },
    replicas: {
      description: 'Scale-out without a coordinator: N replicas of llmsoak each send rate/N (closed loop: users/N) and Prometheus adds them up.',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        count: { description: 'How many replicas share `rate` (and `users`).', type: 'integer', minimum: 1, default: 1 },
        index: {
          description: 'This replica, 0..count-1; `auto`: the ordinal ending the host name (StatefulSet pod `llmsoak-2` → 2).',
          type: ['integer', 'string'],
          minimum: 0,
          pattern: '^auto$',
          default: 0,
        },
      },
    },
    sharedPrefix: {
      description:
        "Shared prefixes (src/traffic/shared-prefix.ts): when enabled, every chat and completions request starts with a prefix of `tokens` tokens; `share` of them one of `prefixes` fixed long system prompts (a server's prefix cache can reuse them), the rest one of the same length no other request has.",
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { description: 'Start requests with the prefixes below.', type: 'boolean', default: false },
        share: { description: 'Share of chat/completions requests that start with a shared prompt, 0–1 (spread evenly, not by coin).', type: 'number', minimum: 0, maximum: 1, default: 0.5 },
        prefixes: { description: 'Distinct shared prompts.', type: 'integer', minimum: 1, maximum: 64, default: 4 },
        tokens: { description: 'Tokens of every prefix (gpt-tokenizer count), shared or unique.', type: 'integer', minimum: 32, maximum: 1048576, default: 1024 },
      },
    },
    edgeCases: {
      description: 'Edge cases (src/traffic/edge-cases.ts): `weight` of all requests are edge cases, spread evenly over `kinds`, each its own scenario `edge_<kind>`. 0 = off.',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        weight: { description: 'Share of all requests, 0–0.5.', type: 'number', minimum: 0, maximum: 0.5, default: 0 },
        kinds: {
          description:
            'nearContextLimit: prompts filling ~90 % of the context and 10 % beyond it; unicode: control, zero-width, bidi and combining characters, emoji, several scripts; nestedJson: deeply nested JSON as text; runawayOutput: max_tokens up to the rest of the context with ignore_eos.',
          type: 'array',
          minItems: 1,
          uniqueItems: true,
          items: { type: 'string', enum: ['nearContextLimit', 'unicode', 'nestedJson', 'runawayOutput'] },
          default: ['nearContextLimit', 'unicode', 'nestedJson', 'runawayOutput'],
        },
        contextTokens: { description: 'Context length of the target, tokens; absent: `max_model_len` from GET /v1/models, else 8192.', type: 'integer', minimum: 64 },
      },
    },
  },
} as const;

type TrafficSection = FromSchema<typeof trafficConfigSchema>;

/** One weighted kind of request; `edgeCase` is set only on the scenarios traffic.edgeCases adds (./edge-cases.ts). */
export type ScenarioConfig = Omit<TrafficSection['scenarios'][number], 'prompt' | 'output'> & { prompt: LengthSpec; output: LengthSpec; edgeCase?: EdgeCaseKind };

/** `traffic.profile`: points or a CSV (exactly one); `shape` absent: linear for points, step for a CSV. */
export type RateProfileConfig = Omit<NonNullable<TrafficSection['profile']>, 'startHour'> & { startHour: number | 'clock' };

/** `traffic` as validated and resolved: `replicas.index` is a number once `auto` is resolved. */
export type TrafficConfig = Omit<TrafficSection, 'scenarios' | 'profile' | 'replicas'> &
  ArrivalConfigFields & {
    scenarios: ScenarioConfig[];
    profile?: RateProfileConfig;
    replicas: { count: number; index: number };
  };

/** `traffic.sharedPrefix` (./shared-prefix.ts). */
export type SharedPrefixConfig = TrafficSection['sharedPrefix'];
/** `traffic.edgeCases` (./edge-cases.ts). */
export type EdgeCasesConfig = TrafficSection['edgeCases'];
