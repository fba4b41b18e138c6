/**
 * The server's own words for every error: the detail the client takes from
 * an error body (JSON error shapes, HTML pages, transport errors), scrubbed
 * before it is cut; the bounded samples (a target that answers with
 * thousands of distinct error bodies cannot grow them past the caps, and
 * every failure still counts); the rate-limited log of new messages.
 */
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Pool } from 'undici';
import { systemClock, type Clock } from '../src/clock.js';
import { sendRequest, type ClientOptions } from '../src/traffic/client.js';
import { MAX_ERROR_DETAIL_CHARS, bodyMessage, finishDetail, httpErrorLine } from '../src/traffic/error-detail.js';
import { FailureSamples, messageKey } from '../src/failures/samples.js';
import { FailureAnnouncer } from '../src/failures/announce.js';
import { SecretScrubber } from '../src/security/secrets.js';
import { createLogger } from '../src/log.js';
import type { RequestRecord } from '../src/types.js';

const KEY = 'sk-PLANTED-4b3c2d1e0f';

function failed(scenario: string, outcome: RequestRecord['outcome'], errorDetail: string): RequestRecord {
  return {
    id: 'r',
    scenario,
    endpoint: 'chat',
    model: 'm',
    stream: true,
    scheduledAt: 0n,
    sentAt: 0n,
    endedAt: 0n,
    tokenGapsNs: [],
    contentChunks: 0,
    inputTokens: 0,
    outputTokens: 0,
    tokenSource: 'tokenizer',
    outcome,
    errorDetail,
  };
}

function fakeClock(startMs: number): Clock & { advance(ms: number): void } {
  let now = startMs;
  return {
    monoNs: () => BigInt(now) * 1_000_000n,
    wallMs: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

t.test('the message of an error body, whatever its shape', async (t) => {
  t.equal(bodyMessage('{"error":{"message":"model x not found","type":"invalid_request_error"}}'), 'model x not found', 'OpenAI error shape');
  t.equal(
    bodyMessage('{"error":"SyntaxError","message":"Bad control character in string literal in JSON at position 162","status":500}'),
    'Bad control character in string literal in JSON at position 162',
    'express-style error (mock-llm)',
  );
  t.equal(bodyMessage('{"detail":"Not Found"}'), 'Not Found', 'FastAPI-style detail');
  t.equal(
    bodyMessage('<!DOCTYPE html><html><head><title>Error</title></head><body><pre>Cannot POST /v1/completions</pre></body></html>', 'text/html'),
    'Cannot POST /v1/completions',
    'HTML error page: its visible text',
  );
  t.equal(bodyMessage('upstream\nconnect error\r\n  or disconnect'), 'upstream connect error or disconnect', 'one line');
  t.equal(httpErrorLine(404, 'Not Found', Buffer.from('{"message":"Cannot POST /v1/embeddings"}'), 'application/json'), '404 Not Found: Cannot POST /v1/embeddings');
  t.equal(httpErrorLine(502, undefined, Buffer.alloc(0), ''), '502', 'no reason and no body: the status alone');
});

t.test('a detail is scrubbed before it is cut: a key at the cut never leaves half of itself', async (t) => {
  const scrub = new SecretScrubber([KEY]);
  const long = `${'x'.repeat(MAX_ERROR_DETAIL_CHARS - 8)} ${KEY} tail`;
  const cut = finishDetail(long, (s) => scrub.scrub(s));
  t.ok(cut.length <= MAX_ERROR_DETAIL_CHARS, `cut to ${cut.length} characters`);
  t.notOk(cut.includes(KEY.slice(0, 6)), 'no prefix of the key survives the cut');
  const unscrubbedCut = finishDetail(long, undefined);
  t.ok(unscrubbedCut.includes(KEY.slice(0, 6)), 'the case is real: cutting first would have left the start of the key');
});

t.test('numbers and ids do not make a message new', async (t) => {
  t.equal(messageKey('Bad control character in string literal in JSON at position 162'), messageKey('Bad control character in string literal in JSON at position 210'));
  t.equal(messageKey('request chatcmpl-1796598539272 failed'), messageKey('request chatcmpl-1796598539999 failed'));
  t.not(messageKey('Cannot POST /v1/completions'), messageKey('Cannot POST /v1/embeddings'));
  const clock = fakeClock(Date.UTC(2026, 0, 1));
  const s = new FailureSamples({ clock, perGroup: 5, maxMessages: 50 });
  s.observe(failed('a', 'http_5xx', '500 Internal Server Error: at position 162'));
  clock.advance(1000);
  s.observe(failed('a', 'http_5xx', '500 Internal Server Error: at position 210'));
  const [only, ...rest] = s.snapshot();
  t.same(rest, []);
  t.match(
    only,
    { scenario: 'a', class: 'http_5xx', message: '500 Internal Server Error: at position 162', count: 2, firstAt: '2026-01-01T00:00:00.000Z', lastAt: '2026-01-01T00:00:01.000Z' },
    'the first wording, both counted, first and last times',
  );
});

t.test('a target with thousands of distinct error bodies cannot grow the samples past their caps', async (t) => {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      // A different word in every body (numbers alone would fold into one message), and the key echoed.
      const word = (n++).toString(36).replace(/[0-9]/g, (d) => 'ghijklmnop'[Number(d)] as string);
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `failure ${word} for ${String(req.headers.authorization)}${'!'.repeat(2000)}` } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as AddressInfo;
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 8 });
  t.teardown(() => pool.close());
  const scrub = new SecretScrubber([KEY]);
  const client: ClientOptions = {
    dispatcher: pool,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    clock: systemClock,
    totalTimeoutMs: 5000,
    maxBodyBytes: 1024 * 1024,
    countTokens: (s) => s.length,
    scrub: (x) => scrub.scrub(x),
  };
  const PER_GROUP = 5;
  const MAX = 12;
  const logged: string[] = [];
  const samples = new FailureSamples({ clock: systemClock, perGroup: PER_GROUP, maxMessages: MAX, scrub: (x) => scrub.scrub(x), onNew: (f) => logged.push(f.message) });
  const REQUESTS = 2000;
  const scenarios = ['a', 'b', 'c', 'd'];
  let longest = 0;
  for (let i = 0; i < REQUESTS; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: 50 }, (_, j) =>
        sendRequest(
          client,
          {
            id: `r${i + j}`,
            scenario: scenarios[(i + j) % scenarios.length] as string,
            endpoint: 'chat',
            model: 'm',
            stream: false,
            path: '/v1/chat/completions',
            body: '{}',
            promptTokens: 1,
            keepText: false,
          },
          0n,
          () => undefined,
        ),
      ),
    );
    for (const { record } of batch) {
      longest = Math.max(longest, record.errorDetail?.length ?? Infinity);
      samples.observe(record);
    }
  }
  t.ok(longest <= MAX_ERROR_DETAIL_CHARS, `every record's detail is short (longest ${longest} of bodies over 2000 bytes)`);
  const snap = samples.snapshot();
  const kept = snap.filter((s) => s.other !== true);
  t.equal(samples.size, MAX, `${REQUESTS} distinct bodies, ${MAX} messages kept`);
  t.equal(kept.length, MAX);
  for (const sc of scenarios) t.ok(kept.filter((s) => s.scenario === sc).length <= PER_GROUP, `at most ${PER_GROUP} for scenario ${sc}`);
  t.equal(
    snap.reduce((a, s) => a + s.count, 0),
    REQUESTS,
    'every failure still counts (kept messages plus the "other messages" lines)',
  );
  t.ok(snap.filter((s) => s.other === true).length <= scenarios.length, 'one "other messages" line per scenario and class');
  t.equal(logged.length, MAX, 'a new message is announced once');
  const all = JSON.stringify(snap);
  t.notOk(all.includes(KEY), 'the echoed key is not in the samples');
  t.match(all, /Bearer \[redacted\]/, 'it was there, scrubbed');
  t.match(kept[0]?.message, /^500 Internal Server Error: failure /, "the status line and the server's message");
  t.ok(
    kept.every((s) => s.message.length <= MAX_ERROR_DETAIL_CHARS),
    'each message cut short',
  );
});

