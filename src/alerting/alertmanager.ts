/**
 * Sends hints to every configured Alertmanager through API v2, with
 * Prometheus' notifier semantics (rules/alerting.go `sendAlerts`, notifier/):
 *
 * - Call `send(tracker.all(), evalTime)` after EVERY evaluation round. It
 *   decides what needs sending now, the way Prometheus' `needsSending` does:
 *   pending hints never; a firing hint at once when it starts firing and then
 *   whenever `resendDelayMs` has passed since it was last sent, with
 *   `endsAt = evalTime + 4 × max(evaluationIntervalMs, resendDelayMs)` (so two
 *   lost sends do not resolve it); a resolved hint at once with
 *   `endsAt = resolvedAt`, then again every `resendDelayMs` for 15 minutes
 *   after its resolution. Resends therefore happen at evaluation times, as in
 *   Prometheus. (Prometheus resends when `lastSent + delay` is strictly before
 *   the evaluation; here at `>=`, so the cadence is exactly the delay when the
 *   interval divides it.)
 * - Each Alertmanager has its OWN bounded queue and send loop (what
 *   Prometheus' shared queue lacked, prometheus/prometheus#7676, #16355): a
 *   down or slow Alertmanager never delays another. A full queue drops the
 *   OLDEST alerts and counts them. Enqueueing wakes the loop through a
 *   coalescing flag: many `send`s in one tick make one loop iteration, which
 *   POSTs the queue in batches of at most 256.
 * - A failed POST is counted and not retried: the next resend carries the
 *   alert again, so firing alerts reach an Alertmanager after it recovers.
 *   One log line when an Alertmanager starts failing, one when it recovers.
 * - Secrets (bearer token, basic auth) only ever reach the Authorization
 *   header; the `alertmanager` label and log fields are the URL's host:port.
 *
 * Metrics (registered on the given registry):
 *   llmsoak_alert_notifications_total{alertmanager,outcome}  alerts POSTed, outcome sent|failed
 *   llmsoak_alert_notifications_dropped_total{alertmanager}  alerts discarded unsent (queue overflow, or left at stop's deadline)
 *   llmsoak_alert_queue_length{alertmanager}                 alerts waiting
 *   llmsoak_alert_notification_latency_seconds{alertmanager} one POST, histogram
 * (dropped and queue length carry `alertmanager` because every Alertmanager
 * has its own queue; `sum()` them for the totals.)
 */
