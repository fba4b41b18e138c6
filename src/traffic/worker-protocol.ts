/**
 * Messages between the main thread and a traffic worker thread. Everything
 * here survives a structured clone: records cross whole (every field of
 * RequestRecord, optional ones included), in batches.
 */
import type { LevelWithSilent } from 'pino';
import type { TrafficConfig } from './config.js';
import type { Endpoint, RequestRecord } from '../types.js';
import type { ProfilePoint, ProfileShape } from './rate-profile.js';
import type { TargetPoolOptions } from './target-pool.js';
import type { WorkloadSpec } from './workload-spec.js';

/** A RateProfile as data (rebuilt on the other side). */
export interface ProfileSpec {
  points: readonly ProfilePoint[];
  shape: ProfileShape;
  timeScale: number;
  startHour: number;
}

export interface WorkerInit {
  index: number;
  /** This worker's share: its rate and users. */
  traffic: TrafficConfig;
  workload: WorkloadSpec;
  profile?: ProfileSpec;
  seed: number;
  model: string;
  pool: TargetPoolOptions;
  /** Headers sent with every request (authorization included; never logged). */
  headers: Record<string, string>;
  totalTimeoutMs: number;
  maxBodyBytes: number;
  /** Send each record's request body along (the request log includes prompts). */
  keepBodies: boolean;
  /** Secret values (API key, tokens) the client scrubs from error details before cutting them; never logged. */
  secrets: string[];
  logLevel: LevelWithSilent;
  /** How often a batch of figures is sent, ms. */
  batchMs: number;
}

export type ToWorker =
  | { type: 'start' }
  | { type: 'setRate'; rps: number }
  | { type: 'setUsers'; users: number; thinkTimeMs: number }
  | { type: 'setProfile'; profile: ProfileSpec | null }
  | { type: 'setWorkload'; spec: WorkloadSpec }
  | { type: 'setModel'; model: string }
  | { type: 'stop'; drainMs: number };

export interface SeriesDef {
  idx: number;
  name: string;
  endpoint: Endpoint;
  model: string;
}

export interface BatchRecord {
  /** Index of the series (SeriesDef.idx). */
  s: number;
  r: RequestRecord;
  live: number;
  body?: string;
}

/** What happened in the worker since the last batch, in the order the recorder must see it. */
export interface Batch {
  type: 'batch';
  series: SeriesDef[];
  started: number;
  /** Pairs: series index, tokens arrived. */
  tokens: number[];
  /** Series index of each dropped arrival. */
  dropped: number[];
  records: BatchRecord[];
  inFlight: number;
  sent: number;
}

export type FromWorker =
  | Batch
  | { type: 'ready' }
  /** The engine started: its profile origin, process.hrtime ns (the same clock in every thread). */
  | { type: 'started'; originNs: number }
  | { type: 'log'; line: string }
  /** The worker's own V8 heap (its isolate: process.memoryUsage() in the main thread does not include it), bytes. */
  | { type: 'heap'; used: number; total: number; tokenizer: boolean }
  | { type: 'stopped'; drained: number; cancelled: number };
