/**
 * Configuration of the run modes (soak, ramp, sweep, capacity surface,
 * spike), of the report directory and of cron schedules: TypeScript shapes,
 * JSON Schema fragments (embedded in the main schema and validated there by
 * ajv with `useDefaults`) and the cross-field checks a schema cannot express,
 * each reported as `path: message`.
 */
import { validateDetailed } from 'node-cron';
import { REPORT_FORMAT_NAMES, type ReportFormatName } from '../report/formats.js';

export type ModeKind = 'soak' | 'ramp' | 'sweep' | 'surface' | 'spike';
export const MODE_KINDS: readonly ModeKind[] = ['soak', 'ramp', 'sweep', 'surface', 'spike'];

/** Time a load level is held: warm-up (excluded), measured hold, cool-down (excluded; drains in flight). */
export interface StepTiming {
  /** Seconds at the new load before measuring starts (excluded from the figures). */
  warmupSec: number;
  /** Seconds measured. */
  holdSec: number;
  /** Seconds at most after a step with no load, waiting for requests in flight to end (excluded). */
  cooldownSec: number;
}

export interface SoakModeConfig {
  /** `llmsoak bench` only: how long the soak runs, s (`llmsoak run` soaks until stopped). */
  durationSec: number;
  /** Seconds at the start left out of the report's figures. */
  warmupSec: number;
}

export interface RampModeConfig extends StepTiming {
  /** What is stepped: the open-loop rate (req/s) or closed-loop users (concurrency). */
  by: 'rate' | 'users';
  from: number;
  to: number;
  /** Number of levels from `from` to `to` inclusive. */
  steps: number;
  /** linear: equal increments; geometric: equal ratios (10 → 1,000 in 5 steps: 10, 32, 100, 316, 1,000). */
  spacing: 'linear' | 'geometric';
  /** Explicit levels instead of from/to/steps (strictly increasing). */
  levels?: number[];
  /** Stop after this many failing levels in a row (0 = run every level). */
  stopAfterFailedSteps: number;
  /** Bisection steps between the last level that held and the first that failed. */
  refineSteps: number;
  /** Pass/fail for pipelines: the knee must be at least this (req/s or users). Absent: pass when any level held. */
  required?: number;
}

export interface SweepModeConfig extends StepTiming {
  /** Users of the maximum-throughput step (closed loop, no think time). */
  maxUsers: number;
  /** Open-loop rates measured between the synchronous and the maximum rate (equally spaced). */
  rates: number;
  /** Bisection steps of the knee search after the sweep. */
  bisectSteps: number;
  /** Stop bisecting when the bracket is narrower than this share of the knee. */
  tolerance: number;
  /** Pass/fail for pipelines: the knee must be at least this, req/s. */
  required?: number;
}

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

export interface SpikeModeConfig {
  /** Open-loop rate before and after the spike, req/s. */
  baseRate: number;
  /** The spike's rate is baseRate × multiple. */
  multiple: number;
  /** Warm-up at the base rate before the baseline is measured, s (excluded). */
  warmupSec: number;
  /** Baseline measured at the base rate, s. */
  baselineSec: number;
  spikeSec: number;
  /** Measured after the spike at the base rate, s; recovery must happen within it. */
  afterSec: number;
  /** Latency is compared over sliding windows of this length, s (baseline and after alike). */
  windowSec: number;
  /** Pass/fail for pipelines: recovery must take at most this, s. Absent: it must happen within afterSec. */
  maxRecoverySec?: number;
}

export interface ModeConfig {
  kind: ModeKind;
  soak: SoakModeConfig;
  ramp: RampModeConfig;
  sweep: SweepModeConfig;
  surface: SurfaceModeConfig;
  spike: SpikeModeConfig;
}

export interface ReportConfig {
  /** Where reports are written (created when missing); relative to the working directory. */
  dir: string;
  /** Formats written besides those every report has (JSON, Markdown, HTML), e.g. csv. */
  formats: ReportFormatName[];
}

export interface ScheduleConfig {
  /** Unique; shown in logs and /api/schedules. */
  name: string;
  /** Cron expression (5 fields, or 6 with seconds first), node-cron syntax. */
  cron: string;
  /** IANA time zone of the expression; absent: the host's. */
  timezone?: string;
  /** What runs. kind soak: a report of the soak since the last one (the soak itself never stops). */
  mode: ModeConfig;
  /** Pause the soak while the mode runs and resume it after (otherwise the mode's load is added to the soak's). */
  pauseSoak: boolean;
}

const timing = (warmupSec: number, holdSec: number, cooldownSec: number) => ({
  warmupSec: { type: 'number', minimum: 0, default: warmupSec },
  holdSec: { type: 'number', exclusiveMinimum: 0, default: holdSec },
  cooldownSec: { type: 'number', minimum: 0, default: cooldownSec },
});

const positiveList = (def: number[] | undefined, integer: boolean) => ({
  type: 'array',
  minItems: 1,
  maxItems: 32,
  items: integer ? { type: 'integer', minimum: 1 } : { type: 'number', exclusiveMinimum: 0 },
  ...(def !== undefined ? { default: def } : {}),
});

