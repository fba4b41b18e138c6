/** `mode.surface`: its config, schema, checks and description (the run itself: ./surface.ts). */
import { increasing, positiveList, timing, type ModeSpec, type StepTiming } from './mode-spec.js';

export interface SurfaceModeConfig extends StepTiming {
  /** Closed-loop users, increasing. */
  concurrency: number[];
  /** Prompt tokens per request, increasing. */
  inputTokens: number[];
  /** Output tokens per request (max_tokens with ignore_eos). */
  outputTokens: number;
  /** Rounds of refinement: a point is added between neighbours on either side of the SLO boundary. */
  refineRounds: number;
  /** Pass/fail for pipelines: this point must hold every SLO. Absent: the smallest point must. */
  required?: { concurrency: number; inputTokens: number };
}

export const surfaceSpec: ModeSpec<'surface', SurfaceModeConfig> = {
  kind: 'surface',
  summary: 'concurrency × prompt length → p99 TTFT and E2E, refined along the SLO boundary',
  properties: {
    concurrency: positiveList([1, 4, 16, 64], true, 'Closed-loop users of the grid, strictly increasing.'),
    inputTokens: positiveList([128, 512, 2048], true, 'Prompt tokens per request of the grid, strictly increasing.'),
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
  },
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
