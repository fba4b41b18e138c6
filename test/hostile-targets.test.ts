/**
 * The real Daemon against hostile targets on loopback: garbage instead of
 * SSE, no headers, stalls, a one-byte-a-second drip, resets, 10 MB bodies,
 * endless streams, wrong content types, 429/5xx storms, keep-alive sockets
 * closed at random; and a target that refuses connections for a while, then
 * comes back. Every request must end as exactly one record in the class its
 * behaviour deserves, the schedule must hold, nothing may crash, and memory
 * must stay bounded (loose bound here; the long measurement is
 * `npm run soak-self`).
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { createLogger } from '../src/log.js';
import { warmTokenizer } from '../src/tokenizer.js';
import type { Recorder } from '../src/metrics/recorder.js';
import type { RequestRecord } from '../src/types.js';
import { EXPECTED, startHostileServer, type Behaviour } from './hostile-server.js';
import { startHostileServerThread } from './hostile-server-thread.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A full GC before each RSS reading, so the figure is what is kept, not garbage not yet collected.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
async function settledRss(): Promise<number> {
  gc();
  await sleep(50);
  gc();
  return process.memoryUsage().rss;
}

function capture(): { stream: Writable; lines: () => string[] } {
  let buf = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString();
      if (buf.length > 4_000_000) buf = buf.slice(-2_000_000);
      cb();
    },
  });
  return { stream, lines: () => buf.split('\n').filter(Boolean) };
}

function daemonConfig(url: string, rate: number) {
  return loadConfig({
    document: {
      target: { url: `${url}/v1`, timeouts: { connectMs: 1000, headersMs: 1000, idleMs: 1500, totalMs: 3000 } },
      server: { listen: '127.0.0.1:0' },
      traffic: {
        rate,
        arrival: 'constant',
        seed: 3,
        maxInFlight: 512,
        scenarios: [{ name: 'hostile_chat', endpoint: 'chat', stream: true, prompt: { dist: 'fixed', value: 16 }, output: { dist: 'fixed', value: 8 } }],
      },
      run: { drainMs: 500 },
      // The preflight's own requests would reach the handlers without being soak records (test/preflight.test.ts covers it against these behaviours).
      preflight: { enabled: false },
      collectors: { gpu: { enabled: false } },
      analyzer: { stepSec: 1, intervalSec: 2, windowSec: 10, warmupSec: 2, baselineSec: 5 },
      log: { level: 'info' },
    },
  }).config;
}

/** Wait until nothing is in flight (after the arrivals were stopped). */
async function drained(rec: Recorder, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (rec.inFlightNow > 0 && Date.now() < end) await sleep(50);
}

