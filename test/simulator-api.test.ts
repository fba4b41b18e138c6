/**
 * The simulator speaks OpenAI's wire format: the official `openai` client works
 * against it unmodified; timings ground truth is present and consistent;
 * config schema and defaults agree.
 */
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import type { ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions';
import { Ajv } from 'ajv';
import { countTokens } from '../src/tokenizer.js';
import { startSimulator } from '../src/simulator/server.js';
import { defaultSimulatorConfig, resolveSimulatorConfig, simulatorConfigSchema, type JsonSchema } from '../src/simulator/config.js';
import { TOKEN_TEXT } from '../src/simulator/tokens.js';
import { silentLogger } from '../src/log.js';
import { ConfigError } from '../src/errors.js';
import type { ServerTimings } from '../src/types.js';

const cfg = defaultSimulatorConfig();
cfg.engine.timeScale = 0.05; // a fast GPU: keep the test short
cfg.engine.outputTokensMean = 8;
cfg.embeddingDim = 64;
const sim = await startSimulator(cfg, { logger: silentLogger(), port: 0 });
t.teardown(() => sim.close());
const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'test', maxRetries: 0 });
const model = cfg.model;

function timingsOf(x: unknown): ServerTimings {
  const tm = (x as { timings?: ServerTimings }).timings;
  if (tm === undefined) throw new Error('no timings');
  return tm;
}

function checkTimings(tt: Test, tm: ServerTimings, completion: number, prompt: number): void {
  tt.equal(tm.completion_tokens, completion, 'timings.completion_tokens = usage');
  tt.equal(tm.prompt_tokens, prompt, 'timings.prompt_tokens = usage');
  tt.equal(tm.itl_ms.length, Math.max(0, completion - 1), 'one ITL per gap between token writes');
  tt.ok(tm.queue_ms >= 0 && tm.ttft_ms >= tm.queue_ms, 'ttft ≥ queue ≥ 0');
  tt.ok(
    tm.itl_ms.every((x) => x >= 0),
    'gaps ≥ 0',
  );
  tt.equal(tm.preemptions, 0);
}

t.test('every output word is one token, and words do not merge', async (tt) => {
  for (const w of TOKEN_TEXT) tt.equal(countTokens(w), 1, JSON.stringify(w));
  tt.equal(countTokens(TOKEN_TEXT.join('')), TOKEN_TEXT.length);
});

t.test('chat, stream, include_usage, ignore_eos', async (tt) => {
  const params: ChatCompletionCreateParamsStreaming & { ignore_eos: boolean } = {
    model,
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Tell me a story about a lighthouse.' },
    ],
    max_tokens: 40,
    stream: true,
    stream_options: { include_usage: true },
    ignore_eos: true,
  };
  const stream = await client.chat.completions.create(params);
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const first = chunks[0];
  tt.same(first?.choices[0]?.delta, { role: 'assistant', content: '' }, 'role-only first chunk');
  const content = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? '')).filter((s) => s !== '');
  const last = chunks[chunks.length - 1];
  tt.equal(last?.choices.length, 0, 'usage chunk has no choices');
  const usage = last?.usage;
  if (usage === undefined || usage === null) throw new Error('no usage');
  tt.equal(usage.completion_tokens, 40, 'ignore_eos: exactly max_tokens');
  tt.equal(content.length, usage.completion_tokens, 'one token per content chunk');
  tt.equal(countTokens(content.join('')), usage.completion_tokens, 'tokenizer agrees with usage');
  tt.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  // 2 messages: 3 framing each + role + content, + 3 priming.
  const expectPrompt = 3 + 3 + 1 + countTokens('You are terse.') + 3 + 1 + countTokens('Tell me a story about a lighthouse.');
  tt.equal(usage.prompt_tokens, expectPrompt, 'prompt tokens by the documented recipe');
  const finish = chunks.map((c) => c.choices[0]?.finish_reason).filter((f) => f !== null && f !== undefined);
  tt.same(finish, ['length']);
  checkTimings(tt, timingsOf(last), usage.completion_tokens, usage.prompt_tokens);
  tt.equal(chunks.slice(0, -1).filter((c) => 'timings' in c).length, 0, 'timings only on the final chunk');
});

