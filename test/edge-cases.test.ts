/**
 * Edge-case requests and /v1/moderations (issue #10, part 2).
 *
 * Units: the edge scenarios' weights and config errors, the nested JSON.
 * Moderations through the official `openai` client against the simulator.
 * End to end: a daemon soaking the simulator on loopback with a moderations
 * scenario and every edge-case kind; the context length comes from the
 * simulator's /v1/models (max_model_len). Each kind is sent and recorded
 * under its own scenario with a sensible outcome: near-limit prompts answered
 * below the limit and refused (400 → http_4xx) beyond it, control and
 * combining characters and deep JSON answered, a runaway output streamed to
 * the end of the context.
 */
import t from 'tap';
import OpenAI from 'openai';
import { request } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { resolveSimulatorConfig } from '../src/simulator/config.js';
import { startSimulator } from '../src/simulator/server.js';
import { EDGE_CASE_KINDS, EdgeCaseBuilder, edgeCaseScenarios, nestedJson, NESTED_JSON_DEPTH } from '../src/traffic/edge-cases.js';
import { PromptBuilder } from '../src/traffic/prompts.js';
import { createRng } from '../src/traffic/random.js';
import type { RequestRecord } from '../src/types.js';

function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (typeof v === 'object' && v !== null) return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

t.test('edge scenarios take `weight` of all requests; bad config is one line naming the key', async (t) => {
  const { config } = loadConfig({
    document: {
      traffic: {
        scenarios: [
          { name: 'a', endpoint: 'chat', weight: 3 },
          { name: 'b', endpoint: 'chat', weight: 1 },
        ],
        edgeCases: { weight: 0.2, kinds: ['unicode', 'nestedJson'] },
      },
    },
  });
  const sc = config.traffic.scenarios;
  t.same(
    sc.map((s) => s.name),
    ['a', 'b', 'edge_unicode', 'edge_nested_json'],
  );
  const total = sc.reduce((n, s) => n + s.weight, 0);
  const edge = sc.filter((s) => s.edgeCase !== undefined).reduce((n, s) => n + s.weight, 0);
  t.ok(Math.abs(edge / total - 0.2) < 1e-12, 'edge cases are 20% of the weight');
  t.same(edgeCaseScenarios(sc, { weight: 0, kinds: [...EDGE_CASE_KINDS] }), [], 'weight 0: off');
  t.equal(
    loadConfig({ document: {} }).config.traffic.scenarios.some((s) => s.edgeCase !== undefined),
    false,
    'off by default',
  );

  for (const [doc, key] of [
    [{ traffic: { edgeCases: { weight: 0.9 } } }, 'traffic.edgeCases.weight'],
    [{ traffic: { edgeCases: { weight: 0.1, kinds: ['bogus'] } } }, 'traffic.edgeCases.kinds'],
    [{ traffic: { sharedPrefix: { enabled: true, share: 1.5 } } }, 'traffic.sharedPrefix.share'],
    [{ traffic: { scenarios: [{ name: 'edge_unicode', endpoint: 'chat' }], edgeCases: { weight: 0.1, kinds: ['unicode'] } } }, 'traffic.edgeCases'],
  ] as const) {
    const err = t.throws(() => loadConfig({ document: doc })) as unknown;
    t.ok(err instanceof ConfigError, 'a ConfigError');
    t.match(String((err as Error).message), key, `names ${key}`);
  }
  const { config: mod, warnings } = loadConfig({ document: { traffic: { scenarios: [{ name: 'mod', endpoint: 'moderations' }] } } });
  t.equal(mod.traffic.scenarios[0]?.stream, false, 'moderations are not streamed');
  t.match(warnings.join('\n'), /moderations do not stream/);
});

t.test('edge request builders', async (t) => {
  const parsed: unknown = JSON.parse(nestedJson(NESTED_JSON_DEPTH));
  t.equal(depthOf(parsed), NESTED_JSON_DEPTH, `nested JSON is valid and ${NESTED_JSON_DEPTH} deep`);
  const b = new EdgeCaseBuilder(new PromptBuilder(createRng(5)), 10_000);
  const under = b.build('nearContextLimit');
  const over = b.build('nearContextLimit');
  t.ok(under.promptTokens + under.maxTokens < 10_000 && under.promptTokens > 8_500, `under the limit: ${under.promptTokens}`);
  t.ok(over.promptTokens > 10_000, `beyond the limit: ${over.promptTokens}`);
  const u = b.build('unicode').messages[0]?.content ?? '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for a NUL character on purpose
  t.match(u, /\u0000/);
  t.match(u, /\u202e/);
  t.match(u, /e\u0301/);
  const r = b.build('runawayOutput');
  t.equal(r.ignoreEos, true);
  t.ok(r.maxTokens > 9_000 && r.maxTokens + r.promptTokens <= 10_000, `runaway asks for the rest of the context: ${r.maxTokens}`);
});

