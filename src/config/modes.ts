/**
 * Configuration of the run modes (each mode's section in its own file
 * ./mode-<kind>.ts, registered here in MODE_SPECS; its run in
 * src/modes/registry.ts), of the report directory and of cron schedules:
 * TypeScript shapes, JSON Schema fragments (embedded in the main schema and
 * validated there by ajv with `useDefaults`) and the cross-field checks a
 * schema cannot express, each reported as `path: message`. It sits in
 * src/config/, below both the config and the modes: the config imports no
 * mode code (test/import-cycles.test.ts); src/modes/config.ts re-exports it.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { validateDetailed } from 'node-cron';
import { REPORT_FORMAT_NAMES } from '../report/formats.js';
import type { ModeSpec } from './mode-spec.js';
import { rampSpec } from './mode-ramp.js';
import { soakSpec } from './mode-soak.js';
import { spikeSpec } from './mode-spike.js';
import { surfaceSpec } from './mode-surface.js';
import { sweepSpec } from './mode-sweep.js';

export type { StepTiming } from './mode-spec.js';
export { rampLevels, type RampModeConfig } from './mode-ramp.js';
export type { SoakModeConfig } from './mode-soak.js';
export type { SpikeModeConfig } from './mode-spike.js';
export type { SurfaceModeConfig } from './mode-surface.js';
export type { SweepModeConfig } from './mode-sweep.js';

/** The modes, in the order the docs and the help list them: one file each, one line here (and its run in src/modes/registry.ts). */
export const MODE_SPECS = [soakSpec, rampSpec, sweepSpec, surfaceSpec, spikeSpec] as const;

type Registered = (typeof MODE_SPECS)[number];
export type ModeKind = Registered['kind'];
type ConfigOf<D> = D extends ModeSpec<ModeKind, infer C> ? C : never;
/** Each mode's section of `mode`, by kind. */
export type ModeSections = { [D in Registered as D['kind']]: ConfigOf<D> };

export const MODE_KINDS: readonly ModeKind[] = MODE_SPECS.map((m) => m.kind);

/** A mode's spec by kind (the schema admits only registered kinds). */
export function modeSpec<K extends ModeKind>(kind: K): ModeSpec<K, ModeSections[K]> {
  const spec = MODE_SPECS.find((m) => m.kind === kind);
  if (spec === undefined) throw new RangeError(`modes: unknown kind "${kind}" (one of ${MODE_KINDS.join(', ')})`);
  return spec as unknown as ModeSpec<K, ModeSections[K]>;
}

/** `mode`: which mode runs, and every mode's section (each keeps its defaults; only the one that runs is used). */
export type ModeConfig = { kind: ModeKind } & ModeSections;

/** JSON Schema of `mode` (also the `mode` of each schedule): `kind`, and a section per registered mode. */
export const modeConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    kind: { description: 'What `llmsoak bench` runs (and a schedule). `llmsoak run` always soaks.', type: 'string', enum: [...MODE_KINDS], default: 'soak' },
    ...Object.fromEntries(MODE_SPECS.map((m) => [m.kind, { description: `The ${m.kind} mode: ${m.summary}.`, type: 'object', additionalProperties: false, default: {}, properties: m.properties }])),
  },
} as const;

export const reportConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    dir: { description: 'Where reports are written (created when missing); relative to the working directory.', type: 'string', minLength: 1, default: 'reports/' },
    formats: {
      description: 'Formats written besides JSON, Markdown and HTML (always written): a format registered in src/report/formats.ts.',
      type: 'array',
      uniqueItems: true,
      items: { type: 'string', enum: [...REPORT_FORMAT_NAMES] },
      default: [],
    },
  },
} as const;

/** The validated `report` section (defaults applied), derived from the schema. */
export type ReportConfig = FromSchema<typeof reportConfigSchema>;

export const schedulesConfigSchema = {
  type: 'array',
  default: [],
  maxItems: 64,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'cron'],
    properties: {
      name: { description: 'Unique; shown in logs and /api/schedules.', type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$' },
      cron: { description: 'Cron expression (5 fields, or 6 with seconds first), node-cron syntax.', type: 'string', minLength: 9 },
      timezone: { description: "IANA time zone of the expression; absent: the host's.", type: 'string', minLength: 1 },
      mode: { ...modeConfigSchema, description: 'What the schedule runs: a mode, as `mode` (kind and sections).' },
      pauseSoak: { description: "Pause the soak while the mode runs and resume it after (otherwise the mode's load is added to the soak's).", type: 'boolean', default: true },
    },
  },
} as const;

/**
 * One cron job of `llmsoak run` (defaults applied), derived from the schema; its `mode` is
 * `ModeConfig`, the registered modes' sections (the schema builds that part from the registry).
 */
export type ScheduleConfig = Omit<FromSchema<(typeof schedulesConfigSchema)['items']>, 'mode'> & { mode: ModeConfig };

/**
 * Cross-field checks of the section of the mode that runs (`m.kind`); `at` is
 * its path (e.g. `mode`, `schedules[0].mode`). The other sections keep their
 * defaults and are not used.
 */
export function validateMode(m: ModeConfig, at: string, problems: string[]): void {
  modeSpec(m.kind).check?.(m[m.kind], at, problems);
}

/** Cross-field checks of `mode` and `schedules`. */
export function validateModesConfig(cfg: { mode: ModeConfig; schedules: ScheduleConfig[] }, problems: string[]): void {
  validateMode(cfg.mode, 'mode', problems);
  const names = new Set<string>();
  cfg.schedules.forEach((s, i) => {
    const at = `schedules[${i}]`;
    if (names.has(s.name)) problems.push(`${at}.name: duplicate schedule name "${s.name}"`);
    names.add(s.name);
    const v = validateDetailed(s.cron);
    if (!v.valid) problems.push(`${at}.cron: not a cron expression (${v.errors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'unreadable'})`);
    if (s.timezone !== undefined && !validTimeZone(s.timezone)) problems.push(`${at}.timezone: unknown time zone "${s.timezone}"`);
    validateMode(s.mode, `${at}.mode`, problems);
  });
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Most closed-loop users any configured mode asks for (the HTTP pool must have that many connections). */
export function maxModeUsers(cfg: { mode: ModeConfig; schedules: ScheduleConfig[] }): number {
  const of = (m: ModeConfig): number => Math.max(1, modeSpec(m.kind).maxUsers?.(m[m.kind]) ?? 1);
  return Math.max(of(cfg.mode), ...cfg.schedules.map((s) => of(s.mode)));
}
