/** `mode.soak`: its config, schema, checks and description (the run itself: ./soak.ts). */
import type { ModeSpec, SectionConfig } from './mode-spec.js';

const properties = {
  durationSec: { description: '`llmsoak bench` only: how long the soak runs, s (`llmsoak run` soaks until stopped).', type: 'number', exclusiveMinimum: 0, default: 300 },
  warmupSec: { description: "Seconds at the start left out of the report's figures.", type: 'number', minimum: 0, default: 0 },
} as const;

/** `mode.soak` as validated (defaults applied), derived from its schema. */
export type SoakModeConfig = SectionConfig<typeof properties>;

export const soakSpec: ModeSpec<'soak', SoakModeConfig> = {
  kind: 'soak',
  summary: 'the configured load for durationSec, judged as one long step, with the trends of the watched gauges',
  properties,
  describe: (c) => `soak for ${c.durationSec} s`,
};
