/** The daemon's public types (src/daemon.ts): what it is given, what it holds, what /api/status answers. */
import type { IncidentEntry, RunEvent } from '../analyzer/events.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ModeController } from '../modes/controller.js';
import type { QualityChecks } from '../quality/index.js';
import type { Checkpointer } from '../state/checkpointer.js';
import type { ModelFollower } from '../traffic/follow-model.js';
import type { Traffic } from '../traffic/traffic.js';
import type { RequestRecord } from '../types.js';
import type { Analysis } from './analyzer.js';
import type { Collectors } from './collectors.js';
import type { TrafficConfig } from '../traffic/config.js';
import type { FailureSample, FailureSamples } from '../failures/samples.js';
import type { Recorder } from '../metrics/recorder.js';
import type { PreflightResult } from '../preflight/types.js';
import type { QualitySnapshot } from '../quality/index.js';
import type { CheckpointStatus } from '../state/checkpointer.js';

export interface ResolvedTarget {
  /** OpenAI base URL, e.g. http://127.0.0.1:18000/v1 (credentials redacted). */
  baseUrl: string;
  model: string;
  embedded: boolean;
}

export interface DaemonStatus {
  version: string;
  /** ISO 8601. */
  startedAt: string;
  uptimeSec: number;
  target: ResolvedTarget | null;
  /** The configured load and the recorder's windows and totals. */
  traffic: ({ mode: TrafficConfig['mode']; rate: number } & ReturnType<Recorder['snapshot']>) | null;
  quality: QualitySnapshot | null;
  /** What runs now (the soak, a mode, a schedule). */
  activity: string | null;
  state: CheckpointStatus | null;
  targetChanges: RunEvent[];
  incidents: IncidentEntry[];
  preflight: PreflightResult | null;
  failures: FailureSample[];
}

export interface DaemonDeps {
  logger: Logger;
  clock?: Clock;
  /** Sees every finished RequestRecord (benchmarks, request logs); must not block. */
  onRecord?: (r: RequestRecord) => void;
  /** Start with no load and no schedules: `llmsoak bench` drives the engine through runs() (and keeps stdout for its result: the embedded simulator logs to stderr). */
  idle?: boolean;
  /**
   * Resume from and write checkpoints in run.dataDir (src/state/). `llmsoak
   * run` does; in-process users (tests, benchmarks) opt in, so that they
   * never share a directory by accident.
   */
  checkpoints?: boolean;
  /** Write a last soak report to report.dir on stop. `llmsoak run` does; in-process users opt in, for the same reason as checkpoints. */
  finalReport?: boolean;
}

/** The daemon's running parts, each set once built (status, the API's views and tests read them). */
export interface RunningParts {
  target?: { baseUrl: string; embedded: boolean; model: ModelFollower };
  recorder?: Recorder;
  state?: Checkpointer | undefined;
  collectors?: Collectors;
  analysis?: Analysis;
  failures?: FailureSamples;
  engine?: Traffic;
  modes?: ModeController;
  quality?: QualityChecks | undefined;
  preflight?: PreflightResult;
}
