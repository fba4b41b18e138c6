import type { SimulatorConfig } from '../simulator/config.js';
import type { CollectorsConfig } from '../collectors/index.js';
import type { RequestLogConfig } from '../tracing/config.js';
import type { LengthSpec } from '../traffic/lengths.js';
import type { SharedPrefixConfig } from '../traffic/shared-prefix.js';
import type { EdgeCaseKind, EdgeCasesConfig } from '../traffic/edge-cases.js';
import type { ArrivalConfigFields, ArrivalKindName } from '../traffic/arrival-kinds.js';
import type { Endpoint } from '../types.js';
import type { AlertingConfig } from '../alerting/config.js';
import type { ModeConfig, ReportConfig, ScheduleConfig } from '../modes/config.js';
import type { CompareConfig } from '../compare/config.js';
import type { QualityConfig } from '../quality/config.js';
import type { AnalyzerConfig } from '../analyzer/engine.js';
import type { UserRuleConfig } from '../analyzer/rules/user.js';
import type { PrometheusSourceConfig } from '../analyzer/prometheus-source.js';
import type { TargetChangesConfig } from '../analyzer/target-changes.js';
import type { IncidentsConfig } from '../analyzer/incidents.js';
import type { PreflightConfig } from '../preflight/config.js';

/** One weighted kind of request. See schema.ts for field docs. */
export interface ScenarioConfig {
  name: string;
  weight: number;
  endpoint: Endpoint;
  stream: boolean;
  prompt: LengthSpec;
  output: LengthSpec;
  turns: { min: number; max: number };
  ignoreEos: boolean;
  promptKind: 'qa' | 'summary';
  /** Set only on the scenarios traffic.edgeCases adds (src/traffic/edge-cases.ts): which kind it sends. */
  edgeCase?: EdgeCaseKind;
}

export interface TargetConfig {
  url?: string;
  model?: string;
  apiKey?: string;
  metricsUrl?: string;
  pid?: number;
  processName?: string;
  timeouts: { connectMs: number; headersMs: number; idleMs: number; totalMs: number };
  /** Target-change detection (src/analyzer/target-changes.ts). */
  changes: TargetChangesConfig;
}

/** `traffic.profile`: points or a CSV (exactly one). See schema.ts for field docs. */
export interface RateProfileConfig {
  points?: { hour: number; multiple: number }[];
  csv?: string;
  /** Absent: linear for points, step for a CSV. */
  shape?: 'linear' | 'step';
  timeScale: number;
  startHour: number | 'clock';
}

/** `traffic`; the fields an arrival kind reads (burstiness, steps, …) come from its file (src/traffic/arrival-*.ts). */
export interface TrafficConfig extends ArrivalConfigFields {
  mode: 'open' | 'closed';
  /** A registered arrival kind (src/traffic/arrival-kinds.ts). */
  arrival: ArrivalKindName;
  rate: number;
  users: number;
  thinkTimeMs: number;
  maxInFlight: number;
  /** Traffic worker threads (the load split between them); 0 = the engine runs in the main thread. */
  workers: number;
  seed?: number;
  scenarios: ScenarioConfig[];
  replay?: {
    file: string;
    speed: number;
    loop: boolean;
    /** Oversample rare lengths (see src/traffic/replay-augment.ts). */
    augment?: { oversample?: { factor: number; quantile: number } };
  };
  /** The open-loop rate follows a daily curve (src/traffic/rate-profile.ts); absent: constant `rate`. */
  profile?: RateProfileConfig;
  /** Scale-out: this process is replica `index` (0-based, resolved from `auto`) of `count`, and sends rate/count. */
  replicas: { count: number; index: number };
  /** Long system prompts shared by a share of requests (src/traffic/shared-prefix.ts). */
  sharedPrefix: SharedPrefixConfig;
  /** Edge-case requests at a small weight (src/traffic/edge-cases.ts). */
  edgeCases: EdgeCasesConfig;
}

export interface SloConfig {
  ttftMs: number;
  tpotMs: number;
  e2eMs: number;
  /** Modes: largest share of failed requests a step (or run) may have. */
  maxErrorRate: number;
  /** Modes: smallest share of requests meeting every per-request SLO. */
  minGoodRatio: number;
  /** Modes, open loop: completions per second at least this share of the asked rate. */
  minAchievedRatio: number;
}

/** The validated, normalised configuration. Nothing reads process.env after this exists. */
export interface Config {
  target: TargetConfig;
  traffic: TrafficConfig;
  slo: SloConfig;
  server: {
    listen: string;
    host: string;
    port: number;
    /** See schema.ts: the token guards mutating requests (and reads when asked). */
    auth: { token?: string; protectMetrics: boolean; protectApi: boolean };
    tls?: { certFile: string; keyFile: string };
    bodyLimitBytes: number;
  };
  run: {
    durationSec: number;
    drainMs: number;
    /** Checkpoints of soak state live here (src/state/). */
    dataDir: string;
    checkpointIntervalSec: number;
    resume: boolean;
  };
  metrics: { windowMs: number; maxLabelValues: number };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  simulator: SimulatorConfig;
  collectors: CollectorsConfig;
  analyzer: AnalyzerConfig & {
    rawRetentionSec: number;
    maxSeries: number;
    rules: UserRuleConfig[];
    /** Incidents and recovery times (src/analyzer/incidents.ts). */
    incidents: IncidentsConfig;
    /** Where rules read series: this process' own store, or the fleet through Prometheus. */
    source: 'local' | 'prometheus';
    /** Required with source: prometheus. */
    prometheus?: PrometheusSourceConfig;
  };
  alerting: AlertingConfig;
  /** What `llmsoak bench` runs (src/modes/config.ts). */
  mode: ModeConfig;
  report: ReportConfig;
  /** `llmsoak compare` / `bench --baseline` tolerances. */
  compare: CompareConfig;
  /** Cron jobs of `llmsoak run`. */
  schedules: ScheduleConfig[];
  quality: QualityConfig;
  /** Sampled request log (src/tracing/); its requests carry exemplars. */
  requestLog: RequestLogConfig;
  /** Checks of the target before the soak (src/preflight/). */
  preflight: PreflightConfig;
}
