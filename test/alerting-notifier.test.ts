/**
 * The Alertmanager notifier against tiny fake Alertmanagers (node:http on
 * 127.0.0.1), with evaluation times from a fake clock: endsAt, resend
 * cadence, resolution re-sent for 15 minutes, batching, queue overflow, two
 * Alertmanagers, one down, down then up, secrets.
 */
import t from 'tap';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Clock } from '../src/clock.js';
import type { Finding, Hint } from '../src/analyzer/hint.js';
import { HintTracker } from '../src/analyzer/tracker.js';
import { AlertmanagerNotifier, MAX_BATCH_SIZE, defaultAlertingConfig, type AlertingConfig, type AlertmanagerAlert } from '../src/alerting/alertmanager.js';
import { silentLogger, type Logger } from '../src/log.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const EVAL_MS = 15_000;

/** Evaluation times come from here; monoNs follows it so latencies are deterministic. */
function fakeClock(): Clock & { ms: number } {
  const c = {
    ms: T0,
    monoNs: () => BigInt(c.ms - T0) * 1_000_000n,
    wallMs: () => c.ms,
  };
  return c;
}

interface Received {
  at: number;
  headers: IncomingHttpHeaders;
  alerts: AlertmanagerAlert[];
}

type Mode = 'ok' | 'fail' | 'hang';

/** A fake Alertmanager: records every POST /api/v2/alerts. */
class FakeAm {
  readonly received: Received[] = [];
  mode: Mode = 'ok';
  private server: Server | undefined;
  port = 0;
  constructor(private readonly clock: { ms: number }) {}

  async listen(port = 0): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/api/v2/alerts') {
          res.writeHead(404).end();
          return;
        }
        if (this.mode === 'hang') return; // never answers
        if (this.mode === 'fail') {
          res.writeHead(503, { 'content-type': 'text/plain' }).end('maintenance');
          return;
        }
        const alerts = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AlertmanagerAlert[];
        this.received.push({ at: this.clock.ms, headers: req.headers, alerts });
        res.writeHead(200, { 'content-type': 'application/json' }).end('');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (s === undefined) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  alerts(): AlertmanagerAlert[] {
    return this.received.flatMap((r) => r.alerts);
  }
}

function cfg(urls: string[], over: Partial<AlertingConfig> = {}, timeoutMs = 2_000): AlertingConfig {
  return { ...defaultAlertingConfig(), alertmanagers: urls.map((url) => ({ url, timeoutMs })), ...over };
}

function finding(over: Partial<Finding> = {}): Finding {
  return {
    rule: 'kv_cache_pressure',
    severity: 'warning',
    cause: 'kv_cache_pressure',
    summary: 'KV cache 97% full and preempting',
    suggestion: 'lower max concurrent sequences',
    confidence: 0.8,
    evidence: { kv_usage_ratio: 0.97, 'rate(preemptions_total[5m])': 2.5 },
    ...over,
  };
}

function firingHint(i: number, activeAt: Date): Hint {
  return { ...finding({ labels: { series: String(i) } }), state: 'firing', activeAt, firedAt: activeAt, lastEvalAt: activeAt };
}

/** A logger whose lines are kept (objects) for assertions. */
function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>>; raw: () => string } {
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const s = chunk.toString();
      raw += s;
      for (const l of s.split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines, raw: () => raw };
}

async function metricValue(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = (await reg.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => String(x.labels[k]) === val));
  return v?.value;
}

