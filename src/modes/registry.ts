/**
 * The modes' runs, by kind. A mode's config (kind, section, checks,
 * description) is registered in src/config/modes.ts, below the modes; its run here.
 * The mapped type makes a registered kind without a run (or a run of an
 * unregistered kind) a compile error.
 */
import type { Report } from '../report/model.js';
import type { ModeKind, ModeSections } from '../config/modes.js';
import { runRamp } from './ramp.js';
import type { ModeHost } from './runner.js';
import { runSoak } from './soak.js';
import { runSpike } from './spike.js';
import { runSurface } from './surface.js';
import { runSweep } from './sweep.js';

type ModeRuns = { readonly [K in ModeKind]: (host: ModeHost, cfg: ModeSections[K]) => Promise<Report> };

export const MODE_RUNS: ModeRuns = {
  soak: runSoak,
  ramp: runRamp,
  sweep: runSweep,
  surface: runSurface,
  spike: runSpike,
};
