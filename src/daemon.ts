/**
 * The composition root: the only place that builds components and wires them
 * together. Starts them in order and stops them in reverse:
 *   registry → HTTP server → target (embedded simulator) → model → collectors → traffic → modes and schedules
 * and on stop: modes (schedules off, a running mode ends early) → traffic (stop scheduling, drain, cancel)
 *   → the final soak report (bounded by FINAL_REPORT_TIMEOUT_MS) → analyzer
 *   → collectors → HTTP → simulator → log.
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { request, type Pool } from 'undici';
import type { LevelWithSilent } from 'pino';
import { isLoopbackHost } from './server/auth.js';
import { SecretScrubber, configSecrets, redactUrl } from './security/secrets.js';
import { Checkpointer } from './state/checkpointer.js';
import type { RecorderSnapshot } from './metrics/recorder.js';
import type { TrackerSnapshot } from './analyzer/tracker.js';
import type { Baseline } from './analyzer/rule.js';
import type { FastifyInstance } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import { systemClock, type Clock } from './clock.js';
import type { Config, ScenarioConfig } from './config/types.js';
import { redactConfig } from './config/load.js';
import { startEmbeddedSimulator, type EmbeddedTarget } from './embedded-target.js';
import { LlmsoakError, errorMessage } from './errors.js';
import type { Logger } from './log.js';
import { createRegistry } from './metrics/registry.js';
import { Recorder, type ScenarioSeries } from './metrics/recorder.js';
import { buildApp } from './server/app.js';
import { createCollectors, type Collector } from './collectors/index.js';
import { TrafficEngine } from './traffic/engine.js';
import { TrafficWorkers } from './traffic/workers.js';
import type { Traffic } from './traffic/traffic.js';
import { createTargetPool } from './traffic/target-pool.js';
import { buildWorkload, WorkloadCache, type WorkloadSpec } from './traffic/workload-spec.js';
import { RequestLog } from './tracing/request-log.js';
import type { WorkloadOptions } from './traffic/workload.js';
import { resolveContextTokens } from './traffic/edge-cases.js';
import { profileFromConfig, resolveStartHour } from './traffic/rate-profile.js';
import { PromptBuilder } from './traffic/prompts.js';
import { createRng } from './traffic/random.js';
import { VERSION } from './version.js';
import type { RequestRecord } from './types.js';
import { SeriesStore } from './analyzer/series-store.js';
import { Sampler } from './analyzer/sampler.js';
import { LocalSource } from './analyzer/local-source.js';
import { PrometheusSource } from './analyzer/prometheus-source.js';
import type { SeriesSource } from './analyzer/source.js';
import { replicaRate, replicaUsers } from './config/load.js';
import { HintTracker } from './analyzer/tracker.js';
import { Analyzer, type HintSink } from './analyzer/engine.js';
import { builtInRules } from './analyzer/rules/index.js';
import { userRule } from './analyzer/rules/user.js';
import { AlertmanagerNotifier } from './alerting/alertmanager.js';
import { loadSuites, startQualityChecks, type QualityChecks } from './quality/index.js';
import { ModeController } from './modes/controller.js';
import { soakAnalysisOf } from './modes/soak-analysis.js';
import { maxModeUsers } from './modes/config.js';
import { TargetChangeDetector, collectorIdentitySinks, observeServedModels } from './analyzer/target-changes.js';
import { IncidentTracker } from './analyzer/incidents.js';
import { ModelsCollector } from './collectors/models.js';
import { runPreflight } from './preflight/run.js';
import { renderPreflight } from './preflight/table.js';
import { applyMissingEndpointPolicy } from './preflight/policy.js';
import type { PreflightResult } from './preflight/types.js';
import { FailureSamples, DEFAULT_MAX_MESSAGES, DEFAULT_PER_GROUP } from './failures/samples.js';
import { FailureAnnouncer } from './failures/announce.js';

/** How long stop() waits for the final soak report before going on without it. */
const FINAL_REPORT_TIMEOUT_MS = 10_000;
/** Largest response body a request keeps (non-streamed JSON, error bodies), bytes. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** A traffic worker sends what it measured this often, ms. */
const BATCH_MS = 25;

export interface DaemonDeps {
  logger: Logger;
  clock?: Clock;
  /** Sees every finished RequestRecord (benchmarks, request logs); must not block. */
  onRecord?: (r: RequestRecord) => void;
  /** Start with no load and no schedules: `llmsoak bench` drives the engine through runs() (and keeps stdout for its result: the embedded simulator logs to stderr). */
  idle?: boolean;
  /**
   * Resume from and write checkpoints in run.dataDir (src/state/). `llmsoak
   * run` does; in-process users (tests, benchmarks) opt in, so that they
   * never share a directory by accident.
   */
  checkpoints?: boolean;
  /**
   * Write a last soak report to report.dir on stop. `llmsoak run` does;
   * in-process users opt in, for the same reason as checkpoints.
   */
  finalReport?: boolean;
}

