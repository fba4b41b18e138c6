/**
 * `requestLog`: a bounded, rotated JSONL log of sampled requests for
 * drill-down (phases, tokens, outcome, trace id). Sampled requests also carry
 * their trace id as an exemplar on the TTFT and E2E histograms.
 */

import type { FromSchema } from 'json-schema-to-ts';

export const requestLogConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { description: 'Write the log. Off: requests are still sampled (at sampleRatio) for exemplars, nothing is written.', type: 'boolean', default: false },
    file: { description: 'JSONL file; a relative path is below run.dataDir. Rotated to <file>.1 … <file>.<keep>.', type: 'string', minLength: 1, default: 'requests.jsonl' },
    sampleRatio: { description: 'Share of requests logged (and given exemplars), chosen by trace id: 0.01 = one in a hundred.', type: 'number', minimum: 0, maximum: 1, default: 0.01 },
    alwaysErrors: { description: 'Log every failed request whatever the ratio.', type: 'boolean', default: true },
    maxBytes: { description: 'Rotate when the file would pass this size, bytes.', type: 'integer', minimum: 4096, default: 16777216 },
    keep: { description: 'Rotated files kept (older ones are deleted); disk use is at most (keep + 1) × maxBytes.', type: 'integer', minimum: 0, maximum: 100, default: 3 },
    includePrompts: { description: 'Also log the request body (the prompt). Off by default: prompts may be confidential. API keys are never logged.', type: 'boolean', default: false },
  },
} as const;

/** The validated `requestLog` section: derived from the schema (defaults applied, so every field is present). */
export type RequestLogConfig = FromSchema<typeof requestLogConfigSchema>;