t.test('payload, endsAt = now + 4 × max(eval interval, resend delay), auth header, secrets never logged', async (t) => {
  const clock = fakeClock();
  const am = new FakeAm(clock);
  await am.listen();
  t.teardown(() => am.close());
  const reg = new Registry();
  const log = capturingLogger();
  const config = cfg([am.url], {
    externalLabels: { instance: 'soak-1', cause: 'must-not-win' as string },
    externalUrl: 'http://soak-1:9477/',
    runbookBaseUrl: 'https://runbooks.example/llmsoak',
  });
  // `cause` is reserved: the constructor refuses it (all problems at once)
  t.throws(() => new AlertmanagerNotifier(config, { registry: new Registry(), logger: log.logger, clock, evaluationIntervalMs: EVAL_MS }), { code: 'LLMSOAK_ERR_CONFIG' });
  config.externalLabels = { instance: 'soak-1' };
  const am0 = config.alertmanagers[0];
  if (am0) am0.bearerToken = 'sekrit-token-123';
  const n = new AlertmanagerNotifier(config, { registry: reg, logger: log.logger, clock, evaluationIntervalMs: EVAL_MS });
  n.start();
  t.teardown(() => n.stop(1000));

  const tracker = new HintTracker();
  tracker.update('kv_cache_pressure', 0, 0, [finding({ labels: { model: 'llama', 'gpu.index': '0' } })], new Date(clock.ms));
  t.equal(n.send(tracker.all(), new Date(clock.ms)), 1);
  await n.idle();
  t.equal(am.received.length, 1);
  const r = am.received[0];
  t.equal(r?.headers.authorization, 'Bearer sekrit-token-123');
  t.match(r?.headers['content-type'], /application\/json/);
  const a = r?.alerts[0];
  t.same(a?.labels, {
    alertname: 'KvCachePressure',
    rule: 'kv_cache_pressure',
    severity: 'warning',
    cause: 'kv_cache_pressure',
    model: 'llama',
    gpu_index: '0',
    instance: 'soak-1',
  });
  t.equal(a?.startsAt, new Date(T0).toISOString());
  t.equal(a?.endsAt, new Date(T0 + 4 * 60_000).toISOString(), 'resend delay 60 s > eval 15 s: endsAt = now + 240 s');
  t.equal(a?.generatorURL, 'http://soak-1:9477/api/hints');
  t.equal(a?.annotations['summary'], 'KV cache 97% full and preempting');
  t.equal(a?.annotations['suggestion'], 'lower max concurrent sequences');
  t.equal(a?.annotations['confidence'], '0.8');
  t.equal(a?.annotations['runbook_url'], 'https://runbooks.example/llmsoak/kv_cache_pressure');
  t.same(JSON.parse(a?.annotations['evidence'] ?? '{}'), { kv_usage_ratio: 0.97, 'rate(preemptions_total[5m])': 2.5 });
  t.equal(a?.annotations['description'], 'KV cache 97% full and preempting\nEvidence:\nkv_usage_ratio: 0.97\nrate(preemptions_total[5m]): 2.5');
  t.equal(a?.annotations['untrustworthy'], undefined);
  t.equal(await metricValue(reg, 'llmsoak_alert_notifications_total', { alertmanager: `127.0.0.1:${am.port}`, outcome: 'sent' }), 1);
  t.equal(await metricValue(reg, 'llmsoak_alert_notifications_total', { alertmanager: `127.0.0.1:${am.port}`, outcome: 'failed' }), 0);
  t.ok((await reg.metrics()).includes(`llmsoak_alert_notification_latency_seconds_count{alertmanager="127.0.0.1:${am.port}"} 1`), 'latency observed');

  // the evaluation interval wins when it is the longer one
  const clock2 = fakeClock();
  const n2 = new AlertmanagerNotifier(cfg([am.url]), { registry: new Registry(), logger: silentLogger(), clock: clock2, evaluationIntervalMs: 120_000 });
  n2.start();
  t.teardown(() => n2.stop(1000));
  const h = { ...firingHint(1, new Date(T0)), untrustworthy: true };
  n2.send([h], new Date(T0 + 30_000));
  await n2.idle();
  const b = am.received[1]?.alerts[0];
  t.equal(b?.endsAt, new Date(T0 + 30_000 + 4 * 120_000).toISOString(), 'eval 120 s > resend 60 s: endsAt = now + 480 s');
  t.equal(b?.annotations['untrustworthy'], 'true');
  t.equal(b?.generatorURL, undefined, 'no externalUrl: no generatorURL');

  // a failing AM makes one log line; the token is in no log line
  am.mode = 'fail';
  n.send([firingHint(2, new Date(T0))], new Date(T0 + 60_000));
  await n.idle();
  t.notOk(log.raw().includes('sekrit-token-123'), 'the bearer token is never logged');
  t.ok(log.lines.some((l) => l['alertmanager'] === `127.0.0.1:${am.port}` && /failed/.test(String(l['msg']))));
});

