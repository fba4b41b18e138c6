/**
 * The analyzer loop: on an aligned interval it evaluates every rule at one
 * timestamp through the SeriesSource, captures the baseline once warm-up is
 * over, hands findings to the tracker (the one place alert state lives),
 * logs one line per state change and passes the hint set to the notifier.
 * A failing rule is counted and reported, never stops the others.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { systemTimers, type Clock, type TimerHandle, type Timers } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Hint, Severity } from './hint.js';
import { describeTransition, type HintTracker } from './tracker.js';
import type { Baseline, FailureMessages, Rule, RuleContext } from './rule.js';
import type { SeriesSource } from './source.js';
import { blockMedians } from './rules/trends.js';
import { HintJournal } from './hint-journal.js';
import { periodTrends, type PeriodSeries } from './period.js';
import type { AnalyzerSectionConfig } from './config.js';

/** What the analyzer itself reads of the `analyzer` section (./config.ts). */
export type AnalyzerConfig = Pick<AnalyzerSectionConfig, 'enabled' | 'stepSec' | 'intervalSec' | 'windowSec' | 'leakWindowSec' | 'warmupSec' | 'baselineSec' | 'thresholds'>;

/** What a notifier needs: the whole hint set after every evaluation. */
export interface HintSink {
  send(hints: Hint[], now: Date): unknown;
}

export interface RuleHealth {
  rule: string;
  severity: Severity;
  description: string;
  health: 'ok' | 'insufficient data' | 'error' | 'unknown';
  missing?: string[];
  lastError?: string;
  lastEvaluation?: string;
  durationMs?: number;
}

const SEVERITY_RANK: Record<Severity, number> = { critical: 3, warning: 2, info: 1 };

/**
 * Firing hints first by severity, then confidence: the first one is the likely
 * cause. generator_bound qualifies the others (it marks them untrustworthy)
 * rather than explaining the target, so it ranks after the target's own hints
 * and is the top cause only when it is alone.
 */
/**
 * A hint about llmsoak itself rather than the target: generator_bound, and a
 * leak of llmsoak's own process. Reported like any other, but it is not the
 * target's likely cause, so it ranks after every hint about the target.
 */
export function aboutLlmsoak(h: Pick<Hint, 'rule' | 'labels'>): boolean {
  return h.rule === 'generator_bound' || (h.rule === 'leak' && h.labels?.series === 'process_resident_memory_bytes');
}

export function rankHints(hints: Hint[]): Hint[] {
  return [...hints].sort(
    (a, b) =>
      (b.state === 'firing' ? 1 : 0) - (a.state === 'firing' ? 1 : 0) ||
      (aboutLlmsoak(a) ? 1 : 0) - (aboutLlmsoak(b) ? 1 : 0) ||
      (a.rule === 'generator_bound' ? 1 : 0) - (b.rule === 'generator_bound' ? 1 : 0) ||
      SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
      b.confidence - a.confidence,
  );
}

export class Analyzer {
  private readonly log: Logger;
  private readonly health = new Map<string, RuleHealth>();
  private readonly duration: Histogram<'rule'>;
  private readonly failures: Counter<'rule'>;
  private readonly insufficientGauge: Gauge<'rule'>;
  private timer: TimerHandle | undefined;
  private running = false;
  private evaluating: Promise<void> | undefined;
  private baselineValue: Baseline | undefined;
  /** Every hint that fired, kept past the tracker's 15 minutes (soak reports list them). */
  private readonly journal = new HintJournal();
  evaluations = 0;