t.test('transport errors carry their own message', async (t) => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  const pool = new Pool(`http://127.0.0.1:${port}`);
  t.teardown(() => pool.close());
  const { record } = await sendRequest(
    { dispatcher: pool, headers: {}, clock: systemClock, totalTimeoutMs: 5000, maxBodyBytes: 1024, countTokens: () => 0 },
    {
      id: 'r',
      scenario: 'a',
      endpoint: 'chat',
      model: 'm',
      stream: true,
      path: '/v1/chat/completions',
      body: '{}',
      promptTokens: 1,
      keepText: false,
    },
    0n,
    () => undefined,
  );
  t.equal(record.outcome, 'connect');
  t.match(record.errorDetail, /ECONNREFUSED/);
});

t.test('new messages are logged at most perMinute times a minute; the rest are counted in the next line', async (t) => {
  let out = '';
  const logger = createLogger(
    'info',
    new Writable({
      write(c: Buffer, _e, cb) {
        out += c.toString();
        cb();
      },
    }),
  );
  const clock = fakeClock(Date.UTC(2026, 0, 1));
  const announcer = new FailureAnnouncer(logger, clock, 3);
  const sample = (i: number) => ({ scenario: 'a', class: 'http_5xx' as const, message: `m${i}`, count: 1, firstAt: '', lastAt: '' });
  for (let i = 0; i < 100; i++) announcer.announce(sample(i));
  clock.advance(60_000);
  announcer.announce(sample(100));
  await new Promise<void>((r) => logger.flush(() => r()));
  const lines = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; notLogged?: number });
  t.equal(lines.length, 4, '3 lines in the first minute, one in the next');
  t.equal(lines[3]?.notLogged, 97, 'the next line says how many were not logged');
});
