/**
 * A hostile OpenAI-compatible target on loopback, for the hostile-world tests
 * and the self-soak: per request it picks one behaviour from a weighted mix
 * (deterministic sequence from a seed) and counts what it did, so a test can
 * check that every request ended in the class its behaviour deserves.
 *
 * `GET /v1/models` always answers properly (model "hostile"); `/metrics` is a
 * 404 (a target without metrics). It can be stopped and started again on the
 * same port (a target that refuses connections for a while).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ErrorClass } from '../src/types.js';
import { seededRandom } from '../src/analyzer/stats.js';

export type Behaviour =
  | 'ok' // a proper stream with usage and [DONE]
  | 'ok_then_close' // a proper stream, then the keep-alive socket is closed unannounced
  | 'garbage' // 200 text/event-stream, an HTML page: no event at all
  | 'no_headers' // never answers
  | 'stall' // headers and a role chunk, then silence forever
  | 'drip' // one byte a second, forever
  | 'reset' // a few tokens, then a TCP reset
  | 'cut' // a few tokens, then a clean close without [DONE]
  | 'huge_json' // a 10 MB JSON body
  | 'huge_sse_line' // 10 MB of event stream without a line break
  | 'endless' // content chunks forever
  | 'wrong_type' // 200 text/html
  | 'bad_json' // an SSE event whose data is not JSON
  | 'error_event' // an error object mid-stream
  | 'http_429'
  | 'http_500'
  | 'http_503';

/** The class each behaviour must end in (given the test's timeouts: headers < idle < total, drip gap < idle). */
export const EXPECTED: Record<Behaviour, ErrorClass | 'ok'> = {
  ok: 'ok',
  ok_then_close: 'ok',
  garbage: 'empty',
  no_headers: 'timeout_headers',
  stall: 'timeout_idle',
  drip: 'timeout_total',
  reset: 'stream_cut',
  cut: 'stream_cut',
  huge_json: 'malformed',
  huge_sse_line: 'malformed',
  endless: 'timeout_total',
  wrong_type: 'malformed',
  bad_json: 'malformed',
  error_event: 'stream_cut',
  http_429: 'http_429',
  http_500: 'http_5xx',
  http_503: 'http_5xx',
};

export interface HostileServer {
  url: string;
  port: number;
  /** Requests handled, by behaviour. */
  readonly counts: Record<string, number>;
  /** POST requests whose handler ran. */
  handled(): number;
  /** Stop listening and drop every connection (the target goes away; connects are refused). */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const TEN_MB = Buffer.alloc(10 * 1024 * 1024, 0x61);
const HUGE_JSON = Buffer.concat([Buffer.from('{"choices":[{"index":0,"message":{"role":"assistant","content":"'), TEN_MB, Buffer.from('"}}]}')]);

function chunk(content: string): string {
  return `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', model: 'hostile', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
}
const ROLE = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] })}\n\n`;
const FINAL = `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'length' }] })}\n\n`;
const usage = (n: number) => `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 10, completion_tokens: n, total_tokens: 10 + n } })}\n\n`;

export interface HostileServerOptions {
  mix: Partial<Record<Behaviour, number>>;
  seed?: number;
  port?: number;
  okTokens?: number;
}

export async function startHostileServer(opts: HostileServerOptions): Promise<HostileServer> {
  const entries = Object.entries(opts.mix).filter(([, w]) => (w ?? 0) > 0) as [Behaviour, number][];
  const total = entries.reduce((a, [, w]) => a + w, 0);
  const next = seededRandom(opts.seed ?? 7);
  const pick = (): Behaviour => {
    let x = next() * total;
    for (const [b, w] of entries) {
      x -= w;
      if (x < 0) return b;
    }
    return (entries[entries.length - 1] as [Behaviour, number])[0];
  };
  const counts: Record<string, number> = {};
  let handled = 0;
  const okTokens = opts.okTokens ?? 8;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const every = (ms: number, fn: () => void, res: ServerResponse) => {
    const iv = setInterval(fn, ms);
    timers.add(iv);
    const clear = () => {
      clearInterval(iv);
      timers.delete(iv);
    };
    res.on('close', clear);
    return clear;
  };

  const behave = (b: Behaviour, req: IncomingMessage, res: ServerResponse) => {
    const sse = () => res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    switch (b) {
      case 'ok':
      case 'ok_then_close': {
        sse();
        let body = ROLE;
        for (let i = 0; i < okTokens; i++) body += chunk(` w${i}`);
        body += FINAL + usage(okTokens) + 'data: [DONE]\n\n';
        if (b === 'ok_then_close') res.on('finish', () => req.socket.destroy());
        res.end(body);
        return;
      }
      case 'garbage':
        sse();
        res.end('<html><body>502 Bad Gateway</body></html>');
        return;
      case 'no_headers':
        return; // never answer
      case 'stall':
        sse();
        res.write(ROLE + chunk(' a'));
        return;
      case 'drip': {
        sse();
        res.flushHeaders(); // headers now; then the body one byte a second
        const text = Buffer.from(ROLE + chunk(' drip') + chunk(' drip'));
        let i = 0;
        every(1000, () => res.write(text.subarray(i, ++i)), res);
        return;
      }
      case 'reset':
        sse();
        res.write(ROLE + chunk(' p') + chunk(' q'));
        setTimeout(() => req.socket.resetAndDestroy(), 20);
        return;
      case 'cut':
        sse();
        res.end(ROLE + chunk(' p') + chunk(' q'));
        return;
      case 'huge_json':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(HUGE_JSON);
        return;
      case 'huge_sse_line':
        sse();
        res.end(TEN_MB);
        return;
      case 'endless':
        sse();
        res.write(ROLE);
        every(5, () => res.write(chunk(' more')), res);
        return;
      case 'wrong_type':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>maintenance</html>');
        return;
      case 'bad_json':
        sse();
        res.end(ROLE + chunk(' x') + 'data: {"choices": [oops\n\n' + FINAL + 'data: [DONE]\n\n');
        return;
      case 'error_event':
        sse();
        res.end(ROLE + chunk(' x') + `data: ${JSON.stringify({ error: { message: 'engine died', type: 'internal_error' } })}\n\n`);
        return;
      case 'http_429':
      case 'http_500':
      case 'http_503': {
        const status = Number(b.slice(5));
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'no', type: 'x', code: status } }));
        return;
      }
    }
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && req.url?.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'hostile', object: 'model' }] }));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(404);
      res.end();
      return;
    }
    req.resume();
    req.on('end', () => {
      const b = pick();
      counts[b] = (counts[b] ?? 0) + 1;
      handled++;
      behave(b, req, res);
    });
  };

  let server: Server = createServer(handler);
  const port0 = opts.port ?? 0;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server = createServer(handler);
      server.keepAliveTimeout = 30_000;
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen(port0);
  const stop = async () => {
    for (const t of timers) clearInterval(t);
    timers.clear();
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    await closed;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    counts,
    handled: () => handled,
    stop,
    start: async () => {
      await listen(port);
    },
    close: stop,
  };
}
