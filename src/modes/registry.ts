/**
 * The modes: one file each (its config section, checks, description and
 * run), registered here. The config's `mode.kind` list and sections, the CLI
 * help, runMode/describeMode and the docs' mode table derive from this list.
 */
import type { RunKind } from '../report/model.js';
import type { ModeDefinition } from './mode.js';
import { rampMode } from './ramp.js';
import { soakMode } from './soak.js';
import { spikeMode } from './spike.js';
import { surfaceMode } from './surface.js';
import { sweepMode } from './sweep.js';

export const MODE_LIST = [soakMode, rampMode, sweepMode, surfaceMode, spikeMode] as const;

type Registered = (typeof MODE_LIST)[number];
export type ModeKind = Registered['kind'];
type ConfigOf<D> = D extends ModeDefinition<RunKind, infer C> ? C : never;
/** Each mode's section of `mode`, by kind. */
export type ModeSections = { [D in Registered as D['kind']]: ConfigOf<D> };

export const MODE_KINDS: readonly ModeKind[] = MODE_LIST.map((m) => m.kind);

/** A mode by kind (the schema admits only registered kinds). */
export function modeDefinition<K extends ModeKind>(kind: K): ModeDefinition<K, ModeSections[K]> {
  const def = MODE_LIST.find((m) => m.kind === kind);
  if (def === undefined) throw new RangeError(`modes: unknown kind "${kind}" (one of ${MODE_KINDS.join(', ')})`);
  return def as unknown as ModeDefinition<K, ModeSections[K]>;
}
