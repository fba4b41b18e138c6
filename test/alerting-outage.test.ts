/**
 * Alertmanager down for ten minutes, then back, end to end: a rule's
 * findings → the analyzer → the hint tracker → the notifier → a fake
 * Alertmanager on loopback that keeps, like Alertmanager, the latest state
 * of each alert by its label set. Evaluation times come from a fake clock
 * (every 30 s), so ten minutes take a second. Alerts that should be firing
 * (including one that started during the outage) and the resolution of one
 * that ended during the outage all arrive after recovery; with a small queue
 * what is dropped is exactly what the counters say, and nothing within the
 * bound is lost.
 */
import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { Analyzer } from '../src/analyzer/engine.js';
import { HintTracker } from '../src/analyzer/tracker.js';
import { LocalSource } from '../src/analyzer/local-source.js';
import { SeriesStore } from '../src/analyzer/series-store.js';
import { DEFAULT_THRESHOLDS, ok, type Rule } from '../src/analyzer/rule.js';
import type { Finding } from '../src/analyzer/hint.js';
import { AlertmanagerNotifier, type AlertmanagerAlert } from '../src/alerting/alertmanager.js';
import { silentLogger } from '../src/log.js';
import { systemClock } from '../src/clock.js';

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const EVAL_MS = 30_000;

/** A fake Alertmanager: the latest alert per label set, every POST counted; can go away and come back on its port. */
class FakeAlertmanager {
  readonly latest = new Map<string, AlertmanagerAlert>();
  received = 0;
  posts = 0;
  delayMs = 0;
  private server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const alerts = JSON.parse(body) as AlertmanagerAlert[];
        this.posts++;
        this.received += alerts.length;
        for (const a of alerts) this.latest.set(JSON.stringify(Object.entries(a.labels).sort()), a);
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{}');
        }, this.delayMs);
      });
    });
    await new Promise<void>((r) => this.server?.listen(this.port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
    this.server = undefined;
  }

  byRule(rule: string, cause: string): AlertmanagerAlert | undefined {
    for (const a of this.latest.values()) if (a.labels.rule === rule && a.labels.cause === cause) return a;
    return undefined;
  }
}

const finding = (cause: string): Finding => ({
  rule: 'test_rule',
  severity: 'warning',
  cause,
  summary: `${cause} is happening`,
  suggestion: 'look',
  confidence: 0.8,
  evidence: { value: 1 },
});

function pipeline(amUrl: string, queueCapacity: number, causes: () => string[]) {
  const registry = new Registry();
  const rule: Rule = {
    id: 'test_rule',
    severity: 'warning',
    forSec: 0,
    description: 'fires for what the test says',
    evaluate: async () => ok(causes().map(finding)),
  };
  // A slow Alertmanager here answers in 100-200 ms; its POSTs must not time out. With 2 s, a loaded CI machine
  // (ci324) once stalled the test long enough that a POST the Alertmanager had received counted as failed.
  const notifier = new AlertmanagerNotifier(
    { alertmanagers: [{ url: amUrl, timeoutMs: 30_000 }], resendDelayMs: 60_000, queueCapacity, externalLabels: {} },
    { registry, logger: silentLogger(), clock: systemClock, evaluationIntervalMs: EVAL_MS },
  );
  notifier.start();
  // Counts what the notifier accepted for sending (its return value), to check the books.
  const books = { enqueued: 0 };
  const sink = { send: (hints: Parameters<AlertmanagerNotifier['send']>[0], now: Date) => (books.enqueued += notifier.send(hints, now)) };
  const analyzer = new Analyzer({
    cfg: { enabled: true, stepSec: 5, intervalSec: 30, windowSec: 300, leakWindowSec: 3600, warmupSec: 0, baselineSec: 1e9, thresholds: DEFAULT_THRESHOLDS },
    rules: [rule],
    src: new LocalSource(new SeriesStore({ stepSec: 5 })),
    tracker: new HintTracker({ registry }),
    sinks: [sink],
    registry,
    logger: silentLogger(),
    clock: systemClock,
    runStartMs: T0 - 60_000,
  });
  return { registry, notifier, analyzer, books };
}

async function counter(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  const got = m ? await m.get() : undefined;
  return (got?.values ?? []).filter((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x)).reduce((a, v) => a + v.value, 0);
}