/** JSON Schema of `mode` (also the `mode` of each schedule). */
export const modeConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    /** What `llmsoak bench` runs (and a schedule). `llmsoak run` always soaks. */
    kind: { type: 'string', enum: [...MODE_KINDS], default: 'soak' },
    soak: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        durationSec: { type: 'number', exclusiveMinimum: 0, default: 300 },
        warmupSec: { type: 'number', minimum: 0, default: 0 },
      },
    },
    ramp: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        by: { type: 'string', enum: ['rate', 'users'], default: 'rate' },
        from: { type: 'number', exclusiveMinimum: 0, default: 1 },
        to: { type: 'number', exclusiveMinimum: 0, default: 20 },
        steps: { type: 'integer', minimum: 1, maximum: 100, default: 5 },
        spacing: { type: 'string', enum: ['linear', 'geometric'], default: 'linear' },
        levels: positiveList(undefined, false),
        stopAfterFailedSteps: { type: 'integer', minimum: 0, default: 1 },
        refineSteps: { type: 'integer', minimum: 0, maximum: 10, default: 2 },
        required: { type: 'number', exclusiveMinimum: 0 },
        ...timing(10, 30, 5),
      },
    },
    sweep: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxUsers: { type: 'integer', minimum: 1, default: 64 },
        rates: { type: 'integer', minimum: 1, maximum: 30, default: 5 },
        bisectSteps: { type: 'integer', minimum: 0, maximum: 10, default: 3 },
        tolerance: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.05 },
        required: { type: 'number', exclusiveMinimum: 0 },
        ...timing(10, 30, 5),
      },
    },
    surface: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        concurrency: positiveList([1, 4, 16, 64], true),
        inputTokens: positiveList([128, 512, 2048], true),
        outputTokens: { type: 'integer', minimum: 1, default: 128 },
        refineRounds: { type: 'integer', minimum: 0, maximum: 4, default: 1 },
        required: {
          type: 'object',
          additionalProperties: false,
          required: ['concurrency', 'inputTokens'],
          properties: { concurrency: { type: 'integer', minimum: 1 }, inputTokens: { type: 'integer', minimum: 1 } },
        },
        ...timing(5, 20, 5),
      },
    },
    spike: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        baseRate: { type: 'number', exclusiveMinimum: 0, default: 2 },
        multiple: { type: 'number', exclusiveMinimum: 1, default: 4 },
        warmupSec: { type: 'number', minimum: 0, default: 10 },
        baselineSec: { type: 'number', exclusiveMinimum: 0, default: 60 },
        spikeSec: { type: 'number', exclusiveMinimum: 0, default: 30 },
        afterSec: { type: 'number', exclusiveMinimum: 0, default: 120 },
        windowSec: { type: 'number', exclusiveMinimum: 0, default: 5 },
        maxRecoverySec: { type: 'number', minimum: 0 },
      },
    },
  },
} as const;

export const reportConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    dir: { type: 'string', minLength: 1, default: 'reports/' },
    /** Formats written besides JSON, Markdown and HTML (always written): a format registered in src/report/formats.ts. */
    formats: { type: 'array', uniqueItems: true, items: { type: 'string', enum: [...REPORT_FORMAT_NAMES] }, default: [] },
  },
} as const;

export const schedulesConfigSchema = {
  type: 'array',
  default: [],
  maxItems: 64,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'cron'],
    properties: {
      name: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$' },
      cron: { type: 'string', minLength: 9 },
      timezone: { type: 'string', minLength: 1 },
      mode: modeConfigSchema,
      pauseSoak: { type: 'boolean', default: true },
    },
  },
} as const;

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

function increasing(xs: number[]): boolean {
  for (let i = 1; i < xs.length; i++) if (!((xs[i] as number) > (xs[i - 1] as number))) return false;
  return true;
}

/**
 * Cross-field checks of the section of the mode that runs (`m.kind`); `at` is
 * its path (e.g. `mode`, `schedules[0].mode`). The other sections keep their
 * defaults and are not used.
 */
export function validateMode(m: ModeConfig, at: string, problems: string[]): void {
  switch (m.kind) {
    case 'ramp': {
      const r = m.ramp;
      if (r.levels !== undefined && r.levels.length > 0) {
        if (!increasing(r.levels)) problems.push(`${at}.ramp.levels: must be strictly increasing`);
        if (r.by === 'users' && r.levels.some((v) => !Number.isInteger(v))) problems.push(`${at}.ramp.levels: users must be integers`);
      } else if (r.from > r.to) problems.push(`${at}.ramp.from: (${r.from}) is above to (${r.to})`);
      return;
    }
    case 'surface': {
      const sf = m.surface;
      if (!increasing(sf.concurrency)) problems.push(`${at}.surface.concurrency: must be strictly increasing`);
      if (!increasing(sf.inputTokens)) problems.push(`${at}.surface.inputTokens: must be strictly increasing`);
      if (sf.required && (!sf.concurrency.includes(sf.required.concurrency) || !sf.inputTokens.includes(sf.required.inputTokens))) {
        problems.push(`${at}.surface.required: must be a point of the grid (concurrency and inputTokens values)`);
      }
      return;
    }
    case 'spike': {
      const sp = m.spike;
      if (sp.windowSec > sp.baselineSec) problems.push(`${at}.spike.windowSec: longer than baselineSec (${sp.baselineSec})`);
      if (sp.maxRecoverySec !== undefined && sp.maxRecoverySec > sp.afterSec) problems.push(`${at}.spike.maxRecoverySec: longer than afterSec (${sp.afterSec}): recovery is only watched for afterSec`);
      return;
    }
    case 'soak':
    case 'sweep':
      return;
  }
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
  const of = (m: ModeConfig): number => {
    let n = 1;
    if (m.kind === 'ramp' && m.ramp.by === 'users') n = Math.max(n, ...rampLevels(m.ramp));
    if (m.kind === 'sweep') n = Math.max(n, m.sweep.maxUsers);
    if (m.kind === 'surface') n = Math.max(n, ...m.surface.concurrency);
    return n;
  };
  return Math.max(of(cfg.mode), ...cfg.schedules.map((s) => of(s.mode)));
}