export interface ResolvedTarget {
  /** OpenAI base URL, e.g. http://127.0.0.1:18000/v1 */
  baseUrl: string;
  model: string;
  embedded: boolean;
}

export class Daemon {
  readonly registry: Registry;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly onRecord: ((r: RequestRecord) => void) | undefined;
  private app: FastifyInstance | undefined;
  private embedded: EmbeddedTarget | undefined;
  private collectors: Collector[] = [];
  private engine: Traffic | undefined;
  private recorder: Recorder | undefined;
  private pool: Pool | undefined;
  /** Sampled requests to a rotated JSONL file; its requests carry exemplars (src/tracing/). */
  private requestLog: RequestLog | undefined;
  private target: ResolvedTarget | undefined;
  private sampler: Sampler | undefined;
  private analyzer: Analyzer | undefined;
  private notifier: AlertmanagerNotifier | undefined;
  /** Soak state to and from run.dataDir (src/state/). */
  private checkpointer: Checkpointer | undefined;
  private quality: QualityChecks | undefined;
  private modes: ModeController | undefined;
  /** Model, version and restart changes of the target (src/analyzer/target-changes.ts). */
  private targetChanges: TargetChangeDetector | undefined;
  /** Set once traffic exists: request a newly served model (target.changes.followModel). */
  private followServedModel: ((served: string[]) => void) | undefined;
  private incidents: IncidentTracker | undefined;
  /** What the preflight found at start (absent: disabled, or not run yet). */
  private preflightResult: PreflightResult | undefined;
  /** The server's own words for every error, bounded (src/failures/). */
  private failures: FailureSamples | undefined;
  private readonly idle: boolean;
  private readonly checkpoints: boolean;
  private readonly finalReport: boolean;
  private readyFlag = false;
  private stopping = false;
  /** Set by a signal that arrives while still starting (e.g. waiting for the target). */
  private stopRequested = false;
  private startedAtMs = 0;
  /** Where the HTTP server listens, once it does. */
  listenUrl = '';

  constructor(
    readonly config: Config,
    deps: DaemonDeps,
  ) {
    this.log = deps.logger;
    this.clock = deps.clock ?? systemClock;
    this.onRecord = deps.onRecord;
    this.idle = deps.idle ?? false;
    this.checkpoints = deps.checkpoints ?? false;
    this.finalReport = deps.finalReport ?? false;
    this.registry = createRegistry();
  }

