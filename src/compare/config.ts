/**
 * The `compare` section of the config: what `llmsoak compare` and
 * `llmsoak bench --baseline` count as a regression. A figure is "worse" only
 * when its change is statistically significant at `alpha` AND beyond its
 * tolerance in the bad direction; "better" likewise in the good direction;
 * "same" otherwise (within tolerance, or not significant).
 */

/** Latency figures (TTFT, ITL, TPOT, E2E): a change counts when larger than both bounds. */
export interface LatencyTolerance {
  /** Relative change of the percentile, e.g. 0.05 = 5 %. */
  relative: number;
  /** Absolute change, ms: smaller changes are the client's own timing noise. */
  absoluteMs: number;
}

/** Rates (throughput, goodput): a relative change counts when larger than this share. */
export interface RateTolerance {
  relative: number;
}

/** Error rate: an absolute change of the failed share (0.005 = half a percentage point). */
export interface ErrorRateTolerance {
  absolute: number;
}

export interface CompareConfig {
  /** Significance level of every test (two-sided). */
  alpha: number;
  /** Bootstrap resamples per percentile (bounded work: each is O(log buckets)). */
  resamples: number;
  /** Seed of the bootstrap: the same two reports always give the same verdicts. */
  seed: number;
  /** Percentiles compared, of TTFT, ITL, TPOT and E2E. */
  percentiles: Array<'p50' | 'p90' | 'p95' | 'p99'>;
  /**
   * A percentile needs at least this many values beyond it (n·(1−q)) in both
   * runs; fewer → "insufficient". The bootstrap of a quantile with only a few
   * values beyond it is too sure of itself: with 5, two runs of one build on
   * a busy machine came out "significantly" 16–20 % apart at p99.
   */
  minTailCount: number;
  tolerances: {
    ttft: LatencyTolerance;
    itl: LatencyTolerance;
    tpot: LatencyTolerance;
    e2e: LatencyTolerance;
    throughput: RateTolerance;
    goodput: RateTolerance;
    errorRate: ErrorRateTolerance;
  };
}

const latency = (relative: number, absoluteMs: number) => ({
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    relative: { type: 'number', minimum: 0, default: relative },
    absoluteMs: { type: 'number', minimum: 0, default: absoluteMs },
  },
});

const rate = (relative: number) => ({
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: { relative: { type: 'number', minimum: 0, default: relative } },
});

export const compareConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    alpha: { type: 'number', exclusiveMinimum: 0, maximum: 0.5, default: 0.01 },
    resamples: { type: 'integer', minimum: 200, maximum: 100000, default: 4000 },
    seed: { type: 'integer', minimum: 0, default: 1 },
    percentiles: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', enum: ['p50', 'p90', 'p95', 'p99'] },
      default: ['p50', 'p90', 'p95', 'p99'],
    },
    minTailCount: { type: 'integer', minimum: 1, default: 10 },
    tolerances: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        ttft: latency(0.05, 1),
        itl: latency(0.05, 1),
        tpot: latency(0.05, 1),
        e2e: latency(0.05, 1),
        throughput: rate(0.05),
        goodput: rate(0.05),
        errorRate: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: { absolute: { type: 'number', minimum: 0, maximum: 1, default: 0.005 } },
        },
      },
    },
  },
} as const;

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
