/**
 * The composition root: the only place that builds components and wires them
 * together. Starts them in order and stops them in reverse:
 *   registry → HTTP server → target (embedded simulator) → model → collectors → traffic
 * and on stop: traffic (stop scheduling, drain, cancel) → collectors → HTTP → simulator → log.
 */
import { Pool, request } from 'undici';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config/types.js';
import { redactConfig } from './config/load.js';
import { startEmbeddedSimulator, type EmbeddedTarget } from './embedded-target.js';
import { LlmsoakError, errorMessage } from './errors.js';
import type { Logger } from './log.js';
import { createRegistry } from './metrics/registry.js';
import { Recorder } from './metrics/recorder.js';
import { buildApp } from './server/app.js';
import { createCollectors, type Collector } from './collectors/index.js';
import { TrafficEngine } from './traffic/engine.js';
import { Workload } from './traffic/workload.js';
import { loadReplay, ReplayArrivals, ReplayWorkload, replayScenarios } from './traffic/replay.js';
import { PromptBuilder } from './traffic/prompts.js';
import { createRng } from './traffic/random.js';
import { VERSION } from './version.js';
import type { RequestRecord } from './types.js';
import { SeriesStore } from './analyzer/series-store.js';
import { Sampler } from './analyzer/sampler.js';
import { LocalSource } from './analyzer/local-source.js';
import { HintTracker } from './analyzer/tracker.js';
import { Analyzer, type HintSink } from './analyzer/engine.js';
import { builtInRules } from './analyzer/rules/index.js';
import { userRule } from './analyzer/rules/user.js';
import { AlertmanagerNotifier } from './alerting/alertmanager.js';

export interface DaemonDeps {
  logger: Logger;
  clock?: Clock;
  /** Sees every finished RequestRecord (benchmarks, request logs); must not block. */
  onRecord?: (r: RequestRecord) => void;
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
  private engine: TrafficEngine | undefined;
  private recorder: Recorder | undefined;
  private pool: Pool | undefined;
  private target: ResolvedTarget | undefined;
  private sampler: Sampler | undefined;
  private analyzer: Analyzer | undefined;
  private notifier: AlertmanagerNotifier | undefined;
  private readyFlag = false;
  private stopping = false;
  /** Set by a signal that arrives while still starting (e.g. waiting for the target). */
  private stopRequested = false;
  private startedAtMs = 0;
  /** Where the HTTP server listens, once it does. */
  listenUrl = '';

  constructor(readonly config: Config, deps: DaemonDeps) {
    this.log = deps.logger;
    this.clock = deps.clock ?? systemClock;
    this.onRecord = deps.onRecord;
    this.registry = createRegistry();
  }

