/** `preflight:` config: what llmsoak checks of the target before it soaks it, and what it does about scenarios the target cannot serve. */
import type { FromSchema } from 'json-schema-to-ts';

export const preflightConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { description: 'Probe the target at start (one small request per endpoint the scenarios use, GET /models, /metrics).', type: 'boolean', default: true },
    timeoutMs: { description: "Each probe's limit, ms; the probes run at once.", type: 'integer', minimum: 100, maximum: 600000, default: 10000 },
    onMissingEndpoint: {
      description: 'A scenario whose endpoint the target lacks: skip it (one warning), fail the start, or keep sending it.',
      type: 'string',
      enum: ['fail', 'skip', 'keep'],
      default: 'skip',
    },
  },
} as const;

/** The validated `preflight` section, derived from the schema (defaults applied). */
export type PreflightConfig = FromSchema<typeof preflightConfigSchema>;

/**
 * What to do with a scenario whose endpoint the target does not have
 * (404, 405 or 501 to the preflight's request):
 * - skip: leave it out of the workload mix, one warning naming it (default);
 * - fail: do not start (exit 1, one line naming the scenarios);
 * - keep: send it anyway (its failures are measured as errors).
 */
export type MissingEndpointPolicy = PreflightConfig['onMissingEndpoint'];
