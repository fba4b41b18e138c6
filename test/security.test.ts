/**
 * Running llmsoak safely: the bearer token on everything that changes
 * anything (and on /metrics and /api when asked), TLS, the body limit,
 * bounded label values, and a planted sentinel API key that must never
 * appear in logs, metrics, /api output, the status page, checkpoints or
 * error messages, even when a hostile target echoes it back.
 */
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Agent, request } from 'undici';
import { Registry } from 'prom-client';
import { buildApp } from '../src/server/app.js';
import { AUTH_ERRORS, bearerMatches, isLoopbackHost } from '../src/server/auth.js';
import { createHash } from 'node:crypto';
import { loadConfig } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';
import { Daemon } from '../src/daemon.js';
import { createLogger, silentLogger } from '../src/log.js';
import { BoundedLabel, OTHER_LABEL_VALUE } from '../src/metrics/bounded-label.js';
import { Recorder } from '../src/metrics/recorder.js';
import { systemClock } from '../src/clock.js';
import { SecretScrubber, configSecrets } from '../src/security/secrets.js';
import { ROOT } from './helpers.js';
import { readCheckpointFile } from '../src/state/checkpoint-file.js';

const TOKEN = 'test-token-0123456789abcdef';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function app(auth: { token?: string; protectMetrics?: boolean; protectApi?: boolean; loopbackOnly?: boolean }, bodyLimit?: number) {
  const a = buildApp({
    registry: new Registry(),
    logger: silentLogger(),
    ready: () => true,
    status: () => ({ ok: true }),
    auth: { protectMetrics: false, protectApi: false, loopbackOnly: false, ...auth },
    ...(bodyLimit !== undefined ? { bodyLimit } : {}),
  });
  // Mutating routes other modules add later (rate, mode, ramps, faults) are covered by the same hook.
  a.post('/api/rate', async () => ({ changed: true }));
  a.delete('/api/faults', async () => ({ cleared: true }));
  return a;
}

t.test('the token guards every mutating request; reads stay open unless asked', async (t) => {
  const a = app({ token: TOKEN });
  t.teardown(() => a.close());
  const none = await a.inject({ method: 'POST', url: '/api/rate', payload: { rate: 5 } });
  t.equal(none.statusCode, 401);
  t.equal(none.headers['www-authenticate'], 'Bearer realm="llmsoak"');
  const body = none.json() as { error: string; code: string };
  t.equal(body.code, AUTH_ERRORS.unauthorized);
  t.notOk(none.body.includes('\n'), 'one line of JSON');
  t.equal((await a.inject({ method: 'POST', url: '/api/rate', headers: { authorization: 'Bearer wrong-token-0123456789' }, payload: {} })).statusCode, 401);
  t.equal((await a.inject({ method: 'POST', url: '/api/rate', headers: { authorization: TOKEN }, payload: {} })).statusCode, 401, 'no Bearer scheme');
  t.equal((await a.inject({ method: 'DELETE', url: '/api/faults' })).statusCode, 401);
  t.equal((await a.inject({ method: 'POST', url: '/api/nowhere' })).statusCode, 401, 'unknown mutating paths too: nothing learned without a token');
  const ok = await a.inject({ method: 'POST', url: '/api/rate', headers: { authorization: `Bearer ${TOKEN}` }, payload: { rate: 5 } });
  t.equal(ok.statusCode, 200);
  t.same(ok.json(), { changed: true });
  t.equal((await a.inject({ method: 'POST', url: '/api/rate?x=1', headers: { authorization: `bearer ${TOKEN}` }, payload: {} })).statusCode, 200, 'scheme is case-insensitive');
  for (const url of ['/metrics', '/healthz', '/readyz', '/api/status']) t.equal((await a.inject({ url })).statusCode, 200, `GET ${url} open`);
});