  async start(): Promise<void> {
    const cfg = this.config;
    this.startedAtMs = this.clock.wallMs();
    this.log.info({ version: VERSION, config: redactConfig(cfg) }, 'llmsoak starting');

    const secrets = new SecretScrubber(configSecrets(cfg));
    this.app = buildApp({
      registry: this.registry,
      logger: this.log,
      ready: () => this.readyFlag,
      status: () => this.status(),
      hints: () => this.analyzer?.snapshot() ?? { topCause: null, untrustworthy: false, hints: [], rules: [], baselineCapturedAt: null, analyzer: 'disabled' },
      bodyLimit: cfg.server.bodyLimitBytes,
      auth: { ...cfg.server.auth, loopbackOnly: isLoopbackHost(cfg.server.host) },
      ...(cfg.server.tls ? { https: readTls(cfg.server.tls) } : {}),
      secrets,
      reports: {
        reportDir: () => cfg.report.dir,
        listReports: async () => (this.modes ? this.modes.reports() : []),
        statusPage: async () => this.modes?.statusPage(),
        schedules: () => this.modes?.schedules() ?? [],
      },
    });
    try {
      await this.app.listen({ host: cfg.server.host, port: cfg.server.port });
    } catch (err) {
      throw new LlmsoakError('LLMSOAK_ERR_LISTEN', `cannot listen on ${cfg.server.listen}: ${errorMessage(err)}`, 'choose another with --listen HOST:PORT or server.listen');
    }
    const addr = this.app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : cfg.server.port;
    const shownHost = cfg.server.host === '0.0.0.0' || cfg.server.host === '::' ? '127.0.0.1' : cfg.server.host;
    this.listenUrl = `${cfg.server.tls ? 'https' : 'http'}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
    this.log.info(`metrics at ${this.listenUrl}/metrics (health ${this.listenUrl}/healthz, status ${this.listenUrl}/api/status)`);

    let baseUrl = cfg.target.url;
    let pid = cfg.target.pid;
    let metricsUrl = cfg.target.metricsUrl;
    if (!baseUrl) {
      this.embedded = await startEmbeddedSimulator(cfg.simulator, cfg.log.level, this.log, undefined, this.idle ? 'stderr' : 'stdout');
      baseUrl = `${this.embedded.url}/v1`;
      pid = this.embedded.pid;
      metricsUrl ??= `${this.embedded.url}/metrics`;
    }
    baseUrl = baseUrl.replace(/\/+$/, '');
    metricsUrl ??= `${new URL(baseUrl).origin}/metrics`;
    const apiHeaders: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (cfg.target.apiKey) apiHeaders.authorization = `Bearer ${cfg.target.apiKey}`;

    const model = cfg.target.model ?? (await this.discoverModel(baseUrl, apiHeaders));
    if (this.stopping || this.stopRequested) return;
    // Shown in /api/status and reports: never with a password from the URL.
    this.target = { baseUrl: redactUrl(baseUrl), model, embedded: !!this.embedded };
    this.log.info({ target: baseUrl, model }, 'target resolved');

    // Resume the soak from run.dataDir when a checkpoint of it is there (one log line says what happened).
    if (this.checkpoints) {
      this.checkpointer = new Checkpointer({
        dir: cfg.run.dataDir,
        intervalSec: cfg.run.checkpointIntervalSec,
        resume: cfg.run.resume,
        maxAgeMs: (cfg.analyzer.rawRetentionSec + 72 * 3600) * 1000,
        identity: cfg.target.url ?? `embedded simulator ${cfg.simulator.host}:${cfg.simulator.port}`,
        version: VERSION,
        clock: this.clock,
        logger: this.log,
        registry: this.registry,
        scrub: (text) => secrets.scrub(text),
      });
      await this.checkpointer.load();
    }
    this.recorder = new Recorder(this.registry, {
      slo: cfg.slo,
      windowMs: cfg.metrics.windowMs,
      clock: this.clock,
      maxLabelValues: cfg.metrics.maxLabelValues,
      onLabelFold: (label, value, max) =>
        this.log.warn({ label, value, max }, `more than ${max} distinct ${label} label values: later ones are exported as "other" (metrics.maxLabelValues); logged once`),
    });
    const recorder = this.recorder;
    this.checkpointer?.register({ name: 'recorder', save: () => ({ json: recorder.toSnapshot() }), restore: (d) => recorder.restore(d.json as RecorderSnapshot) });
    const target: { pid?: number; processName?: string; metricsUrl?: string } = { metricsUrl };
    if (pid !== undefined) target.pid = pid;
    if (cfg.target.processName !== undefined) target.processName = cfg.target.processName;
    // The embedded simulator's process is "node" by name; say what it is.
    const collectorsCfg = this.embedded && cfg.collectors.process.label === undefined ? { ...cfg.collectors, process: { ...cfg.collectors.process, label: 'llmsoak-simulator' } } : cfg.collectors;
    // Target changes: identity readings of the collectors and of a models poller, before/after figures from the recorder.
    const changes = new TargetChangeDetector({
      cfg: cfg.target.changes,
      registry: this.registry,
      logger: this.log,
      clock: this.clock,
      meters: recorder,
      onModelChange: (served) => this.followServedModel?.(served),
    });
    this.targetChanges = changes;
    this.collectors = createCollectors(collectorsCfg, {
      registry: this.registry,
      logger: this.log,
      clock: this.clock,
      target,
      outputTokens: () => recorder.totals.outputTokens,
      ...(cfg.target.changes.enabled ? { identity: collectorIdentitySinks(changes) } : {}),
    });
    if (cfg.target.changes.enabled) {
      changes.start();
      this.collectors.push(
        new ModelsCollector({
          intervalMs: cfg.target.changes.modelsIntervalMs,
          timeoutMs: cfg.collectors.timeoutMs,
          logger: this.log,
          clock: this.clock,
          registry: this.registry,
          baseUrl,
          headers: apiHeaders,
          onModels: (ids) => observeServedModels(changes, ids),
        }),
      );
    }
    for (const c of this.collectors) c.start();

    const url = new URL(baseUrl);
    const t = cfg.traffic;
    // Modes may switch between open and closed loop: enough connections for either, never a hidden queue in the pool.
    const poolOptions = {
      origin: url.origin,
      connections: Math.max(t.maxInFlight, t.mode === 'closed' ? t.users : 1, maxModeUsers(cfg)),
      timeouts: cfg.target.timeouts,
    };
    // Replicas with one seed must not send identical streams: each offsets it by its index.
    const seed = t.seed !== undefined ? t.seed + t.replicas.index : Date.now() ^ process.pid;
    const rng = createRng(seed);
    const prompts = new PromptBuilder(rng);
    const basePath = url.pathname.replace(/\/+$/, '');
    const replayCfg = t.replay;
    // The open-loop rate follows a daily curve (traffic.profile; the config refuses one with a replay).
    const profiled = t.profile && !replayCfg ? profileFromConfig(t.profile, resolveStartHour(t.profile.startHour, this.clock.wallMs())) : undefined;
    if (profiled && t.profile)
      this.log.info(
        { startHour: profiled.profile.startHour, timeScale: t.profile.timeScale, meanMultiple: profiled.profile.meanMultiple, csvMeanRate: profiled.csvMeanRate },
        'rate profile: traffic.rate follows a daily curve',
      );
    const qualitySuites = cfg.quality.enabled ? loadSuites(cfg.quality) : [];
    // Shared prefixes and edge cases (the context length edge cases need, from the target when not configured).
    const contextTokens = await resolveContextTokens(t.edgeCases, baseUrl, apiHeaders, (m) => this.log.warn(m));
    const workloadOpts: WorkloadOptions = contextTokens === undefined ? { sharedPrefix: t.sharedPrefix } : { sharedPrefix: t.sharedPrefix, contextTokens };
    // What works on this target, and the configured scenarios it can serve (preflight.onMissingEndpoint).
    const kept = await this.preflight({ baseUrl, metricsUrl, model, headers: apiHeaders, countTokens: (s) => prompts.countTokens(s), scrub: (text) => secrets.scrub(text) });
    if (this.stopping || this.stopRequested) return;
    const scenarioSpec = (scenarios: ScenarioConfig[], m: string): WorkloadSpec => ({ kind: 'scenarios', scenarios, model: m, basePath, options: workloadOpts });
    const spec: WorkloadSpec = replayCfg ? { kind: 'replay', replay: replayCfg, model, basePath } : scenarioSpec(kept.scenarios, model);
    // Built here too with a worker: a bad replay file is a clear error at start, not in a thread.
    const workloads = new WorkloadCache((s) => buildWorkload(s, rng, prompts));
    const oversampled = workloads.get(spec).oversampled;
    if (oversampled) this.log.info(oversampled, 'replay: rare lengths oversampled');
    // Scale-out: this replica's share of the fleet's rate (and users).
    const share = { ...kept, rate: replicaRate(t.rate, t.replicas), users: replicaUsers(t.users, t.replicas) };
    if (t.replicas.count > 1) this.log.info({ replica: t.replicas.index, of: t.replicas.count, rate: share.rate, users: share.users }, 'replica of a scaled-out soak: sending its share');
    const announcer = new FailureAnnouncer(this.log, this.clock);
    const failures = new FailureSamples({
      clock: this.clock,
      perGroup: DEFAULT_PER_GROUP,
      maxMessages: DEFAULT_MAX_MESSAGES,
      scrub: (text) => secrets.scrub(text),
      onNew: (f) => announcer.announce(f),
    });
    this.failures = failures;
    const onRecord = this.onRecord;
    this.requestLog = new RequestLog(
      { ...cfg.requestLog, file: resolvePath(cfg.run.dataDir, cfg.requestLog.file) },
      { registry: this.registry, clock: this.clock, logger: this.log, scrub: (text) => secrets.scrub(text) },
    );
    const traffic = this.idle ? { ...share, mode: 'open' as const, rate: 0 } : share;
    const recordSink = onRecord
      ? (r: RequestRecord) => {
          failures.observe(r);
          onRecord(r);
        }
      : (r: RequestRecord) => failures.observe(r);
    // An injected clock cannot cross into a thread: the engine then runs here.
    if (t.workers > 0 && this.clock === systemClock) {
      this.engine = new TrafficWorkers({
        count: t.workers,
        init: {
          traffic,
          workload: spec,
          seed,
          model,
          pool: poolOptions,
          headers: apiHeaders,
          totalTimeoutMs: cfg.target.timeouts.totalMs,
          maxBodyBytes: MAX_BODY_BYTES,
          keepBodies: cfg.requestLog.enabled && cfg.requestLog.includePrompts,
          // The worker scrubs error details before cutting them (a cut could leave half a key): it needs the values.
          secrets: configSecrets(cfg),
          logLevel: this.log.level as LevelWithSilent,
          batchMs: BATCH_MS,
        },
        ...(profiled ? { profile: profiled.profile } : {}),
        recorder,
        requestLog: this.requestLog,
        onRecord: recordSink,
        logger: this.log,
      });
    } else {
      this.pool = createTargetPool(poolOptions, this.clock);
      this.engine = new TrafficEngine<ScenarioSeries>({
        traffic,
        workload: spec,
        buildWorkload: (s) => workloads.get(s),
        ...(profiled ? { profile: profiled.profile } : {}),
        recorder,
        rng,
        clock: this.clock,
        logger: this.log,
        model,
        onRecord: recordSink,
        requestLog: this.requestLog,
        client: {
          dispatcher: this.pool,
          headers: apiHeaders,
          clock: this.clock,
          totalTimeoutMs: cfg.target.timeouts.totalMs,
          maxBodyBytes: MAX_BODY_BYTES,
          countTokens: (s) => prompts.countTokens(s),
          scrub: (text) => secrets.scrub(text),
        },
      });
    }
    this.engine.start();
    // With workers: start() returns once traffic runs, as it does in-process.
    if (this.engine instanceof TrafficWorkers) await this.engine.ready();
    if (cfg.target.model === undefined && cfg.target.changes.followModel && !replayCfg) {
      const engine = this.engine;
      this.followServedModel = (served) => {
        const next = served[0];
        if (next === undefined || this.target === undefined || served.includes(this.target.model)) return;
        if (this.modes?.busy !== undefined) {
          this.log.warn(`the target no longer serves ${JSON.stringify(this.target.model)}; ${this.modes.busy} runs now, so the soak keeps requesting it`);
          return;
        }
        this.log.warn(`the target serves ${JSON.stringify(next)} now, not ${JSON.stringify(this.target.model)}: requesting it from here on (target.changes.followModel)`);
        this.target = { ...this.target, model: next };
        engine.setModel(next);
        engine.setWorkload(scenarioSpec(kept.scenarios, next));
      };
    }
    this.startAnalyzer();
    // Modes, reports, the status page's history and the schedules.
    this.modes = new ModeController({
      // The scenarios the preflight let through (modes build their requests from them too).
      config: { ...cfg, traffic: kept },
      engine: this.engine,
      recorder,
      registry: this.registry,
      logger: this.log,
      clock: this.clock,
      version: VERSION,
      startedAtMs: this.startedAtMs,
      hints: () => this.analyzer?.snapshot().hints ?? [],
      target: { url: redactUrl(baseUrl), model, embedded: !!this.embedded },
      // The fleet's soak load: a mode's host sends this replica's share of whatever it sets.
      soakLoad: share.mode === 'closed' ? { rate: 0, users: t.users, thinkTimeMs: share.thinkTimeMs } : { rate: t.rate, users: 0, thinkTimeMs: share.thinkTimeMs },
      replicas: t.replicas,
      analysis: async (fromMs, toMs) => (this.analyzer ? soakAnalysisOf(await this.analyzer.period(fromMs, toMs)) : undefined),
      makeWorkload: (sc) => scenarioSpec(sc, this.target?.model ?? model),
      targetEvents: (fromMs, toMs) => this.targetChanges?.events(fromMs, toMs) ?? [],
      incidents: (fromMs, toMs) => this.incidents?.entries(fromMs, toMs) ?? [],
      failures: (fromMs, toMs) => failures.snapshot(fromMs, toMs),
      scrub: (text) => secrets.scrub(text),
    });
    this.modes.start({ schedules: !this.idle, soak: !this.idle });
    // Golden prompts beside the soak, scored into llmsoak_quality_score{suite}.
    if (qualitySuites.length > 0) {
      this.quality = startQualityChecks({
        cfg: cfg.quality,
        suites: qualitySuites,
        baseUrl,
        model,
        registry: this.registry,
        logger: this.log,
        clock: this.clock,
        ...(cfg.target.apiKey ? { apiKey: cfg.target.apiKey } : {}),
      });
    }
    // Periodic checkpoints from here on; every section (modes and schedules may add theirs above) is registered and restored by now.
    this.checkpointer?.start();
    this.readyFlag = true;
  }

  /** Sampler → local store (or Prometheus) → rules → tracker → Alertmanager. */
  private startAnalyzer(): void {
    const a = this.config.analyzer;
    if (!a.enabled) return;
    const replicas = this.config.traffic.replicas;
    let src: SeriesSource;
    if (a.source === 'prometheus' && a.prometheus) {
      // One analyzer reads the fleet: replica 0 (the others only send traffic).
      if (replicas.index !== 0) {
        this.log.info({ replica: replicas.index }, 'analyzer reads Prometheus from replica 0 only; not started here');
        return;
      }
      src = new PrometheusSource({ ...a.prometheus, stepSec: a.stepSec, logger: this.log });
      this.log.info({ prometheus: a.prometheus.url }, 'analyzer reads Prometheus');
    } else {
      const storeOpts = { stepSec: a.stepSec, rawRetentionSec: a.rawRetentionSec, maxSeries: a.maxSeries };
      const store = this.restoredStore(storeOpts) ?? new SeriesStore(storeOpts);
      this.checkpointer?.register({ name: 'store', save: () => store.toSnapshot(), restore: () => undefined });
      // The store's own size: it is bounded, and this shows by how much (and what llmsoak's RSS is made of).
      new Gauge({
        name: 'llmsoak_analyzer_store_series',
        help: "Series held in the analyzer's local store.",
        registers: [this.registry],
        collect() {
          this.set(store.stats().series);
        },
      });
      new Gauge({
        name: 'llmsoak_analyzer_store_bytes',
        help: "Bytes the analyzer's local store holds (compressed blocks, head blocks, timestamp rings and per-series overhead).",
        registers: [this.registry],
        collect() {
          this.set(store.footprintBytes());
        },
      });
      const log = this.log.child({ component: 'sampler' });
      this.sampler = new Sampler({ registry: this.registry, store, clock: this.clock, stepSec: a.stepSec, onError: (err) => log.warn({ err }, 'sample failed') });
      src = new LocalSource(store);
    }
    const tracker = new HintTracker({ registry: this.registry });
    this.checkpointer?.register({ name: 'tracker', save: () => ({ json: tracker.toSnapshot() }), restore: (d) => tracker.restore(d.json as TrackerSnapshot) });
    const sinks: HintSink[] = [];
    if (this.config.alerting.alertmanagers.length > 0) {
      const alerting = { ...this.config.alerting, externalUrl: this.config.alerting.externalUrl ?? this.listenUrl };
      this.notifier = new AlertmanagerNotifier(alerting, { registry: this.registry, logger: this.log, clock: this.clock, evaluationIntervalMs: a.intervalSec * 1000 });
      this.notifier.start();
      sinks.push(this.notifier);
    }
    // Onset, detection and recovery of error storms, target down and latency excursions.
    this.incidents = new IncidentTracker({
      src,
      thresholds: a.thresholds,
      baseline: () => this.analyzer?.baseline,
      windowSec: a.windowSec,
      cfg: a.incidents,
      registry: this.registry,
      logger: this.log,
    });
    sinks.push(this.incidents);
    this.analyzer = new Analyzer({
      cfg: a,
      rules: [...builtInRules(), ...a.rules.map(userRule)],
      src,
      tracker,
      sinks,
      registry: this.registry,
      logger: this.log,
      clock: this.clock,
      // A resumed soak keeps its start: warm-up is not repeated, windows and trends span the restart.
      runStartMs: this.checkpointer?.runInfo.startedAtMs ?? this.clock.wallMs(),
      ...(this.failures ? { failures: this.failures } : {}),
    });
    const analyzer = this.analyzer;
    this.checkpointer?.register({
      name: 'analyzer',
      save: () => ({ json: { baseline: analyzer.baseline ?? null } }),
      restore: (d) => {
        const b = (d.json as { baseline: Baseline | null }).baseline;
        if (b) analyzer.restoreBaseline(b);
      },
    });
    this.sampler?.start();
    this.analyzer.start();
  }

  /** The series store of the checkpoint being resumed, when there is one and it fits the current config. */
  private restoredStore(opts: { stepSec: number; rawRetentionSec: number; maxSeries: number }): SeriesStore | undefined {
    const saved = this.checkpointer?.loadedSection('store');
    if (!saved) return undefined;
    try {
      const store = SeriesStore.fromSnapshot(opts, { json: saved.json, blobs: saved.blobs ?? [] });
      this.log.info({ series: store.stats().series }, 'series store resumed from the checkpoint: trends span the restart');
      return store;
    } catch (err) {
      this.log.warn(`series store not resumed (${errorMessage(err)}); it starts empty`);
      return undefined;
    }
  }

  /**
   * The preflight (src/preflight/), when enabled: probes the target, logs one
   * line per problem, applies preflight.onMissingEndpoint and returns the
   * traffic config with the scenarios to send. A fatal outcome (policy fail,
   * or nothing left to send) throws: the daemon does not start.
   */
  private async preflight(p: {
    baseUrl: string;
    metricsUrl: string;
    model: string;
    headers: Record<string, string>;
    countTokens: (s: string) => number;
    scrub: (text: string) => string;
  }): Promise<Config['traffic']> {
    const cfg = this.config;
    if (!cfg.preflight.enabled) return cfg.traffic;
    const log = this.log.child({ component: 'preflight' });
    const result = await runPreflight({
      baseUrl: p.baseUrl,
      shownUrl: redactUrl(p.baseUrl),
      metricsUrl: p.metricsUrl,
      model: p.model,
      modelConfigured: cfg.target.model !== undefined,
      headers: p.headers,
      scenarios: cfg.traffic.scenarios,
      timeoutMs: cfg.preflight.timeoutMs,
      connectTimeoutMs: cfg.target.timeouts.connectMs,
      clock: this.clock,
      countTokens: p.countTokens,
      scrub: p.scrub,
    });
    const decided = applyMissingEndpointPolicy(result, cfg.traffic.scenarios, cfg.preflight.onMissingEndpoint);
    this.preflightResult = result;
    log.info(
      { durationMs: result.durationMs, ok: result.ok, problems: result.problems.length },
      `preflight: ${result.scenarios.filter((s) => s.runnable).length} of ${result.scenarios.length} scenarios can run, ${result.problems.length} problem(s) (table in /api/status)`,
    );
    for (const line of result.problems) log.warn(`preflight: ${line}`);
    if (decided.fatal !== undefined) {
      const hint =
        cfg.preflight.onMissingEndpoint === 'fail'
          ? 'see the preflight table; preflight.onMissingEndpoint: skip leaves such scenarios out'
          : 'see the preflight table; configure scenarios whose endpoints the target serves';
      throw new LlmsoakError('LLMSOAK_ERR_TARGET', decided.fatal, hint);
    }
    if (decided.skipped.length > 0)
      log.warn(
        `preflight: scenario${decided.skipped.length > 1 ? 's' : ''} ${decided.skipped.join(', ')} skipped: the target lacks ${decided.skipped.length > 1 ? 'their endpoints' : 'its endpoint'} (preflight.onMissingEndpoint: skip)`,
      );
    return decided.skipped.length > 0 ? { ...cfg.traffic, scenarios: decided.run } : cfg.traffic;
  }

  /** What the preflight found at start (undefined when disabled or not run). */
  get preflightReport(): PreflightResult | undefined {
    return this.preflightResult;
  }

  /** The server's own words for every error so far (src/failures/). */
  get failureSamples(): FailureSamples | undefined {
    return this.failures;
  }

  /** GET /v1/models until it answers (the target may still be starting); first id wins. */
  private async discoverModel(baseUrl: string, headers: Record<string, string>): Promise<string> {
    let warned = false;
    for (;;) {
      try {
        // A hostile target may answer with an endless or huge body: whole-request timeout and a size cap.
        const res = await request(`${baseUrl}/models`, { headers, headersTimeout: 10_000, bodyTimeout: 10_000, signal: AbortSignal.timeout(15_000) });
        const body = JSON.parse(await readCapped(res.body, 1024 * 1024)) as { data?: { id?: unknown }[] };
        const id = body.data?.[0]?.id;
        if (res.statusCode === 200 && typeof id === 'string') return id;
        throw new Error(`GET /models answered ${res.statusCode} without a model id`);
      } catch (err) {
        if (this.stopping || this.stopRequested) return 'unknown';
        if (!warned) {
          warned = true;
          this.log.warn(`cannot list models at ${baseUrl}/models (${errorMessage(err)}); retrying every 5 s (or set target.model)`);
        }
        for (let i = 0; i < 50 && !this.stopRequested; i++) await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  status(): unknown {
    return {
      version: VERSION,
      startedAt: new Date(this.startedAtMs).toISOString(),
      uptimeSec: (this.clock.wallMs() - this.startedAtMs) / 1000,
      target: this.target ?? null,
      traffic: this.recorder ? { mode: this.config.traffic.mode, rate: this.config.traffic.rate, ...this.recorder.snapshot() } : null,
      quality: this.quality?.snapshot() ?? null,
      activity: this.modes?.activity ?? null,
      state: this.checkpointer?.status() ?? null,
      targetChanges: this.targetChanges?.events() ?? [],
      incidents: this.incidents?.entries() ?? [],
      preflight: this.preflightResult ?? null,
      failures: this.failures?.snapshot() ?? [],
    };
  }

  requestStop(): void {
    this.stopRequested = true;
  }

  /** The traffic recorder, once traffic has started (benchmarks and reports read its HDR totals). */
  get trafficRecorder(): Recorder | undefined {
    return this.recorder;
  }

  /** The analyzer, when enabled and started (tests evaluate it directly). */
  get hintAnalyzer(): Analyzer | undefined {
    return this.analyzer;
  }

  /** Target-change detection, once the target is resolved. */
  get changeDetector(): TargetChangeDetector | undefined {
    return this.targetChanges;
  }

  /** Incidents the analyzer saw (with the analyzer). */
  get incidentTracker(): IncidentTracker | undefined {
    return this.incidents;
  }

  /** Mode runs, reports and schedules, once traffic runs. */
  get runs(): ModeController | undefined {
    return this.modes;
  }

  /** The quality checks, when suites are configured and traffic runs. */
  get qualityChecks(): QualityChecks | undefined {
    return this.quality;
  }

  /** Change the open-loop rate while running (the fleet's rate: a replica sends its share). */
  setRate(rps: number): void {
    this.engine?.setRate(replicaRate(rps, this.config.traffic.replicas));
  }

  get ready(): boolean {
    return this.readyFlag;
  }

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.readyFlag = false;
    this.log.info({ reason }, 'llmsoak stopping');
    // A mode running now ends early (its report keeps what it measured); no new schedules.
    await this.modes?.stop();
    await this.quality?.stop();
    if (this.engine) await this.engine.stop(this.config.run.drainMs);
    await this.requestLog?.close();
    // Traffic has drained: the last soak report's totals are final; the analyzer and its store still answer.
    if (this.finalReport) await this.modes?.finalSoakReport(FINAL_REPORT_TIMEOUT_MS);
    await this.analyzer?.stop();
    await this.incidents?.idle();
    this.targetChanges?.stop();
    await this.notifier?.stop(5000);
    await this.sampler?.stop();
    // Soak state for the next start (after the last sample, before the collectors and the server go).
    await this.checkpointer?.stop();
    await Promise.allSettled(this.collectors.map((c) => c.stop()));
    if (this.recorder) this.log.info({ totals: this.recorder.totals }, 'final totals');
    await this.pool?.close().catch(() => undefined);
    await this.app?.close().catch(() => undefined);
    await this.embedded?.stop();
    this.log.info('llmsoak stopped');
  }
}

/** server.tls PEM files, read once; unreadable: one clear line. */
function readTls(tls: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new LlmsoakError('LLMSOAK_ERR_LISTEN', `cannot read server.tls.${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, 'point server.tls at readable PEM files');
    }
  };
  return { cert: read('certFile', tls.certFile), key: read('keyFile', tls.keyFile) };
}