t.test('every hostile behaviour ends as one record in its class; schedule held; memory bounded', async (t) => {
  const mix: Partial<Record<Behaviour, number>> = {
    ok: 30,
    ok_then_close: 8,
    garbage: 4,
    no_headers: 3,
    stall: 3,
    drip: 2,
    reset: 4,
    cut: 4,
    huge_json: 1,
    huge_sse_line: 1,
    endless: 2,
    wrong_type: 4,
    bad_json: 4,
    error_event: 4,
    http_429: 10,
    http_500: 4,
    http_503: 4,
  };
  const target = await startHostileServerThread({ mix, seed: 11 });
  t.teardown(() => target.close());
  const rate = 25;
  const log = capture();
  const records: RequestRecord[] = [];
  const daemon = new Daemon(daemonConfig(target.url, rate), { logger: createLogger('info', log.stream), onRecord: (r) => records.push({ ...r, tokenGapsNs: [] }) });
  await daemon.start();
  t.teardown(() => daemon.stop('teardown'));
  const rec = daemon.trafficRecorder as Recorder;

  const runMs = 20_000;
  const startedAt = performance.now();
  await sleep(6000);
  const rssWarm = await settledRss();
  await sleep(runMs - 6000);
  daemon.setRate(0);
  // Traffic runs in its own thread: it keeps the schedule while this thread's timers may be late on a busy machine.
  const ranMs = performance.now() - startedAt;
  await drained(rec, 5000);
  const rssEnd = await settledRss();

  t.equal(rec.inFlightNow, 0, 'nothing left in flight');
  const byClass: Record<string, number> = {};
  for (const r of records) byClass[r.outcome] = (byClass[r.outcome] ?? 0) + 1;
  const served = await target.stats();
  const expected: Record<string, number> = {};
  for (const [b, n] of Object.entries(served.counts)) expected[EXPECTED[b as Behaviour]] = (expected[EXPECTED[b as Behaviour]] ?? 0) + n;
  // A request written to a keep-alive socket the target had just closed never reached a handler: a connect error.
  const unhandled = records.length - served.handled;
  t.ok(unhandled >= 0, `${unhandled} request(s) never reached the target's handler`);
  if (unhandled > 0) expected.connect = (expected.connect ?? 0) + unhandled;
  t.same(byClass, expected, 'every request ended in the class its behaviour deserves');
  t.equal(rec.totals.requests, records.length, 'one record per request, recorded once');
  t.equal(rec.totals.dropped, 0, 'no arrival dropped');
  const sent = records.length;
  const want = Math.round((rate * ranMs) / 1000);
  t.ok(Math.abs(sent - want) <= want * 0.05 + 2, `schedule held: ${sent} requests sent, ${want} due in ${(ranMs / 1000).toFixed(1)} s`);
  const lag = rec.totalsHdr.scheduleLag.snapshot();
  t.ok(lag.p99 < 0.25, `schedule lag p99 ${(lag.p99 * 1000).toFixed(2)} ms (< 250 ms on a shared machine), max ${(lag.max * 1000).toFixed(1)} ms`);
  for (const b of Object.keys(mix)) t.ok((served.counts[b] ?? 0) > 0, `behaviour ${b} was exercised (${served.counts[b] ?? 0})`);

  const growthMb = (rssEnd - rssWarm) / 1048576;
  t.ok(growthMb < 50, `RSS growth after warm-up ${growthMb.toFixed(1)} MB (< 50 MB; RSS ${(rssEnd / 1048576).toFixed(0)} MB)`);

  const lines = log.lines();
  t.notOk(
    lines.some((l) => l.includes('"level":50') || l.includes('"level":60')),
    'no error or fatal logged',
  );
  t.ok(lines.length < 200, `log stays quiet (${lines.length} lines for ${records.length} hostile requests)`);
  const metrics = await daemon.registry.metrics();
  t.match(metrics, /llmsoak_request_errors_total\{[^}]*class="timeout_headers"[^}]*\} [1-9]/);
  await daemon.stop('done');
});

t.test('a target that refuses connections for a while, then comes back', async (t) => {
  const target = await startHostileServer({ mix: { ok: 1 }, seed: 1 });
  t.teardown(() => target.close());
  const records: { at: number; outcome: string }[] = [];
  const log = capture();
  const daemon = new Daemon(daemonConfig(target.url, 20), { logger: createLogger('info', log.stream), onRecord: (r) => records.push({ at: Date.now(), outcome: r.outcome }) });
  await daemon.start();
  t.teardown(() => daemon.stop('teardown'));
  const rec = daemon.trafficRecorder as Recorder;

  await sleep(3000);
  const downAt = Date.now();
  await target.stop();
  await sleep(6000);
  const upAt = Date.now();
  await target.start();
  await sleep(4000);
  daemon.setRate(0);
  await drained(rec, 5000);

  const before = records.filter((r) => r.at < downAt);
  const during = records.filter((r) => r.at > downAt + 200 && r.at < upAt);
  const after = records.filter((r) => r.at > upAt + 1500);
  t.ok(before.length > 30 && before.every((r) => r.outcome === 'ok'), `before the outage: ${before.length} ok`);
  t.ok(during.length > 80, `requests kept going during the outage (${during.length})`);
  t.ok(
    during.every((r) => r.outcome === 'connect'),
    `every request during the outage is a connect error (${[...new Set(during.map((r) => r.outcome))].join(', ')})`,
  );
  t.ok(after.length > 30 && after.every((r) => r.outcome === 'ok'), `recovered: ${after.length} ok after the target came back`);
  const sent = records.length;
  t.ok(Math.abs(sent - 20 * 13) <= 20, `schedule held through the outage: ${sent} sent, ~260 due`);
  t.equal(rec.totals.dropped, 0, 'nothing dropped');
  t.notOk(
    log.lines().some((l) => l.includes('"level":50')),
    'no error logged',
  );
  await daemon.stop('done');
});

