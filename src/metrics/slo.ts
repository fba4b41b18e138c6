/** slo.*: the per-request SLOs (goodput) and the modes' pass criteria; the recorder and the modes read them. */
import type { FromSchema } from 'json-schema-to-ts';

export const sloConfigSchema = {
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
} as const;

/** The validated `slo` section (defaults applied), derived from the schema. */
export type SloConfig = FromSchema<typeof sloConfigSchema>;
