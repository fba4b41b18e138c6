/**
 * Trace context, exemplars and the sampled request log:
 *  - every request on the wire carries a valid, fresh W3C traceparent (a
 *    loopback server records the headers), the same trace id as its record;
 *  - /metrics answers OpenMetrics with exemplars when asked (as Prometheus
 *    asks), the Prometheus text format otherwise (valid for promtool);
 *  - llmsoak soaking the built-in simulator, scraped by a real Prometheus
 *    with exemplar storage: the exemplars come back from
 *    /api/v1/query_exemplars, and every exemplar's trace id (from /metrics
 *    and from Prometheus) is a line of the request log, which never holds
 *    the planted API key;
 *  - the log rotates within its bounds, drops and counts what the disk cannot
 *    take, and scrubs secrets even from prompts when prompts are asked for.
 */
import t, { type Test } from 'tap';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { systemClock } from '../src/clock.js';
import { sendRequest, type PreparedRequest } from '../src/traffic/client.js';
import { TRACEPARENT_RE, newTraceContext } from '../src/tracing/trace-context.js';
import { RequestLog, type RequestLogLine } from '../src/tracing/request-log.js';
import type { RequestLogConfig } from '../src/tracing/config.js';
import { wantsOpenMetrics } from '../src/metrics/openmetrics.js';
import { SecretScrubber } from '../src/security/secrets.js';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { startSimulator } from '../src/simulator/server.js';
import { defaultSimulatorConfig } from '../src/simulator/config.js';
import type { RequestRecord } from '../src/types.js';
import { waitFor } from './helpers.js';
import { findBinary, finiteValues, installLine, promQuery, startPrometheus, type RunningServer } from './monitoring-stack.js';

const PLANTED_KEY = 'sk-planted-7f3a9c1e5b2d4068a1b2c3d4e5f60718';
/** What Prometheus 2.x sends when it scrapes. */
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-trace-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every line of the log and its rotated files, parsed. */
function readLog(file: string): RequestLogLine[] {
  const dir = join(file, '..');
  const base = file.slice(dir.length + 1);
  const lines: RequestLogLine[] = [];
  for (const f of readdirSync(dir).filter((n) => n === base || n.startsWith(`${base}.`))) {
    for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) if (l) lines.push(JSON.parse(l) as RequestLogLine);
  }
  return lines;
}

