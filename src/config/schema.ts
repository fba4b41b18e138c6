/**
 * The configuration schema (JSON Schema draft-07, validated by ajv with
 * `useDefaults` and `allErrors`). Every field has a default, so an empty file
 * is a valid config: it soaks the embedded simulator.
 *
 * The TypeScript shape of the validated object is `Config` in ./types.ts;
 * keep the two in step.
 */
import { simulatorConfigSchema } from '../simulator/config.js';
import { collectorsConfigSchema } from '../collectors/index.js';
import { requestLogConfigSchema } from '../tracing/config.js';
import { alertingConfigSchema } from '../alerting/config.js';
import { qualityConfigSchema } from '../quality/config.js';
import { modeConfigSchema, reportConfigSchema, schedulesConfigSchema } from './modes.js';
import { compareConfigSchema } from '../compare/config.js';
import { DEFAULT_THRESHOLDS } from '../analyzer/rule.js';
import { targetChangesConfigSchema } from '../analyzer/target-changes.js';
import { incidentsConfigSchema } from '../analyzer/incidents.js';
import { preflightConfigSchema } from './preflight.js';
import { ARRIVAL_KIND_NAMES, arrivalFieldSchemas } from '../traffic/arrival-kinds.js';

const lengthSpec = (defaults: Record<string, unknown>, description: string) => ({
  type: 'object',
  description,
  additionalProperties: false,
  default: defaults,
  required: ['dist'],
  properties: {
    /** fixed: always `value`; lognormal: median/sigma; negbin: mean/dispersion; uniform: min..max. */
    dist: { type: 'string', enum: ['fixed', 'lognormal', 'negbin', 'uniform'] },
    value: { type: 'integer', minimum: 1 },
    median: { type: 'number', exclusiveMinimum: 0 },
    sigma: { type: 'number', minimum: 0 },
    mean: { type: 'number', exclusiveMinimum: 0 },
    dispersion: { type: 'number', exclusiveMinimum: 0 },
    min: { type: 'integer', minimum: 1 },
    max: { type: 'integer', minimum: 1 },
  },
});

const scenario = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'endpoint'],
  properties: {
    /** Label value on every traffic series: keep it short and stable. */
    name: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$' },
    /** Relative share of requests (any non-negative number; normalised). */
    weight: { type: 'number', minimum: 0, default: 1 },
    /** moderations: POST /moderations with the prompt as `input`, timed as a non-streamed request (stream: false). */
    endpoint: { type: 'string', enum: ['chat', 'completions', 'embeddings', 'moderations'] },
    stream: { type: 'boolean', default: true },
    /** Prompt length in tokens. */
    prompt: lengthSpec({ dist: 'lognormal', median: 200, sigma: 0.6, min: 16, max: 2048 }, 'prompt tokens'),
    /** Output length in tokens (sent as max_tokens). */
    output: lengthSpec({ dist: 'negbin', mean: 128, dispersion: 4, min: 8, max: 1024 }, 'output tokens (max_tokens)'),
    /** Multi-turn chat: turns per session (1 = single-shot). A session keeps its history. */
    turns: {
      type: 'object',
      additionalProperties: false,
      default: { min: 1, max: 1 },
      properties: { min: { type: 'integer', minimum: 1, default: 1 }, max: { type: 'integer', minimum: 1, default: 1 } },
    },
    /** Ask the server to generate exactly max_tokens (vLLM's ignore_eos), so output lengths follow `output`. */
    ignoreEos: { type: 'boolean', default: true },
    /** Kind of prompt text: a question or a document to summarise. */
    promptKind: { type: 'string', enum: ['qa', 'summary'], default: 'qa' },
  },
};

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
];