import { Agent, request } from 'undici';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { hintKey, type Hint } from '../analyzer/hint.js';
import { RESOLVED_RETENTION_MS } from '../analyzer/tracker.js';
import { nsToSeconds, type Clock } from '../clock.js';
import { ConfigError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { VERSION } from '../version.js';
import { alertmanagerLabel, validateAlertingConfig, type AlertingConfig, type AlertmanagerTarget } from './config.js';
import { toAlertmanagerAlert, type AlertmanagerAlert, type PayloadOptions } from './payload.js';

export * from './config.js';
export { alertName, toAlertmanagerAlert, type AlertmanagerAlert } from './payload.js';

/** Alerts per POST at most (Prometheus' maxBatchSize). */
export const MAX_BATCH_SIZE = 256;
/** Default deadline of the final flush in `stop()`, ms. */
export const DEFAULT_FLUSH_DEADLINE_MS = 5_000;

export interface NotifierDeps {
  registry: Registry;
  logger: Logger;
  /** Monotonic time for latencies and failure durations; wall clock for status timestamps. */
  clock: Clock;
  /** The analyzer's evaluation interval, ms: endsAt of a firing alert = now + 4 × max(this, resendDelayMs). */
  evaluationIntervalMs: number;
}

/** What `status()` says about one Alertmanager (for /api and the status page). */
export interface AlertmanagerStatus {
  alertmanager: string;
  /** undefined: nothing sent yet. */
  healthy: boolean | undefined;
  queued: number;
  /** Alerts sent / failed since start. */
  sent: number;
  failed: number;
  dropped: number;
  lastError?: string;
  /** Wall clock of the last successful POST. */
  lastSuccessAt?: Date;
}

interface Target {
  readonly label: string;
  readonly endpoint: string;
  readonly timeoutMs: number;
  readonly headers: Record<string, string>;
  queue: AlertmanagerAlert[];
  /** A wake-up is scheduled (the coalescing flag). */
  wakeScheduled: boolean;
  /** The send loop in progress. */
  loop: Promise<void> | undefined;
  health: 'unknown' | 'ok' | 'failing';
  failingSinceNs: bigint;
  failedRequests: number;
  lastError?: string;
  lastSuccessAt?: Date;
  counts: { sent: number; failed: number; dropped: number };
  m: {
    sent: Counter.Internal;
    failed: Counter.Internal;
    dropped: Counter.Internal;
    queue: Gauge.Internal<'alertmanager'>;
    latency: Histogram.Internal<'alertmanager'>;
  };
}

interface SentRecord {
  /** Evaluation time of the last send, ms. */
  atMs: number;
  state: 'firing' | 'resolved';
  /** activeAt of the hint last sent: a hint that fires again is a new alert. */
  activeAtMs: number;
}

export class AlertmanagerNotifier {
  private readonly cfg: AlertingConfig;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly evaluationIntervalMs: number;
  private readonly targets: Target[];
  private readonly payloadOpts: PayloadOptions;
  private readonly sent = new Map<string, SentRecord>();
  private readonly abort = new AbortController();
  private readonly agent: Agent;
  private started = false;
  private stopped = false;

  constructor(cfg: AlertingConfig, deps: NotifierDeps) {
    const problems = validateAlertingConfig(cfg);
    if (problems.length > 0) throw new ConfigError(problems);
    this.cfg = cfg;
    this.clock = deps.clock;
    this.evaluationIntervalMs = deps.evaluationIntervalMs;
    this.log = deps.logger.child({ component: 'alertmanager-notifier' });
    this.agent = new Agent({ keepAliveTimeout: 60_000, connections: 4 });
    this.payloadOpts = { externalLabels: cfg.externalLabels };
    if (cfg.externalUrl !== undefined) this.payloadOpts.generatorURL = `${cfg.externalUrl.replace(/\/+$/, '')}/api/hints`;
    if (cfg.runbookBaseUrl !== undefined) this.payloadOpts.runbookBaseUrl = cfg.runbookBaseUrl;
    const metrics = notifierMetrics(deps.registry);
    this.targets = cfg.alertmanagers.map((am) => makeTarget(am, metrics));
  }

  /**
   * Enqueues, for every Alertmanager, what of `hints` needs sending at `now`
   * (the evaluation time). Pass the tracker's whole set (`all()`: pending,
   * firing and resolved within 15 min) after every evaluation round; hints
   * not passed are forgotten here. Never blocks, never throws. Returns how
   * many alerts were enqueued (per Alertmanager).
   */
  send(hints: readonly Hint[], now: Date): number {
    if (this.stopped) return 0;
    const nowMs = now.getTime();
    const firingEndsAt = new Date(nowMs + 4 * Math.max(this.evaluationIntervalMs, this.cfg.resendDelayMs));
    const out: AlertmanagerAlert[] = [];
    const present = new Set<string>();
    for (const h of hints) {
      if (h.state === 'pending') continue;
      const key = hintKey(h);
      present.add(key);
      const last = this.sent.get(key);
      const changed = last === undefined || last.state !== h.state || last.activeAtMs !== h.activeAt.getTime();
      let endsAt = firingEndsAt;
      if (h.state === 'resolved') {
        endsAt = h.resolvedAt ?? now;
        if (nowMs - endsAt.getTime() > RESOLVED_RETENTION_MS) continue;
      }
      if (!changed && nowMs - last.atMs < this.cfg.resendDelayMs) continue;
      this.sent.set(key, { atMs: nowMs, state: h.state, activeAtMs: h.activeAt.getTime() });
      out.push(toAlertmanagerAlert(h, endsAt, this.payloadOpts));
    }
    for (const key of this.sent.keys()) if (!present.has(key)) this.sent.delete(key);
    if (out.length > 0) for (const t of this.targets) this.enqueue(t, out);
    return out.length;
  }

  /** Starts sending (queued alerts go out at once). Idempotent. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    for (const t of this.targets) this.wake(t);
  }

  /**
   * Stops accepting alerts and flushes what is queued once, within
   * `deadlineMs`; past it, POSTs in flight are aborted and what is left is
   * counted as dropped. Idempotent; never rejects.
   */
  async stop(deadlineMs = DEFAULT_FLUSH_DEADLINE_MS): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.started = true;
    const loops = this.targets.map((t) => this.runLoop(t));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), deadlineMs);
    });
    const outcome = await Promise.race([Promise.all(loops).then(() => 'flushed' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'deadline') {
      this.abort.abort();
      await Promise.all(loops);
      for (const t of this.targets) {
        if (t.queue.length === 0) continue;
        this.log.warn({ alertmanager: t.label, dropped: t.queue.length }, 'alert flush deadline passed; dropping the alerts still queued');
        this.countDropped(t, t.queue.length);
        t.queue = [];
        t.m.queue.set(0);
      }
    }
    await this.agent.close().catch(() => undefined);
  }

  /**
   * Resolves once nothing is queued, scheduled or in flight for any
   * Alertmanager (before `start()`, queued alerts do not count). For tests
   * and for callers that want to know a round has gone out; never rejects.
   */
  async idle(): Promise<void> {
    for (;;) {
      const busy = this.targets.filter((t) => t.loop !== undefined || t.wakeScheduled || (this.started && !this.abort.signal.aborted && t.queue.length > 0));
      if (busy.length === 0) return;
      await Promise.all(busy.map((t) => t.loop ?? new Promise<void>((r) => setImmediate(r))));
    }
  }

  status(): AlertmanagerStatus[] {
    return this.targets.map((t) => {
      const s: AlertmanagerStatus = {
        alertmanager: t.label,
        healthy: t.health === 'unknown' ? undefined : t.health === 'ok',
        queued: t.queue.length,
        ...t.counts,
      };
      if (t.lastError !== undefined) s.lastError = t.lastError;
      if (t.lastSuccessAt !== undefined) s.lastSuccessAt = t.lastSuccessAt;
      return s;
    });
  }

  private enqueue(t: Target, alerts: readonly AlertmanagerAlert[]): void {
    const cap = this.cfg.queueCapacity;
    let incoming = alerts;
    if (incoming.length > cap) {
      this.countDropped(t, incoming.length - cap);
      incoming = incoming.slice(incoming.length - cap);
    }
    const over = t.queue.length + incoming.length - cap;
    if (over > 0) {
      t.queue.splice(0, over);
      this.countDropped(t, over);
    }
    for (const a of incoming) t.queue.push(a);
    t.m.queue.set(t.queue.length);
    this.wake(t);
  }

  private countDropped(t: Target, n: number): void {
    if (n <= 0) return;
    // One warning the first time; the counter tells the rest.
    if (t.counts.dropped === 0) this.log.warn({ alertmanager: t.label, dropped: n }, 'alert queue full; dropping the oldest alerts (logged once; see llmsoak_alert_notifications_dropped_total)');
    else this.log.debug({ alertmanager: t.label, dropped: n }, 'alert queue full; dropping the oldest alerts');
    t.counts.dropped += n;
    t.m.dropped.inc(n);
  }

  /** The coalescing wake-up: at most one scheduled loop start per target. */
  private wake(t: Target): void {
    if (!this.started || t.wakeScheduled || t.loop !== undefined) return;
    t.wakeScheduled = true;
    setImmediate(() => {
      t.wakeScheduled = false;
      void this.runLoop(t);
    });
  }

  /** Runs (or joins) the target's send loop: POSTs batches until its queue is empty. */
  private runLoop(t: Target): Promise<void> {
    if (t.loop !== undefined) return t.loop;
    const loop = (async () => {
      while (t.queue.length > 0 && !this.abort.signal.aborted) {
        const batch = t.queue.splice(0, MAX_BATCH_SIZE);
        t.m.queue.set(t.queue.length);
        await this.post(t, batch);
      }
    })()
      .catch((err: unknown) => {
        // post() handles every request failure; this is a bug guard so the daemon never dies of it
        this.log.error({ alertmanager: t.label, err }, 'alert send loop failed');
      })
      .finally(() => {
        t.loop = undefined;
      });
    t.loop = loop;
    return loop;
  }

  private async post(t: Target, batch: AlertmanagerAlert[]): Promise<void> {
    const t0 = this.clock.monoNs();
    let failure: string | undefined;
    try {
      const res = await request(t.endpoint, {
        method: 'POST',
        headers: t.headers,
        body: JSON.stringify(batch),
        signal: AbortSignal.any([AbortSignal.timeout(t.timeoutMs), this.abort.signal]),
        dispatcher: this.agent,
      });
      const text = await res.body.text();
      if (res.statusCode < 200 || res.statusCode > 299) {
        failure = `HTTP ${res.statusCode}: ${text.trim().slice(0, 200)}`;
      }
    } catch (err) {
      failure = errorMessage(err);
    }
    t.m.latency.observe(nsToSeconds(this.clock.monoNs() - t0));
    if (failure === undefined) {
      t.counts.sent += batch.length;
      t.m.sent.inc(batch.length);
      this.markOk(t);
    } else {
      t.counts.failed += batch.length;
      t.m.failed.inc(batch.length);
      this.markFailing(t, failure, batch.length);
    }
  }

  private markOk(t: Target): void {
    t.lastSuccessAt = new Date(this.clock.wallMs());
    if (t.health === 'failing') {
      this.log.info(
        {
          alertmanager: t.label,
          failedForSeconds: Math.round(nsToSeconds(this.clock.monoNs() - t.failingSinceNs)),
          failedRequests: t.failedRequests,
        },
        'alertmanager recovered; sending alerts again',
      );
    }
    t.health = 'ok';
    t.failedRequests = 0;
  }

  private markFailing(t: Target, reason: string, alerts: number): void {
    t.lastError = reason;
    t.failedRequests++;
    if (t.health !== 'failing') {
      t.health = 'failing';
      t.failingSinceNs = this.clock.monoNs();
      this.log.warn({ alertmanager: t.label, reason, alerts }, 'sending alerts to alertmanager failed; the next resend carries them again (logged once until it recovers)');
    } else {
      this.log.debug({ alertmanager: t.label, reason, alerts }, 'sending alerts to alertmanager failed again');
    }
  }
}

