/**
 * The composition root: builds each part with its factory (src/compose/) and
 * pushes its stop on a last-in first-out stack (Teardown), so parts stop in
 * the reverse of the order they are built in here:
 *   embedded simulator → HTTP server → (model discovered) → connection pool → recorder
 *   (logs the final totals) → collectors → final checkpoint → analysis
 *   (sampler, Alertmanager notifier, target changes, incidents, analyzer) →
 *   [final soak report] → traffic (drain, then the request log) → quality
 *   checks → modes.
 * So stop() ends a running mode and the schedules first, drains traffic, writes
 * the final soak report while the analyzer still answers, stops the analysis,
 * writes the last checkpoint after the last sample, then the collectors, the
 * pool, the server and the simulator go. The final soak report's place is
 * reserved before traffic is built; the modes that write it come after traffic
 * and fill it. docs/architecture.md has the whole picture.
 */
import type { Registry } from 'prom-client';
import { systemClock, type Clock } from './clock.js';
import { redactConfig } from './config/load.js';
import type { Config } from './config/types.js';
import { createAnalysis } from './compose/analyzer.js';
import { createCollectors } from './compose/collectors.js';
import type { DaemonDeps, DaemonStatus, RunningParts } from './compose/daemon-types.js';
import { createModes, createQuality } from './compose/modes.js';
import { createRecorder } from './compose/recorder.js';
import { createServer } from './compose/server.js';
import { createState } from './compose/state.js';
import { createTarget } from './compose/target.js';
import { Teardown } from './compose/teardown.js';
import { createFailures, createPool, createTraffic, planTraffic } from './compose/traffic.js';
import type { Logger } from './log.js';
import { createRegistry } from './metrics/registry.js';
import { loadSuites } from './quality/index.js';
import { SecretScrubber, configSecrets, redactUrl } from './security/secrets.js';
import { discoverModel } from './traffic/discover-model.js';
import { ModelFollower } from './traffic/follow-model.js';
import { replicaRate } from './traffic/replicas.js';
import { VERSION } from './version.js';

export type { DaemonDeps, DaemonStatus, ResolvedTarget } from './compose/daemon-types.js';

/** How long stop() waits for the final soak report before going on without it. */
const FINAL_REPORT_TIMEOUT_MS = 10_000;

export class Daemon {
  readonly registry: Registry = createRegistry();
  /** Where the HTTP server listens, once it does. */
  listenUrl = '';
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly teardown: Teardown;
  private readonly parts: RunningParts = {};
  private readyFlag = false;
  private stopping = false;
  /** Set by a signal that arrives while still starting (e.g. waiting for the target). */
  private stopRequested = false;
  private startedAtMs = 0;

  constructor(
    readonly config: Config,
    private readonly deps: DaemonDeps,
  ) {
    this.log = deps.logger;
    this.clock = deps.clock ?? systemClock;
    this.teardown = new Teardown(this.log);
  }

