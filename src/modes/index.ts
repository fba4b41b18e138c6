/** The modes' entry points; a mode is one file registered in ./registry.ts. */
import type { Report } from '../report/model.js';
import type { ModeConfig } from './config.js';
import { modeDefinition } from './registry.js';
import type { ModeHost } from './runner.js';

export type { ModeConfig, ModeKind, ScheduleConfig, ReportConfig } from './config.js';
export type { ModeHost, SloLimits } from './runner.js';

/** Run one mode to its end (or until the host's signal aborts) and return its report. */
export function runMode(host: ModeHost, mode: ModeConfig): Promise<Report> {
  return modeDefinition(mode.kind).run(host, mode[mode.kind]);
}

/** The parameters of a mode in one line, for logs and the status page. */
export function describeMode(mode: ModeConfig): string {
  return modeDefinition(mode.kind).describe(mode[mode.kind]);
}
