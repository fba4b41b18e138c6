/**
 * The `compare` section of the config: what `llmsoak compare` and
 * `llmsoak bench --baseline` count as a regression. A figure is "worse" only
 * when its change is statistically significant at `alpha` AND beyond its
 * tolerance in the bad direction; "better" likewise in the good direction;
 * "same" otherwise (within tolerance, or not significant).
 */
import type { FromSchema } from 'json-schema-to-ts';

const latency = (figure: string, relative: number, absoluteMs: number) =>
  ({
    description: `${figure}: a change of a percentile counts when larger than both bounds.`,
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      relative: { description: 'Relative change of the percentile, e.g. 0.05 = 5 %.', type: 'number', minimum: 0, default: relative },
      absoluteMs: { description: "Absolute change, ms: smaller changes are the client's own timing noise.", type: 'number', minimum: 0, default: absoluteMs },
    },
  }) as const;

const rate = (figure: string, relative: number) =>
  ({
    description: `${figure}: a change counts when larger than this share.`,
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: { relative: { description: 'Relative change, e.g. 0.05 = 5 %.', type: 'number', minimum: 0, default: relative } },
  }) as const;

export const compareConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    alpha: { description: 'Significance level of every test (two-sided).', type: 'number', exclusiveMinimum: 0, maximum: 0.5, default: 0.01 },
    resamples: { description: 'Bootstrap resamples per percentile (bounded work: each is O(log buckets)).', type: 'integer', minimum: 200, maximum: 100000, default: 4000 },
    seed: { description: 'Seed of the bootstrap: the same two reports always give the same verdicts.', type: 'integer', minimum: 0, default: 1 },
    percentiles: {
      description: 'Percentiles compared, of TTFT, ITL, TPOT and E2E.',
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', enum: ['p50', 'p90', 'p95', 'p99'] },
      default: ['p50', 'p90', 'p95', 'p99'],
    },
    minTailCount: {
      description:
        'A percentile needs at least this many values beyond it (n·(1−q)) in both runs; fewer → "insufficient". The bootstrap of a quantile with only a few values beyond it is too sure of itself: with 5, two runs of one build on a busy machine came out "significantly" 16–20 % apart at p99.',
      type: 'integer',
      minimum: 1,
      default: 10,
    },
    tolerances: {
      description: 'How large a significant change must be to count, per figure.',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        ttft: latency('Time to first token', 0.05, 1),
        itl: latency('Inter-token latency', 0.05, 1),
        tpot: latency('Time per output token', 0.05, 1),
        e2e: latency('End-to-end latency', 0.05, 1),
        throughput: rate('Throughput (requests ended per second)', 0.05),
        goodput: rate('Goodput (requests meeting every SLO per second)', 0.05),
        errorRate: {
          description: 'Error rate: a change counts when larger than this absolute share.',
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: { absolute: { description: 'Absolute change of the failed share (0.005 = half a percentage point).', type: 'number', minimum: 0, maximum: 1, default: 0.005 } },
        },
      },
    },
  },
} as const;

/** The validated `compare` section (src/config/schema.ts), derived from the schema: defaults applied, every field present. */
export type CompareConfig = FromSchema<typeof compareConfigSchema>;
/** Latency figures (TTFT, ITL, TPOT, E2E): a change counts when larger than both bounds. */
export type LatencyTolerance = CompareConfig['tolerances']['ttft'];
/** Rates (throughput, goodput): a relative change counts when larger than this share. */
export type RateTolerance = CompareConfig['tolerances']['throughput'];
/** Error rate: an absolute change of the failed share. */
export type ErrorRateTolerance = CompareConfig['tolerances']['errorRate'];

/** The defaults, as the schema gives them (tests and callers without a config file). */
export function defaultCompareConfig(): CompareConfig {
  const l = (): LatencyTolerance => ({ relative: 0.05, absoluteMs: 1 });
  return {
    alpha: 0.01,
    resamples: 4000,
    seed: 1,
    percentiles: ['p50', 'p90', 'p95', 'p99'],
    minTailCount: 10,
    tolerances: { ttft: l(), itl: l(), tpot: l(), e2e: l(), throughput: { relative: 0.05 }, goodput: { relative: 0.05 }, errorRate: { absolute: 0.005 } },
  };
}