export const configSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  properties: {
    target: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** OpenAI base URL including /v1. Absent: start the embedded simulator and soak it. */
        url: { type: 'string', pattern: '^https?://' },
        /** Model to request. Absent: the first id from GET /v1/models. */
        model: { type: 'string', minLength: 1 },
        /** Sent as `Authorization: Bearer …`. A secret: write `${env:NAME}`; never logged. */
        apiKey: { type: 'string' },
        /** The target's own Prometheus endpoint. Absent: <origin of url>/metrics. */
        metricsUrl: { type: 'string', pattern: '^https?://' },
        /** The target process to watch (collectors): a PID, or a regex over its command line. */
        pid: { type: 'integer', minimum: 1 },
        processName: { type: 'string', minLength: 1 },
        timeouts: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            /** TCP (and TLS) connect, ms. */
            connectMs: { type: 'integer', minimum: 1, default: 5000 },
            /** Until response headers arrive, ms: the TTFT limit for a stream. */
            headersMs: { type: 'integer', minimum: 1, default: 60000 },
            /** Longest silence between two body reads, ms: the inter-token stall limit. */
            idleMs: { type: 'integer', minimum: 1, default: 30000 },
            /** Whole request, ms. */
            totalMs: { type: 'integer', minimum: 1, default: 600000 },
          },
        },
        /** Target-change detection: model, version, restart (src/analyzer/target-changes.ts). */
        changes: targetChangesConfigSchema,
      },
    },
    traffic: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** open: arrivals at a rate whatever the server does (default); closed: N users with think time. */
        mode: { type: 'string', enum: ['open', 'closed'], default: 'open' },
        /** Open-loop arrival process: a kind registered in src/traffic/arrival-kinds.ts (docs/extending.md). */
        arrival: { type: 'string', enum: [...ARRIVAL_KIND_NAMES], default: 'poisson' },
        /** Requests per second asked for (open loop). */
        rate: { type: 'number', minimum: 0, default: 2 },
        /** The fields the arrival kinds read (gamma: burstiness; step: steps), each declared in its kind's file. */
        ...arrivalFieldSchemas(),
        /** Closed loop: virtual users, each sending its next request after think time. */
        users: { type: 'integer', minimum: 1, default: 8 },
        thinkTimeMs: { type: 'number', minimum: 0, default: 1000 },
        /** Requests in flight at most; a request due beyond this is dropped and counted, not queued. */
        maxInFlight: { type: 'integer', minimum: 1, default: 256 },
        /** Worker threads that send the traffic (pacing, HTTP, SSE, timing), the load split between them; 0 = in the main thread. */
        workers: { type: 'integer', minimum: 0, maximum: 64, default: 1 },
        /** RNG seed for arrivals, lengths and prompts; absent: random per run. */
        seed: { type: 'integer' },
        scenarios: { type: 'array', minItems: 1, items: scenario, default: DEFAULT_SCENARIOS },
        /** Replay a JSONL recording instead of the scenarios (see src/traffic/replay.ts for the format). */
        replay: {
          type: 'object',
          additionalProperties: false,
          required: ['file'],
          properties: {
            file: { type: 'string', minLength: 1 },
            /** 2 = twice as fast as recorded. */
            speed: { type: 'number', exclusiveMinimum: 0, default: 1 },
            /** Start again from the top when the recording ends. */
            loop: { type: 'boolean', default: true },
            /** Test the tail: requests with rare lengths are repeated in the schedule. */
            augment: {
              type: 'object',
              additionalProperties: false,
              properties: {
                oversample: {
                  type: 'object',
                  additionalProperties: false,
                  properties: {
                    /** Each rare request appears this many times per lap (1 = as recorded); the copies are spread over the lap. */
                    factor: { type: 'integer', minimum: 1, maximum: 1000, default: 4 },
                    /** Rare = input or output tokens above this quantile of the recording's. */
                    quantile: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.95 },
                  },
                },
              },
            },
          },
        },
        /**
         * The open-loop rate follows a daily curve: traffic.rate times a multiple
         * of the hour (README "Rate profiles"). Give `points` or `csv`.
         */
        profile: {
          type: 'object',
          additionalProperties: false,
          properties: {
            /** (hour of the day, multiple of traffic.rate); the day wraps at 24 h. */
            points: {
              type: 'array',
              minItems: 1,
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['hour', 'multiple'],
                properties: {
                  hour: { type: 'number', minimum: 0, exclusiveMaximum: 24 },
                  multiple: { type: 'number', minimum: 0 },
                },
              },
            },
            /** Observed rates per minute: columns minute,rate or timestamp,rate (UTC); multiples of their mean. */
            csv: { type: 'string', minLength: 1 },
            /** linear: ramps between points; step: each point holds until the next. Default linear for points, step for csv. */
            shape: { type: 'string', enum: ['linear', 'step'] },
            /** Profile hours per real hour: 24 runs a day in an hour. */
            timeScale: { type: 'number', exclusiveMinimum: 0, default: 1 },
            /** Hour of the day the run starts at; `clock`: the current UTC hour. */
            startHour: { type: ['number', 'string'], minimum: 0, exclusiveMaximum: 24, pattern: '^clock$', default: 0 },
          },
        },
        /**
         * Scale-out without a coordinator: N replicas of llmsoak each send rate/N
         * (closed loop: users/N) and Prometheus adds them up.
         */
        replicas: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            /** How many replicas share `rate` (and `users`). */
            count: { type: 'integer', minimum: 1, default: 1 },
            /** This replica, 0..count-1; `auto`: the ordinal ending the host name (StatefulSet pod `llmsoak-2` → 2). */
            index: { type: ['integer', 'string'], minimum: 0, pattern: '^auto$', default: 0 },
          },
        },
        /**
         * Shared prefixes (src/traffic/shared-prefix.ts): when enabled, every chat and
         * completions request starts with a prefix of `tokens` tokens; `share` of them one
         * of `prefixes` fixed long system prompts (a server's prefix cache can reuse them),
         * the rest one of the same length no other request has.
         */
        sharedPrefix: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: 'boolean', default: false },
            /** Share of chat/completions requests that start with a shared prompt, 0–1 (spread evenly, not by coin). */
            share: { type: 'number', minimum: 0, maximum: 1, default: 0.5 },
            /** Distinct shared prompts. */
            prefixes: { type: 'integer', minimum: 1, maximum: 64, default: 4 },
            /** Tokens of every prefix (gpt-tokenizer count), shared or unique. */
            tokens: { type: 'integer', minimum: 32, maximum: 1048576, default: 1024 },
          },
        },
        /**
         * Edge cases (src/traffic/edge-cases.ts): `weight` of all requests are edge cases,
         * spread evenly over `kinds`, each its own scenario `edge_<kind>`. 0 = off.
         */
        edgeCases: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            /** Share of all requests, 0–0.5. */
            weight: { type: 'number', minimum: 0, maximum: 0.5, default: 0 },
            kinds: {
              type: 'array',
              minItems: 1,
              uniqueItems: true,
              items: { type: 'string', enum: ['nearContextLimit', 'unicode', 'nestedJson', 'runawayOutput'] },
              default: ['nearContextLimit', 'unicode', 'nestedJson', 'runawayOutput'],
            },
            /** Context length of the target, tokens; absent: `max_model_len` from GET /v1/models, else 8192. */
            contextTokens: { type: 'integer', minimum: 64 },
          },
        },
      },
    },
    /** Per-request service-level objectives; a request meeting all three is "good" (goodput). */
    slo: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        ttftMs: { type: 'number', exclusiveMinimum: 0, default: 2000 },
        tpotMs: { type: 'number', exclusiveMinimum: 0, default: 100 },
        e2eMs: { type: 'number', exclusiveMinimum: 0, default: 60000 },
        /** Modes and reports: largest share of failed requests a step (or a run) may have. */
        maxErrorRate: { type: 'number', minimum: 0, maximum: 1, default: 0.01 },
        /** Modes and reports: smallest share of requests meeting all three SLOs for a step (or a run) to hold. */
        minGoodRatio: { type: 'number', minimum: 0, maximum: 1, default: 0.95 },
        /** Modes, open loop: requests ended per second at least this share of the asked rate (else the target is not keeping up). */
        minAchievedRatio: { type: 'number', minimum: 0, maximum: 1, default: 0.9 },
      },
    },
    server: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** HOST:PORT for /metrics, /healthz, /readyz and /api. */
        listen: { type: 'string', pattern: '^(\\[[0-9a-fA-F:]+\\]|[^:\\s]+):[0-9]{1,5}$', default: '0.0.0.0:9477' },
        /**
         * Bearer token for llmsoak's own server (README "Running llmsoak safely").
         * Every request that changes anything (POST, PUT, PATCH, DELETE) needs
         * `Authorization: Bearer <token>`; without a token such requests are
         * refused (403) unless the server listens on loopback only.
         */
        auth: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            /** A secret: write ${env:NAME}; never logged. At least 16 characters. */
            token: { type: 'string', minLength: 16 },
            /** GET /metrics needs the token too (Prometheus: `authorization: { credentials_file: … }`). */
            protectMetrics: { type: 'boolean', default: false },
            /** GET /api/*, the status page and reports need the token too (/healthz and /readyz never do). */
            protectApi: { type: 'boolean', default: false },
          },
        },
        /** Serve HTTPS instead of HTTP: PEM files, read once at start. */
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['certFile', 'keyFile'],
          properties: {
            certFile: { type: 'string', minLength: 1 },
            keyFile: { type: 'string', minLength: 1 },
          },
        },
        /** Largest request body accepted by llmsoak's own server, bytes (larger: 413). */
        bodyLimitBytes: { type: 'integer', minimum: 1024, maximum: 67108864, default: 65536 },
      },
    },
    run: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** Stop cleanly after this many seconds; 0 = run until signalled. */
        durationSec: { type: 'number', minimum: 0, default: 0 },
        /** On stop, wait this long for in-flight requests before cancelling them, ms. */
        drainMs: { type: 'integer', minimum: 0, default: 10000 },
        /**
         * Where soak state is checkpointed (series store, baseline, hints, run
         * totals), so a restarted daemon resumes the soak (README "Restarts").
         */
        dataDir: { type: 'string', minLength: 1, default: 'data' },
        /** Checkpoint this often, s (and at shutdown); 0 = only at shutdown. */
        checkpointIntervalSec: { type: 'number', minimum: 0, default: 300 },
        /** Resume from the checkpoint in dataDir at start; false: start clean (the old checkpoint is replaced). */
        resume: { type: 'boolean', default: true },
      },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** Rolling window for exact (HDR) percentiles shown in /api/status, ms. */
        windowMs: { type: 'integer', minimum: 1000, default: 60000 },
        /** At most this many distinct `scenario` (and `model`) label values; later ones are exported as `other`. */
        maxLabelValues: { type: 'integer', minimum: 1, maximum: 1000, default: 32 },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
      },
    },
    /** The analyzer: trends, rules and hints (see README "Analyzer"). */
    analyzer: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        /** Self-scrape step of the local series store, s. */
        stepSec: { type: 'number', exclusiveMinimum: 0, default: 5 },
        /** Rule evaluation interval, s. */
        intervalSec: { type: 'number', exclusiveMinimum: 0, default: 30 },
        /** Window most rules look back over, s. */
        windowSec: { type: 'number', exclusiveMinimum: 0, default: 300 },
        /** Window of leak trends, s. */
        leakWindowSec: { type: 'number', exclusiveMinimum: 0, default: 21600 },
        /** Left out of baselines and trends at the start, s. */
        warmupSec: { type: 'number', minimum: 0, default: 300 },
        /** Baseline period after warm-up, s. */
        baselineSec: { type: 'number', exclusiveMinimum: 0, default: 600 },
        /** Raw retention of the local store, s (older data is kept downsampled to 1 min for 72 h). */
        rawRetentionSec: { type: 'number', exclusiveMinimum: 0, default: 21600 },
        /** Most series the local store holds. */
        maxSeries: { type: 'integer', minimum: 100, default: 20000 },
        /** Where rules read series: `local` (this process' own store) or `prometheus` (the fleet, through the Prometheus HTTP API; `stepSec` = its scrape interval). */
        source: { type: 'string', enum: ['local', 'prometheus'], default: 'local' },
        /** The Prometheus read with source: prometheus. */
        prometheus: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            /** Base URL, e.g. http://prometheus:9090 (a path prefix is kept). */
            url: { type: 'string', pattern: '^https?://' },
            /** Timeout of one query, ms. */
            timeoutMs: { type: 'integer', minimum: 1, default: 10000 },
            /** Authorization: Bearer token. A secret: write ${env:NAME}; never logged. */
            bearerToken: { type: 'string', minLength: 1 },
            /** HTTP basic auth; the password is a secret (${env:NAME}; never logged). */
            basicAuth: {
              type: 'object',
              additionalProperties: false,
              required: ['username', 'password'],
              properties: { username: { type: 'string', minLength: 1 }, password: { type: 'string' } },
            },
            /** Largest answer read, bytes; a larger one counts as a failed query. */
            maxResponseBytes: { type: 'integer', minimum: 1024, default: 16777216 },
          },
        },
        /** Incidents and recovery times (src/analyzer/incidents.ts). */
        incidents: incidentsConfigSchema,
        /** User rules in the built-in rules' form (see src/analyzer/rules/user.ts). */
        rules: {
          type: 'array',
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['id', 'cause', 'when', 'summary'],
            properties: {
              id: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$' },
              severity: { type: 'string', enum: ['info', 'warning', 'critical'], default: 'warning' },
              cause: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$' },
              forSec: { type: 'number', minimum: 0, default: 0 },
              windowSec: { type: 'number', exclusiveMinimum: 0 },
              when: {
                type: 'array',
                minItems: 1,
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['expr', 'op', 'value'],
                  properties: {
                    expr: { type: 'string', minLength: 1 },
                    op: { type: 'string', enum: ['>', '>=', '<', '<=', '==', '!='] },
                    value: { type: 'number' },
                  },
                },
              },
              summary: { type: 'string', minLength: 1 },
              suggestion: { type: 'string', default: '' },
            },
          },
        },
        thresholds: {
          type: 'object',
          additionalProperties: false,
          default: {},
          // One number per threshold, defaults from the rule pack (src/analyzer/rule.ts documents each).
          properties: Object.fromEntries(Object.entries(DEFAULT_THRESHOLDS).map(([k, v]) => [k, { type: 'number', minimum: 0, default: v }])),
        },
      },
    },
    alerting: { ...alertingConfigSchema, default: {} },
    /** What `llmsoak bench` runs: soak, ramp, sweep, surface or spike (see README "Modes"). */
    mode: modeConfigSchema,
    /** Where reports are written (see README "Reports"). */
    report: reportConfigSchema,
    /** What `llmsoak compare` and `bench --baseline` call a regression (see README "Comparing runs"). */
    compare: compareConfigSchema,
    /** Cron jobs of `llmsoak run`: modes and soak reports (see README "Schedules"). */
    schedules: schedulesConfigSchema,
    /** Golden-prompt quality checks on a schedule (see README "Quality checks" and src/quality/). */
    quality: { ...qualityConfigSchema, default: {} },
    simulator: { ...simulatorConfigSchema, default: {} },
    collectors: { ...collectorsConfigSchema, default: {} },
    /** Sampled request log and exemplars (see README "Request phases, traces and the request log"). */
    requestLog: requestLogConfigSchema,
    /** Checks of the target at start and in `llmsoak check-target` (see README "Preflight"); src/config/preflight.ts documents each field. */
    preflight: preflightConfigSchema,
  },
} as const;
