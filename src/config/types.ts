import type { SimulatorConfig } from '../simulator/config.js';
import type { CollectorsConfig } from '../collectors/index.js';
import type { LengthSpec } from '../traffic/lengths.js';
import type { Endpoint } from '../types.js';
import type { AlertingConfig } from '../alerting/config.js';
import type { AnalyzerConfig } from '../analyzer/engine.js';
import type { UserRuleConfig } from '../analyzer/rules/user.js';

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
}

export interface SloConfig { ttftMs: number; tpotMs: number; e2eMs: number }

/** The validated, normalised configuration. Nothing reads process.env after this exists. */
export interface Config {
  target: TargetConfig;
  traffic: TrafficConfig;
  slo: SloConfig;
  server: { listen: string; host: string; port: number };
  run: { durationSec: number; drainMs: number };
  metrics: { windowMs: number };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  simulator: SimulatorConfig;
  collectors: CollectorsConfig;
  analyzer: AnalyzerConfig & { rawRetentionSec: number; maxSeries: number; rules: UserRuleConfig[] };
  alerting: AlertingConfig;
}
