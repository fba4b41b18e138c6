/**
 * The traffic engine as the rest of llmsoak sees it: one engine, whether it
 * runs in this thread (TrafficEngine) or in worker threads (TrafficWorkers).
 */
import type { Endpoint, RequestRecord } from '../types.js';
import type { RateProfile } from './rate-profile.js';
import type { WorkloadSpec } from './workload-spec.js';

export interface TrafficLoad {
  rate: number;
  users: number;
  thinkTimeMs: number;
}

export interface Traffic {
  start(): void;
  /** The load asked for now: open-loop rate and closed-loop users (both may run at once). */
  readonly load: TrafficLoad;
  /** Change the open-loop rate (0 = no arrivals); arrivals restart from now at the new rate. */
  setRate(rps: number): void;
  /** Change the closed-loop users (0 = none); users beyond the number leave after their request in flight. */
  setUsers(users: number, thinkTimeMs?: number): void;
  /** The daily curve the open-loop rate follows (undefined: none). */
  readonly rateProfile: RateProfile | undefined;
  setProfile(profile: RateProfile | undefined): void;
  /** What requests are built from now. */
  readonly workloadSpec: WorkloadSpec;
  /** Build requests from another workload from now on (a replay brings its own arrivals; otherwise they follow the rate). */
  setWorkload(spec: WorkloadSpec): void;
  /** The target serves another model: label series with it from here on (the caller swaps the workload). */
  setModel(model: string): void;
  readonly inFlightCount: number;
  readonly requestsSent: number;
  /** No new requests; wait up to drainMs for those in flight, then cancel the rest. */
  stop(drainMs: number): Promise<{ drained: number; cancelled: number }>;
}

/** Where the engine puts what it measures: the Recorder in-process, batches to the main thread in a worker. */
export interface TrafficSink<S> {
  scenario(name: string, endpoint: Endpoint, model: string): S;
  setTargetRate(rps: number): void;
  started(): void;
  tokensArrived(s: S, n: number): void;
  dropped(s: S): void;
  /** A finished request; `liveTokens` of it were already given to tokensArrived(). `requestBody` for a sink that logs prompts. */
  record(s: S, r: RequestRecord, liveTokens: number, requestBody?: string): void;
}