t.test('moderations through the official openai client', async (t) => {
  const cfg = resolveSimulatorConfig({ engine: { timeScale: 0.1 } });
  const sim = await startSimulator(cfg, { logger: silentLogger(), port: 0 });
  t.teardown(() => sim.close());
  const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'sk-test', maxRetries: 0, timeout: 10_000 });
  const plain = await client.moderations.create({ input: 'A bridge is an argument made of steel and stone.' });
  t.match(plain.id, /^modr-/);
  t.equal(plain.model, cfg.model);
  t.equal(plain.results.length, 1);
  const r0 = plain.results[0];
  t.equal(r0?.flagged, false);
  t.equal(r0?.categories.violence, false);
  t.ok(typeof r0?.category_scores.violence === 'number' && r0.category_scores.violence < 0.01);
  const many = await client.moderations.create({ model: 'omni-moderation-latest', input: ['fine text', 'this one is [flag:violence] marked'] });
  t.equal(many.model, 'omni-moderation-latest');
  t.same(
    many.results.map((r) => r.flagged),
    [false, true],
  );
  t.equal(many.results[1]?.categories.violence, true);
  t.ok((many.results[1]?.category_scores.violence ?? 0) > 0.9);
  const multi = await client.moderations.create({
    model: 'omni-moderation-latest',
    input: [
      { type: 'text', text: 'look' },
      { type: 'image_url', image_url: { url: 'https://example.invalid/x.png' } },
    ],
  });
  t.equal(multi.results.length, 1, 'a multi-modal input is one result');
  const statusOf = (p: Promise<unknown>) =>
    p.then(
      () => 200,
      (err: unknown) => (err as { status?: number }).status,
    );
  t.equal(await statusOf(client.moderations.create({ model: 'no-such-model', input: 'x' })), 404, 'an unknown model is a 404');
  t.equal(await statusOf(client.moderations.create({ input: [] })), 400, 'an empty input is a 400');
  const m = await (await request(`${sim.url}/metrics`)).body.text();
  t.match(m, /vllm:request_success_total\{[^}]*finished_reason="stop"[^}]*\} [1-9]/, 'counted by the simulator');
});

t.test('every edge-case kind and moderations through a soak: each recorded with a sensible outcome', async (t) => {
  const maxModelLen = 3072;
  const simCfg = resolveSimulatorConfig({ engine: { timeScale: 0.02, maxModelLen, maxPrefillTokensPerStep: 8192 } });
  const sim = await startSimulator(simCfg, { logger: silentLogger(), port: 0 });
  t.teardown(() => sim.close());
  const { config } = loadConfig({
    document: {
      target: { url: `${sim.url}/v1` },
      server: { listen: '127.0.0.1:0' },
      traffic: {
        rate: 12,
        seed: 21,
        scenarios: [{ name: 'mod', endpoint: 'moderations', stream: false, prompt: { dist: 'fixed', value: 100 } }],
        edgeCases: { weight: 0.5 },
      },
      collectors: { gpu: { enabled: false }, host: { enabled: false }, process: { enabled: false }, server: { enabled: false } },
      analyzer: { enabled: false },
      run: { drainMs: 5000 },
    },
  });
  const records: RequestRecord[] = [];
  const daemon = new Daemon(config, { logger: silentLogger(), onRecord: (r) => records.push(r) });
  t.teardown(() => daemon.stop('test'));
  await daemon.start();
  const by = (s: string) => records.filter((r) => r.scenario === s);
  const deadline = Date.now() + 25_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    if (by('edge_near_context_limit').length >= 4 && by('edge_runaway_output').length >= 1 && by('edge_unicode').length >= 1 && by('edge_nested_json').length >= 1 && by('mod').length >= 3) break;
  }
  const metrics = await (await request(`${daemon.listenUrl}/metrics`)).body.text();

  const mod = by('mod');
  t.ok(mod.length >= 3 && mod.every((r) => r.outcome === 'ok' && r.endpoint === 'moderations'), `moderations ok (${mod.length})`);
  t.ok(
    mod.every((r) => r.firstTokenAt === undefined && r.lastTokenAt !== undefined && r.outputTokens === 0),
    'timed as non-streamed, no output tokens',
  );

  const near = by('edge_near_context_limit');
  const nearOk = near.filter((r) => r.outcome === 'ok');
  const nearRefused = near.filter((r) => r.outcome === 'http_4xx' && r.httpStatus === 400);
  t.ok(
    nearOk.length >= 1 && nearRefused.length >= 1 && nearOk.length + nearRefused.length === near.length,
    `near the limit: ${nearOk.length} answered, ${nearRefused.length} refused with 400, nothing else (${near.map((r) => r.outcome).join(',')})`,
  );
  t.ok(
    nearOk.every((r) => r.inputTokens > 0.8 * maxModelLen && r.inputTokens < maxModelLen),
    'the answered ones were near the limit (server count)',
  );
  t.match(metrics, /llmsoak_requests_total\{[^}]*scenario="edge_near_context_limit"[^}]*outcome="http_4xx"[^}]*\} [1-9]/, 'exported as http_4xx under its own scenario');

  for (const s of ['edge_unicode', 'edge_nested_json']) {
    const rs = by(s);
    t.ok(rs.length >= 1 && rs.every((r) => r.outcome === 'ok' && r.outputTokens > 0), `${s}: answered (${rs.map((r) => r.outcome).join(',')})`);
  }
  const run = by('edge_runaway_output');
  t.ok(run.length >= 1, 'runaway sent');
  for (const r of run) {
    t.equal(r.outcome, 'ok', 'runaway streamed to its end');
    t.ok(
      r.inputTokens + r.outputTokens > 0.9 * maxModelLen && r.inputTokens + r.outputTokens <= maxModelLen,
      `runaway filled the context (max_model_len from /v1/models): ${r.inputTokens} + ${r.outputTokens} of ${maxModelLen}`,
    );
  }
  t.equal(records.filter((r) => !['ok', 'http_4xx'].includes(r.outcome)).length, 0, 'no other outcome anywhere');
});
