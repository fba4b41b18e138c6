import type { FromSchema } from 'json-schema-to-ts';
import type { configSchema } from './schema.js';
import type { SimulatorConfig } from '../simulator/config.js';
import type { CollectorsConfig } from '../collectors/index.js';
import type { RequestLogConfig } from '../tracing/config.js';
import type { AlertingConfig } from '../alerting/config.js';
import type { ModeConfig, ReportConfig, ScheduleConfig } from './modes.js';
import type { CompareConfig } from '../compare/config.js';
import type { QualityConfig } from '../quality/config.js';
import type { AnalyzerSectionConfig } from '../analyzer/config.js';
import type { PreflightConfig } from './preflight.js';
import type { TrafficConfig } from '../traffic/config.js';
import type { SloConfig } from '../metrics/slo.js';

export type { RateProfileConfig, ScenarioConfig, TrafficConfig } from '../traffic/config.js';
export type { SloConfig } from '../metrics/slo.js';

/** Where the config's own sections are declared: src/config/schema.ts (the others in the modules that own them). */
type Section<K extends keyof (typeof configSchema)['properties']> = (typeof configSchema)['properties'][K];

/** `target`: the server soaked. Derived from the schema (defaults applied). */
export type TargetConfig = FromSchema<Section<'target'>>;

/**
 * The validated, normalised configuration: each section's type is derived from
 * its schema (see ./schema.ts). Nothing reads process.env after this exists.
 */
export interface Config {
  target: TargetConfig;
  traffic: TrafficConfig;
  slo: SloConfig;
  /** As the schema says, plus `host` and `port`: `listen` split by the loader. */
  server: FromSchema<Section<'server'>> & { host: string; port: number };
  run: FromSchema<Section<'run'>>;
  metrics: FromSchema<Section<'metrics'>>;
  log: FromSchema<Section<'log'>>;
  simulator: SimulatorConfig;
  collectors: CollectorsConfig;
  analyzer: AnalyzerSectionConfig;
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

/** Compile-time check: Config has exactly the schema's top-level sections, no section declared beside it. */
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;
export const CONFIG_MATCHES_SCHEMA: SameKeys<Config, (typeof configSchema)['properties']> = true;
