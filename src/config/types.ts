import type { SimulatorConfig } from '../simulator/config.js';
import type { CollectorsConfig } from '../collectors/index.js';
import type { LengthSpec } from '../traffic/lengths.js';
import type { Endpoint } from '../types.js';
import type { AlertingConfig } from '../alerting/config.js';
import type { ModeConfig, ReportConfig, ScheduleConfig } from '../modes/config.js';
import type { QualityConfig } from '../quality/config.js';
import type { AnalyzerConfig } from '../analyzer/engine.js';
import type { UserRuleConfig } from '../analyzer/rules/user.js';
import type { PrometheusSourceConfig } from '../analyzer/prometheus-source.js';

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
}

export interface TargetConfig {
  url?: string;
  model?: string;
  apiKey?: string;
  metricsUrl?: string;
  pid?: number;
  processName?: string;
  timeouts: { connectMs: number; headersMs: number; idleMs: number; totalMs: number };
}

export interface TrafficConfig {
  mode: 'open' | 'closed';
  arrival: 'constant' | 'poisson' | 'gamma';
  rate: number;
  burstiness: number;
  users: number;
  thinkTimeMs: number;
  maxInFlight: number;
  seed?: number;
  scenarios: ScenarioConfig[];
  replay?: { file: string; speed: number; loop: boolean };
  /** Scale-out: this process is replica `index` (0-based, resolved from `auto`) of `count`, and sends rate/count. */
  replicas: { count: number; index: number };
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
    listen: string; host: string; port: number;
    /** See schema.ts: the token guards mutating requests (and reads when asked). */
    auth: { token?: string; protectMetrics: boolean; protectApi: boolean };
    tls?: { certFile: string; keyFile: string };
    bodyLimitBytes: number;
  };
  run: {
    durationSec: number; drainMs: number;
    /** Checkpoints of soak state live here (src/state/). */
    dataDir: string; checkpointIntervalSec: number; resume: boolean;
  };
  metrics: { windowMs: number; maxLabelValues: number };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  simulator: SimulatorConfig;
  collectors: CollectorsConfig;
  analyzer: AnalyzerConfig & {
    rawRetentionSec: number; maxSeries: number; rules: UserRuleConfig[];
    /** Where rules read series: this process' own store, or the fleet through Prometheus. */
    source: 'local' | 'prometheus';
    /** Required with source: prometheus. */
    prometheus?: PrometheusSourceConfig;
  };
  alerting: AlertingConfig;
  /** What `llmsoak bench` runs (src/modes/config.ts). */
  mode: ModeConfig;
  report: ReportConfig;
  /** Cron jobs of `llmsoak run`. */
  schedules: ScheduleConfig[];
  quality: QualityConfig;
}