t.test('every request carries a valid, fresh traceparent: the trace id of its record', async (t) => {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1 } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 8 });
  t.teardown(() => pool.close());
  const req: PreparedRequest = { id: 'r', scenario: 's', endpoint: 'chat', model: 'm', stream: false, path: '/v1/chat/completions', body: '{"model":"m"}', promptTokens: 1, keepText: false };
  const opts = {
    dispatcher: pool,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${PLANTED_KEY}` },
    clock: systemClock,
    totalTimeoutMs: 5000,
    maxBodyBytes: 1 << 20,
    countTokens: () => 1,
  };
  const records: RequestRecord[] = [];
  for (let batch = 0; batch < 8; batch++) {
    const done = await Promise.all(Array.from({ length: 25 }, () => sendRequest(opts, req, systemClock.monoNs(), () => undefined)));
    records.push(...done.map((d) => d.record));
  }
  t.equal(seen.length, 200, '200 requests arrived');
  const values = seen.map((h) => String(h.traceparent));
  const invalid = values.filter((v) => !TRACEPARENT_RE.test(v));
  t.same(invalid, [], 'every traceparent is valid (00-<32 hex>-<16 hex>-<flags>, non-zero ids)');
  t.ok(
    values.every((v) => v.endsWith('-01')),
    'flags 01 (sampled)',
  );
  t.equal(new Set(values.map((v) => v.slice(3, 35))).size, 200, 'trace ids are unique');
  t.equal(new Set(values.map((v) => v.slice(36, 52))).size, 200, 'span ids are unique');
  t.same(new Set(records.map((r) => r.traceId)), new Set(values.map((v) => v.slice(3, 35))), 'each record holds the trace id it sent');
  t.ok(
    seen.every((h) => h.authorization === `Bearer ${PLANTED_KEY}` && h['content-type'] === 'application/json'),
    'the other headers still go out',
  );
});

t.test('content negotiation: OpenMetrics only when preferred', async (t) => {
  t.ok(wantsOpenMetrics(PROMETHEUS_ACCEPT), "Prometheus' scrape Accept");
  t.ok(wantsOpenMetrics('application/openmetrics-text; version=1.0.0'), 'OpenMetrics alone');
  t.notOk(wantsOpenMetrics(undefined), 'no Accept: Prometheus text');
  t.notOk(wantsOpenMetrics('*/*'), '*/*: Prometheus text');
  t.notOk(wantsOpenMetrics('text/plain;version=0.0.4'), 'text/plain');
  t.notOk(wantsOpenMetrics('application/openmetrics-text;q=0,text/plain'), 'OpenMetrics refused (q=0)');
  t.notOk(wantsOpenMetrics('text/plain,application/openmetrics-text'), 'a tie keeps the default');
});

/** A finished record as the client makes them, with a fresh random trace id (for the log's unit tests). */
function record(i: number, outcome: RequestRecord['outcome'] = 'ok'): RequestRecord {
  return {
    id: `r${i}`,
    scenario: 'chat',
    endpoint: 'chat',
    model: 'm',
    stream: true,
    scheduledAt: 0n,
    sentAt: 1_000_000n,
    firstTokenAt: 51_000_000n,
    lastTokenAt: 151_000_000n,
    endedAt: 152_000_000n,
    tokenGapsNs: [],
    contentChunks: 10,
    inputTokens: 100,
    outputTokens: 10,
    tokenSource: 'usage',
    outcome,
    traceId: newTraceContext().traceId,
    phases: { request_sent: 100_000, headers: 49_000_000, first_token: 900_000, last_token: 100_000_000, close: 1_000_000 },
  };
}

const logCfg = (file: string, over: Partial<RequestLogConfig> = {}): RequestLogConfig => ({
  enabled: true,
  file,
  sampleRatio: 1,
  alwaysErrors: true,
  maxBytes: 4096,
  keep: 2,
  includePrompts: false,
  ...over,
});

async function counter(registry: Registry, name: string): Promise<number> {
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await registry.metrics())?.[1] ?? NaN);
}

t.test('the log rotates within its bounds: (keep + 1) files of at most maxBytes, whole lines', async (t) => {
  const file = join(tmp(t), 'logs', 'requests.jsonl');
  const registry = new Registry();
  const log = new RequestLog(logCfg(file), { registry, clock: systemClock, logger: silentLogger() });
  for (let i = 1; i <= 400; i++) log.offer(record(i));
  await log.close();
  const dir = join(file, '..');
  const files = readdirSync(dir).sort();
  t.same(files, ['requests.jsonl', 'requests.jsonl.1', 'requests.jsonl.2'], 'the file and `keep` rotated files, no more');
  for (const f of files) t.ok(statSync(join(dir, f)).size <= 4096, `${f}: ${statSync(join(dir, f)).size} bytes <= maxBytes`);
  const lines = readLog(file);
  t.ok(lines.length > 10 && lines.length < 400, `older lines rotated away (${lines.length} of 400 kept)`);
  const newest = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as RequestLogLine);
  t.equal(newest.at(-1)?.id, 'r400', 'the newest line is in the current file');
  t.equal(await counter(registry, 'llmsoak_request_log_lines_total'), 400, 'every line was written');
  t.equal(await counter(registry, 'llmsoak_request_log_dropped_total'), 0, 'none dropped');
});

t.test('a disk that cannot keep up: lines are dropped and counted, never queued without bound', async (t) => {
  const file = join(tmp(t), 'requests.jsonl');
  const registry = new Registry();
  const log = new RequestLog(logCfg(file, { maxBytes: 1 << 30 }), { registry, clock: systemClock, logger: silentLogger(), maxBufferBytes: 4096 });
  // 2,000 lines in one turn of the event loop: far more than 4 KiB can wait for the disk.
  for (let i = 1; i <= 2000; i++) log.offer(record(i));
  await log.close();
  const dropped = await counter(registry, 'llmsoak_request_log_dropped_total');
  const written = await counter(registry, 'llmsoak_request_log_lines_total');
  t.ok(dropped > 0, `${dropped} lines dropped`);
  t.equal(written + dropped, 2000, 'written + dropped = offered');
  t.equal(readLog(file).length, written, 'the file holds exactly the lines counted as written');
});

t.test('sampling: by ratio (stable by trace id), errors always; prompts only when asked, secrets scrubbed even then', async (t) => {
  const dir = tmp(t);
  const registry = new Registry();
  const sampled = new RequestLog(logCfg(join(dir, 'a.jsonl'), { sampleRatio: 0.1, maxBytes: 1 << 20 }), { registry, clock: systemClock, logger: silentLogger() });
  let chosen = 0;
  for (let i = 1; i <= 2000; i++) if (sampled.offer(record(i))) chosen++;
  t.ok(chosen > 120 && chosen < 280, `about 10 % chosen (${chosen} of 2000)`);
  const again = record(3);
  const first = sampled.offer(again);
  t.ok(
    Array.from({ length: 5 }, () => sampled.offer(again)).every((v) => v === first),
    'the same trace id always gets the same answer',
  );
  await sampled.close();

  const errors = new RequestLog(logCfg(join(dir, 'b.jsonl'), { sampleRatio: 0, maxBytes: 1 << 20 }), { registry: new Registry(), clock: systemClock, logger: silentLogger() });
  t.notOk(errors.offer(record(1, 'http_5xx')), 'an error logged by alwaysErrors is not an exemplar');
  t.notOk(errors.offer(record(2)), 'ratio 0: an ok request is not logged');
  await errors.close();
  const bLines = readLog(join(dir, 'b.jsonl'));
  t.same(
    bLines.map((l) => [l.id, l.outcome, l.error, l.sampledBy]),
    [['r1', 'http_5xx', 'http_5xx', 'error']],
    'only the error, with its class',
  );

  const scrub = new SecretScrubber([PLANTED_KEY]);
  const body = JSON.stringify({ messages: [{ role: 'user', content: `my key is ${PLANTED_KEY}, keep it safe` }] });
  const withPrompts = new RequestLog(logCfg(join(dir, 'c.jsonl'), { includePrompts: true, maxBytes: 1 << 20 }), {
    registry: new Registry(),
    clock: systemClock,
    logger: silentLogger(),
    scrub: (s) => scrub.scrub(s),
  });
  withPrompts.offer(record(1), body);
  await withPrompts.close();
  const withoutPrompts = new RequestLog(logCfg(join(dir, 'd.jsonl'), { maxBytes: 1 << 20 }), { registry: new Registry(), clock: systemClock, logger: silentLogger() });
  withoutPrompts.offer(record(1), body);
  await withoutPrompts.close();
  const c = readFileSync(join(dir, 'c.jsonl'), 'utf8');
  const d = readFileSync(join(dir, 'd.jsonl'), 'utf8');
  t.ok(c.includes('keep it safe'), 'includePrompts: the prompt is logged');
  t.notOk(c.includes(PLANTED_KEY), '… with the planted key scrubbed out of it');
  t.notOk(d.includes('keep it safe') || d.includes(PLANTED_KEY), 'by default: no prompt at all');
  const line = JSON.parse(d) as RequestLogLine;
  t.same(Object.keys(line.phasesMs), ['request_sent', 'headers', 'first_token', 'last_token', 'close'], 'phases in order, ms');
  t.equal(line.ttftMs, 50, 'TTFT in ms');
  t.equal(line.e2eMs, 150, 'E2E in ms');
});

/** Trace ids of the exemplars in an OpenMetrics exposition, on the lines of `metric`. */
function exemplarIds(exposition: string, metric: string): string[] {
  const re = new RegExp(`^${metric}_bucket\\{[^}]*\\} \\d+ # \\{trace_id="([0-9a-f]{32})"\\} [0-9.e+-]+ [0-9.]+$`, 'gm');
  return [...exposition.matchAll(re)].map((m) => m[1] as string);
}

interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }>;
}

t.test('llmsoak + a real Prometheus with exemplar storage: exemplars link to the request log', async (t) => {
  const promBin = findBinary('/usr/bin/prometheus', 'prometheus');
  const promtool = findBinary('/usr/bin/promtool', 'promtool');
  if (promBin === undefined) return void t.fail(installLine('prometheus'));
  if (promtool === undefined) return void t.fail(installLine('prometheus'));
  const began = Date.now();
  const dir = tmp(t);
  const logFile = join(dir, 'requests.jsonl');

  const simCfg = defaultSimulatorConfig();
  Object.assign(simCfg.engine, { decodeStepBaseMs: 2, decodeStepPerSeqMs: 0, prefillTokensPerSec: 1e6 });
  const sim = await startSimulator(simCfg, { logger: silentLogger(), host: '127.0.0.1', port: 0 });
  t.teardown(() => sim.close());
  const { config } = loadConfig({
    document: {
      target: { url: `${sim.url}/v1`, apiKey: PLANTED_KEY },
      server: { listen: '127.0.0.1:0' },
      traffic: { rate: 12, seed: 11 },
      requestLog: { enabled: true, file: logFile, sampleRatio: 0.25 },
      analyzer: { enabled: false },
      run: { drainMs: 1000 },
      log: { level: 'silent' },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger() });
  await daemon.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await daemon.stop('test end');
  };
  t.teardown(stop);

  const promConfig = stringify({
    global: { scrape_interval: '1s' },
    scrape_configs: [{ job_name: 'llmsoak', static_configs: [{ targets: [new URL(daemon.listenUrl).host] }] }],
  });
  let prom: RunningServer;
  try {
    prom = await startPrometheus(promBin, promConfig, {}, 30_000, ['--enable-feature=exemplar-storage']);
  } catch (err) {
    return void t.fail(String(err));
  }
  t.teardown(() => prom.stop());

  // Prometheus scrapes (it asks for OpenMetrics) and keeps the exemplars.
  const fromProm = await waitFor(
    async () => {
      const end = Date.now() / 1000;
      const params = new URLSearchParams({ query: 'llmsoak_time_to_first_token_seconds_bucket', start: String(end - 120), end: String(end) });
      const res = await fetch(`${prom.base}/api/v1/query_exemplars?${params}`, { signal: AbortSignal.timeout(5000) });
      const body = (await res.json()) as { status: string; data?: ExemplarSeries[] };
      const ids = (body.data ?? []).flatMap((s) => s.exemplars.map((e) => e.labels.trace_id ?? ''));
      return ids.length >= 2 ? ids : undefined;
    },
    40_000,
    500,
  ).catch((err: unknown) => {
    t.fail(`no exemplars from Prometheus: ${String(err)}\n${prom.output()}`);
    return [] as string[];
  });
  t.ok(fromProm.length >= 2, `/api/v1/query_exemplars returns ${fromProm.length} TTFT exemplars`);
  t.ok(
    fromProm.every((id) => /^[0-9a-f]{32}$/.test(id)),
    'each names a 32-hex trace_id',
  );
  t.same(finiteValues(await promQuery(prom.base, 'up{job="llmsoak"}')), [1], 'the OpenMetrics scrape succeeds (up == 1)');
  const requests = finiteValues(await promQuery(prom.base, 'sum(llmsoak_requests_total{job="llmsoak"})'));
  t.ok((requests[0] ?? 0) > 0, `counters keep their names through OpenMetrics (llmsoak_requests_total = ${requests[0]})`);
  const phases = finiteValues(await promQuery(prom.base, 'sum by (phase) (llmsoak_request_phase_seconds_count{job="llmsoak"})'));
  t.ok(phases.length >= 6, `llmsoak_request_phase_seconds reaches Prometheus (${phases.length} phases)`);

  // /metrics itself: OpenMetrics with exemplars when asked, the Prometheus text format otherwise.
  const om = await fetch(`${daemon.listenUrl}/metrics`, { headers: { accept: PROMETHEUS_ACCEPT } });
  const omText = await om.text();
  t.match(om.headers.get('content-type') ?? '', /^application\/openmetrics-text; version=1\.0\.0/, 'OpenMetrics content type');
  t.ok(omText.endsWith('# EOF\n'), 'OpenMetrics ends with # EOF');
  const omIds = [...exemplarIds(omText, 'llmsoak_time_to_first_token_seconds'), ...exemplarIds(omText, 'llmsoak_request_duration_seconds')];
  t.ok(omIds.length >= 2, `${omIds.length} exemplars on the TTFT and E2E buckets`);
  const plain = await fetch(`${daemon.listenUrl}/metrics`);
  const plainText = await plain.text();
  t.match(plain.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/, 'no Accept: the Prometheus text format');
  t.notOk(/ # \{/.test(plainText), 'no exemplars in the Prometheus text format');
  t.match(plainText, /^llmsoak_requests_total\{/m, 'counters keep _total there (OpenMetrics did not rename them)');
  const lint = spawnSync(promtool, ['check', 'metrics'], { input: plainText, encoding: 'utf8', timeout: 20_000 });
  t.equal(lint.status, 0, `promtool check metrics passes${lint.status === 0 ? '' : `: ${lint.stdout}${lint.stderr}`}`);

  // Stop (the log is flushed), then every exemplar is a line of the log; the key is nowhere.
  await stop();
  const lines = readLog(logFile);
  const logged = new Set(lines.map((l) => l.traceId));
  t.ok(lines.length >= 3, `${lines.length} requests in the log`);
  t.same(
    omIds.filter((id) => !logged.has(id)),
    [],
    'every exemplar of /metrics is in the request log',
  );
  t.same(
    fromProm.filter((id) => !logged.has(id)),
    [],
    'every exemplar Prometheus returns is in the request log',
  );
  t.ok(
    lines.every((l) => /^[0-9a-f]{32}$/.test(l.traceId ?? '') && typeof l.phasesMs.headers === 'number' && l.outputTokens >= 0),
    'lines carry trace id, phases and tokens',
  );
  t.ok(
    lines.every((l) => l.request === undefined),
    'no prompts (includePrompts is off)',
  );
  const raw = readdirSync(dir)
    .filter((f) => f.startsWith('requests.jsonl'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('');
  t.notOk(raw.includes(PLANTED_KEY) || raw.includes('sk-planted'), 'the planted API key never appears in the log');
  t.notOk(/authorization/i.test(raw), 'no Authorization header in the log');
  t.ok(Date.now() - began < 60_000, `under a minute (${((Date.now() - began) / 1000).toFixed(1)} s)`);
});