interface NotifierMetrics {
  notifications: Counter<'alertmanager' | 'outcome'>;
  dropped: Counter<'alertmanager'>;
  queue: Gauge<'alertmanager'>;
  latency: Histogram<'alertmanager'>;
}

/** One set of metric objects per registry (a second notifier on the same registry shares them). */
const metricsByRegistry = new WeakMap<Registry, NotifierMetrics>();

function notifierMetrics(registry: Registry): NotifierMetrics {
  const have = metricsByRegistry.get(registry);
  if (have !== undefined) return have;
  const m: NotifierMetrics = {
    notifications: new Counter({
      name: 'llmsoak_alert_notifications_total',
      help: 'Alerts POSTed to an Alertmanager, by outcome (sent: 2xx; failed: error, timeout or non-2xx).',
      labelNames: ['alertmanager', 'outcome'] as const,
      registers: [registry],
    }),
    dropped: new Counter({
      name: 'llmsoak_alert_notifications_dropped_total',
      help: 'Alerts discarded without being sent: queue overflow (oldest first) or still queued at the shutdown deadline.',
      labelNames: ['alertmanager'] as const,
      registers: [registry],
    }),
    queue: new Gauge({
      name: 'llmsoak_alert_queue_length',
      help: 'Alerts waiting in the queue of an Alertmanager.',
      labelNames: ['alertmanager'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'llmsoak_alert_notification_latency_seconds',
      help: 'Duration of one POST of a batch of alerts to an Alertmanager, in seconds (failed ones included).',
      labelNames: ['alertmanager'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
  metricsByRegistry.set(registry, m);
  return m;
}

function makeTarget(am: AlertmanagerTarget, metrics: NotifierMetrics): Target {
  const label = alertmanagerLabel(am.url);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': `llmsoak/${VERSION}`,
  };
  if (am.bearerToken !== undefined) headers['authorization'] = `Bearer ${am.bearerToken}`;
  else if (am.basicAuth !== undefined) {
    headers['authorization'] = `Basic ${Buffer.from(`${am.basicAuth.username}:${am.basicAuth.password}`).toString('base64')}`;
  }
  const m = {
    sent: metrics.notifications.labels({ alertmanager: label, outcome: 'sent' }),
    failed: metrics.notifications.labels({ alertmanager: label, outcome: 'failed' }),
    dropped: metrics.dropped.labels({ alertmanager: label }),
    queue: metrics.queue.labels({ alertmanager: label }),
    latency: metrics.latency.labels({ alertmanager: label }),
  };
  m.sent.inc(0);
  m.failed.inc(0);
  m.dropped.inc(0);
  m.queue.set(0);
  return {
    label,
    endpoint: `${am.url.replace(/\/+$/, '')}/api/v2/alerts`,
    timeoutMs: am.timeoutMs ?? 10_000,
    headers,
    queue: [],
    wakeScheduled: false,
    loop: undefined,
    health: 'unknown',
    failingSinceNs: 0n,
    failedRequests: 0,
    counts: { sent: 0, failed: 0, dropped: 0 },
    m,
  };
}
