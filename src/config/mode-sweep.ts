/** `mode.sweep`: its config, schema, checks and description (the run itself: ./sweep.ts). */
import { timing, type ModeSpec, type SectionConfig } from './mode-spec.js';

const properties = {
  maxUsers: { description: 'Users of the maximum-throughput step (closed loop, no think time).', type: 'integer', minimum: 1, default: 64 },
  rates: { description: 'Open-loop rates measured between the synchronous and the maximum rate (equally spaced).', type: 'integer', minimum: 1, maximum: 30, default: 5 },
  bisectSteps: { description: 'Bisection steps of the knee search after the sweep.', type: 'integer', minimum: 0, maximum: 10, default: 3 },
  tolerance: { description: 'Stop bisecting when the bracket is narrower than this share of the knee.', type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.05 },
  required: { description: 'Pass/fail for pipelines: the knee must be at least this, req/s.', type: 'number', exclusiveMinimum: 0 },
  ...timing(10, 30, 5),
} as const;

/** `mode.sweep` as validated (defaults applied), derived from its schema. */
export type SweepModeConfig = SectionConfig<typeof properties>;

export const sweepSpec: ModeSpec<'sweep', SweepModeConfig> = {
  kind: 'sweep',
  summary: 'synchronous and maximum throughput, open-loop rates between, then a knee search',
  properties,
  describe: (s) => `sweep to ${s.maxUsers} users with ${s.rates} rates`,
  maxUsers: (s) => Math.max(1, s.maxUsers),
};