t.test('a runaway stream without usage: text kept and tokenizer work are bounded, the count estimated', async (t) => {
  const { createServer } = await import('node:http');
  const { Pool } = await import('undici');
  const { sendRequest } = await import('../src/traffic/client.js');
  const { systemClock } = await import('../src/clock.js');
  const words = 100_000;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const piece = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: ' word' } }] })}\n\n`;
      res.end(piece.repeat(words) + 'data: [DONE]\n\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const pool = new Pool(`http://127.0.0.1:${port}`);
  t.teardown(() => pool.close());
  let counted = 0;
  const { record, text } = await sendRequest(
    {
      dispatcher: pool,
      headers: { 'content-type': 'application/json' },
      clock: systemClock,
      totalTimeoutMs: 20_000,
      maxBodyBytes: 1 << 20,
      countTokens: (s) => {
        counted += s.length;
        return s.split(' ').filter(Boolean).length;
      },
    },
    { id: 'x', scenario: 's', endpoint: 'chat', model: 'm', stream: true, path: '/v1/chat/completions', body: '{}', promptTokens: 1, keepText: true },
    systemClock.monoNs(),
    () => {},
  );
  t.equal(record.outcome, 'ok');
  t.equal(record.contentChunks, words);
  t.ok(counted <= 32 * 1024, `the tokenizer saw ${counted} characters (≤ 32 Ki), not ${words * 5}`);
  t.ok((text?.length ?? 0) <= 32 * 1024, 'text kept is bounded');
  t.ok(Math.abs(record.outputTokens - words) / words < 0.01, `output tokens estimated: ${record.outputTokens} for ${words}`);
  t.ok(record.tokenGapsNs.length <= 16_384, `inter-token gaps kept: ${record.tokenGapsNs.length} (bounded)`);
});

t.test('model discovery survives an endless /v1/models body (cut at 1 MB, retried)', async (t) => {
  const { createServer } = await import('node:http');
  let calls = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const server = createServer((req, res) => {
    if (req.url?.endsWith('/models')) {
      calls++;
      if (calls === 1) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"data":[');
        const iv = setInterval(() => res.write(chunk), 1);
        res.on('close', () => clearInterval(iv));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: [{ id: 'found-model' }] }));
      return;
    }
    req.resume();
    res.writeHead(503);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const { config } = loadConfig({
    document: {
      // Traffic in the main thread: a worker's own heap would count in the RSS measured here, and its start would let
      // the models poller (target.changes) call /models before the count below is read.
      target: { url: `http://127.0.0.1:${port}/v1` },
      server: { listen: '127.0.0.1:0' },
      traffic: { rate: 1, workers: 0 },
      // Model discovery's calls are counted: the preflight's GET /models would add to them.
      preflight: { enabled: false },
      collectors: { gpu: { enabled: false } },
      analyzer: { enabled: false },
      log: { level: 'info' },
    },
  });
  const log = capture();
  const daemon = new Daemon(config, { logger: createLogger('info', log.stream) });
  // The tokenizer (~66 MB of RSS) loads when this thread first builds a prompt, i.e. in daemon.start() with traffic
  // in the main thread: loaded before the baseline, as its import did before it was lazy, so that only what the
  // endless body could add is measured (ci92: 50 MB crossed with the tokenizer inside the difference).
  warmTokenizer();
  const rssBefore = await settledRss();
  await daemon.start();
  t.teardown(() => daemon.stop('teardown'));
  const st = daemon.status() as { target: { model: string } };
  t.equal(st.target.model, 'found-model', 'the second answer was used');
  t.equal(calls, 2);
  t.match(log.lines().join('\n'), /cannot list models .*over 1048576 bytes/, 'the endless body was cut, one line');
  t.ok((await settledRss()) - rssBefore < 50 * 1048576, 'memory did not follow the endless body');
  await daemon.stop('done');
});
