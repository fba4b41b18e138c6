/** `constant`: evenly spaced, 1/rate apart; arrival k at exactly k/rate (no accumulated error). */
import type { ArrivalKind } from './arrival-kind.js';

export const constantArrival: ArrivalKind<'constant', Record<never, never>> = {
  kind: 'constant',
  summary: 'evenly spaced, 1/rate apart',
  fields: {},
  work: () => 'even',
};