t.test('resend cadence while firing; resolution re-sent for 15 minutes, then never again', async (t) => {
  const clock = fakeClock();
  const am = new FakeAm(clock);
  await am.listen();
  t.teardown(() => am.close());
  const n = new AlertmanagerNotifier(cfg([am.url]), { registry: new Registry(), logger: silentLogger(), clock, evaluationIntervalMs: EVAL_MS });
  n.start();
  t.teardown(() => n.stop(1000));
  const tracker = new HintTracker();
  const FOR = 30_000;

  async function evaluate(present: boolean): Promise<void> {
    const now = new Date(clock.ms);
    tracker.update('kv_cache_pressure', FOR, 0, present ? [finding()] : [], now);
    n.send(tracker.all(), now);
    await n.idle();
  }

  // 0..5 min present: pending at 0 and 15 s (nothing sent), firing from 30 s
  for (; clock.ms <= T0 + 300_000; clock.ms += EVAL_MS) await evaluate(true);
  const firing = am.received.map((r) => (r.at - T0) / 1000);
  t.same(firing, [30, 90, 150, 210, 270], 'sent when it fires, then every 60 s (pending never)');
  for (const r of am.received) {
    const a = r.alerts[0];
    t.equal(r.alerts.length, 1);
    t.equal(a?.endsAt, new Date(r.at + 240_000).toISOString(), `endsAt at ${(r.at - T0) / 1000}s`);
    t.equal(a?.startsAt, new Date(T0).toISOString(), 'startsAt = activeAt (pending start)');
  }

  // absent from 315 s: resolved at once, then every 60 s until 15 min after resolution
  const resolvedAt = clock.ms;
  const before = am.received.length;
  for (; clock.ms <= resolvedAt + 20 * 60_000; clock.ms += EVAL_MS) await evaluate(false);
  const resolved = am.received.slice(before);
  t.same(
    resolved.map((r) => (r.at - resolvedAt) / 1000),
    [0, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 660, 720, 780, 840, 900],
    'resolution sent at once, then every 60 s for 15 minutes, then never',
  );
  for (const r of resolved) t.equal(r.alerts[0]?.endsAt, new Date(resolvedAt).toISOString(), 'endsAt = resolution time');
  t.same(tracker.all(), [], 'tracker forgot it');

  // firing again later: a new alert, sent at once (not held back by the last resend)
  const again = am.received.length;
  await evaluate(true);
  clock.ms += EVAL_MS;
  await evaluate(true);
  clock.ms += EVAL_MS;
  await evaluate(true);
  t.equal(am.received.length, again + 1);
  t.equal(am.received[again]?.alerts[0]?.startsAt, new Date(clock.ms - 2 * EVAL_MS).toISOString());

  // a resolved hint passed directly more than 15 min after its resolution is not sent
  const old: Hint = { ...firingHint(9, new Date(T0)), state: 'resolved', resolvedAt: new Date(clock.ms - 16 * 60_000) };
  t.equal(n.send([old], new Date(clock.ms)), 0);
});

t.test('600 alerts go out as 256 + 256 + 88; many sends in one tick make one loop iteration', async (t) => {
  const clock = fakeClock();
  const am = new FakeAm(clock);
  await am.listen();
  t.teardown(() => am.close());
  const n = new AlertmanagerNotifier(cfg([am.url]), { registry: new Registry(), logger: silentLogger(), clock, evaluationIntervalMs: EVAL_MS });
  n.start();
  t.teardown(() => n.stop(1000));
  const hints = Array.from({ length: 600 }, (_, i) => firingHint(i, new Date(T0)));
  t.equal(n.send(hints, new Date(T0)), 600);
  await n.idle();
  t.equal(MAX_BATCH_SIZE, 256);
  t.same(
    am.received.map((r) => r.alerts.length),
    [256, 256, 88],
  );
  t.same(
    am.alerts().map((a) => a.labels['series']),
    hints.map((_, i) => String(i)),
    'in order, each once',
  );

  // five sends in the same tick: one wake-up, one POST
  const before = am.received.length;
  for (let i = 0; i < 5; i++) n.send([firingHint(1000 + i, new Date(T0))], new Date(T0));
  await n.idle();
  t.same(
    am.received.slice(before).map((r) => r.alerts.length),
    [5],
  );
});

