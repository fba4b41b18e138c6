/**
 * The soak's traffic (src/traffic/): the plan (seed, rate curve, workload,
 * the scenarios the preflight let through), the connection pool of an
 * in-process engine, the record of failures, and the engine itself, in the
 * main thread or in worker threads.
 */
import { resolve as resolvePath } from 'node:path';
import type { LevelWithSilent } from 'pino';
import type { Pool } from 'undici';
import { Gauge, type Registry } from 'prom-client';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import { maxModeUsers } from '../config/modes.js';
import { FailureAnnouncer } from '../failures/announce.js';
import { DEFAULT_MAX_MESSAGES, DEFAULT_PER_GROUP, FailureSamples } from '../failures/samples.js';
import type { Logger } from '../log.js';
import type { Recorder, ScenarioSeries } from '../metrics/recorder.js';
import type { PreflightResult } from '../preflight/types.js';
import { preflightAtStart } from '../preflight/startup.js';
import { configSecrets } from '../security/secrets.js';
import { RequestLog } from '../tracing/request-log.js';
import type { TrafficConfig } from '../traffic/config.js';
import { resolveContextTokens } from '../traffic/edge-cases.js';
import { TrafficEngine } from '../traffic/engine.js';
import { PromptBuilder } from '../traffic/prompts.js';
import { createRng, type Rng } from '../traffic/random.js';
import type { RateProfile } from '../traffic/rate-profile.js';
import { replicaShare, runsInWorkers, soakPoolOptions, soakRateProfile, soakSeed, soakWorkloads } from '../traffic/soak-plan.js';
import { createTargetPool } from '../traffic/target-pool.js';
import type { Traffic } from '../traffic/traffic.js';
import { TrafficWorkers, type WorkerHeap } from '../traffic/workers.js';
import type { WorkloadOptions } from '../traffic/workload.js';
import { TokenCountThread } from '../traffic/token-count-thread.js';
import { buildWorkload, planReplay, WorkloadCache, type WorkloadSpec } from '../traffic/workload-spec.js';
import type { RequestRecord } from '../types.js';
import type { Target } from './target.js';

/** Largest response body a request keeps (non-streamed JSON, error bodies), bytes. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** A traffic worker sends what it measured this often, ms. */
const BATCH_MS = 25;

export interface TrafficPlan {
  seed: number;
  rng: Rng;
  prompts: PromptBuilder;
  profile: RateProfile | undefined;
  /** traffic.* with the scenarios the preflight let through (modes build their requests from them too). */
  kept: TrafficConfig;
  /** The soak's workload for a model, and a workload of other scenarios (modes). */
  soakWorkload: (model: string) => WorkloadSpec;
  scenarioWorkload: (scenarios: TrafficConfig['scenarios'], model: string) => WorkloadSpec;
  workloads: WorkloadCache;
}

/** The connection pool of an in-process engine (a traffic worker builds its own); undefined with workers. */
export function createPool(cfg: Config, target: Target, clock: Clock): Pool | undefined {
  if (runsInWorkers(cfg.traffic, clock !== systemClock)) return undefined;
  return createTargetPool(soakPoolOptions(cfg.traffic, new URL(target.baseUrl).origin, cfg.target.timeouts, maxModeUsers(cfg)), clock);
}

/** The server's own words for every error, bounded, each new one announced in the log (src/failures/). */
export function createFailures(logger: Logger, clock: Clock, scrub: (text: string) => string): FailureSamples {
  const announcer = new FailureAnnouncer(logger, clock);
  return new FailureSamples({ clock, perGroup: DEFAULT_PER_GROUP, maxMessages: DEFAULT_MAX_MESSAGES, scrub, onNew: (f) => announcer.announce(f) });
}

/** Every generation probe that answered carried usage (and one did): the soak's output tokens will come from usage, not the tokenizer. */
function usageReported(r: PreflightResult): boolean {
  const answered = r.endpoints.filter((p) => p.outcome === 'ok' && p.endpoint !== 'embeddings' && p.endpoint !== 'moderations');
  return answered.length > 0 && answered.every((p) => p.tokenSource === 'usage');
}

