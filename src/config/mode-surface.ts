/** `mode.surface`: its config, schema, checks and description (the run itself: ./surface.ts). */
import { increasing, positiveIntegerList, timing, type ModeSpec, type SectionConfig } from './mode-spec.js';

const properties = {
  concurrency: positiveIntegerList([1, 4, 16, 64], 'Closed-loop users of the grid, strictly increasing.'),
  inputTokens: positiveIntegerList([128, 512, 2048], 'Prompt tokens per request of the grid, strictly increasing.'),
  outputTokens: { description: 'Output tokens per request (max_tokens with ignore_eos).', type: 'integer', minimum: 1, default: 128 },
  refineRounds: { description: 'Rounds of refinement: a point is added between neighbours on either side of the SLO boundary.', type: 'integer', minimum: 0, maximum: 4, default: 1 },
  required: {
    description: 'Pass/fail for pipelines: this point must hold every SLO. Absent: the smallest point must.',
    type: 'object',
    additionalProperties: false,
    required: ['concurrency', 'inputTokens'],
    properties: {
      concurrency: { description: 'Users of the point.', type: 'integer', minimum: 1 },
      inputTokens: { description: 'Prompt tokens of the point.', type: 'integer', minimum: 1 },
    },
  },
  ...timing(5, 20, 5),
} as const;

/** `mode.surface` as validated (defaults applied), derived from its schema. */
export type SurfaceModeConfig = SectionConfig<typeof properties>;

export const surfaceSpec: ModeSpec<'surface', SurfaceModeConfig> = {
  kind: 'surface',
  summary: 'concurrency × prompt length → p99 TTFT and E2E, refined along the SLO boundary',
  properties,
  describe: (sf) => `capacity surface ${sf.concurrency.length} × ${sf.inputTokens.length}`,
  check(sf, at, problems) {
    if (!increasing(sf.concurrency)) problems.push(`${at}.surface.concurrency: must be strictly increasing`);
    if (!increasing(sf.inputTokens)) problems.push(`${at}.surface.inputTokens: must be strictly increasing`);
    if (sf.required && (!sf.concurrency.includes(sf.required.concurrency) || !sf.inputTokens.includes(sf.required.inputTokens))) {
      problems.push(`${at}.surface.required: must be a point of the grid (concurrency and inputTokens values)`);
    }
  },
  maxUsers: (sf) => Math.max(1, ...sf.concurrency),
};
