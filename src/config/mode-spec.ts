/**
 * What a mode is to the config (./modes.ts registers them): its kind, its
 * section `mode.<kind>` (JSON Schema and the checks a schema cannot express)
 * and a one-line description of a configured run. Its run over a ModeHost is
 * registered apart (src/modes/registry.ts), so that the config never imports a
 * mode's code: the config sits below the modes. Also the schema pieces the
 * modes share. Nothing here imports more than types.
 */
import type { RunKind } from '../report/model.js';

export interface ModeSpec<K extends RunKind, C> {
  readonly kind: K;
  /** One line: what it measures (CLI help, docs). */
  readonly summary: string;
  /** JSON Schema `properties` of its section `mode.<kind>`; each has a default, so an empty section is valid. */
  readonly properties: Readonly<Record<string, unknown>>;
  /** The parameters in one line, for logs and the status page. */
  describe(cfg: C): string;
  /** Cross-field checks of its section, each `path: message` (`at` is e.g. `mode` or `schedules[0].mode`). */
  check?(cfg: C, at: string, problems: string[]): void;
  /** Most closed-loop users it asks for (the HTTP pool must have that many connections); absent: 1. */
  maxUsers?(cfg: C): number;
}

/** Time a load level is held: warm-up (excluded), measured hold, cool-down (excluded; drains in flight). */
export interface StepTiming {
  /** Seconds at the new load before measuring starts (excluded from the figures). */
  warmupSec: number;
  /** Seconds measured. */
  holdSec: number;
  /** Seconds at most after a step with no load, waiting for requests in flight to end (excluded). */
  cooldownSec: number;
}

/** Schema of StepTiming with these defaults. */
export const timing = (warmupSec: number, holdSec: number, cooldownSec: number) => ({
  warmupSec: { description: 'Seconds at a new load before measuring starts (excluded from the figures).', type: 'number', minimum: 0, default: warmupSec },
  holdSec: { description: 'Seconds measured at each load.', type: 'number', exclusiveMinimum: 0, default: holdSec },
  cooldownSec: { description: 'Seconds at most after a load, with none sent, for requests in flight to end (excluded).', type: 'number', minimum: 0, default: cooldownSec },
});

/** Schema of a list of 1–32 positive numbers (integers when `integer`). */
export const positiveList = (def: number[] | undefined, integer: boolean, description: string) => ({
  description,
  type: 'array',
  minItems: 1,
  maxItems: 32,
  items: integer ? { type: 'integer', minimum: 1 } : { type: 'number', exclusiveMinimum: 0 },
  ...(def !== undefined ? { default: def } : {}),
});

/** Strictly increasing. */
export function increasing(xs: readonly number[]): boolean {
  for (let i = 1; i < xs.length; i++) if (!((xs[i] as number) > (xs[i - 1] as number))) return false;
  return true;
}
