/**
 * The quality runner: sends every golden prompt of every suite to the target
 * (a non-streamed chat completion, temperature 0, through undici), scores the
 * answers and exports
 *
 *   llmsoak_quality_score{suite}                      passed / answered of the last run (0..1)
 *   llmsoak_quality_checks_total{suite,outcome}       pass | fail | error
 *   llmsoak_quality_last_run_timestamp_seconds{suite} when the suite last finished
 *
 * A prompt that got no usable answer (connect error, timeout, HTTP error,
 * body without a message) is an `error`: counted, not scored, so an outage is
 * an error storm rather than a quality drop; a run in which every prompt of
 * a suite errored leaves that suite's score as it was. Prompts run one at a
 * time (a light load beside the soak). The API key goes in the Authorization
 * header only; it is never logged, and is scrubbed from error texts.
 */
import { Pool, type Dispatcher } from 'undici';
import { Counter, Gauge, type Registry } from 'prom-client';
import { systemClock, type Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { checkAnswer } from './score.js';
import type { GoldenPrompt, Suite } from './suite.js';

export type CheckOutcome = 'pass' | 'fail' | 'error';
export const CHECK_OUTCOMES: readonly CheckOutcome[] = ['pass', 'fail', 'error'];

export interface CheckReport {
  id: string;
  outcome: CheckOutcome;
  /** Why it failed or errored. */
  detail?: string;
  durationMs: number;
}

export interface SuiteReport {
  suite: string;
  passed: number;
  failed: number;
  errors: number;
  /** passed / (passed + failed); undefined when nothing was answered. */
  score: number | undefined;
  /** The checks that did not pass. */
  problems: CheckReport[];
}

export interface RunReport {
  startedAt: string;
  durationMs: number;
  suites: SuiteReport[];
}

export interface QualityRunnerOptions {
  suites: Suite[];
  /** OpenAI base URL including /v1. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Limit of one request, ms. */
  timeoutMs: number;
  registry: Registry;
  logger: Logger;
  clock?: Clock;
  /** Where requests go; default: a pool of one connection to the target, closed by close(). */
  dispatcher?: Dispatcher;
}

/** Thrown by run() when checks ended in error: the run is recorded, but it failed. */
export class QualityRunError extends Error {
  constructor(
    message: string,
    readonly report: RunReport,
  ) {
    super(message);
    this.name = 'QualityRunError';
  }
}

interface ChatBody {
  choices?: { message?: { content?: unknown } }[];
}

export class QualityRunner {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly headers: Record<string, string>;
  private readonly origin: string;
  private readonly path: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownPool: Pool | undefined;
  private readonly score: Gauge<'suite'>;
  private readonly checks: Counter<'suite' | 'outcome'>;
  private readonly lastRun: Gauge<'suite'>;
  private last: RunReport | undefined;

  constructor(private readonly o: QualityRunnerOptions) {
    this.log = o.logger.child({ component: 'quality' });
    this.clock = o.clock ?? systemClock;
    const url = new URL(`${o.baseUrl.replace(/\/+$/, '')}/chat/completions`);
    this.origin = url.origin;
    this.path = url.pathname;
    this.headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (o.apiKey) this.headers.authorization = `Bearer ${o.apiKey}`;
    if (o.dispatcher) this.dispatcher = o.dispatcher;
    else {
      this.ownPool = new Pool(new URL(o.baseUrl).origin, { connections: 1, keepAliveTimeout: 60_000 });
      this.dispatcher = this.ownPool;
    }
    const registers = [o.registry];
    this.score = new Gauge({
      name: 'llmsoak_quality_score',
      help: 'Share of the golden prompts of a suite answered correctly in its last run (0..1; errors not counted).',
      labelNames: ['suite'],
      registers,
    });
    this.checks = new Counter({
      name: 'llmsoak_quality_checks_total',
      help: 'Golden-prompt checks by outcome: pass, fail (wrong answer), error (no usable answer).',
      labelNames: ['suite', 'outcome'],
      registers,
    });
    this.lastRun = new Gauge({ name: 'llmsoak_quality_last_run_timestamp_seconds', help: 'When a quality suite last finished a run (unix seconds).', labelNames: ['suite'], registers });
    for (const s of o.suites) for (const outcome of CHECK_OUTCOMES) this.checks.labels(s.name, outcome).inc(0);
  }

  /** The last finished run, if any. */
  get lastReport(): RunReport | undefined {
    return this.last;
  }

  /**
   * Run every suite once. Records metrics per suite as each finishes; throws
   * QualityRunError (after recording) when any check ended in error, and the
   * abort reason when `signal` aborts (the suite in progress is not recorded).
   */
  async run(signal?: AbortSignal): Promise<RunReport> {
    const t0 = this.clock.monoNs();
    const report: RunReport = { startedAt: new Date(this.clock.wallMs()).toISOString(), durationMs: 0, suites: [] };
    let firstError: string | undefined;
    let errors = 0;
    let total = 0;
    for (const suite of this.o.suites) {
      const r: SuiteReport = { suite: suite.name, passed: 0, failed: 0, errors: 0, score: undefined, problems: [] };
      for (const p of suite.prompts) {
        signal?.throwIfAborted();
        const c = await this.check(p, signal);
        signal?.throwIfAborted();
        total++;
        if (c.outcome === 'pass') r.passed++;
        else {
          r.problems.push(c);
          if (c.outcome === 'fail') r.failed++;
          else {
            r.errors++;
            errors++;
            firstError ??= `${suite.name}/${c.id}: ${c.detail ?? 'error'}`;
          }
          this.log.debug({ suite: suite.name, id: c.id, outcome: c.outcome, detail: c.detail }, 'quality check did not pass');
        }
      }
      const answered = r.passed + r.failed;
      if (answered > 0) {
        r.score = r.passed / answered;
        this.score.labels(suite.name).set(r.score);
      }
      this.checks.labels(suite.name, 'pass').inc(r.passed);
      this.checks.labels(suite.name, 'fail').inc(r.failed);
      this.checks.labels(suite.name, 'error').inc(r.errors);
      this.lastRun.labels(suite.name).set(this.clock.wallMs() / 1000);
      report.suites.push(r);
    }
    report.durationMs = Number(this.clock.monoNs() - t0) / 1e6;
    this.last = report;
    this.log.debug(
      { durationMs: Math.round(report.durationMs), suites: report.suites.map((s) => ({ suite: s.suite, score: s.score, passed: s.passed, failed: s.failed, errors: s.errors })) },
      'quality run finished',
    );
    if (errors > 0) throw new QualityRunError(`${errors} of ${total} golden prompts got no usable answer (first: ${firstError ?? '?'})`, report);
    return report;
  }

  /** Send one prompt and score its answer. */
  private async check(p: GoldenPrompt, signal?: AbortSignal): Promise<CheckReport> {
    const t0 = this.clock.monoNs();
    const done = (outcome: CheckOutcome, detail?: string): CheckReport => ({
      id: p.id,
      outcome,
      ...(detail !== undefined ? { detail: this.scrub(detail) } : {}),
      durationMs: Number(this.clock.monoNs() - t0) / 1e6,
    });
    const timeout = AbortSignal.timeout(this.o.timeoutMs);
    const sig = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let content: string;
    try {
      const res = await this.dispatcher.request({
        origin: this.origin,
        path: this.path,
        method: 'POST',
        headers: this.headers,
        body: JSON.stringify({ model: this.o.model, messages: p.messages, temperature: 0, max_tokens: p.maxTokens, stream: false }),
        headersTimeout: this.o.timeoutMs,
        bodyTimeout: this.o.timeoutMs,
        signal: sig,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) return done('error', `HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
      let body: ChatBody;
      try {
        body = JSON.parse(text) as ChatBody;
      } catch {
        return done('error', `malformed JSON body: ${text.slice(0, 200)}`);
      }
      const c = body.choices?.[0]?.message?.content;
      if (c === undefined) return done('error', 'no choices[0].message.content in the answer');
      content = typeof c === 'string' ? c : '';
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      return done('error', timeout.aborted ? `timed out after ${this.o.timeoutMs} ms` : errorMessage(err));
    }
    const r = checkAnswer(p.expect, content);
    return r.pass ? done('pass') : done('fail', r.detail);
  }

  /** An error text without the API key in it (a server might echo it back). */
  private scrub(s: string): string {
    const key = this.o.apiKey;
    return key && key.length >= 6 ? s.split(key).join('[redacted]') : s;
  }

  /** Close the runner's own connection pool. */
  async close(): Promise<void> {
    await this.ownPool?.close().catch(() => undefined);
  }
}