t.test('queue overflow drops the oldest and counts them', async (t) => {
  const clock = fakeClock();
  const am = new FakeAm(clock);
  await am.listen();
  t.teardown(() => am.close());
  const reg = new Registry();
  const log = capturingLogger();
  const n = new AlertmanagerNotifier(cfg([am.url], { queueCapacity: 10 }), { registry: reg, logger: log.logger, clock, evaluationIntervalMs: EVAL_MS });
  t.teardown(() => n.stop(1000));
  const label = { alertmanager: `127.0.0.1:${am.port}` };
  // not started yet: alerts wait in the queue
  n.send(
    Array.from({ length: 6 }, (_, i) => firingHint(i, new Date(T0))),
    new Date(T0),
  );
  n.send(
    Array.from({ length: 6 }, (_, i) => firingHint(6 + i, new Date(T0))),
    new Date(T0),
  );
  t.equal(await metricValue(reg, 'llmsoak_alert_queue_length', label), 10);
  t.equal(await metricValue(reg, 'llmsoak_alert_notifications_dropped_total', label), 2);
  t.equal(n.status()[0]?.dropped, 2);
  // more than the capacity in one go: only the newest 10 are kept (5 of these + the 10 queued dropped)
  n.send(
    Array.from({ length: 15 }, (_, i) => firingHint(100 + i, new Date(T0))),
    new Date(T0),
  );
  t.equal(await metricValue(reg, 'llmsoak_alert_notifications_dropped_total', label), 17);
  t.equal(await metricValue(reg, 'llmsoak_alert_queue_length', label), 10);
  t.equal(log.lines.filter((l) => /queue full/.test(String(l['msg'])) && l['level'] === 40).length, 1, 'one warning line, not one per drop');
  n.start();
  await n.idle();
  t.same(
    am.alerts().map((a) => a.labels['series']),
    Array.from({ length: 10 }, (_, i) => String(105 + i)),
    'the newest 10 arrive',
  );
  t.equal(await metricValue(reg, 'llmsoak_alert_queue_length', label), 0);

  // queued alerts are sent by stop() (flush once) and those left at the deadline count as dropped
  const clock2 = fakeClock();
  const hang = new FakeAm(clock2);
  await hang.listen();
  hang.mode = 'hang';
  t.teardown(() => hang.close());
  const reg2 = new Registry();
  const n2 = new AlertmanagerNotifier(cfg([hang.url], { queueCapacity: 1000 }), { registry: reg2, logger: silentLogger(), clock: clock2, evaluationIntervalMs: EVAL_MS });
  n2.send(
    Array.from({ length: 300 }, (_, i) => firingHint(i, new Date(T0))),
    new Date(T0),
  );
  const t0 = Date.now();
  await n2.stop(300);
  t.ok(Date.now() - t0 < 1500, 'stop() keeps its deadline even when the Alertmanager hangs');
  const l2 = { alertmanager: `127.0.0.1:${hang.port}` };
  t.equal(await metricValue(reg2, 'llmsoak_alert_notifications_total', { ...l2, outcome: 'failed' }), 256, 'the batch in flight failed (aborted)');
  t.equal(await metricValue(reg2, 'llmsoak_alert_notifications_dropped_total', l2), 44, 'the rest was dropped');
  t.equal(n2.send([firingHint(1, new Date(T0))], new Date(T0)), 0, 'nothing is accepted after stop');
});

t.test('two Alertmanagers both receive; a hanging one does not hold the other back', async (t) => {
  const clock = fakeClock();
  const a = new FakeAm(clock);
  const b = new FakeAm(clock);
  const c = new FakeAm(clock);
  await Promise.all([a.listen(), b.listen(), c.listen()]);
  t.teardown(() => Promise.all([a.close(), b.close(), c.close()]).then(() => undefined));
  const reg = new Registry();
  const n = new AlertmanagerNotifier(cfg([a.url, b.url]), { registry: reg, logger: silentLogger(), clock, evaluationIntervalMs: EVAL_MS });
  n.start();
  t.teardown(() => n.stop(500));
  n.send([firingHint(1, new Date(T0)), firingHint(2, new Date(T0))], new Date(T0));
  await n.idle();
  t.equal(a.alerts().length, 2);
  t.equal(b.alerts().length, 2);
  for (const am of [a, b]) {
    t.equal(await metricValue(reg, 'llmsoak_alert_notifications_total', { alertmanager: `127.0.0.1:${am.port}`, outcome: 'sent' }), 2);
  }

  // hanging (accepts, never answers; timeout 3 s) next to a healthy one
  c.mode = 'hang';
  const n2 = new AlertmanagerNotifier(cfg([c.url, b.url], {}, 3_000), { registry: new Registry(), logger: silentLogger(), clock, evaluationIntervalMs: EVAL_MS });
  n2.start();
  t.teardown(() => n2.stop(200));
  const bBefore = b.received.length;
  const started = Date.now();
  n2.send([firingHint(3, new Date(T0))], new Date(T0));
  while (b.received.length === bBefore && Date.now() - started < 2_000) await new Promise((r) => setTimeout(r, 10));
  t.equal(b.received.length, bBefore + 1, 'the healthy one got it');
  t.ok(Date.now() - started < 1_000, 'without waiting for the hanging one');
  // the next resend, while the hanging POST is still in flight, reaches the healthy one too
  clock.ms += 60_000;
  n2.send([firingHint(3, new Date(T0))], new Date(clock.ms));
  while (b.received.length === bBefore + 1 && Date.now() - started < 2_500) await new Promise((r) => setTimeout(r, 10));
  t.equal(b.received.length, bBefore + 2);
  t.equal(n2.status().find((s) => s.alertmanager === `127.0.0.1:${c.port}`)?.queued, 1, "the hanging one's resend waits in its own queue");
});

