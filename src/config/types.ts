import type { SimulatorConfig } from '../simulator/config.js';
import type { CollectorsConfig } from '../collectors/index.js';
import type { RequestLogConfig } from '../tracing/config.js';
import type { AlertingConfig } from '../alerting/config.js';
import type { ModeConfig, ReportConfig, ScheduleConfig } from './modes.js';
import type { CompareConfig } from '../compare/config.js';
import type { QualityConfig } from '../quality/config.js';
import type { AnalyzerConfig } from '../analyzer/engine.js';
import type { UserRuleConfig } from '../analyzer/rules/user.js';
import type { PrometheusSourceConfig } from '../analyzer/prometheus-source.js';
import type { TargetChangesConfig } from '../analyzer/target-changes.js';
import type { IncidentsConfig } from '../analyzer/incidents.js';
import type { PreflightConfig } from './preflight.js';
import type { TrafficConfig } from '../traffic/config.js';
import type { SloConfig } from '../metrics/slo.js';

export type { RateProfileConfig, ScenarioConfig, TrafficConfig } from '../traffic/config.js';
export type { SloConfig } from '../metrics/slo.js';

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
  /** What `llmsoak bench` runs (src/config/modes.ts). */
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
