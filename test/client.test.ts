/**
 * The request client against small hostile servers on loopback: each failure
 * ends up in the right error class, partial tokens are kept, nothing crashes.
 */
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { systemClock } from '../src/clock.js';
import { contentDelta, sendRequest, type ClientOptions, type PreparedRequest } from '../src/traffic/client.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(handler: Handler): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

function chunk(content: string, extra: Record<string, unknown> = {}): string {
  return `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }], ...extra })}\n\n`;
}
const roleChunk = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] })}\n\n`;
const finalChunk = `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'length' }] })}\n\n`;
const usageChunk = (n: number) => `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 11, completion_tokens: n, total_tokens: 11 + n } })}\n\n`;

const req = (stream = true): PreparedRequest => ({
  id: 'r1',
  scenario: 's',
  endpoint: 'chat',
  model: 'm',
  stream,
  path: '/v1/chat/completions',
  body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream }),
  promptTokens: 3,
  keepText: true,
});

function options(url: string, over: { idleMs?: number; headersMs?: number; totalMs?: number } = {}): ClientOptions & { pool: Pool } {
  const pool = new Pool(url, { connections: 4, headersTimeout: over.headersMs ?? 5000, bodyTimeout: over.idleMs ?? 5000, connect: { timeout: 2000 } });
  return {
    pool,
    dispatcher: pool,
    headers: { 'content-type': 'application/json' },
    clock: systemClock,
    totalTimeoutMs: over.totalMs ?? 10_000,
    maxBodyBytes: 1024 * 1024,
    countTokens: (s) => s.split(' ').filter(Boolean).length,
  };
}

t.test('a good stream: TTFT from the first content chunk, gaps, usage wins', async (t) => {
  const { url, server } = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(roleChunk); // role-only: not a token
    let i = 0;
    const words = [' one', ' two', ' three', ' four'];
    const iv = setInterval(() => {
      if (i < words.length) res.write(chunk(words[i++] as string));
      else {
        clearInterval(iv);
        res.end(finalChunk + usageChunk(4) + 'data: [DONE]\n\n');
      }
    }, 20);
  });
  t.teardown(() => server.close());
  const o = options(url);
  t.teardown(() => o.pool.close());
  let live = 0;
  const { record, text } = await sendRequest(o, req(), systemClock.monoNs(), (n) => (live += n));
  t.equal(record.outcome, 'ok');
  t.equal(record.outputTokens, 4);
  t.equal(record.tokenSource, 'usage');
  t.equal(record.inputTokens, 11, 'usage.prompt_tokens replaces the estimate');
  t.equal(record.contentChunks, 4);
  t.equal(live, 4, 'tokens counted as chunks arrive');
  t.equal(record.tokenGapsNs.length, 3);
  // One gap per content chunk after the first, adding up to first → last token (their size against the
  // server's spacing is client-timing.test.ts's claim, run alone: here three other files share two cores).
  t.ok(
    record.tokenGapsNs.every((g) => g > 0),
    'every gap positive',
  );
  t.equal(
    record.tokenGapsNs.reduce((a, b) => a + b, 0),
    Number((record.lastTokenAt ?? 0n) - (record.firstTokenAt ?? 0n)),
    'the gaps add up to first → last token',
  );
  t.ok(record.firstTokenAt !== undefined && record.firstTokenAt > record.sentAt);
  t.equal(text, ' one two three four');
});

t.test('no usage: the tokenizer counts the text and says so', async (t) => {
  const { url, server } = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(roleChunk + chunk(' a b') + chunk(' c') + finalChunk + 'data: [DONE]\n\n');
  });
  t.teardown(() => server.close());
  const o = options(url);
  t.teardown(() => o.pool.close());
  const { record } = await sendRequest(o, req(), systemClock.monoNs(), () => {});
  t.equal(record.outcome, 'ok');
  t.equal(record.tokenSource, 'tokenizer');
  t.equal(record.outputTokens, 3);
});

t.test('a stall mid-stream is a timeout of the idle phase, partial tokens kept', async (t) => {
  const { url, server } = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(roleChunk + chunk(' x') + chunk(' y'));
    // then nothing, forever
  });
  t.teardown(() => server.closeAllConnections());
  t.teardown(() => server.close());
  const o = options(url, { idleMs: 300 });
  t.teardown(() => o.pool.destroy());
  const { record } = await sendRequest(o, req(), systemClock.monoNs(), () => {});
  t.equal(record.outcome, 'timeout_idle');
  t.equal(record.outputTokens, 2, 'the two tokens that arrived are counted');
});

t.test('headers never sent: timeout of the headers phase', async (t) => {
  const { url, server } = await serve(() => {});
  t.teardown(() => server.closeAllConnections());
  t.teardown(() => server.close());
  const o = options(url, { headersMs: 300 });
  t.teardown(() => o.pool.destroy());
  const { record } = await sendRequest(o, req(), systemClock.monoNs(), () => {});
  t.equal(record.outcome, 'timeout_headers');
});

t.test('total timeout on an endless stream', async (t) => {
  const { url, server } = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const iv = setInterval(() => res.write(chunk(' more')), 10);
    res.on('close', () => clearInterval(iv));
  });
  t.teardown(() => server.closeAllConnections());
  t.teardown(() => server.close());
  const o = options(url, { totalMs: 400 });
  t.teardown(() => o.pool.destroy());
  const { record } = await sendRequest(o, req(), systemClock.monoNs(), () => {});
  t.equal(record.outcome, 'timeout_total');
  t.ok(record.outputTokens > 5, 'tokens that arrived are kept');
});

t.test('a reset mid-stream is a cut stream with its partial tokens', async (t) => {
  const { url, server } = await serve((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(roleChunk + chunk(' p') + chunk(' q') + chunk(' r'));
    setTimeout(() => req.socket.resetAndDestroy(), 30);
  });
  t.teardown(() => server.close());
  const o = options(url);
  t.teardown(() => o.pool.destroy());
  const { record } = await sendRequest(o, req(), systemClock.monoNs(), () => {});
  t.equal(record.outcome, 'stream_cut');
  t.equal(record.outputTokens, 3);
});

t.test('a malformed event ends the request as malformed', async (t) => {
  const { url, server } = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(roleChunk + chunk(' ok') + 'data: {"choices": [oops\n\n');
    setTimeout(() => res.end(finalChunk + 'data: [DONE]\n\n'), 50);
  });
  t.teardown(() => server.close());
  const o = options(url);
  t.teardown(() => o.pool.destroy());
  const { record } = await sendRequest(o, req(), systemClock.monoNs(), () => {});
  t.equal(record.outcome, 'malformed');
  t.equal(record.outputTokens, 1);
});

t.test('an error event mid-stream is a cut stream', async (t) => {
  const { url, server } = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(roleChunk + chunk(' a') + `data: ${JSON.stringify({ error: { message: 'engine died', type: 'internal' } })}\n\n`);
  });
  t.teardown(() => server.close());
  const o = options(url);
  t.teardown(() => o.pool.close());
  const { record } = await sendRequest(o, req(), systemClock.monoNs(), () => {});
  t.equal(record.outcome, 'stream_cut');
});

t.test('a 429 storm, 4xx and 5xx are classed by status; nothing is lost', async (t) => {
  let n = 0;
  const { url, server } = await serve((_req, res) => {
    const status = [429, 429, 429, 400, 503][n++ % 5] as number;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'no', type: 'x', code: status } }));
  });
  t.teardown(() => server.close());
  const o = options(url);
  t.teardown(() => o.pool.close());
  const results = await Promise.all(Array.from({ length: 50 }, () => sendRequest(o, req(), systemClock.monoNs(), () => {})));
  const by: Record<string, number> = {};
  for (const r of results) by[r.record.outcome] = (by[r.record.outcome] ?? 0) + 1;
  t.same(by, { http_429: 30, http_4xx: 10, http_5xx: 10 }, 'every request ends as exactly one record');
});

t.test('garbage instead of SSE, an empty 200 and a wrong content type', async (t) => {
  let n = 0;
  const { url, server } = await serve((_req, res) => {
    const k = n++;
    if (k === 0) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('<html>this is not an event stream</html>');
    } else if (k === 1) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end();
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>oops</html>');
    }
  });
  t.teardown(() => server.close());
  const o = options(url);
  t.teardown(() => o.pool.close());
  const a = await sendRequest(o, req(), systemClock.monoNs(), () => {});
  const b = await sendRequest(o, req(), systemClock.monoNs(), () => {});
  const c = await sendRequest(o, req(), systemClock.monoNs(), () => {});
  t.equal(a.record.outcome, 'empty', 'no event ever dispatched');
  t.equal(b.record.outcome, 'empty');
  t.equal(c.record.outcome, 'malformed');
});

t.test('connection refused is a connect error', async (t) => {
  const { url, server } = await serve(() => {});
  await new Promise<void>((r) => server.close(() => r()));
  const o = options(url);
  t.teardown(() => o.pool.destroy());
  const { record } = await sendRequest(o, req(), systemClock.monoNs(), () => {});
  t.equal(record.outcome, 'connect');
});

t.test('non-streamed response: no TTFT, tokens from usage', async (t) => {
  const { url, server } = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'hello there' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 2 } }));
  });
  t.teardown(() => server.close());
  const o = options(url);
  t.teardown(() => o.pool.close());
  const { record } = await sendRequest(o, req(false), systemClock.monoNs(), () => {});
  t.equal(record.outcome, 'ok');
  t.equal(record.firstTokenAt, undefined);
  t.ok(record.lastTokenAt !== undefined);
  t.equal(record.outputTokens, 2);
});

t.test('cancellation by llmsoak ends as cancelled', async (t) => {
  const { url, server } = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(roleChunk);
  });
  t.teardown(() => server.closeAllConnections());
  t.teardown(() => server.close());
  const o = options(url);
  t.teardown(() => o.pool.destroy());
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const { record } = await sendRequest(o, req(), systemClock.monoNs(), () => {}, ac.signal);
  t.equal(record.outcome, 'cancelled');
});

t.test('a role-only first chunk does not set TTFT: the first content does', async (t) => {
  const ROLE_LEAD_MS = 150;
  const { url, server } = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(roleChunk);
    setTimeout(() => res.end(chunk(' late') + finalChunk + 'data: [DONE]\n\n'), ROLE_LEAD_MS);
  });
  t.teardown(() => server.close());
  const o = options(url);
  t.teardown(() => o.pool.close());
  const { record } = await sendRequest(o, req(), systemClock.monoNs(), () => {});
  t.equal(record.outcome, 'ok');
  t.equal(record.contentChunks, 1);
  const ttftMs = Number((record.firstTokenAt ?? 0n) - record.sentAt) / 1e6;
  t.ok(ttftMs >= ROLE_LEAD_MS * 0.9, `TTFT ${ttftMs.toFixed(1)} ms: from the content, not the role chunk ${ROLE_LEAD_MS} ms before it`);
});

t.test('stream endings classified one way: [DONE] with spaces, a non-JSON error event, an unterminated last event', async (t) => {
  const cases: { name: string; body: string; outcome: string; chunks: number }[] = [
    { name: '[DONE] with spaces ends a stream without finish_reason', body: chunk(' a') + 'data:  [DONE] \n\n', outcome: 'ok', chunks: 1 },
    { name: 'a non-JSON event: error is the server cutting the stream', body: chunk(' a') + 'event: error\ndata: upstream died\n\n', outcome: 'stream_cut', chunks: 1 },
    { name: 'a JSON event: error is the same', body: chunk(' a') + `event: error\ndata: ${JSON.stringify({ message: 'died' })}\n\n`, outcome: 'stream_cut', chunks: 1 },
    { name: 'an unterminated [DONE] after finish_reason: complete', body: chunk(' a') + finalChunk + 'data: [DONE]', outcome: 'ok', chunks: 1 },
    { name: 'an unterminated [DONE] with no finish_reason: cut', body: chunk(' a') + 'data: [DONE]', outcome: 'stream_cut', chunks: 1 },
    { name: 'an unterminated content event is not a token', body: chunk(' a') + finalChunk + chunk(' b').trimEnd(), outcome: 'ok', chunks: 1 },
  ];
  for (const c of cases) {
    const { url, server } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(roleChunk + c.body);
    });
    const o = options(url);
    const { record } = await sendRequest(o, req(), systemClock.monoNs(), () => {});
    await o.pool.close();
    server.close();
    t.equal(record.outcome, c.outcome, `${c.name}: ${c.outcome}`);
    t.equal(record.contentChunks, c.chunks, `${c.name}: ${c.chunks} content chunk(s)`);
  }
});

t.test('contentDelta reads a plain content delta from the text and leaves everything else to JSON.parse', async (t) => {
  const parsedContent = (data: string): string | undefined => {
    const o = JSON.parse(data) as { choices?: { delta?: { content?: unknown } }[] };
    const c = o.choices?.[0]?.delta?.content;
    return typeof c === 'string' && c.length > 0 ? c : undefined;
  };
  const plain = [' one', 'é and "quotes" \\ and\nnewlines', 'a\ttab \u0001', '"delta":{"content":"x"', '"usage"'];
  for (const text of plain) {
    const data = JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: text }, finish_reason: null }] });
    t.same(contentDelta(data), { text, finished: false }, `content ${JSON.stringify(text)} read as JSON.parse reads it`);
    t.equal(contentDelta(data)?.text, parsedContent(data));
  }
  const last = JSON.stringify({ choices: [{ index: 0, delta: { content: 'end' }, finish_reason: 'stop' }] });
  t.same(contentDelta(last), { text: 'end', finished: true }, 'a finish_reason is seen');
  const slow = [
    JSON.stringify({ choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] }),
    JSON.stringify({ choices: [{ index: 0, delta: { content: '' } }] }),
    JSON.stringify({ choices: [{ index: 0, delta: { content: 'x' } }], usage: { prompt_tokens: 1, completion_tokens: 1 } }),
    JSON.stringify({ choices: [{ index: 0, delta: { reasoning_content: 'think' } }] }),
    JSON.stringify({ choices: [{ index: 0, delta: { content: 'x', tool_calls: [{ index: 0 }] } }] }),
    JSON.stringify({
      choices: [
        { index: 0, delta: { content: 'a' } },
        { index: 1, delta: { content: 'b' } },
      ],
    }),
    JSON.stringify({ error: { message: 'x' }, choices: [{ index: 0, delta: { content: 'x' } }] }),
    '{"choices": [{"delta": {"content": "spaced"}}]}',
    '{"choices":[{"delta":{"content":"unterminated',
    '[DONE]',
  ];
  for (const data of slow) t.equal(contentDelta(data), undefined, `left to JSON.parse: ${data.slice(0, 60)}`);
});
