/**
 * `gamma`: gamma-distributed gaps with shape = burstiness and mean 1/rate (as
 * vLLM `bench serve --burstiness`): 1 = Poisson, < 1 burstier, > 1 more
 * regular; CV of gaps = 1/sqrt(burstiness).
 */
import type { ArrivalKind } from './arrival-kind.js';

export const gammaArrival: ArrivalKind<'gamma', { burstiness: number }> = {
  kind: 'gamma',
  summary: 'gamma gaps with shape `burstiness` (1 = Poisson, < 1 burstier, > 1 more regular)',
  fields: {
    burstiness: { description: 'arrival: gamma: shape of the gaps; 1 = Poisson, < 1 burstier, > 1 more regular (CV of gaps = 1/√burstiness).', type: 'number', exclusiveMinimum: 0, default: 1 },
  },
  work({ burstiness: b }, rng) {
    if (!(b > 0) || !Number.isFinite(b)) throw new RangeError(`arrivals: burstiness must be a positive finite number, got ${b}`);
    return () => rng.gamma(b, 1 / b);
  },
};
