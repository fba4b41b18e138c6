/** `poisson`: a Poisson process, exponential gaps (CV of gaps = 1). */
import type { ArrivalKind } from './arrival-kind.js';

export const poissonArrival: ArrivalKind<'poisson', Record<never, never>> = {
  kind: 'poisson',
  summary: 'Poisson process: exponential gaps, CV 1',
  fields: {},
  work: (_params, rng) => () => rng.exponential(1),
};