t.test('protectMetrics and protectApi; probes are never protected', async (t) => {
  const a = app({ token: TOKEN, protectMetrics: true, protectApi: true });
  t.teardown(() => a.close());
  for (const url of ['/metrics', '/api/status', '/api/hints', '/']) {
    t.equal((await a.inject({ url })).statusCode, 401, `GET ${url} needs the token`);
    t.equal((await a.inject({ url, headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 200, `GET ${url} with the token`);
  }
  t.equal((await a.inject({ method: 'HEAD', url: '/metrics' })).statusCode, 401, 'HEAD like GET');
  for (const url of ['/healthz', '/readyz']) t.equal((await a.inject({ url })).statusCode, 200, `${url} open for probes`);
  const m = app({ token: TOKEN, protectMetrics: true });
  t.teardown(() => m.close());
  t.equal((await m.inject({ url: '/metrics' })).statusCode, 401);
  t.equal((await m.inject({ url: '/api/status' })).statusCode, 200, 'only /metrics');
});

t.test('no token: changes refused on a network address, allowed on loopback only', async (t) => {
  const open = app({ loopbackOnly: false });
  t.teardown(() => open.close());
  const r = await open.inject({ method: 'POST', url: '/api/rate', payload: {} });
  t.equal(r.statusCode, 403);
  t.equal((r.json() as { code: string }).code, AUTH_ERRORS.disabled);
  t.equal((await open.inject({ url: '/metrics' })).statusCode, 200);
  const local = app({ loopbackOnly: true });
  t.teardown(() => local.close());
  t.equal((await local.inject({ method: 'POST', url: '/api/rate', payload: {} })).statusCode, 200);
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) t.ok(isLoopbackHost(h), `${h} is loopback`);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com']) t.notOk(isLoopbackHost(h), `${h} is not`);
});

t.test('bearer comparison: exact token only', async (t) => {
  const d = createHash('sha256').update(TOKEN).digest();
  t.ok(bearerMatches(`Bearer ${TOKEN}`, d));
  t.ok(bearerMatches(`Bearer   ${TOKEN}`, d));
  t.notOk(bearerMatches(`Bearer ${TOKEN}x`, d));
  t.notOk(bearerMatches(`Bearer ${TOKEN.slice(0, -1)}`, d));
  t.notOk(bearerMatches(`Basic ${TOKEN}`, d));
  t.notOk(bearerMatches('Bearer', d));
  t.notOk(bearerMatches(undefined, d));
});

t.test('request bodies are size-limited', async (t) => {
  const a = app({ token: TOKEN }, 2048);
  t.teardown(() => a.close());
  const big = await a.inject({
    method: 'POST',
    url: '/api/rate',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ pad: 'x'.repeat(4096) }),
  });
  t.equal(big.statusCode, 413);
  const small = await a.inject({
    method: 'POST',
    url: '/api/rate',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ pad: 'x'.repeat(100) }),
  });
  t.equal(small.statusCode, 200);
  const unauth = await a.inject({ method: 'POST', url: '/api/rate', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ pad: 'x'.repeat(4096) }) });
  t.equal(unauth.statusCode, 401, 'authentication is checked before the body is read');
});

