/**
 * The configuration schema (JSON Schema draft-07, validated by ajv in strict
 * mode with `useDefaults` and `allErrors`). Every field has a default, so an
 * empty file is a valid config: it soaks the embedded simulator. Every field
 * has its `description` here: docs/configuration.md's reference is generated
 * from them (src/config/reference.ts; test/config-docs.test.ts).
 *
 * The TypeScript shape of the validated object is `Config` in ./types.ts,
 * still written by hand: keep the two in step.
 */
import { simulatorConfigSchema } from '../simulator/config.js';
import { collectorsConfigSchema } from '../collectors/index.js';
import { requestLogConfigSchema } from '../tracing/config.js';
import { alertingConfigSchema } from '../alerting/config.js';
import { qualityConfigSchema } from '../quality/config.js';
import { modeConfigSchema, reportConfigSchema, schedulesConfigSchema } from './modes.js';
import { compareConfigSchema } from '../compare/config.js';
import { DEFAULT_THRESHOLDS, THRESHOLD_DESCRIPTIONS } from '../analyzer/rule.js';
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
    dist: { description: 'fixed: always `value`; lognormal: median/sigma; negbin: mean/dispersion; uniform: min..max.', type: 'string', enum: ['fixed', 'lognormal', 'negbin', 'uniform'] },
    value: { description: 'fixed: the length.', type: 'integer', minimum: 1 },
    median: { description: 'lognormal: the median length.', type: 'number', exclusiveMinimum: 0 },
    sigma: { description: 'lognormal: sigma of the underlying normal (0.5 ≈ lengths within ×/÷ 2.7 of the median 95 % of the time).', type: 'number', minimum: 0 },
    mean: { description: 'negbin: the mean length.', type: 'number', exclusiveMinimum: 0 },
    dispersion: { description: 'negbin: dispersion; variance = mean + mean²/dispersion (smaller: wider).', type: 'number', exclusiveMinimum: 0 },
    min: { description: 'Shortest length: a draw below it is drawn again (then raised to it); uniform: the low end.', type: 'integer', minimum: 1 },
    max: { description: 'Longest length: a draw above it is drawn again (then cut to it); uniform: the high end.', type: 'integer', minimum: 1 },
  },
});

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
      description: 'The OpenAI-compatible server to soak.',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        url: { description: 'OpenAI base URL including /v1. Absent: start the embedded simulator and soak it.', type: 'string', pattern: '^https?://' },
        model: { description: 'Model to request. Absent: the first id from GET /v1/models.', type: 'string', minLength: 1 },
        apiKey: { description: 'Sent as `Authorization: Bearer …`. A secret: write `${env:NAME}`; never logged.', type: 'string' },
        metricsUrl: { description: "The target's own Prometheus endpoint. Absent: <origin of url>/metrics.", type: 'string', pattern: '^https?://' },
        pid: { description: 'The target process to watch (collectors), by PID.', type: 'integer', minimum: 1 },
        processName: { description: 'The target process to watch (collectors) by a regex over its command line, when there is no pid.', type: 'string', minLength: 1 },
        timeouts: {
          description: 'Limits of one request to the target; a request past one ends as a timeout of that class.',
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            connectMs: { description: 'TCP (and TLS) connect, ms.', type: 'integer', minimum: 1, default: 5000 },
            headersMs: { description: 'Until response headers arrive, ms: the TTFT limit for a stream.', type: 'integer', minimum: 1, default: 60000 },
            idleMs: { description: 'Longest silence between two body reads, ms: the inter-token stall limit.', type: 'integer', minimum: 1, default: 30000 },
            totalMs: { description: 'Whole request, ms.', type: 'integer', minimum: 1, default: 600000 },
          },
        },
        changes: { ...targetChangesConfigSchema, description: 'Target-change detection: model, version, restart (src/analyzer/target-changes.ts).' },
      },
    },
    traffic: {
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
    },
    slo: {
      description: 'Per-request service-level objectives; a request meeting all three is "good" (goodput).',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        ttftMs: { description: 'Time to first token at most, ms.', type: 'number', exclusiveMinimum: 0, default: 2000 },
        tpotMs: { description: 'Time per output token after the first at most, ms.', type: 'number', exclusiveMinimum: 0, default: 100 },
        e2eMs: { description: 'Whole request at most, ms.', type: 'number', exclusiveMinimum: 0, default: 60000 },
        maxErrorRate: { description: 'Modes and reports: largest share of failed requests a step (or a run) may have.', type: 'number', minimum: 0, maximum: 1, default: 0.01 },
        minGoodRatio: { description: 'Modes and reports: smallest share of requests meeting all three SLOs for a step (or a run) to hold.', type: 'number', minimum: 0, maximum: 1, default: 0.95 },
        minAchievedRatio: {
          description: 'Modes, open loop: requests ended per second at least this share of the asked rate (else the target is not keeping up).',
          type: 'number',
          minimum: 0,
          maximum: 1,
          default: 0.9,
        },
      },
    },
    server: {
      description: "llmsoak's own HTTP server: /metrics, /healthz, /readyz, /api and the status page.",
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        listen: { description: 'HOST:PORT for /metrics, /healthz, /readyz and /api.', type: 'string', pattern: '^(\\[[0-9a-fA-F:]+\\]|[^:\\s]+):[0-9]{1,5}$', default: '0.0.0.0:9477' },
        auth: {
          description:
            'Bearer token for llmsoak\'s own server (README "Running llmsoak safely"). Every request that changes anything (POST, PUT, PATCH, DELETE) needs `Authorization: Bearer <token>`; without a token such requests are refused (403) unless the server listens on loopback only.',
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            token: { description: 'A secret: write ${env:NAME}; never logged. At least 16 characters.', type: 'string', minLength: 16 },
            protectMetrics: { description: 'GET /metrics needs the token too (Prometheus: `authorization: { credentials_file: … }`).', type: 'boolean', default: false },
            protectApi: { description: 'GET /api/*, the status page and reports need the token too (/healthz and /readyz never do).', type: 'boolean', default: false },
          },
        },
        tls: {
          description: 'Serve HTTPS instead of HTTP: PEM files, read once at start.',
          type: 'object',
          additionalProperties: false,
          required: ['certFile', 'keyFile'],
          properties: {
            certFile: { description: 'Certificate chain, PEM.', type: 'string', minLength: 1 },
            keyFile: { description: 'Private key, PEM.', type: 'string', minLength: 1 },
          },
        },
        bodyLimitBytes: { description: "Largest request body accepted by llmsoak's own server, bytes (larger: 413).", type: 'integer', minimum: 1024, maximum: 67108864, default: 65536 },
      },
    },
    run: {
      description: 'How long the daemon runs, how it stops, and where it keeps its state.',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        durationSec: { description: 'Stop cleanly after this many seconds; 0 = run until signalled.', type: 'number', minimum: 0, default: 0 },
        drainMs: { description: 'On stop, wait this long for in-flight requests before cancelling them, ms.', type: 'integer', minimum: 0, default: 10000 },
        dataDir: {
          description: 'Where soak state is checkpointed (series store, baseline, hints, run totals), so a restarted daemon resumes the soak (README "Restarts").',
          type: 'string',
          minLength: 1,
          default: 'data',
        },
        checkpointIntervalSec: { description: 'Checkpoint this often, s (and at shutdown); 0 = only at shutdown.', type: 'number', minimum: 0, default: 300 },
        resume: { description: 'Resume from the checkpoint in dataDir at start; false: start clean (the old checkpoint is replaced).', type: 'boolean', default: true },
      },
    },
    metrics: {
      description: 'The series llmsoak exports about the traffic.',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        windowMs: { description: 'Rolling window for exact (HDR) percentiles shown in /api/status, ms.', type: 'integer', minimum: 1000, default: 60000 },
        maxLabelValues: {
          description: 'At most this many distinct `scenario` (and `model`) label values; later ones are exported as `other`.',
          type: 'integer',
          minimum: 1,
          maximum: 1000,
          default: 32,
        },
      },
    },
    log: {
      description: 'Logging (JSON lines on stdout, pino).',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { description: 'Least severe level written.', type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
      },
    },
    analyzer: {
      description: 'The analyzer: trends, rules and hints (see README "Analyzer").',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { description: 'Run the analyzer (series store, rules, hints, incidents).', type: 'boolean', default: true },
        stepSec: { description: 'Self-scrape step of the local series store, s.', type: 'number', exclusiveMinimum: 0, default: 5 },
        intervalSec: { description: 'Rule evaluation interval, s.', type: 'number', exclusiveMinimum: 0, default: 30 },
        windowSec: { description: 'Window most rules look back over, s.', type: 'number', exclusiveMinimum: 0, default: 300 },
        leakWindowSec: { description: 'Window of leak trends, s.', type: 'number', exclusiveMinimum: 0, default: 21600 },
        warmupSec: { description: 'Left out of baselines and trends at the start, s.', type: 'number', minimum: 0, default: 300 },
        baselineSec: { description: 'Baseline period after warm-up, s.', type: 'number', exclusiveMinimum: 0, default: 600 },
        rawRetentionSec: { description: 'Raw retention of the local store, s (older data is kept downsampled to 1 min for 72 h).', type: 'number', exclusiveMinimum: 0, default: 21600 },
        maxSeries: { description: 'Most series the local store holds.', type: 'integer', minimum: 100, default: 20000 },
        source: {
          description: "Where rules read series: `local` (this process' own store) or `prometheus` (the fleet, through the Prometheus HTTP API; `stepSec` = its scrape interval).",
          type: 'string',
          enum: ['local', 'prometheus'],
          default: 'local',
        },
        prometheus: {
          description: 'The Prometheus read with source: prometheus.',
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: { description: 'Base URL, e.g. http://prometheus:9090 (a path prefix is kept).', type: 'string', pattern: '^https?://' },
            timeoutMs: { description: 'Timeout of one query, ms.', type: 'integer', minimum: 1, default: 10000 },
            bearerToken: { description: 'Authorization: Bearer token. A secret: write ${env:NAME}; never logged.', type: 'string', minLength: 1 },
            basicAuth: {
              description: 'HTTP basic auth; the password is a secret (${env:NAME}; never logged).',
              type: 'object',
              additionalProperties: false,
              required: ['username', 'password'],
              properties: { username: { description: 'User name.', type: 'string', minLength: 1 }, password: { description: 'Password: a secret.', type: 'string' } },
            },
            maxResponseBytes: { description: 'Largest answer read, bytes; a larger one counts as a failed query.', type: 'integer', minimum: 1024, default: 16777216 },
          },
        },
        incidents: { ...incidentsConfigSchema, description: 'Incidents and recovery times (src/analyzer/incidents.ts).' },
        rules: {
          description: "User rules in the built-in rules' form (see src/analyzer/rules/user.ts).",
          type: 'array',
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['id', 'cause', 'when', 'summary'],
            properties: {
              id: { description: 'Rule name, unique (snake case).', type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$' },
              severity: { description: 'Severity of its hint and alert.', type: 'string', enum: ['info', 'warning', 'critical'], default: 'warning' },
              cause: { description: 'The cause its hint names (snake case).', type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$' },
              forSec: { description: 'Fires only after its conditions held this long, s.', type: 'number', minimum: 0, default: 0 },
              windowSec: { description: 'Window its expressions look back over, s; absent: analyzer.windowSec.', type: 'number', exclusiveMinimum: 0 },
              when: {
                description: 'Conditions, all of which must hold.',
                type: 'array',
                minItems: 1,
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['expr', 'op', 'value'],
                  properties: {
                    expr: { description: 'A series expression (src/analyzer/rules/user.ts lists the forms).', type: 'string', minLength: 1 },
                    op: { description: 'Comparison of the expression with value.', type: 'string', enum: ['>', '>=', '<', '<=', '==', '!='] },
                    value: { description: 'The number compared with.', type: 'number' },
                  },
                },
              },
              summary: { description: 'What the hint says, one line.', type: 'string', minLength: 1 },
              suggestion: { description: 'What to do about it.', type: 'string', default: '' },
            },
          },
        },
        thresholds: {
          description: "The built-in rules' thresholds, one number each; defaults from the rule pack.",
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: Object.fromEntries(
            Object.entries(DEFAULT_THRESHOLDS).map(([k, v]) => [k, { description: THRESHOLD_DESCRIPTIONS[k as keyof typeof THRESHOLD_DESCRIPTIONS], type: 'number', minimum: 0, default: v }]),
          ),
        },
      },
    },
    alerting: { ...alertingConfigSchema, default: {} },
    mode: { ...modeConfigSchema, description: 'What `llmsoak bench` runs: a registered mode, each with its section (docs/modes-and-reports.md).' },
    report: { ...reportConfigSchema, description: 'Where reports are written, and in which formats besides JSON, Markdown and HTML.' },
    compare: { ...compareConfigSchema, description: 'What `llmsoak compare` and `bench --baseline` call a regression (docs/modes-and-reports.md).' },
    schedules: { ...schedulesConfigSchema, description: 'Cron jobs of `llmsoak run`: modes and soak reports.' },
    quality: { ...qualityConfigSchema, description: 'Golden-prompt quality checks on a schedule (src/quality/).', default: {} },
    simulator: { ...simulatorConfigSchema, default: {} },
    collectors: { ...collectorsConfigSchema, default: {} },
    requestLog: { ...requestLogConfigSchema, description: 'Sampled request log and exemplars (docs/measurement.md).' },
    preflight: { ...preflightConfigSchema, description: 'Checks of the target at start and in `llmsoak check-target` (docs/preflight.md).' },
  },
} as const;
