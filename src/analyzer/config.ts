/**
 * The `analyzer` section of the config: its JSON Schema (embedded in the main
 * schema, src/config/schema.ts) and the types derived from it. The built-in
 * rules' thresholds are declared once in ./rule.ts (Thresholds, their defaults
 * and descriptions); their schema is made from those.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { incidentsConfigSchema } from './incidents.js';
import { DEFAULT_THRESHOLDS, THRESHOLD_DESCRIPTIONS, type Thresholds } from './rule.js';

/** Each threshold's schema: a number ≥ 0 with its default and description. */
type ThresholdSchemas = { readonly [K in keyof Thresholds]: { readonly description: string; readonly type: 'number'; readonly minimum: 0; readonly default: number } };

function thresholdSchemas(): ThresholdSchemas {
  const out: Record<string, ThresholdSchemas[keyof Thresholds]> = {};
  for (const [k, v] of Object.entries(DEFAULT_THRESHOLDS)) out[k] = { description: THRESHOLD_DESCRIPTIONS[k as keyof Thresholds], type: 'number', minimum: 0, default: v };
  return out as ThresholdSchemas;
}

export const analyzerConfigSchema = {
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
      properties: thresholdSchemas(),
    },
  },
} as const;

/** The validated `analyzer` section (defaults applied), derived from the schema. */
export type AnalyzerSectionConfig = FromSchema<typeof analyzerConfigSchema>;
/** A user rule in the built-in rules' form (./rules/user.ts). */
export type UserRuleConfig = AnalyzerSectionConfig['rules'][number];
/** One condition of a user rule. */
export type UserCondition = UserRuleConfig['when'][number];
