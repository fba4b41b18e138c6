/** One switch per kind: a mode is one file and one `case` here. */
import type { Report } from '../report/model.js';
import type { ModeConfig } from './config.js';
import type { ModeHost } from './runner.js';
import { runRamp } from './ramp.js';
import { runSoak } from './soak.js';
import { runSpike } from './spike.js';
import { runSurface } from './surface.js';
import { runSweep } from './sweep.js';

export type { ModeConfig, ModeKind, ScheduleConfig, ReportConfig } from './config.js';
export type { ModeHost, SloLimits } from './runner.js';

/** Run one mode to its end (or until the host's signal aborts) and return its report. */
export function runMode(host: ModeHost, mode: ModeConfig): Promise<Report> {
  switch (mode.kind) {
    case 'soak':
      return runSoak(host, mode.soak);
    case 'ramp':
      return runRamp(host, mode.ramp);
    case 'sweep':
      return runSweep(host, mode.sweep);
    case 'surface':
      return runSurface(host, mode.surface);
    case 'spike':
      return runSpike(host, mode.spike);
  }
}

/** The parameters of a mode in one line, for logs and the status page. */
export function describeMode(mode: ModeConfig): string {
  switch (mode.kind) {
    case 'soak':
      return `soak for ${mode.soak.durationSec} s`;
    case 'ramp': {
      const r = mode.ramp;
      const unit = r.by === 'rate' ? 'req/s' : 'users';
      return r.levels && r.levels.length > 0 ? `ramp over ${r.levels.join(', ')} ${unit}` : `ramp ${r.from} → ${r.to} ${unit} in ${r.steps} steps`;
    }
    case 'sweep':
      return `sweep to ${mode.sweep.maxUsers} users with ${mode.sweep.rates} rates`;
    case 'surface':
      return `capacity surface ${mode.surface.concurrency.length} × ${mode.surface.inputTokens.length}`;
    case 'spike':
      return `spike ${mode.spike.multiple}× ${mode.spike.baseRate} req/s for ${mode.spike.spikeSec} s`;
  }
}
