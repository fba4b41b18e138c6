/** `mode.spike`: its config, schema, checks and description (the run itself: ./spike.ts). */
import type { ModeSpec, SectionConfig } from './mode-spec.js';

const properties = {
  baseRate: { description: 'Open-loop rate before and after the spike, req/s.', type: 'number', exclusiveMinimum: 0, default: 2 },
  multiple: { description: "The spike's rate is baseRate × multiple.", type: 'number', exclusiveMinimum: 1, default: 4 },
  warmupSec: { description: 'Warm-up at the base rate before the baseline is measured, s (excluded).', type: 'number', minimum: 0, default: 10 },
  baselineSec: { description: 'Baseline measured at the base rate, s.', type: 'number', exclusiveMinimum: 0, default: 60 },
  spikeSec: { description: 'Seconds the spike lasts.', type: 'number', exclusiveMinimum: 0, default: 30 },
  afterSec: { description: 'Measured after the spike at the base rate, s; recovery must happen within it.', type: 'number', exclusiveMinimum: 0, default: 120 },
  windowSec: { description: 'Latency is compared over sliding windows of this length, s (baseline and after alike).', type: 'number', exclusiveMinimum: 0, default: 5 },
  maxRecoverySec: { description: 'Pass/fail for pipelines: recovery must take at most this, s. Absent: it must happen within afterSec.', type: 'number', minimum: 0 },
  recoveryTolerance: {
    description: "Recovered: a window's p99 at most the baseline level plus this share of it (0.1 = 10 %), or plus recoveryToleranceMs, whichever is larger.",
    type: 'number',
    minimum: 0,
    default: 0.1,
  },
  recoveryToleranceMs: {
    description: "The absolute part of the recovery margin, ms: a p99 over a few requests moves by a few ms with the host's scheduling alone, so 10 % of a 20 ms TTFT is not a margin.",
    type: 'number',
    minimum: 0,
    default: 5,
  },
} as const;

/** `mode.spike` as validated (defaults applied), derived from its schema. */
export type SpikeModeConfig = SectionConfig<typeof properties>;

export const spikeSpec: ModeSpec<'spike', SpikeModeConfig> = {
  kind: 'spike',
  summary: 'a base rate, a sudden multiple of it, then how long latency takes to come back',
  properties,
  describe: (sp) => `spike ${sp.multiple}× ${sp.baseRate} req/s for ${sp.spikeSec} s`,
  check(sp, at, problems) {
    if (sp.windowSec > sp.baselineSec) problems.push(`${at}.spike.windowSec: longer than baselineSec (${sp.baselineSec})`);
    if (sp.maxRecoverySec !== undefined && sp.maxRecoverySec > sp.afterSec) problems.push(`${at}.spike.maxRecoverySec: longer than afterSec (${sp.afterSec}): recovery is only watched for afterSec`);
  },
};