  async start(): Promise<void> {
    const { config: cfg, log, clock, registry, parts, teardown: t } = this;
    const common = { registry, logger: log, clock };
    const idle = this.deps.idle ?? false;
    const halted = () => this.stopping || this.stopRequested;
    this.startedAtMs = clock.wallMs();
    log.info({ version: VERSION, config: redactConfig(cfg) }, 'llmsoak starting');
    const secrets = new SecretScrubber(configSecrets(cfg));
    const scrub = (text: string) => secrets.scrub(text);
    const target = await createTarget(cfg, { logger: log, quiet: idle });
    if (target.embedded) t.push('embedded simulator', target.stop);
    const server = await createServer(cfg, { registry, logger: log, secrets, parts, ready: () => this.readyFlag, status: () => this.status() });
    t.push('http server', server.stop);
    this.listenUrl = server.listenUrl;
    const model = cfg.target.model ?? (await discoverModel(target.baseUrl, target.headers, { logger: log, cancelled: halted }));
    if (halted()) return;
    const follower = new ModelFollower(model, cfg.target.model === undefined && cfg.target.changes.followModel && !cfg.traffic.replay, log);
    parts.target = { baseUrl: redactUrl(target.baseUrl), embedded: target.embedded, model: follower };
    log.info({ target: target.baseUrl, model }, 'target resolved');
    const pool = createPool(cfg, target, clock);
    if (pool) t.push('connection pool', () => pool.close().catch(() => undefined));
    const { recorder, stop: logTotals } = createRecorder(cfg, common);
    parts.recorder = recorder;
    t.push('final totals', logTotals);
    const collectors = createCollectors(cfg, target, { ...common, recorder, onModelChange: (served) => follower.observe(served) });
    parts.collectors = collectors;
    t.push('collectors', collectors.stop);
    // Resume the soak from run.dataDir when a checkpoint of it is there (each section is restored as it registers).
    const state = this.deps.checkpoints ? await createState(cfg, { ...common, scrub }) : undefined;
    parts.state = state;
    if (state) t.push('final checkpoint', () => state.stop());
    state?.register({ name: 'recorder', save: () => ({ json: recorder.toSnapshot() }), restore: (d) => recorder.restore(d.json as ReturnType<typeof recorder.toSnapshot>) });
    collectors.start();
    const suites = cfg.quality.enabled ? loadSuites(cfg.quality) : [];
    const plan = await planTraffic(cfg, target, model, { logger: log, clock, scrub, onPreflight: (r) => (parts.preflight = r) });
    if (halted()) return;
    const failures = createFailures(log, clock, scrub);
    parts.failures = failures;
    const analysis = createAnalysis(cfg, { ...common, changes: collectors.changes, failures, checkpointer: state, listenUrl: this.listenUrl });
    parts.analysis = analysis;
    t.push('analysis', analysis.stop);
    const finalReport = t.reserve('final soak report');
    const traffic = createTraffic(cfg, plan, target, model, { ...common, recorder, pool, failures, scrub, onRecord: this.deps.onRecord, idle });
    parts.engine = traffic.engine;
    t.push('traffic', traffic.stop);
    await traffic.start();
    analysis.start();
    const modes = createModes(cfg, { ...common, recorder, analysis, failures, scrub, plan, target, model, collectors, traffic, follower, startedAtMs: this.startedAtMs });
    parts.modes = modes;
    follower.follow({ engine: traffic.engine, workloadFor: plan.soakWorkload, busy: () => modes.busy });
    // Traffic has drained when this runs: the last soak report's totals are final; the analyzer and its store still answer.
    if (this.deps.finalReport) finalReport.fill(() => modes.finalSoakReport(FINAL_REPORT_TIMEOUT_MS));
    const quality = createQuality(cfg, suites, { ...common, baseUrl: target.baseUrl, model, scheduler: modes.scheduler });
    parts.quality = quality;
    if (quality) t.push('quality checks', () => quality.stop());
    // A mode running at stop ends early (its report keeps what it measured); no new schedules.
    modes.start({ schedules: !idle, soak: !idle });
    t.push('modes', () => modes.stop());
    // Periodic checkpoints from here on: every section is registered (and restored) by now.
    state?.start();
    this.readyFlag = true;
  }

  status(): DaemonStatus {
    const p = this.parts;
    return {
      version: VERSION,
      startedAt: new Date(this.startedAtMs).toISOString(),
      uptimeSec: (this.clock.wallMs() - this.startedAtMs) / 1000,
      target: p.target ? { baseUrl: p.target.baseUrl, model: p.target.model.model, embedded: p.target.embedded } : null,
      traffic: p.recorder ? { mode: this.config.traffic.mode, rate: this.config.traffic.rate, ...p.recorder.snapshot() } : null,
      quality: p.quality?.snapshot() ?? null,
      activity: p.modes?.activity ?? null,
      state: p.state?.status() ?? null,
      targetChanges: p.collectors?.changes.events() ?? [],
      incidents: p.analysis?.incidents?.entries() ?? [],
      preflight: p.preflight ?? null,
      failures: p.failures?.snapshot() ?? [],
    };
  }

  requestStop(): void {
    this.stopRequested = true;
  }

  /** Change the open-loop rate while running (the fleet's rate: a replica sends its share). */
  setRate(rps: number): void {
    this.parts.engine?.setRate(replicaRate(rps, this.config.traffic.replicas));
  }

  get ready(): boolean {
    return this.readyFlag;
  }

  // The running parts, for tests, benchmarks and the CLI (undefined until built).
  get preflightReport() {
    return this.parts.preflight;
  }
  get failureSamples() {
    return this.parts.failures;
  }
  get trafficRecorder() {
    return this.parts.recorder;
  }
  get hintAnalyzer() {
    return this.parts.analysis?.analyzer;
  }
  get changeDetector() {
    return this.parts.collectors?.changes;
  }
  get incidentTracker() {
    return this.parts.analysis?.incidents;
  }
  get runs() {
    return this.parts.modes;
  }
  get qualityChecks() {
    return this.parts.quality;
  }

  /** Runs the teardown stack (the order is in this file's header); a second call does nothing. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.readyFlag = false;
    this.log.info({ reason }, 'llmsoak stopping');
    await this.teardown.run();
    this.log.info('llmsoak stopped');
  }
}
