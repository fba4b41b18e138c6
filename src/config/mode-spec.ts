/**
 * What a mode is to the config (./modes.ts registers them): its kind, its
 * section `mode.<kind>` (JSON Schema and the checks a schema cannot express)
 * and a one-line description of a configured run. Its run over a ModeHost is
 * registered apart (src/modes/registry.ts), so that the config never imports a
 * mode's code: the config sits below the modes. Also the schema pieces the
 * modes share. Nothing here imports more than types.
 */
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type { RunKind } from '../report/model.js';

/** A mode's section `mode.<kind>` as validated (defaults applied), derived from its schema `properties`. */
export type SectionConfig<P> = P extends Readonly<Record<string, JSONSchema>> ? FromSchema<{ readonly type: 'object'; readonly additionalProperties: false; readonly properties: P }> : never;

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

/** Schema of the time a load level is held, with these defaults: warm-up (excluded), measured hold, cool-down (excluded; drains in flight). */
export const timing = (warmupSec: number, holdSec: number, cooldownSec: number) =>
  ({
    warmupSec: { description: 'Seconds at a new load before measuring starts (excluded from the figures).', type: 'number', minimum: 0, default: warmupSec },
    holdSec: { description: 'Seconds measured at each load.', type: 'number', exclusiveMinimum: 0, default: holdSec },
    cooldownSec: { description: 'Seconds at most after a load, with none sent, for requests in flight to end (excluded).', type: 'number', minimum: 0, default: cooldownSec },
  }) as const;

/** Time a load level is held (every stepped mode's section has it). */
export type StepTiming = SectionConfig<ReturnType<typeof timing>>;

/** Schema of a list of 1–32 positive integers, with a default. */
export const positiveIntegerList = (def: readonly number[], description: string) =>
  ({ description, type: 'array', minItems: 1, maxItems: 32, items: { type: 'integer', minimum: 1 }, default: def }) as const;

/** Schema of a list of 1–32 positive numbers, absent by default. */
export const positiveNumberList = (description: string) => ({ description, type: 'array', minItems: 1, maxItems: 32, items: { type: 'number', exclusiveMinimum: 0 } }) as const;

/** Strictly increasing. */
export function increasing(xs: readonly number[]): boolean {
  for (let i = 1; i < xs.length; i++) if (!((xs[i] as number) > (xs[i - 1] as number))) return false;
  return true;
}