/** Decides what the soak sends; asks the target for its context length (edge cases) and runs the preflight. */
export async function planTraffic(
  cfg: Config,
  target: Target,
  model: string,
  o: { logger: Logger; clock: Clock; scrub: (text: string) => string; onPreflight: (r: PreflightResult) => void },
): Promise<TrafficPlan> {
  const t = cfg.traffic;
  const seed = soakSeed(t);
  const rng = createRng(seed);
  const prompts = new PromptBuilder(rng);
  const profile = soakRateProfile(t, o.clock, o.logger);
  // Shared prefixes and edge cases (the context length edge cases need, from the target when not configured).
  const contextTokens = await resolveContextTokens(t.edgeCases, target.baseUrl, target.headers, (m) => o.logger.warn(m));
  const options: WorkloadOptions = contextTokens === undefined ? { sharedPrefix: t.sharedPrefix } : { sharedPrefix: t.sharedPrefix, contextTokens };
  // What works on this target, and the configured scenarios it can serve (preflight.onMissingEndpoint).
  // With traffic in workers, the main thread never loads the tokenizer (66 MB): the preflight counts in a
  // thread started at its first count (none when the preflight is off) that ends with the preflight.
  const counter: { thread?: TokenCountThread } = {};
  const countTokens = runsInWorkers(t, o.clock !== systemClock) ? (s: string) => (counter.thread ??= new TokenCountThread()).count(s) : (s: string) => prompts.countTokens(s);
  const probe = { baseUrl: target.baseUrl, metricsUrl: target.metricsUrl, model, headers: target.headers, countTokens, scrub: o.scrub };
  let kept: TrafficConfig;
  let preflight: PreflightResult | undefined;
  const onResult = (r: PreflightResult): void => {
    preflight = r;
    o.onPreflight(r);
  };
  try {
    kept = await preflightAtStart(cfg, probe, { logger: o.logger, clock: o.clock, onResult });
  } finally {
    await counter.thread?.close();
  }
  const specs = soakWorkloads(kept, new URL(target.baseUrl).pathname.replace(/\/+$/, ''), options, preflight !== undefined && usageReported(preflight));
  return { seed, rng, prompts, profile, kept, soakWorkload: specs.spec, scenarioWorkload: specs.scenarios, workloads: new WorkloadCache((s) => buildWorkload(s, rng, prompts)) };
}

export interface SoakTraffic {
  engine: Traffic;
  /** Starts sending; with workers, returns once they run (as the in-process engine does). */
  start(): Promise<void>;
  /** Stops scheduling, drains (run.drainMs) and cancels what is left, then closes the request log. */
  stop(): Promise<void>;
}

