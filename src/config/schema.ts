/**
 * The configuration schema (JSON Schema draft-07, validated by ajv in strict
 * mode with `useDefaults` and `allErrors`). Every field has a default, so an
 * empty file is a valid config: it soaks the embedded simulator. Every field
 * has its `description` here: docs/configuration.md's reference is generated
 * from them (src/config/reference.ts; test/config-docs.test.ts).
 *
 * Each section's schema lives in the module that owns the section (traffic in
 * src/traffic/config.ts, the analyzer's in src/analyzer/config.ts, …) and its
 * TypeScript type is derived from it there (json-schema-to-ts `FromSchema`):
 * `Config` in ./types.ts assembles those types, so a field is declared once,
 * here or in its module's schema, never by hand beside it.
 */
import { simulatorConfigSchema } from '../simulator/config.js';
import { collectorsConfigSchema } from '../collectors/index.js';
import { requestLogConfigSchema } from '../tracing/config.js';
import { alertingConfigSchema } from '../alerting/config.js';
import { qualityConfigSchema } from '../quality/config.js';
import { modeConfigSchema, reportConfigSchema, schedulesConfigSchema } from './modes.js';
import { compareConfigSchema } from '../compare/config.js';
import { analyzerConfigSchema } from '../analyzer/config.js';
import { targetChangesConfigSchema } from '../analyzer/target-changes.js';
import { preflightConfigSchema } from './preflight.js';
import { sloConfigSchema } from '../metrics/slo.js';
import { trafficConfigSchema } from '../traffic/config.js';

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
    traffic: trafficConfigSchema,
    slo: sloConfigSchema,
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
    analyzer: analyzerConfigSchema,
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