  async start(): Promise<void> {
    const cfg = this.config;
    this.startedAtMs = this.clock.wallMs();
    this.log.info({ version: VERSION, config: redactConfig(cfg) }, 'llmsoak starting');

    this.app = buildApp({
      registry: this.registry,
      logger: this.log,
      ready: () => this.readyFlag,
      status: () => this.status(),
      hints: () => this.analyzer?.snapshot() ?? { topCause: null, untrustworthy: false, hints: [], rules: [], baselineCapturedAt: null, analyzer: 'disabled' },
    });
    try {
      await this.app.listen({ host: cfg.server.host, port: cfg.server.port });
    } catch (err) {
      throw new LlmsoakError('LLMSOAK_ERR_LISTEN', `cannot listen on ${cfg.server.listen}: ${errorMessage(err)}`, 'choose another with --listen HOST:PORT or server.listen');
    }
    const addr = this.app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : cfg.server.port;
    const shownHost = cfg.server.host === '0.0.0.0' || cfg.server.host === '::' ? '127.0.0.1' : cfg.server.host;
    this.listenUrl = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
    this.log.info(`metrics at ${this.listenUrl}/metrics (health ${this.listenUrl}/healthz, status ${this.listenUrl}/api/status)`);

    let baseUrl = cfg.target.url;
    let pid = cfg.target.pid;
    let metricsUrl = cfg.target.metricsUrl;
    if (!baseUrl) {
      this.embedded = await startEmbeddedSimulator(cfg.simulator, cfg.log.level, this.log);
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
    this.target = { baseUrl, model, embedded: !!this.embedded };
    this.log.info({ target: baseUrl, model }, 'target resolved');

    this.recorder = new Recorder(this.registry, { slo: cfg.slo, windowMs: cfg.metrics.windowMs, clock: this.clock });
    const recorder = this.recorder;
    const target: { pid?: number; processName?: string; metricsUrl?: string } = { metricsUrl };
    if (pid !== undefined) target.pid = pid;
    if (cfg.target.processName !== undefined) target.processName = cfg.target.processName;
    // The embedded simulator's process is "node" by name; say what it is.
    const collectorsCfg = this.embedded && cfg.collectors.process.label === undefined
      ? { ...cfg.collectors, process: { ...cfg.collectors.process, label: 'llmsoak-simulator' } }
      : cfg.collectors;
    this.collectors = createCollectors(collectorsCfg, {
      registry: this.registry,
      logger: this.log,
      clock: this.clock,
      target,
      outputTokens: () => recorder.totals.outputTokens,
    });
    for (const c of this.collectors) c.start();

    const url = new URL(baseUrl);
    const t = cfg.traffic;
    const connections = t.mode === 'closed' ? t.users : t.maxInFlight;
    this.pool = new Pool(url.origin, {
      connections,
      pipelining: 1,
      connect: { timeout: cfg.target.timeouts.connectMs },
      headersTimeout: cfg.target.timeouts.headersMs,
      bodyTimeout: cfg.target.timeouts.idleMs,
      keepAliveTimeout: 60_000,
    });
    const rng = createRng(t.seed ?? (Date.now() ^ process.pid));
    const prompts = new PromptBuilder(rng);
    const basePath = url.pathname.replace(/\/+$/, '');
    const replayCfg = t.replay;
    const replay = replayCfg ? loadReplay(replayCfg.file) : undefined;
    const workload = replay ? new ReplayWorkload(replay, model, prompts, basePath) : new Workload(t.scenarios, model, rng, prompts, basePath);
    const scenarios = replay ? replayScenarios(replay) : t.scenarios;
    this.engine = new TrafficEngine({
      traffic: t,
      workload,
      scenarios,
      ...(replay && replayCfg ? { replayArrivals: () => new ReplayArrivals(replay, replayCfg.speed, replayCfg.loop) } : {}),
      recorder,
      rng,
      clock: this.clock,
      logger: this.log,
      model,
      ...(this.onRecord ? { onRecord: this.onRecord } : {}),
      client: {
        dispatcher: this.pool,
        headers: apiHeaders,
        clock: this.clock,
        totalTimeoutMs: cfg.target.timeouts.totalMs,
        maxBodyBytes: 8 * 1024 * 1024,
        countTokens: (s) => prompts.countTokens(s),
      },
    });
    this.engine.start();
    this.startAnalyzer();
    this.readyFlag = true;
  }

  /** Sampler → local store → rules → tracker → Alertmanager. */
  private startAnalyzer(): void {
    const a = this.config.analyzer;
    if (!a.enabled) return;
    const store = new SeriesStore({ stepSec: a.stepSec, rawRetentionSec: a.rawRetentionSec, maxSeries: a.maxSeries });
    const log = this.log.child({ component: 'sampler' });
    this.sampler = new Sampler({ registry: this.registry, store, clock: this.clock, stepSec: a.stepSec, onError: (err) => log.warn({ err }, 'sample failed') });
    const tracker = new HintTracker({ registry: this.registry });
    const sinks: HintSink[] = [];
    if (this.config.alerting.alertmanagers.length > 0) {
      const alerting = { ...this.config.alerting, externalUrl: this.config.alerting.externalUrl ?? this.listenUrl };
      this.notifier = new AlertmanagerNotifier(alerting, { registry: this.registry, logger: this.log, clock: this.clock, evaluationIntervalMs: a.intervalSec * 1000 });
      this.notifier.start();
      sinks.push(this.notifier);
    }
    this.analyzer = new Analyzer({
      cfg: a, rules: [...builtInRules(), ...a.rules.map(userRule)], src: new LocalSource(store), tracker, sinks,
      registry: this.registry, logger: this.log, clock: this.clock, runStartMs: this.clock.wallMs(),
    });
    this.sampler.start();
    this.analyzer.start();
  }

  /** GET /v1/models until it answers (the target may still be starting); first id wins. */
  private async discoverModel(baseUrl: string, headers: Record<string, string>): Promise<string> {
    let warned = false;
    for (;;) {
      try {
        const res = await request(`${baseUrl}/models`, { headers, headersTimeout: 10_000, bodyTimeout: 10_000 });
        const body = (await res.body.json()) as { data?: { id?: unknown }[] };
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
      traffic: this.recorder
        ? { mode: this.config.traffic.mode, rate: this.config.traffic.rate, ...this.recorder.snapshot() }
        : null,
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

  /** Change the open-loop rate while running. */
  setRate(rps: number): void {
    this.engine?.setRate(rps);
  }

  get ready(): boolean {
    return this.readyFlag;
  }

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.readyFlag = false;
    this.log.info({ reason }, 'llmsoak stopping');
    if (this.engine) await this.engine.stop(this.config.run.drainMs);
    await this.analyzer?.stop();
    await this.notifier?.stop(5000);
    await this.sampler?.stop();
    await Promise.allSettled(this.collectors.map((c) => c.stop()));
    if (this.recorder) this.log.info({ totals: this.recorder.totals }, 'final totals');
    await this.pool?.close().catch(() => undefined);
    await this.app?.close().catch(() => undefined);
    await this.embedded?.stop();
    this.log.info('llmsoak stopped');
  }
}

/** `llmsoak run`: start, stop on signal or after --duration, exit code. */
export async function runDaemon(config: Config, logger: Logger): Promise<number> {
  const daemon = new Daemon(config, { logger });
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

  try {
    await daemon.start();
  } catch (err) {
    await daemon.stop('start failed');
    throw err;
  }
  const st = daemon.status() as { target: ResolvedTarget | null };
  if (st.target) {
    const what = config.traffic.replay ? `replaying ${config.traffic.replay.file}` : config.traffic.mode === 'closed' ? `${config.traffic.users} users` : `${config.traffic.rate} req/s`;
    process.stderr.write(`llmsoak: soaking ${st.target.baseUrl}${st.target.embedded ? ' (built-in simulator)' : ''}, model ${st.target.model}, ${what}; metrics at ${daemon.listenUrl}/metrics\n`);
  }
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