t.test('an Alertmanager down, then up: one line each way, and firing alerts arrive after recovery', async (t) => {
  const clock = fakeClock();
  const am = new FakeAm(clock);
  await am.listen();
  const port = am.port;
  await am.close(); // down: connection refused on that port
  t.teardown(() => am.close());
  const reg = new Registry();
  const log = capturingLogger();
  const n = new AlertmanagerNotifier(cfg([`http://127.0.0.1:${port}`]), { registry: reg, logger: log.logger, clock, evaluationIntervalMs: EVAL_MS });
  n.start();
  t.teardown(() => n.stop(500));
  const tracker = new HintTracker();
  const evaluate = async (): Promise<void> => {
    const now = new Date(clock.ms);
    tracker.update('overload', 0, 0, [finding({ rule: 'overload', cause: 'overload' })], now);
    n.send(tracker.all(), now);
    await n.idle();
  };
  for (; clock.ms < T0 + 180_000; clock.ms += EVAL_MS) await evaluate(); // 0..165 s: down
  const label = `127.0.0.1:${port}`;
  t.equal(await metricValue(reg, 'llmsoak_alert_notifications_total', { alertmanager: label, outcome: 'failed' }), 3, 'tried at 0, 60, 120 s; no retry loop');
  const warn = log.lines.filter((l) => l['level'] === 40);
  t.equal(warn.length, 1, 'ONE line when it starts failing');
  t.equal(warn[0]?.['alertmanager'], label);
  t.equal(n.status()[0]?.healthy, false);

  await am.listen(port); // up again
  for (; clock.ms < T0 + 240_000; clock.ms += EVAL_MS) await evaluate(); // 180..225 s
  t.equal(am.received.length, 1, 'the next resend carried it');
  t.equal(am.received[0]?.at, T0 + 180_000);
  t.equal(am.received[0]?.alerts[0]?.labels['alertname'], 'Overload');
  t.equal(am.received[0]?.alerts[0]?.endsAt, new Date(T0 + 180_000 + 240_000).toISOString());
  const info = log.lines.filter((l) => l['level'] === 30 && /recovered/.test(String(l['msg'])));
  t.equal(info.length, 1, 'ONE line when it recovers');
  t.equal(info[0]?.['failedRequests'], 3);
  t.equal(log.lines.filter((l) => l['level'] === 40).length, 1, 'no further warnings');
  t.equal(n.status()[0]?.healthy, true);
});

t.test('basic auth header', async (t) => {
  const clock = fakeClock();
  const am = new FakeAm(clock);
  await am.listen();
  t.teardown(() => am.close());
  const config = cfg([am.url]);
  const am0 = config.alertmanagers[0];
  if (am0) am0.basicAuth = { username: 'llmsoak', password: 'pa:ss' };
  const log = capturingLogger();
  const n = new AlertmanagerNotifier(config, { registry: new Registry(), logger: log.logger, clock, evaluationIntervalMs: EVAL_MS });
  n.start();
  t.teardown(() => n.stop(500));
  n.send([firingHint(1, new Date(T0))], new Date(T0));
  await n.idle();
  t.equal(am.received[0]?.headers.authorization, `Basic ${Buffer.from('llmsoak:pa:ss').toString('base64')}`);
  t.notOk(log.raw().includes('pa:ss'));
});
