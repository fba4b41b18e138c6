/** The modes' entry points: a mode's run (./registry.ts) and its description (src/config/modes.ts). */
import type { Report } from '../report/model.js';
import { modeSpec, type ModeConfig } from '../config/modes.js';
import { MODE_RUNS } from './registry.js';
import type { ModeHost } from './runner.js';

export type { ModeConfig, ModeKind, ScheduleConfig, ReportConfig } from '../config/modes.js';
export type { ModeHost, SloLimits } from './runner.js';

/** Run one mode to its end (or until the host's signal aborts) and return its report. */
export function runMode(host: ModeHost, mode: ModeConfig): Promise<Report> {
  return runOf(host, mode.kind, mode);
}

/** The parameters of a mode in one line, for logs and the status page. */
export function describeMode(mode: ModeConfig): string {
  return modeSpec(mode.kind).describe(mode[mode.kind]);
}

function runOf<K extends ModeConfig['kind']>(host: ModeHost, kind: K, mode: ModeConfig): Promise<Report> {
  const run: (host: ModeHost, cfg: ModeConfig[K]) => Promise<Report> = MODE_RUNS[kind];
  return run(host, mode[kind]);
}