t.test('TLS: HTTPS with the configured certificate; plain HTTP is not answered', async (t) => {
  const cert = readFileSync(join(ROOT, 'test/fixtures/tls/cert.pem'));
  const key = readFileSync(join(ROOT, 'test/fixtures/tls/key.pem'));
  const a = buildApp({
    registry: new Registry(),
    logger: silentLogger(),
    ready: () => true,
    status: () => ({}),
    https: { cert, key },
    auth: { token: TOKEN, protectMetrics: true, protectApi: false, loopbackOnly: true },
  });
  await a.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => a.close());
  const port = (a.server.address() as AddressInfo).port;
  const agent = new Agent({ connect: { ca: cert } });
  t.teardown(() => agent.close());
  const res = await request(`https://127.0.0.1:${port}/metrics`, { dispatcher: agent, headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(res.statusCode, 200);
  await res.body.text();
  const untrusted = new Agent();
  t.teardown(() => untrusted.close());
  await t.rejects(request(`https://127.0.0.1:${port}/healthz`, { dispatcher: untrusted }), 'an unknown certificate is refused by a verifying client');
  await t.rejects(
    request(`http://127.0.0.1:${port}/healthz`, { headersTimeout: 2000, bodyTimeout: 2000 }).then((r) =>
      r.body.text().then(() => (r.statusCode === 200 ? Promise.resolve() : Promise.reject(new Error(`status ${r.statusCode}`)))),
    ),
    'plain HTTP gets no answer',
  );
});

t.test('config: protect* need a token; a short token is refused without echoing it', async (t) => {
  const bad = (document: unknown) => {
    try {
      loadConfig({ document });
      return [];
    } catch (err) {
      return err instanceof ConfigError ? err.problems : [String(err)];
    }
  };
  t.match(bad({ server: { auth: { protectMetrics: true } } }), [/server\.auth\.protectMetrics: needs server\.auth\.token/]);
  const short = bad({ server: { auth: { token: 'shortSECRET' } } });
  t.match(short, [/server\.auth\.token/]);
  t.notOk(short.join(' ').includes('shortSECRET'), 'the value is not in the message');
  t.match(bad({ server: { tls: { certFile: 'a.pem' } } }), [/server\.tls\.keyFile: is required/]);
  const { warnings } = loadConfig({ document: { server: { listen: '0.0.0.0:9477' } } });
  t.match(warnings.join('\n'), /server\.auth\.token: not set/);
  t.same(
    loadConfig({ document: { server: { listen: '127.0.0.1:9477' } } }).warnings.filter((w) => w.startsWith('server.')),
    [],
  );
  const daemon = new Daemon(
    loadConfig({ document: { target: { url: 'http://127.0.0.1:9/v1' }, server: { listen: '127.0.0.1:0', tls: { certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' } } } }).config,
    { logger: silentLogger() },
  );
  await t.rejects(daemon.start(), { code: 'LLMSOAK_ERR_LISTEN', message: /cannot read server\.tls\.certFile \/nonexistent\/cert\.pem: ENOENT/ });
  await daemon.stop('test');
});

t.test('label values are bounded per label; extra values fold into other', async (t) => {
  let folds = 0;
  const b = new BoundedLabel('model', 3, 16, () => folds++);
  t.same(
    ['a', 'b', 'a', 'c', 'd', 'e', 'b'].map((v) => b.value(v)),
    ['a', 'b', 'a', 'c', OTHER_LABEL_VALUE, OTHER_LABEL_VALUE, 'b'],
  );
  t.equal(b.value('x'.repeat(100)), OTHER_LABEL_VALUE);
  t.equal(folds, 1, 'the first fold is reported once');
  t.equal(b.foldedCount, 3);
  t.equal(new BoundedLabel('m', 2, 16).value('y'.repeat(100)), 'y'.repeat(16), 'long values are cut');

  const reg = new Registry();
  const rec = new Recorder(reg, {
    slo: { ttftMs: 1000, tpotMs: 100, e2eMs: 10000, maxErrorRate: 0.01, minGoodRatio: 0.95, minAchievedRatio: 0.9 },
    windowMs: 60000,
    clock: systemClock,
    maxLabelValues: 4,
  });
  for (let i = 0; i < 50; i++) rec.scenario(`replayed_scenario_${i}`, 'chat', `model-${i % 7}`);
  const scenarios = new Set<string>();
  const models = new Set<string>();
  for (const v of (await reg.getSingleMetric('llmsoak_good_requests_total')?.get())?.values ?? []) {
    scenarios.add(String(v.labels.scenario));
    models.add(String(v.labels.model));
  }
  t.equal(scenarios.size, 5, `4 scenario values + other (${[...scenarios].join(', ')})`);
  t.ok(scenarios.has(OTHER_LABEL_VALUE));
  t.equal(models.size, 5, '4 model values + other');
});

/** A target that echoes every secret it is given: in error bodies, model names and its /metrics. */
async function leakyTarget(sentinel: string): Promise<{ url: string; close: () => Promise<void> }> {
  let n = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const auth = String(req.headers.authorization ?? '');
    if (req.url?.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: [{ id: `model-of-${auth.replace('Bearer ', '')}` }] }));
      return;
    }
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      let text = '# TYPE vllm:num_requests_waiting gauge\n# TYPE vllm:num_requests_running gauge\n# TYPE vllm:kv_cache_usage_perc gauge\n';
      for (let i = 0; i < 40; i++) {
        const model = i === 0 ? sentinel : `model-${i}`;
        text += `vllm:num_requests_waiting{model_name="${model}"} ${i}\nvllm:num_requests_running{model_name="${model}"} 1\nvllm:kv_cache_usage_perc{model_name="${model}"} 0.5\n`;
      }
      res.end(text);
      return;
    }
    req.resume();
    req.on('end', () => {
      const k = n++ % 3;
      if (k === 0) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `invalid api key: ${auth}`, type: 'auth' } }));
      } else if (k === 1) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: ` you sent ${auth}` } }] })}\n\ndata: ${JSON.stringify({ error: { message: auth } })}\n\n`);
      } else {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(
          `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: auth } }] })}\n\ndata: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 2 } })}\n\ndata: [DONE]\n\n`,
        );
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

t.test('a planted sentinel key never appears in any output', async (t) => {
  const SENTINEL = 'sk-SENTINEL-9f8e7d6c5b4a';
  const URLPASS = 'urlpass-SENTINEL-77';
  const target = await leakyTarget(SENTINEL);
  t.teardown(() => target.close());
  const dataDir = mkdtempSync(join(tmpdir(), 'llmsoak-sec-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = { TARGET_KEY: SENTINEL, SERVER_TOKEN: TOKEN };
  const { config } = loadConfig({
    env,
    document: {
      target: {
        url: `http://user:${URLPASS}@${target.url.slice('http://'.length)}/v1`,
        apiKey: '${env:TARGET_KEY}',
        metricsUrl: `${target.url}/metrics`,
        timeouts: { connectMs: 1000, headersMs: 1000, idleMs: 1000, totalMs: 2000 },
      },
      server: { listen: '127.0.0.1:0', auth: { token: '${env:SERVER_TOKEN}' } },
      traffic: { rate: 20, seed: 1, scenarios: [{ name: 'leak_probe', endpoint: 'chat', prompt: { dist: 'fixed', value: 8 }, output: { dist: 'fixed', value: 4 } }] },
      run: { dataDir, checkpointIntervalSec: 1 },
      report: { dir: join(dataDir, 'reports') },
      collectors: { intervalMs: 500, gpu: { enabled: false }, server: { maxModels: 5 } },
      analyzer: { stepSec: 1, intervalSec: 1, windowSec: 4, warmupSec: 0, baselineSec: 2 },
      log: { level: 'trace' },
    },
  });
  let logs = '';
  const stream = new Writable({
    write(c: Buffer, _e, cb) {
      logs += c.toString();
      cb();
    },
  });
  const logger = createLogger('trace', stream, configSecrets(config));
  const daemon = new Daemon(config, { logger, checkpoints: true, finalReport: true });
  await daemon.start();
  await sleep(3500);
  const base = daemon.listenUrl;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const outputs: Record<string, string> = {};
  for (const path of ['/metrics', '/api/status', '/api/hints', '/', '/api/reports', '/api/schedules', '/nonexistent']) {
    const res = await request(`${base}${path}`, { headers: auth });
    outputs[path] = await res.body.text();
  }
  const metrics = outputs['/metrics'] as string;
  const waiting = metrics.split('\n').filter((l) => l.startsWith('llmsoak_server_requests_waiting{'));
  t.ok(waiting.length > 0 && waiting.length <= 6, `target model labels bounded: ${waiting.length} series (maxModels 5 + other)`);
  t.match(metrics, /llmsoak_server_requests_waiting\{[^}]*model="other"/);
  await daemon.stop('test');
  await new Promise<void>((r) => logger.flush(() => r()));

  const everything: Record<string, string> = { ...outputs, logs };
  for (const f of filesUnder(dataDir)) {
    everything[f] = readFileSync(f).toString('latin1');
    if (!f.endsWith('checkpoint')) continue;
    // Checkpoints are compressed: search what is inside, JSON and blobs.
    const c = await readCheckpointFile(f);
    for (const [name, sec] of c.sections) {
      everything[`${f} section ${name}`] = JSON.stringify(sec.json) + (sec.blobs ?? []).map((b) => Buffer.from(b).toString('latin1')).join('');
    }
  }
  t.ok(
    Object.keys(everything).some((k) => k.includes('section store')),
    'a checkpoint was written and searched',
  );
  t.match(everything[`${join(dataDir, 'checkpoint')} section store`], /\[redacted\]/, 'the label value the target planted is scrubbed in the checkpoint too');
  t.ok(logs.length > 1000, `logs searched (${logs.length} bytes)`);
  for (const [where, text] of Object.entries(everything)) {
    t.notOk(text.includes(SENTINEL), `API key not in ${where}`);
    t.notOk(text.includes(URLPASS), `URL password not in ${where}`);
    t.notOk(text.includes(TOKEN), `server token not in ${where}`);
  }
  t.match(logs, /\[redacted\]/, 'the places it would have been say [redacted]');
  // The leak paths were really exercised: the target put the key into a model label and the model id, the URL carried a password.
  t.match(outputs['/metrics'], /model="\[redacted\]"/, 'the key echoed as a label value by the target is scrubbed from /metrics');
  t.match(outputs['/api/status'], /model-of-\[redacted\]/, 'the key echoed in the model id is scrubbed from /api/status');
  t.match(outputs['/api/status'], /http:\/\/\[redacted\]@127\.0\.0\.1/, 'the URL credentials are left out of /api/status');
  // The failures (the server's own words) and the preflight were exercised: the key the target echoed in error bodies is scrubbed there too.
  const status = JSON.parse(outputs['/api/status'] as string) as { failures: { message: string }[]; preflight: { models: { ids: string[] } } | null };
  t.ok(
    status.failures.some((f) => f.message === '401 Unauthorized: invalid api key: Bearer [redacted]'),
    'the 401 body echoing the key, scrubbed in the failures',
  );
  t.ok(
    status.failures.some((f) => f.message.startsWith('error event mid-stream: Bearer [redacted]')),
    'the mid-stream error echoing the key, scrubbed',
  );
  t.same(status.preflight?.models.ids, ['model-of-[redacted]'], 'the preflight ran, its model ids scrubbed');
  t.match(outputs['/'], /invalid api key: Bearer \[redacted\]/, 'the status page shows the failures, scrubbed');
  const report = Object.keys(everything).find((k) => k.endsWith('.md') && k.includes('reports'));
  t.ok(report, 'a final report was written and searched');
  t.match(everything[report as string], /invalid api key: Bearer \[redacted\]/, "the report's failures table, scrubbed");
});

t.test('the scrubber itself', async (t) => {
  const s = new SecretScrubber(['abcdef123', 'abc', 'abcdef123456']);
  t.equal(s.scrub('x abcdef123456 y abcdef123 z abc'), 'x [redacted] y [redacted] z abc', 'longest first; too-short values left alone');
  t.equal(s.scrubBuffer(Buffer.from('nothing here')).toString(), 'nothing here');
  t.equal(s.scrubBuffer(Buffer.from('k=abcdef123')).toString(), 'k=[redacted]');
});