export function createTraffic(
  cfg: Config,
  plan: TrafficPlan,
  target: Target,
  model: string,
  o: {
    registry: Registry;
    logger: Logger;
    clock: Clock;
    recorder: Recorder;
    pool: Pool | undefined;
    failures: FailureSamples;
    scrub: (text: string) => string;
    /** Sees every finished record (benchmarks); must not block. */
    onRecord: ((r: RequestRecord) => void) | undefined;
    /** Built with no load (`llmsoak bench` drives it through the modes). */
    idle: boolean;
  },
): SoakTraffic {
  const t = cfg.traffic;
  const spec = plan.soakWorkload(model);
  // With a worker the workload is built there; its replay file is read here too, so that a bad one is a
  // clear error at start, not in a thread (and the main thread builds no prompts: no tokenizer).
  const oversampled = o.pool ? plan.workloads.get(spec).oversampled : spec.kind === 'replay' ? planReplay(spec.replay, plan.rng).oversampled : undefined;
  if (oversampled) o.logger.info(oversampled, 'replay: rare lengths oversampled');
  // Scale-out: this replica's share of the fleet's rate (and users).
  const share = replicaShare(plan.kept);
  if (t.replicas.count > 1) o.logger.info({ replica: t.replicas.index, of: t.replicas.count, rate: share.rate, users: share.users }, 'replica of a scaled-out soak: sending its share');
  // Sampled requests to a rotated JSONL file; its requests carry exemplars (src/tracing/).
  const requestLog = new RequestLog({ ...cfg.requestLog, file: resolvePath(cfg.run.dataDir, cfg.requestLog.file) }, { registry: o.registry, clock: o.clock, logger: o.logger, scrub: o.scrub });
  const traffic = o.idle ? { ...share, mode: 'open' as const, rate: 0 } : share;
  const { failures, onRecord } = o;
  const recordSink = onRecord
    ? (r: RequestRecord) => {
        failures.observe(r);
        onRecord(r);
      }
    : (r: RequestRecord) => failures.observe(r);
  const profile = plan.profile ? { profile: plan.profile } : {};
  // createPool built a pool exactly when the engine runs in the main thread (soak-plan.ts, runsInWorkers).
  const engine = o.pool
    ? new TrafficEngine<ScenarioSeries>({
        traffic,
        workload: spec,
        buildWorkload: (s) => plan.workloads.get(s),
        ...profile,
        recorder: o.recorder,
        rng: plan.rng,
        clock: o.clock,
        logger: o.logger,
        model,
        onRecord: recordSink,
        requestLog,
        client: {
          dispatcher: o.pool,
          headers: target.headers,
          clock: o.clock,
          totalTimeoutMs: cfg.target.timeouts.totalMs,
          maxBodyBytes: MAX_BODY_BYTES,
          countTokens: (s) => plan.prompts.countTokens(s),
          scrub: o.scrub,
        },
      })
    : new TrafficWorkers({
        count: t.workers,
        init: {
          traffic,
          workload: spec,
          seed: plan.seed,
          model,
          pool: soakPoolOptions(t, new URL(target.baseUrl).origin, cfg.target.timeouts, maxModeUsers(cfg)),
          headers: target.headers,
          totalTimeoutMs: cfg.target.timeouts.totalMs,
          maxBodyBytes: MAX_BODY_BYTES,
          keepBodies: cfg.requestLog.enabled && cfg.requestLog.includePrompts,
          // The worker scrubs error details before cutting them (a cut could leave half a key): it needs the values.
          secrets: configSecrets(cfg),
          logLevel: o.logger.level as LevelWithSilent,
          batchMs: BATCH_MS,
        },
        ...profile,
        recorder: o.recorder,
        requestLog,
        onRecord: recordSink,
        logger: o.logger,
      });
  if (engine instanceof TrafficWorkers) exportWorkerHeaps(engine, o.registry);
  return {
    engine,
    start: async () => {
      engine.start();
      if (engine instanceof TrafficWorkers) await engine.ready();
    },
    stop: async () => {
      try {
        await engine.stop(cfg.run.drainMs);
      } finally {
        await requestLog.close();
      }
    },
  };
}

/** The traffic workers' own V8 heaps, which prom-client's nodejs_heap_* (the main thread's isolate) leave out. */
function exportWorkerHeaps(workers: TrafficWorkers, registry: Registry): void {
  const read = (pick: (h: WorkerHeap) => number) =>
    function (this: Gauge<'worker'>): void {
      this.reset();
      for (const h of workers.heapStats()) this.labels(String(h.worker)).set(pick(h));
    };
  new Gauge({
    name: 'llmsoak_traffic_worker_heap_used_bytes',
    help: 'V8 heap in use in each traffic worker thread (its last report, every 5 s), bytes.',
    labelNames: ['worker'],
    registers: [registry],
    collect: read((h) => h.used),
  });
  new Gauge({
    name: 'llmsoak_traffic_worker_heap_total_bytes',
    help: 'V8 heap allocated by each traffic worker thread (its last report, every 5 s), bytes.',
    labelNames: ['worker'],
    registers: [registry],
    collect: read((h) => h.total),
  });
  new Gauge({
    name: 'llmsoak_traffic_worker_tokenizer_loaded',
    help: 'Whether each traffic worker has loaded the tokenizer (1: a target without usage, shared prefixes or edge cases; about 14 MB of a worker heap and RSS: footprint bench), 0 or 1.',
    labelNames: ['worker'],
    registers: [registry],
    collect: read((h) => (h.tokenizer ? 1 : 0)),
  });
}
