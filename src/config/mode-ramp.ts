/** `mode.ramp`: its config, schema, checks and description (the run itself: ./ramp.ts). */
import { increasing, positiveNumberList, timing, type ModeSpec, type SectionConfig } from './mode-spec.js';

/** The levels of a ramp: explicit, or from..to in `steps` (rounded; users to integers), strictly increasing. */
export function rampLevels(r: RampModeConfig): number[] {
  if (r.levels !== undefined && r.levels.length > 0) return [...r.levels];
  const n = r.steps;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const f = n === 1 ? 1 : i / (n - 1);
    const v = n === 1 ? r.to : r.spacing === 'geometric' ? r.from * (r.to / r.from) ** f : r.from + (r.to - r.from) * f;
    const rounded = r.by === 'users' ? Math.max(1, Math.round(v)) : Number(v.toPrecision(4));
    if (out.length === 0 || rounded > (out[out.length - 1] as number)) out.push(rounded);
  }
  return out;
}

const properties = {
  by: { description: 'What is stepped: the open-loop rate (req/s) or closed-loop users (concurrency).', type: 'string', enum: ['rate', 'users'], default: 'rate' },
  from: { description: 'The first level (req/s or users).', type: 'number', exclusiveMinimum: 0, default: 1 },
  to: { description: 'The last level (req/s or users).', type: 'number', exclusiveMinimum: 0, default: 20 },
  steps: { description: 'Number of levels from `from` to `to` inclusive.', type: 'integer', minimum: 1, maximum: 100, default: 5 },
  spacing: { description: 'linear: equal increments; geometric: equal ratios (10 → 1,000 in 5 steps: 10, 32, 100, 316, 1,000).', type: 'string', enum: ['linear', 'geometric'], default: 'linear' },
  levels: positiveNumberList('Explicit levels instead of from/to/steps, strictly increasing.'),
  stopAfterFailedSteps: { description: 'Stop after this many failing levels in a row (0 = run every level).', type: 'integer', minimum: 0, default: 1 },
  refineSteps: { description: 'Bisection steps between the last level that held and the first that failed.', type: 'integer', minimum: 0, maximum: 10, default: 2 },
  required: { description: 'Pass/fail for pipelines: the knee must be at least this (req/s or users). Absent: pass when any level held.', type: 'number', exclusiveMinimum: 0 },
  ...timing(10, 30, 5),
} as const;

/** `mode.ramp` as validated (defaults applied), derived from its schema. */
export type RampModeConfig = SectionConfig<typeof properties>;

export const rampSpec: ModeSpec<'ramp', RampModeConfig> = {
  kind: 'ramp',
  summary: 'stepped rate or users, each level held, then bisection: the knee and why the next level failed',
  properties,
  describe(r) {
    const unit = r.by === 'rate' ? 'req/s' : 'users';
    return r.levels && r.levels.length > 0 ? `ramp over ${r.levels.join(', ')} ${unit}` : `ramp ${r.from} → ${r.to} ${unit} in ${r.steps} steps`;
  },
  check(r, at, problems) {
    if (r.levels !== undefined && r.levels.length > 0) {
      if (!increasing(r.levels)) problems.push(`${at}.ramp.levels: must be strictly increasing`);
      if (r.by === 'users' && r.levels.some((v) => !Number.isInteger(v))) problems.push(`${at}.ramp.levels: users must be integers`);
    } else if (r.from > r.to) problems.push(`${at}.ramp.from: (${r.from}) is above to (${r.to})`);
  },
  maxUsers: (r) => (r.by === 'users' ? Math.max(1, ...rampLevels(r)) : 1),
};
