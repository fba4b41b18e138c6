/**
 * The preflight: what its answers mean (judge, pure), the onMissingEndpoint
 * policy, the config, check-target's exit codes on bad input, and a clean
 * pass on the built-in simulator (in the daemon and in check-target).
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import type { ScenarioConfig } from '../src/config/types.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { judge, lengthHonoured, type JudgeInput } from '../src/preflight/judge.js';
import { applyMissingEndpointPolicy } from '../src/preflight/policy.js';
import { probePlan } from '../src/preflight/run.js';
import { renderPreflight } from '../src/preflight/table.js';
import type { EndpointProbe } from '../src/preflight/types.js';
import { freePort, runCli } from './helpers.js';
import { startHostileServer } from './hostile-server.js';
import { runPreflight } from '../src/preflight/run.js';
import { systemClock } from '../src/clock.js';
import { MAX_ERROR_DETAIL_CHARS } from '../src/traffic/error-detail.js';

function scenarios(): ScenarioConfig[] {
  return loadConfig({}).config.traffic.scenarios;
}

const okChat = (stream: boolean, over: Partial<EndpointProbe> = {}): EndpointProbe => ({
  endpoint: 'chat',
  stream,
  path: '/v1/chat/completions',
  outcome: 'ok',
  httpStatus: 200,
  missing: false,
  ms: 12,
  askedTokens: 8,
  ignoreEos: true,
  outputTokens: 8,
  tokenSource: 'usage',
  tokenizerTokens: 8,
  deltaKinds: ['content'],
  ...(stream ? { chunks: 8 } : {}),
  ...over,
});
const missing = (endpoint: 'completions' | 'embeddings'): EndpointProbe => ({
  endpoint,
  stream: false,
  path: `/v1/${endpoint}`,
  outcome: 'http_4xx',
  httpStatus: 404,
  missing: true,
  ms: 3,
  message: `404 Not Found: Cannot POST /v1/${endpoint}`,
});
const okOther = (endpoint: 'completions' | 'embeddings'): EndpointProbe =>
  endpoint === 'completions'
    ? {
        endpoint,
        stream: false,
        path: '/v1/completions',
        outcome: 'ok',
        httpStatus: 200,
        missing: false,
        ms: 9,
        askedTokens: 8,
        ignoreEos: true,
        outputTokens: 8,
        tokenSource: 'usage',
        tokenizerTokens: 8,
        deltaKinds: ['content'],
      }
    : { endpoint, stream: false, path: '/v1/embeddings', outcome: 'ok', httpStatus: 200, missing: false, ms: 4 };

function input(endpoints: EndpointProbe[], over: Partial<JudgeInput> = {}): JudgeInput {
  return {
    at: '2026-01-01T00:00:00.000Z',
    target: 'http://127.0.0.1:1/v1',
    model: 'm',
    modelConfigured: false,
    durationMs: 100,
    scenarios: scenarios(),
    endpoints,
    models: { ok: true, httpStatus: 200, ids: ['m'], rttMs: 1.5 },
    metrics: { url: 'http://127.0.0.1:1/metrics', names: 40, dialect: 'vllm' },
    ...over,
  };
}

t.test('the plan: every endpoint the scenarios use, streamed too where one streams', async (t) => {
  const plan = probePlan(scenarios())
    .map((p) => `${p.endpoint}${p.stream ? '/stream' : ''}`)
    .sort();
  t.same(plan, ['chat', 'chat/stream', 'completions', 'embeddings']);
  t.same(
    probePlan([{ ...(scenarios()[0] as ScenarioConfig), endpoint: 'moderations', stream: false }]).map((p) => p.endpoint),
    ['moderations'],
  );
});

t.test('a clean target: every check ok, every scenario runnable, nothing that will not work', async (t) => {
  const r = judge(input([okChat(false), okChat(true), okOther('completions'), okOther('embeddings')]));
  t.equal(r.ok, true);
  t.same(r.problems, []);
  t.ok(
    r.checks.every((c) => c.status === 'ok' || c.status === 'info'),
    'no warn or fail',
  );
  t.ok(r.scenarios.every((s) => s.runnable));
  t.match(renderPreflight(r), /nothing found that will not work/);
});

t.test('what mock-llm-like answers mean: missing endpoints, no usage, lengths not honoured, no /metrics', async (t) => {
  const chat = { tokenSource: 'tokenizer' as const, outputTokens: 12, tokenizerTokens: 12 };
  const r = judge(
    input([okChat(false, chat), okChat(true, chat), missing('completions'), missing('embeddings')], {
      metrics: { url: 'http://127.0.0.1:1/metrics', names: 0, message: 'HTTP 404 from http://127.0.0.1:1/metrics' },
    }),
  );
  t.equal(r.ok, false, 'not every scenario can run');
  t.same(
    r.scenarios.filter((s) => !s.runnable).map((s) => s.name),
    ['completion_batch', 'embeddings'],
  );
  t.ok(r.scenarios.filter((s) => !s.runnable).every((s) => s.missing));
  const problems = r.problems.join('\n');
  t.match(problems, /POST \/v1\/completions does not exist on the target \(404 Not Found: Cannot POST \/v1\/completions\): scenario completion_batch cannot run/);
  t.match(problems, /streams ignore stream_options\.include_usage/);
  t.match(problems, /max_tokens\/ignore_eos not honoured/);
  t.match(problems, /no LLM server metrics at http:\/\/127\.0\.0\.1:1\/metrics/);
  t.equal(r.checks.find((c) => c.check === 'tokenizer vs usage')?.status, 'info', 'nothing to compare without usage');
});

t.test('an endpoint that exists but fails is not "missing"', async (t) => {
  const r = judge(input([okChat(false), { ...okChat(true), outcome: 'http_5xx', httpStatus: 500, message: '500 Internal Server Error: boom' }, okOther('completions'), okOther('embeddings')]));
  t.equal(r.ok, false);
  const failing = r.scenarios.filter((s) => !s.runnable);
  t.same(
    failing.map((s) => s.name),
    ['short_qa', 'long_summary', 'multi_turn_chat'],
  );
  t.ok(failing.every((s) => !s.missing));
  t.match(r.problems[0], /\(stream\) fails \(500 Internal Server Error: boom\)/);
  const decided = applyMissingEndpointPolicy(r, scenarios(), 'skip');
  t.equal(decided.run.length, scenarios().length, 'a failing endpoint keeps its scenarios: the soak measures its failures');
});

t.test('reasoning and tool-call deltas are reported; a configured model not served is a problem', async (t) => {
  const r = judge(input([okChat(false), okChat(true, { deltaKinds: ['content', 'reasoning'] }), okOther('completions'), okOther('embeddings')], { model: 'x', modelConfigured: true }));
  t.match(r.checks.find((c) => c.check === 'reasoning / tool calls')?.detail, /^reasoning deltas seen/);
  t.match(r.problems.join('\n'), /does not list the configured model x/);
});

t.test('output length: exact with ignore_eos and usage, at most without, a little slack for a tokenizer count', async (t) => {
  t.ok(lengthHonoured({ askedTokens: 8, outputTokens: 8, tokenSource: 'usage', ignoreEos: true }));
  t.notOk(lengthHonoured({ askedTokens: 8, outputTokens: 7, tokenSource: 'usage', ignoreEos: true }));
  t.ok(lengthHonoured({ askedTokens: 8, outputTokens: 5, tokenSource: 'usage', ignoreEos: false }));
  t.notOk(lengthHonoured({ askedTokens: 8, outputTokens: 9, tokenSource: 'usage', ignoreEos: false }));
  t.ok(lengthHonoured({ askedTokens: 8, outputTokens: 10, tokenSource: 'tokenizer', ignoreEos: true }));
  t.notOk(lengthHonoured({ askedTokens: 8, outputTokens: 12, tokenSource: 'tokenizer', ignoreEos: true }));
});

t.test('onMissingEndpoint: skip, fail, keep', async (t) => {
  const probes = [okChat(false), okChat(true), missing('completions'), okOther('embeddings')];
  const skip = applyMissingEndpointPolicy(judge(input(probes)), scenarios(), 'skip');
  t.same(skip.skipped, ['completion_batch']);
  t.same(
    skip.run.map((s) => s.name),
    ['short_qa', 'long_summary', 'multi_turn_chat', 'embeddings'],
  );
  t.equal(skip.fatal, undefined);

  const r = judge(input(probes));
  const fail = applyMissingEndpointPolicy(r, scenarios(), 'fail');
  t.match(
    fail.fatal,
    /^preflight: scenario completion_batch needs an endpoint the target does not have \(POST \/v1\/completions: 404 Not Found: Cannot POST \/v1\/completions\); preflight\.onMissingEndpoint is fail$/,
  );
  t.notOk(fail.fatal?.includes('\n'), 'one line');

  const kept = judge(input(probes));
  const keep = applyMissingEndpointPolicy(kept, scenarios(), 'keep');
  t.equal(keep.run.length, scenarios().length);
  t.equal(kept.scenarios.find((s) => s.name === 'completion_batch')?.action, 'kept');
  t.match(renderPreflight(kept), /completion_batch KEPT \(will fail\)/);

  const only = scenarios().filter((s) => s.name === 'completion_batch');
  const none = judge(input([missing('completions')], { scenarios: only }));
  t.match(applyMissingEndpointPolicy(none, only, 'skip').fatal, /no scenario can run on this target/, 'skipping everything is not a soak');
});

t.test('check-target: bad input is exit 2 with one clear line', async (t) => {
  const env = { PATH: process.env.PATH ?? '' };
  const notHttp = await runCli(['check-target', '--target', 'ftp://127.0.0.1/v1'], { env });
  t.equal(notHttp.code, 2, 'a URL that is not http(s)');
  t.match(notHttp.stderr, /target\.url: has the wrong form/);
  const noHost = await runCli(['check-target', '--target', 'http://'], { env });
  t.equal(noHost.code, 2, 'a URL without a host');
  t.match(noHost.stderr, /not a URL: http:\/\//);
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-ct-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'preflight:\n  onMissingEndpoint: sometimes\n');
  const badConfig = await runCli(['check-target', '--config', bad], { env });
  t.equal(badConfig.code, 2, 'a bad config');
  t.match(badConfig.stderr, /preflight\.onMissingEndpoint: must be one of fail, skip, keep/);
  const unreachable = await runCli(['check-target', '--target', `http://127.0.0.1:${await freePort()}/v1`, '--model', 'm'], { env });
  t.equal(unreachable.code, 1, 'a target that is not there is not bad input: exit 1, with why');
  t.match(unreachable.stdout, /ECONNREFUSED/);
});

t.test('on the built-in simulator the preflight passes clean at daemon start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-pf-sim-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { config } = loadConfig({
    document: {
      server: { listen: '127.0.0.1:0' },
      simulator: { port: await freePort() },
      traffic: { rate: 1 },
      run: { dataDir: join(dir, 'data') },
      report: { dir: join(dir, 'reports') },
      collectors: { gpu: { enabled: false } },
      analyzer: { enabled: false },
      log: { level: 'silent' },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger() });
  t.teardown(() => daemon.stop('test'));
  await daemon.start();
  const r = daemon.preflightReport;
  t.ok(r, 'ran');
  t.equal(r?.ok, true, 'every scenario can run');
  t.same(r?.problems, [], 'nothing that will not work');
  t.same(
    r?.checks.filter((c) => c.status === 'warn' || c.status === 'fail'),
    [],
    'no warning',
  );
  t.ok(r?.scenarios.every((s) => s.action === 'run'));
  t.equal(r?.metrics.dialect, 'vllm', "the simulator speaks vLLM's /metrics");
  t.comment(`preflight took ${r?.durationMs} ms at start (bench/preflight.ts measures it)`);
});

t.test('check-target on the built-in simulator exits 0', async (t) => {
  const r = await runCli(['check-target'], { env: { PATH: process.env.PATH ?? '', LLMSOAK_SIMULATOR__PORT: String(await freePort()) }, timeoutMs: 30_000 });
  t.equal(r.code, 0, `exit 0 (stderr: ${r.stderr.slice(0, 300)})`);
  t.match(r.stdout, /nothing found that will not work/);
  t.match(r.stdout, /scenarios: short_qa ok, long_summary ok, multi_turn_chat ok, completion_batch ok, embeddings ok/);
});

t.test('against hostile answers the preflight ends within its timeout, with one short line per failure', async (t) => {
  // Every probe meets a behaviour that never ends by itself: silence, a stall, a drip, an endless stream.
  const target = await startHostileServer({ mix: { no_headers: 1, stall: 1, drip: 1, endless: 1 }, seed: 5 });
  t.teardown(() => target.stop());
  const TIMEOUT_MS = 1500;
  const t0 = Date.now();
  const r = await runPreflight({
    baseUrl: `${target.url}/v1`,
    shownUrl: `${target.url}/v1`,
    metricsUrl: `${target.url}/metrics`,
    model: 'hostile',
    modelConfigured: false,
    headers: { 'content-type': 'application/json' },
    scenarios: scenarios().filter((s) => s.endpoint === 'chat'),
    timeoutMs: TIMEOUT_MS,
    connectTimeoutMs: 1000,
    clock: systemClock,
    countTokens: (x) => Math.ceil(x.length / 4),
    scrub: (x) => x,
  });
  const took = Date.now() - t0;
  t.ok(took >= TIMEOUT_MS - 50 && took < TIMEOUT_MS + 1500, `ended in ${took} ms, bounded by the probe limit of ${TIMEOUT_MS} ms`);
  t.equal(r.ok, false, 'the chat scenarios cannot run');
  const failed = r.endpoints.filter((e) => e.outcome !== 'ok');
  t.equal(failed.length, 2, 'both chat probes failed');
  t.ok(
    failed.every((e) => e.message !== undefined && e.message.length <= MAX_ERROR_DETAIL_CHARS),
    'each with a short message',
  );
  t.ok(
    r.scenarios.every((s) => !s.missing),
    'a failing endpoint is not a missing one',
  );
  t.ok(
    r.problems.every((p) => !p.includes('\n')),
    'one line per problem',
  );
});
