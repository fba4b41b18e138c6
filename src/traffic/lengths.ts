/**
 * Token-length distributions for prompts (input tokens) and outputs
 * (max_tokens). Every sample is an integer >= 1.
 */
import type { Rng } from './random.js';

/** How a length (in tokens) is drawn. min/max are inclusive bounds in tokens. */
export type LengthSpec =
  /** Always `value` tokens. */
  | { dist: 'fixed'; value: number }
  /** Lognormal with the given median (tokens) and log-space sigma, truncated to [min, max]. */
  | { dist: 'lognormal'; median: number; sigma: number; min: number; max: number }
  /**
   * Negative binomial with the given mean (tokens) and dispersion r
   * (variance = mean + mean^2/r; large r approaches Poisson), truncated to [min, max].
   */
  | { dist: 'negbin'; mean: number; dispersion: number; min: number; max: number }
  /** Uniform integer in [min, max]. */
  | { dist: 'uniform'; min: number; max: number };

/** Redraws before a value outside [min, max] is clamped instead. */
export const TRUNCATION_RETRIES = 16;

/**
 * Draw one length (integer tokens, >= 1, within [min, max] where given).
 * Truncation: redraw up to TRUNCATION_RETRIES times while out of bounds, then clamp.
 */
export function sampleLength(spec: LengthSpec, rng: Rng): number {
  switch (spec.dist) {
    case 'fixed':
      return Math.max(1, Math.round(spec.value));
    case 'uniform': {
      const [lo, hi] = bounds(spec.min, spec.max);
      return rng.int(lo, hi);
    }
    case 'lognormal':
      return truncated(spec.min, spec.max, () => Math.round(rng.logNormal(spec.median, spec.sigma)));
    case 'negbin':
      return truncated(spec.min, spec.max, () => rng.negativeBinomial(spec.mean, spec.dispersion));
  }
}

/** Integer bounds with min raised to >= 1; throws RangeError when max < min. */
function bounds(min: number, max: number): [number, number] {
  const lo = Math.max(1, Math.ceil(min));
  const hi = Math.floor(max);
  if (!(hi >= lo)) throw new RangeError(`length: need 1 <= min <= max, got min=${min} max=${max}`);
  return [lo, hi];
}

function truncated(min: number, max: number, draw: () => number): number {
  const [lo, hi] = bounds(min, max);
  let v = draw();
  for (let i = 0; i < TRUNCATION_RETRIES && !(v >= lo && v <= hi); i++) v = draw();
  if (Number.isNaN(v)) return lo;
  return Math.min(hi, Math.max(lo, v));
}