  constructor(
    private readonly o: {
      cfg: AnalyzerConfig;
      rules: Rule[];
      src: SeriesSource;
      tracker: HintTracker;
      sinks: HintSink[];
      registry: Registry;
      logger: Logger;
      clock: Clock;
      /** Timers of the evaluation loop (default: the system's; tests drive a fake clock). */
      timers?: Timers;
      /** Start of the run, unix ms (warm-up counts from here). */
      runStartMs: number;
      /** The server's own words for failures (the error-storm hint quotes the top one). */
      failures?: FailureMessages;
    },
  ) {
    this.log = o.logger.child({ component: 'analyzer' });
    const registers = [o.registry];
    this.duration = new Histogram({
      name: 'llmsoak_rule_evaluation_duration_seconds',
      help: 'Time to evaluate one rule.',
      labelNames: ['rule'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.failures = new Counter({ name: 'llmsoak_rule_evaluation_failures_total', help: 'Rule evaluations that threw.', labelNames: ['rule'], registers });
    this.insufficientGauge = new Gauge({
      name: 'llmsoak_rule_insufficient_data',
      help: '1 while a rule lacks the series it needs (it then says "insufficient data" rather than guess).',
      labelNames: ['rule'],
      registers,
    });
    for (const r of o.rules) {
      this.health.set(r.id, { rule: r.id, severity: r.severity, description: r.description, health: 'unknown' });
      this.failures.labels(r.id).inc(0);
      // Every series from the start: the store allocates a series when it first appears, and a step of
      // ~170 new series when the first evaluation runs (after warm-up) would look like a rise of llmsoak's own RSS.
      this.duration.zero({ rule: r.id });
    }
  }

  get baseline(): Baseline | undefined {
    return this.baselineValue;
  }

  /** A baseline captured before a restart (from a checkpoint): kept, not captured again. */
  restoreBaseline(b: Baseline): void {
    this.baselineValue = b;
  }

  /** Start of the run, unix ms (a resumed soak keeps its original start). */
  get runStartMs(): number {
    return this.o.runStartMs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Next evaluation at the next multiple of the interval (aligned, as Prometheus does). */
  private schedule(): void {
    if (!this.running) return;
    const iv = this.o.cfg.intervalSec * 1000;
    const now = this.o.clock.wallMs();
    const delay = iv - (now % iv);
    this.timer = this.timers.setTimeout(() => {
      this.evaluating = this.evaluate(new Date(this.o.clock.wallMs())).finally(() => {
        this.evaluating = undefined;
        this.schedule();
      });
    }, delay);
    this.timer.unref?.();
  }

  private get timers(): Timers {
    return this.o.timers ?? systemTimers;
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) this.timers.clearTimeout(this.timer);
    await this.evaluating;
  }

  /** One evaluation round at `now` (also called directly by tests with a fake time). */
  async evaluate(now: Date): Promise<void> {
    const cfg = this.o.cfg;
    // Warm-up is never evaluated: windows start after it (start-up noise is not a finding).
    const sinceWarmupSec = (now.getTime() - this.o.runStartMs) / 1000 - cfg.warmupSec;
    if (sinceWarmupSec < 2 * cfg.stepSec) return;
    await this.maybeCaptureBaseline(now);
    const ctx: RuleContext = {
      src: this.o.src,
      now,
      windowSec: Math.min(cfg.windowSec, sinceWarmupSec),
      leakWindowSec: cfg.leakWindowSec,
      runStartMs: this.o.runStartMs,
      warmupSec: cfg.warmupSec,
      thresholds: cfg.thresholds,
      baseline: this.baselineValue,
      ...(this.o.failures ? { failures: this.o.failures } : {}),
    };
    for (const rule of this.o.rules) {
      const h = this.health.get(rule.id) as RuleHealth;
      const t0 = this.o.clock.monoNs();
      let findings: Parameters<HintTracker['update']>[3] = [];
      try {
        const out = await rule.evaluate(ctx);
        if (out.status === 'ok') {
          findings = out.findings;
          h.health = 'ok';
          delete h.missing;
          this.insufficientGauge.labels(rule.id).set(0);
        } else {
          h.health = 'insufficient data';
          h.missing = out.missing;
          this.insufficientGauge.labels(rule.id).set(1);
        }
        delete h.lastError;
      } catch (err) {
        h.health = 'error';
        h.lastError = errorMessage(err);
        this.failures.labels(rule.id).inc();
        // Keep the rule's current hints as they are: an error is not a resolution.
        h.durationMs = Number(this.o.clock.monoNs() - t0) / 1e6;
        continue;
      }
      const sec = Number(this.o.clock.monoNs() - t0) / 1e9;
      this.duration.labels(rule.id).observe(sec);
      h.durationMs = sec * 1000;
      h.lastEvaluation = now.toISOString();
      if (rule.id === 'generator_bound') this.o.tracker.setGeneratorBound(findings.length > 0);
      const transitions = this.o.tracker.update(rule.id, rule.forSec * 1000, (rule.keepFiringForSec ?? 0) * 1000, findings, now);
      this.journal.record(transitions);
      for (const tr of transitions) {
        const line = describeTransition(tr);
        const fields = { rule: tr.hint.rule, cause: tr.hint.cause, severity: tr.hint.severity, from: tr.from, to: tr.to, evidence: tr.hint.evidence };
        if (tr.to === 'firing') this.log.warn(fields, line);
        else this.log.info(fields, line);
      }
    }
    this.evaluations++;
    const all = this.o.tracker.all();
    for (const sink of this.o.sinks) {
      try {
        sink.send(all, now);
      } catch (err) {
        this.log.error({ err }, 'hint sink failed');
      }
    }
  }

  private async maybeCaptureBaseline(now: Date): Promise<void> {
    const cfg = this.o.cfg;
    if (this.baselineValue) return;
    if (now.getTime() < this.o.runStartMs + (cfg.warmupSec + cfg.baselineSec) * 1000) return;
    const ctx = { src: this.o.src, windowSec: cfg.windowSec } as RuleContext;
    const samples = {
      ttft: await blockMedians(ctx, 'llmsoak_time_to_first_token_seconds', cfg.baselineSec, now),
      itl: await blockMedians(ctx, 'llmsoak_inter_token_latency_seconds', cfg.baselineSec, now),
      tpot: await blockMedians(ctx, 'llmsoak_time_per_output_token_seconds', cfg.baselineSec, now),
    };
    const quality: Record<string, number> = {};
    for (const s of await this.o.src.range('llmsoak_quality_score', cfg.baselineSec, now)) {
      const v = s.points.reduce((a, p) => a + p.v, 0) / Math.max(1, s.points.length);
      if (s.points.length) quality[s.labels.suite ?? 'default'] = v;
    }
    const client = await this.o.src.quantile(0.5, 'llmsoak_time_to_first_token_seconds', cfg.baselineSec, now);
    const server = await this.o.src.avgOverTime('llmsoak_server_time_to_first_token_mean_seconds', cfg.baselineSec, now);
    this.baselineValue = {
      capturedAt: now.getTime(),
      samples,
      quality,
      ...(client !== undefined && server !== undefined ? { clientServerTtftGapSec: client - server, serverTtftSec: server } : {}),
    };
    this.log.info({ blocks: { ttft: samples.ttft.length, itl: samples.itl.length, tpot: samples.tpot.length }, quality }, 'baseline captured');
  }

  /**
   * What a soak report says about (fromMs, toMs]: the watched gauges' and
   * latency p99s' trends over it (src/analyzer/period.ts, the leak rule's
   * trend test) and every hint that fired in it, oldest first.
   */
  async period(fromMs: number, toMs: number): Promise<{ trends: PeriodSeries[]; hints: Hint[] }> {
    const cfg = this.o.cfg;
    const trends = await periodTrends(this.o.src, fromMs, toMs, { thresholds: cfg.thresholds, runStartMs: this.o.runStartMs, warmupSec: cfg.warmupSec });
    return { trends, hints: this.journal.firedBetween(fromMs, toMs, this.o.tracker.all()) };
  }

  /** For /api/hints: ranked hints (the first firing one is the likely cause) and every rule's health. */
  snapshot(): { topCause: string | null; untrustworthy: boolean; hints: Hint[]; rules: RuleHealth[]; baselineCapturedAt: string | null } {
    const hints = rankHints(this.o.tracker.all());
    const top = hints.find((h) => h.state === 'firing');
    return {
      topCause: top ? top.cause : null,
      untrustworthy: this.o.tracker.isGeneratorBound(),
      hints,
      rules: [...this.health.values()].map((h) => ({ ...h })),
      baselineCapturedAt: this.baselineValue ? new Date(this.baselineValue.capturedAt).toISOString() : null,
    };
  }
}