/** A response body as text, abandoned (and the request aborted) past `maxBytes`. */
async function readCapped(body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }, maxBytes: number): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += chunk.length;
    if (n > maxBytes) {
      body.destroy();
      throw new Error(`response body over ${maxBytes} bytes`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** `llmsoak run`: start, stop on signal or after --duration, exit code. */
export async function runDaemon(config: Config, logger: Logger): Promise<number> {
  const daemon = new Daemon(config, { logger, checkpoints: true, finalReport: true });
  let signals = 0;
  let resolveDone: (() => void) | undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn(`${sig} again: exiting now`);
      logger.flush();
      process.exit(130);
    }
    logger.info(`${sig} received: draining (send again to exit at once)`);
    daemon.requestStop();
    resolveDone?.();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  // The preflight's table for people (stderr: stdout carries the log).
  const showPreflight = () => {
    const pf = daemon.preflightReport;
    if (pf) process.stderr.write(renderPreflight(pf));
  };
  try {
    await daemon.start();
  } catch (err) {
    showPreflight();
    await daemon.stop('start failed');
    throw err;
  }
  showPreflight();
  const st = daemon.status() as { target: ResolvedTarget | null };
  if (st.target) {
    const what = config.traffic.replay ? `replaying ${config.traffic.replay.file}` : config.traffic.mode === 'closed' ? `${config.traffic.users} users` : `${config.traffic.rate} req/s`;
    process.stderr.write(`llmsoak: soaking ${st.target.baseUrl}${st.target.embedded ? ' (built-in simulator)' : ''}, model ${st.target.model}, ${what}; metrics at ${daemon.listenUrl}/metrics\n`);
  }
  if (config.mode.kind !== 'soak') logger.info(`mode.kind ${config.mode.kind} is what llmsoak bench runs (or a schedule); llmsoak run soaks`);
  let timer: NodeJS.Timeout | undefined;
  if (config.run.durationSec > 0) timer = setTimeout(() => resolveDone?.(), config.run.durationSec * 1000);
  await done;
  if (timer) clearTimeout(timer);
  await daemon.stop(signals ? 'signal' : 'duration reached');
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  await new Promise<void>((r) => logger.flush(() => r()));
  return 0;
}
