/**
 * traffic.*: what the soak sends (its schema is in src/config/schema.ts). The
 * traffic engine owns these types; src/config/ assembles them into Config.
 */
import type { Endpoint } from '../types.js';
import type { ArrivalConfigFields, ArrivalKindName } from './arrival-kinds.js';
import type { EdgeCaseKind, EdgeCasesConfig } from './edge-cases.js';
import type { LengthSpec } from './lengths.js';
import type { SharedPrefixConfig } from './shared-prefix.js';

/** One weighted kind of request. See src/config/schema.ts for field docs. */
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

/** `traffic.profile`: points or a CSV (exactly one). See src/config/schema.ts for field docs. */
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
