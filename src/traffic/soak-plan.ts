/**
 * What the soak sends, decided once at start from traffic.*: the seed, the
 * rate curve, the workload (a replay, or the scenarios the preflight let
 * through), this replica's share of the fleet's load and the size of the
 * connection pool.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ScenarioConfig, TrafficConfig } from './config.js';
import { profileFromConfig, resolveStartHour, type RateProfile } from './rate-profile.js';
import { replicaRate, replicaUsers } from './replicas.js';
import type { TargetPoolOptions } from './target-pool.js';
import type { WorkloadOptions } from './workload.js';
import type { WorkloadSpec } from './workload-spec.js';

/**
 * The seed of every random choice of the soak (prompts, lengths, arrivals).
 * traffic.seed makes runs repeat; replicas with one seed must not send
 * identical streams, so each offsets it by its index. Without traffic.seed
 * every start differs (time and pid).
 */
export function soakSeed(t: TrafficConfig): number {
  return t.seed !== undefined ? t.seed + t.replicas.index : Date.now() ^ process.pid;
}

/** The daily rate curve (traffic.profile), absent with a replay (the config refuses both) or without a profile. */
export function soakRateProfile(t: TrafficConfig, clock: Clock, logger: Logger): RateProfile | undefined {
  if (!t.profile || t.replay) return undefined;
  const profiled = profileFromConfig(t.profile, resolveStartHour(t.profile.startHour, clock.wallMs()));
  logger.info(
    { startHour: profiled.profile.startHour, timeScale: t.profile.timeScale, meanMultiple: profiled.profile.meanMultiple, csvMeanRate: profiled.csvMeanRate },
    'rate profile: traffic.rate follows a daily curve',
  );
  return profiled.profile;
}

/** The soak's workload for a model: the replay, or these scenarios. */
export function soakWorkloads(
  t: TrafficConfig,
  basePath: string,
  options: WorkloadOptions,
  usageReported = false,
): { spec: (model: string) => WorkloadSpec; scenarios: (scenarios: ScenarioConfig[], model: string) => WorkloadSpec } {
  const scenarios = (sc: ScenarioConfig[], model: string): WorkloadSpec => ({ kind: 'scenarios', scenarios: sc, model, basePath, options, usageReported });
  const replay = t.replay;
  return { spec: (model) => (replay ? { kind: 'replay', replay, model, basePath, usageReported } : scenarios(t.scenarios, model)), scenarios };
}

/** This replica's share of the fleet's rate and users. */
export function replicaShare(t: TrafficConfig): TrafficConfig {
  return { ...t, rate: replicaRate(t.rate, t.replicas), users: replicaUsers(t.users, t.replicas) };
}

/** The fleet's soak load, as the modes see it (a mode's host sends this replica's share of whatever it sets). */
export function fleetLoad(t: TrafficConfig): { rate: number; users: number; thinkTimeMs: number } {
  return t.mode === 'closed' ? { rate: 0, users: t.users, thinkTimeMs: t.thinkTimeMs } : { rate: t.rate, users: 0, thinkTimeMs: t.thinkTimeMs };
}

/**
 * The connection pool to the target: modes may switch between open and
 * closed loop, so enough connections for either (and for the largest mode's
 * users), never a hidden queue in the pool.
 */
export function soakPoolOptions(t: TrafficConfig, origin: string, timeouts: TargetPoolOptions['timeouts'], modeUsers: number): TargetPoolOptions {
  return { origin, connections: Math.max(t.maxInFlight, t.mode === 'closed' ? t.users : 1, modeUsers), timeouts };
}

/** An injected clock cannot cross into a thread: with one, the engine runs in the main thread whatever traffic.workers says. */
export function runsInWorkers(t: TrafficConfig, injectedClock: boolean): boolean {
  return t.workers > 0 && !injectedClock;
}
