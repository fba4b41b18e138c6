/**
 * First contact with a server we did not write (@dwmkerr/mock-llm, see
 * ./mock-llm.ts): the preflight names the endpoints it lacks and the usage it
 * does not send; the default policy skips the scenarios that need them (and
 * they are never sent); the soak's failures carry the server's own 500
 * message in /api/status, the status page and every report; check-target
 * exits 1; onMissingEndpoint: fail stops the daemon with exit 1.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { runCli, waitFor } from './helpers.js';
import { startMockLlm, type MockLlm } from './mock-llm.js';

const SERVER_500 = 'Bad control character in string literal in JSON';

let mock: MockLlm;
t.before(async () => {
  mock = await startMockLlm();
});
t.teardown(() => mock.stop());

t.test('check-target names what mock-llm lacks and exits 1', async (t) => {
  const r = await runCli(['check-target', '--target', mock.url], { timeoutMs: 30_000 });
  t.equal(r.code, 1, `exit 1 (stderr: ${r.stderr.slice(0, 300)})`);
  const out = r.stdout;
  t.match(out, /POST \/v1\/completions\s+FAIL\s+404 Not Found: Cannot POST \/v1\/completions/, "the missing completions endpoint, in the server's words");
  t.match(out, /POST \/v1\/embeddings\s+FAIL\s+404 Not Found: Cannot POST \/v1\/embeddings/, 'the missing embeddings endpoint');
  t.match(out, /POST \/v1\/chat\/completions \(stream\)\s+ok/, 'streamed chat works');
  t.match(out, /usage in streams\s+WARN/, 'the missing usage');
  t.match(out, /\/metrics dialect\s+WARN\s+none/, 'no /metrics');
  t.match(out, /scenarios: .*completion_batch SKIPPED.*embeddings SKIPPED/, 'the skipped scenarios are named');
  t.match(out, /will not work: streams ignore stream_options\.include_usage/);
  t.match(out, /llmsoak run would skip completion_batch, embeddings/);
  const json = await runCli(['check-target', '--target', mock.url, '--json'], { timeoutMs: 30_000 });
  t.equal(json.code, 1);
  const result = JSON.parse(json.stdout) as { ok: boolean; scenarios: { name: string; missing: boolean }[]; endpoints: { path: string; message?: string }[] };
  t.equal(result.ok, false, '--json: the same result as an object');
  t.same(
    result.scenarios.filter((s) => s.missing).map((s) => s.name),
    ['completion_batch', 'embeddings'],
  );
  t.equal(result.endpoints.find((e) => e.path === '/v1/embeddings')?.message, '404 Not Found: Cannot POST /v1/embeddings');
});

t.test("the soak against mock-llm: scenarios skipped, and the server's own words for its 500s everywhere", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-mockllm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { config } = loadConfig({
    document: {
      target: { url: mock.url },
      server: { listen: '127.0.0.1:0' },
      traffic: { rate: 10, seed: 19 },
      run: { dataDir: join(dir, 'data') },
      report: { dir: join(dir, 'reports') },
      collectors: { gpu: { enabled: false } },
      log: { level: 'silent' },
    },
  });
  const count = (prefix: string) => mock.requests().filter((l) => l.startsWith(prefix)).length;
  const before = { completions: count('POST /v1/completions'), embeddings: count('POST /v1/embeddings') };
  const daemon = new Daemon(config, { logger: silentLogger(), finalReport: true });
  t.teardown(() => daemon.stop('test teardown'));
  await daemon.start();

  const pf = daemon.preflightReport;
  t.ok(pf, 'the preflight ran at start');
  t.same(
    pf?.scenarios
      .filter((s) => s.action === 'skipped')
      .map((s) => s.name)
      .sort(),
    ['completion_batch', 'embeddings'],
    'skipped: the scenarios whose endpoint is missing',
  );
  t.ok(
    pf?.problems.some((p) => p.includes('include_usage')),
    'the missing usage is a problem line',
  );

  // The soak sends multi-line prompts: mock-llm answers 500 to them.
  const sample = await waitFor(async () => daemon.failureSamples?.snapshot().find((f) => f.message.includes(SERVER_500)), 30_000);
  t.equal(sample.class, 'http_5xx');
  t.match(sample.message, /^500 Internal Server Error: Bad control character in string literal in JSON/);

  const base = daemon.listenUrl;
  const status = (await (await request(`${base}/api/status`)).body.json()) as { preflight: { scenarios: { name: string; action: string }[] }; failures: { message: string }[] };
  t.ok(
    status.preflight.scenarios.some((s) => s.name === 'embeddings' && s.action === 'skipped'),
    '/api/status carries the preflight',
  );
  t.ok(
    status.failures.some((f) => f.message.includes(SERVER_500)),
    '/api/status carries the failures',
  );
  const page = await (await request(`${base}/`)).body.text();
  t.match(page, /Failures in the server&#39;s words|Failures in the server's words/, 'the status page has the failures table');
  t.ok(page.includes(SERVER_500), "with the server's message");

  await daemon.stop('test');
  const reports = readdirSync(join(dir, 'reports'));
  for (const ext of ['json', 'md', 'html']) {
    const f = reports.find((n) => n.endsWith(`.${ext}`));
    t.ok(f, `a ${ext} report`);
    const text = readFileSync(join(dir, 'reports', f as string), 'utf8');
    t.ok(text.includes(SERVER_500), `the ${ext} report quotes the server's 500`);
  }
  const json = JSON.parse(readFileSync(join(dir, 'reports', reports.find((n) => n.endsWith('.json')) as string), 'utf8')) as { failures?: { scenario: string; class: string; count: number }[] };
  t.ok(
    (json.failures ?? []).every((f) => f.count > 0 && f.class !== ''),
    'JSON failures carry class and count',
  );
  // Skipped means never sent: the only requests to the missing endpoints were the preflight's own.
  t.equal(count('POST /v1/completions') - before.completions, 1, "one POST /v1/completions: the preflight's");
  t.equal(count('POST /v1/embeddings') - before.embeddings, 1, "one POST /v1/embeddings: the preflight's");
  t.ok(count('POST /v1/chat/completions') > 5, 'the chat scenarios were sent');
});

t.test('preflight.onMissingEndpoint: fail stops llmsoak run with one clear line and exit 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-mockllm-fail-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await runCli(['run', '--target', mock.url, '--listen', '127.0.0.1:0', '--duration', '5'], {
    env: {
      PATH: process.env.PATH ?? '',
      LLMSOAK_PREFLIGHT__ON_MISSING_ENDPOINT: 'fail',
      LLMSOAK_RUN__DATA_DIR: join(dir, 'data'),
      LLMSOAK_REPORT__DIR: join(dir, 'reports'),
      LLMSOAK_LOG__LEVEL: 'warn',
      LLMSOAK_COLLECTORS__GPU__ENABLED: 'false',
    },
    timeoutMs: 30_000,
  });
  t.equal(r.code, 1, 'exit 1');
  t.match(
    r.stderr,
    /^llmsoak: preflight: scenarios completion_batch, embeddings need an endpoint the target does not have \(.*Cannot POST \/v1\/completions.*\); preflight\.onMissingEndpoint is fail/m,
    'one line naming the scenarios and why',
  );
  t.match(r.stderr, /POST \/v1\/embeddings\s+FAIL/, 'the table was printed too');
});
