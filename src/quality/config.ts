/**
 * Configuration of the quality checks: golden-prompt suites run on a cron
 * schedule beside the soak (see README "Quality checks").
 *
 * The section's shape is checked by the main schema (ajv); the prompts
 * themselves, the suite files and the cron expression are checked by
 * `validateQualityConfig`, which the config loader calls, so `check-config`
 * reports a bad suite file as it reports any other problem.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { validateDetailed } from 'node-cron';
import { loadSuites } from './suite.js';
import { ConfigError } from '../errors.js';

/** JSON Schema of the `quality` section (embedded in the main config schema). */
export const qualityConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { description: 'Run the suites (there are none by default).', type: 'boolean', default: true },
    schedule: { description: 'Cron expression (node-cron: 5 fields, or 6 with seconds first).', type: 'string', minLength: 1, default: '0 * * * *' },
    intervalSec: { description: 'Run every this many seconds instead of `schedule` (compressed-time tests, short soaks).', type: 'number', exclusiveMinimum: 0 },
    runOnStart: { description: 'Run once as soon as traffic starts (so a baseline has a score), then on the schedule.', type: 'boolean', default: true },
    timeoutMs: { description: 'Limit of one golden request, ms.', type: 'integer', minimum: 1, default: 60000 },
    suites: {
      description: 'Golden-prompt suites; each prompt says what its answer must be (exact, contains, regex, number or JSON schema), and the share that pass is exported per suite.',
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { description: 'The `suite` label of its series.', type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$' },
          file: { description: 'A YAML file of prompts (relative to the working directory, as traffic.replay.file).', type: 'string', minLength: 1 },
          prompts: { description: 'Prompts inline, in the same form as in a file.', type: 'array', items: { type: 'object' } },
        },
      },
    },
  },
} as const;

/** The validated `quality` section, derived from the schema (defaults applied). */
export type QualityConfig = FromSchema<typeof qualityConfigSchema>;
/** One suite: a YAML file of golden prompts, or the prompts inline. */
export type QualitySuiteConfig = QualityConfig['suites'][number];

/**
 * Cross-field checks of a schema-valid `quality` section: the cron expression,
 * and (when enabled) every suite loaded and validated. Returns `path: message` problems.
 */
export function validateQualityConfig(cfg: QualityConfig, at = 'quality'): string[] {
  const problems: string[] = [];
  if (cfg.intervalSec === undefined) {
    const v = validateDetailed(cfg.schedule);
    if (!v.valid) {
      const why = v.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
      problems.push(`${at}.schedule: "${cfg.schedule}" is not a cron expression${why ? ` (${why})` : ''}`);
    }
  }
  if (!cfg.enabled) return problems;
  try {
    loadSuites(cfg, at);
  } catch (err) {
    if (err instanceof ConfigError) problems.push(...err.problems);
    else throw err;
  }
  return problems;
}