t.test('chat stream without include_usage: timings on the last content chunk', async (tt) => {
  const res = await fetch(`${sim.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, ignore_eos: true, stream: true }),
  });
  tt.equal(res.status, 200);
  tt.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const text = await res.text();
  const events = text.split('\n\n').filter((e) => e !== '');
  tt.equal(events[events.length - 1], 'data: [DONE]');
  const lastChunk = JSON.parse((events[events.length - 2] ?? '').slice(6)) as { choices: { finish_reason: string }[] };
  tt.equal(lastChunk.choices[0]?.finish_reason, 'length');
  checkTimings(tt, timingsOf(lastChunk), 5, 3 + 1 + 1 + 3);
});

t.test('chat non-stream; natural length; min_tokens', async (tt) => {
  const r = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }], max_tokens: 100 });
  const choice = r.choices[0];
  tt.equal(r.object, 'chat.completion');
  tt.equal(choice?.message.role, 'assistant');
  const n = r.usage?.completion_tokens ?? -1;
  tt.ok(n >= 1 && n <= 100, `natural length ${n} within max_tokens`);
  tt.equal(choice?.finish_reason, n < 100 ? 'stop' : 'length');
  tt.equal(countTokens(choice?.message.content ?? ''), n, 'tokenizer agrees with usage');
  checkTimings(tt, timingsOf(r), n, r.usage?.prompt_tokens ?? -1);

  const lens: number[] = [];
  for (let i = 0; i < 5; i++) {
    const body = { model, messages: [{ role: 'user' as const, content: 'hello' }], max_tokens: 100, min_tokens: 30 };
    const m = await client.chat.completions.create(body);
    lens.push(m.usage?.completion_tokens ?? -1);
  }
  tt.ok(
    lens.every((x) => x >= 30 && x <= 100),
    `min_tokens respected: ${lens.join(',')}`,
  );

  const capped = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], max_completion_tokens: 2, min_tokens: 50 } as never);
  tt.equal((capped as { usage?: { completion_tokens: number } }).usage?.completion_tokens, 2, 'max_completion_tokens caps');
});

t.test('completions, stream and non-stream', async (tt) => {
  const r = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 12, ignore_eos: true } as never);
  const body = r as unknown as OpenAI.Completions.Completion;
  tt.equal(body.object, 'text_completion');
  tt.equal(body.usage?.completion_tokens, 12);
  tt.equal(body.usage?.prompt_tokens, countTokens('Once upon a time'));
  tt.equal(countTokens(body.choices[0]?.text ?? ''), 12);
  tt.equal(body.choices[0]?.finish_reason, 'length');
  checkTimings(tt, timingsOf(body), 12, countTokens('Once upon a time'));

  const stream = (await client.completions.create({
    model,
    prompt: [1, 2, 3, 4],
    max_tokens: 7,
    stream: true,
    stream_options: { include_usage: true },
    ignore_eos: true,
  } as never)) as unknown as AsyncIterable<OpenAI.Completions.Completion>;
  const texts: string[] = [];
  let usage: OpenAI.Completions.CompletionUsage | undefined;
  let lastChunk: unknown;
  for await (const c of stream) {
    for (const ch of c.choices) if (ch.text !== '') texts.push(ch.text);
    if (c.usage) usage = c.usage;
    lastChunk = c;
  }
  tt.equal(texts.length, 7);
  tt.equal(usage?.prompt_tokens, 4, 'token-id prompt counts its ids');
  tt.equal(usage?.completion_tokens, 7);
  checkTimings(tt, timingsOf(lastChunk), 7, 4);

  const dflt = (await client.completions.create({ model, prompt: 'x', ignore_eos: true } as never)) as unknown as OpenAI.Completions.Completion;
  tt.equal(dflt.usage?.completion_tokens, 16, 'legacy default max_tokens 16');
});

t.test('embeddings', async (tt) => {
  const r = await client.embeddings.create({ model, input: ['alpha beta', 'gamma'] }); // client asks base64
  tt.equal(r.object, 'list');
  tt.equal(r.data.length, 2);
  tt.equal(r.data[0]?.embedding.length, 64);
  tt.equal(r.usage.prompt_tokens, countTokens('alpha beta') + countTokens('gamma'));
  const f = await client.embeddings.create({ model, input: 'alpha beta', encoding_format: 'float' });
  const a = r.data[0]?.embedding ?? [];
  const b = f.data[0]?.embedding ?? [];
  tt.equal(b.length, 64);
  tt.ok(
    Array.from(a).every((x, i) => Math.abs(x - (b[i] ?? NaN)) < 1e-6),
    'deterministic, base64 = float',
  );
  const norm = Math.sqrt(b.reduce((s, x) => s + x * x, 0));
  tt.ok(Math.abs(norm - 1) < 1e-3, 'unit length');
  const other = r.data[1]?.embedding ?? [];
  tt.notOk(
    Array.from(other).every((x, i) => x === a[i]),
    'different texts, different vectors',
  );
  tt.ok(timingsOf(f).prompt_tokens > 0);
});

t.test('models', async (tt) => {
  const page = await client.models.list();
  tt.equal(page.data.length, 1);
  tt.equal(page.data[0]?.id, model);
  tt.equal(page.data[0]?.object, 'model');
  tt.equal(page.data[0]?.owned_by, 'llmsoak');
  const one = await client.models.retrieve(model);
  tt.equal(one.id, model);
});

t.test('errors in OpenAI shape', async (tt) => {
  const err = await client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }).then(
    () => undefined,
    (e: unknown) => e,
  );
  tt.ok(err instanceof OpenAI.NotFoundError, 'client raises NotFoundError');
  tt.equal((err as InstanceType<typeof OpenAI.APIError>).status, 404);

  const post = async (path: string, body: string): Promise<{ status: number; json: { error: Record<string, unknown> } }> => {
    const res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: res.status, json: (await res.json()) as { error: Record<string, unknown> } };
  };
  const unknown = await post('/v1/chat/completions', JSON.stringify({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }));
  tt.equal(unknown.status, 404);
  tt.same(Object.keys(unknown.json.error).sort(), ['code', 'message', 'param', 'type']);
  tt.equal(unknown.json.error.code, 'model_not_found');

  const bad = await post('/v1/chat/completions', '{not json');
  tt.equal(bad.status, 400);
  tt.same(Object.keys(bad.json.error).sort(), ['code', 'message', 'param', 'type']);
  tt.equal(bad.json.error.type, 'invalid_request_error');

  const missing = await post('/v1/chat/completions', JSON.stringify({ model }));
  tt.equal(missing.status, 400);
  tt.equal(missing.json.error.param, 'messages');
  const noModel = await post('/v1/completions', JSON.stringify({ prompt: 'x' }));
  tt.equal(noModel.status, 400);
  const badMax = await post('/v1/chat/completions', JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }], max_tokens: 'ten' }));
  tt.equal(badMax.status, 400);
  tt.equal(badMax.json.error.param, 'max_tokens');
  const tooLong = await post('/v1/chat/completions', JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }], max_tokens: 9000 }));
  tt.equal(tooLong.status, 400);
  tt.equal(tooLong.json.error.code, 'context_length_exceeded');
  const nowhere = await post('/v1/nowhere', '{}');
  tt.equal(nowhere.status, 404);
});

t.test('health and metrics', async (tt) => {
  tt.equal((await fetch(`${sim.url}/health`)).status, 200);
  const res = await fetch(`${sim.url}/metrics`);
  tt.equal(res.status, 200);
  const text = await res.text();
  for (const name of [
    'vllm:num_requests_waiting',
    'vllm:num_requests_running',
    'vllm:kv_cache_usage_perc',
    'vllm:num_preemptions_total',
    'vllm:prompt_tokens_total',
    'vllm:generation_tokens_total',
    'vllm:request_success_total',
    'vllm:time_to_first_token_seconds_bucket',
    'vllm:inter_token_latency_seconds_bucket',
    'vllm:e2e_request_latency_seconds_bucket',
    'vllm:request_queue_time_seconds_bucket',
    'process_resident_memory_bytes',
    'process_cpu_seconds_total',
  ])
    tt.match(text, new RegExp(`^${name}[{ ]`, 'm'), name);
  tt.match(text, /^vllm:request_success_total\{model_name="sim-llama-3-8b",engine="0",finished_reason="length"\} [1-9]/m);
  const gen = /^vllm:generation_tokens_total\{[^}]*\} (\d+)/m.exec(text);
  tt.ok(Number(gen?.[1]) > 50, 'generation tokens counted');
});

t.test('config: schema, defaults, validation', async (tt) => {
  const ajv = new Ajv({ useDefaults: true, allErrors: true, removeAdditional: false, strict: true });
  // Embedded as the main config does: the `simulator` property of a root object.
  const root = ajv.compile({ type: 'object', additionalProperties: false, properties: { simulator: simulatorConfigSchema } });
  const validate = (v: unknown): boolean => root({ simulator: v });
  const top: Record<string, unknown> = {};
  tt.ok(root(top), 'ajv (strict) compiles the schema and accepts {}');
  tt.same(top.simulator, defaultSimulatorConfig(), 'schema defaults = defaultSimulatorConfig()');
  tt.same(resolveSimulatorConfig({}), defaultSimulatorConfig());
  tt.notOk(validate({ engine: { maxNumSeqs: 0 } }));
  tt.notOk(validate({ bogus: 1 }));
  tt.notOk(validate({ faults: { errors: { rate: 2 } } }));
  const withFault = { faults: { errors: {} } };
  tt.ok(validate(withFault));
  tt.same(withFault.faults.errors, { rate: 0.1, status: 500 }, 'fault field defaults');

  const walk = (s: JsonSchema, path: string): void => {
    if (s.type === 'object') {
      tt.equal(s.additionalProperties, false, `${path}: additionalProperties false`);
      for (const [k, sub] of Object.entries(s.properties ?? {})) walk(sub, `${path}.${k}`);
    } else {
      tt.not(s.default, undefined, `${path}: has a default`);
    }
  };
  walk(simulatorConfigSchema, 'simulator');

  let caught: unknown;
  try {
    resolveSimulatorConfig({ engine: { maxNumSeqs: 0, bogus: true }, faults: { stall: { rate: -1 } } });
  } catch (e) {
    caught = e;
  }
  tt.ok(caught instanceof ConfigError, 'ConfigError');
  const problems = caught instanceof ConfigError ? caught.problems : [];
  tt.equal(problems.length, 3, problems.join(' | '));
  tt.ok(problems.some((p) => p.includes('simulator.engine.maxNumSeqs')));
  tt.ok(problems.some((p) => p.includes("'bogus'")));
  tt.ok(problems.some((p) => p.includes('simulator.faults.stall.rate')));
});