t.test('ten minutes without Alertmanager: everything that should be firing arrives after recovery', async (t) => {
  const am = new FakeAlertmanager();
  await am.start();
  t.teardown(() => am.stop());
  let active = ['kv_cache_pressure', 'overload', 'leak'];
  const { registry, notifier, analyzer } = pipeline(`http://127.0.0.1:${am.port}`, 10_000, () => active);
  t.teardown(() => notifier.stop(1000));
  const at = (min: number) => new Date(T0 + min * 60_000);
  const evaluate = async (d: Date) => {
    await analyzer.evaluate(d);
    await notifier.idle();
  };

  await evaluate(at(0));
  t.equal(am.latest.size, 3, 'three firing alerts delivered while Alertmanager is up');

  await am.stop();
  let failedBefore = await counter(registry, 'llmsoak_alert_notifications_total', { outcome: 'failed' });
  for (let ms = EVAL_MS; ms <= 10 * 60_000; ms += EVAL_MS) {
    if (ms === 2 * 60_000) active = ['kv_cache_pressure', 'overload']; // leak resolves during the outage
    if (ms === 4 * 60_000) active = ['kv_cache_pressure', 'overload', 'gpu_throttling']; // a new one fires during the outage
    await evaluate(new Date(T0 + ms));
  }
  const failed = (await counter(registry, 'llmsoak_alert_notifications_total', { outcome: 'failed' })) - failedBefore;
  t.ok(failed > 0, `${failed} alert sends failed while Alertmanager was down (counted)`);
  t.equal(am.byRule('test_rule', 'gpu_throttling'), undefined, 'nothing arrived during the outage');
  t.not(am.byRule('test_rule', 'leak')?.endsAt, at(2).toISOString(), 'the resolution is still unknown to Alertmanager');

  await am.start(); // same port
  // Resends happen at evaluation times; within one resend delay everything is there again.
  for (let ms = 10 * 60_000 + EVAL_MS; ms <= 11 * 60_000 + EVAL_MS; ms += EVAL_MS) await evaluate(new Date(T0 + ms));
  const now = T0 + 11 * 60_000 + EVAL_MS;
  for (const cause of ['kv_cache_pressure', 'overload', 'gpu_throttling']) {
    const a = am.byRule('test_rule', cause);
    t.ok(a, `${cause}: arrived after recovery`);
    t.ok(a && a.endsAt !== undefined && Date.parse(a.endsAt) > now, `${cause}: firing (endsAt in the future)`);
  }
  t.equal(am.byRule('test_rule', 'kv_cache_pressure')?.startsAt, at(0).toISOString(), 'startsAt is when it began firing, not when it was finally delivered');
  t.equal(am.byRule('test_rule', 'gpu_throttling')?.startsAt, at(4).toISOString(), 'the alert that began during the outage has its true start');
  t.equal(am.byRule('test_rule', 'leak')?.endsAt, at(2).toISOString(), 'the resolution that happened during the outage arrives, with its true end');
  t.equal(await counter(registry, 'llmsoak_alert_notifications_dropped_total'), 0, 'nothing dropped: the queue never overflowed');
  failedBefore = 0;
});

t.test('a small queue against a slow Alertmanager: dropped alerts are exactly the ones counted', async (t) => {
  const am = new FakeAlertmanager();
  am.delayMs = 200;
  await am.start();
  t.teardown(() => am.stop());
  const causes = Array.from({ length: 12 }, (_, i) => `cause_${i}`);
  let active: string[] = [];
  const { registry, notifier, analyzer, books } = pipeline(`http://127.0.0.1:${am.port}`, 5, () => active);
  t.teardown(() => notifier.stop(1000));
  // Three evaluations in one go (no turn of the event loop for the send loop between them): 4 new, 4 new, 4 new + 4 resent, for a queue of 5.
  for (let i = 0; i < 3; i++) {
    active = causes.slice(0, 4 * (i + 1));
    await analyzer.evaluate(new Date(T0 + i * EVAL_MS));
  }
  await notifier.idle();
  const dropped = await counter(registry, 'llmsoak_alert_notifications_dropped_total');
  const sent = await counter(registry, 'llmsoak_alert_notifications_total', { outcome: 'sent' });
  t.equal(sent, am.received, 'every alert counted as sent arrived');
  t.equal(sent + dropped, books.enqueued, `enqueued (${books.enqueued}) = sent (${sent}) + dropped (${dropped}): nothing lost uncounted`);
  t.equal(sent, 5, 'exactly the queue bound went out: nothing within it was lost');
  t.ok(dropped > 0, 'the queue bound was hit');
  t.equal(am.latest.size, 5, 'Alertmanager has the newest five');
  // With room again (one evaluation's worth fits), the next resends bring the ones that were dropped.
  for (let i = 3; i <= 6; i++) {
    active = causes.slice(0, 4);
    await analyzer.evaluate(new Date(T0 + i * EVAL_MS));
    await notifier.idle();
  }
  t.ok(
    ['cause_0', 'cause_1', 'cause_2', 'cause_3'].every((c) => am.byRule('test_rule', c)),
    'the dropped alerts that still fire arrive with the next resend',
  );
});

t.test('stop() flushes what is queued before the daemon exits', async (t) => {
  const am = new FakeAlertmanager();
  am.delayMs = 100;
  await am.start();
  t.teardown(() => am.stop());
  const { notifier, analyzer } = pipeline(`http://127.0.0.1:${am.port}`, 1000, () => ['a', 'b', 'c']);
  await analyzer.evaluate(new Date(T0));
  // No idle(): stop right away, with the POST in flight or still queued.
  await notifier.stop(3000);
  t.equal(am.latest.size, 3, 'all three delivered by the final flush');
});
