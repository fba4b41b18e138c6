/**
 * The simulator answers golden prompts (arithmetic, capitals, facts,
 * repetition, JSON) correctly, streamed or not, chat or completions, and its
 * `quality` fault turns answers wrong with the given probability, switched
 * through the admin API like every other fault.
 */
import t from 'tap';
import { request } from 'undici';
import { startSimulator } from '../src/simulator/server.js';
import { defaultSimulatorConfig } from '../src/simulator/config.js';
import { evaluate, goldenAnswer } from '../src/simulator/answers.js';
import { silentLogger } from '../src/log.js';
import type { FaultState } from '../src/simulator/faults.js';

const cfg = defaultSimulatorConfig();
Object.assign(cfg.engine, { decodeStepBaseMs: 1, decodeStepPerSeqMs: 0, prefillTokensPerSec: 1e7 });
const sim = await startSimulator(cfg, { logger: silentLogger(), port: 0 });
t.teardown(() => sim.close());

async function post(path: string, body: Record<string, unknown>): Promise<{ status: number; text: string }> {
  const res = await request(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, text: await res.body.text() };
}

interface ChatAnswer {
  content: string;
  finish: string;
  usage: { completion_tokens: number };
}

async function ask(content: string, extra: Record<string, unknown> = {}): Promise<ChatAnswer> {
  const r = await post('/v1/chat/completions', { model: cfg.model, messages: [{ role: 'user', content }], temperature: 0, max_tokens: 64, ...extra });
  if (r.status !== 200) throw new Error(`${r.status} ${r.text}`);
  const body = JSON.parse(r.text) as { choices: { message: { content: string }; finish_reason: string }[]; usage: { completion_tokens: number } };
  return { content: body.choices[0]?.message.content ?? '', finish: body.choices[0]?.finish_reason ?? '', usage: body.usage };
}

t.test('recognised questions and their answers', async (t) => {
  const cases: [string, string][] = [
    ['What is 17 + 25?', '42'],
    ['Compute 12 * 7', '84'],
    ['Calculate (3 + 4) * 5.', '35'],
    ["What's 9 minus 3?", '6'],
    ['How much is 100 divided by 8?', '12.5'],
    ['What is 6 times 7? Answer with only the number.', '42'],
    ['What is -5 + 3?', '-2'],
    ['Evaluate 2 * (10 - 4) / 3', '4'],
    ['What is the capital of France? Answer with one word.', 'Paris'],
    ['How many days are there in a week?', '7'],
    ['Repeat exactly: The quick brown fox.', 'The quick brown fox.'],
    ['Reply with the word PONG', 'PONG'],
    ['Answer with JSON: what is 6 * 7?', '{"answer":42}'],
  ];
  for (const [q, a] of cases) t.equal(goldenAnswer(q)?.text, a, q);
  for (const q of ['What is love?', 'Compute 1 / 0', 'What is 5?', 'Tell me a story.', 'x'.repeat(3000) + ' What is 1 + 1?']) t.equal(goldenAnswer(q), undefined, `not recognised: ${q.slice(0, 40)}`);
  t.equal(evaluate('1 + 2 * 3'), 7, 'precedence');
  t.equal(evaluate('(1 + 2) * 3'), 9);
  t.equal(evaluate('1 +'), undefined);
  for (const [q] of cases) t.not(goldenAnswer(q)?.wrong, goldenAnswer(q)?.text, `a wrong answer differs: ${q}`);
});

t.test('over HTTP: chat (non-streamed and streamed) and completions answer correctly', async (t) => {
  const a = await ask('What is 17 + 25? Answer with only the number.');
  t.equal(a.content, '42');
  t.equal(a.finish, 'stop');
  t.equal(a.usage.completion_tokens, 1, "usage counts the answer's tokens");
  const long = await ask('Repeat exactly: The quick brown fox jumps over the lazy dog.');
  t.equal(long.content, 'The quick brown fox jumps over the lazy dog.');
  t.ok(long.usage.completion_tokens > 5, `several tokens (${long.usage.completion_tokens})`);
  const cut = await ask('Repeat exactly: The quick brown fox jumps over the lazy dog.', { max_tokens: 3 });
  t.equal(cut.usage.completion_tokens, 3);
  t.equal(cut.finish, 'length', 'max_tokens cuts the answer');
  t.equal(cut.content, 'The quick brown');
  // The instruction about JSON may come in a system message.
  const r = await post('/v1/chat/completions', {
    model: cfg.model,
    max_tokens: 32,
    messages: [
      { role: 'system', content: 'Reply in JSON as {"answer": n}.' },
      { role: 'user', content: 'What is 6 * 7?' },
    ],
  });
  t.same(JSON.parse((JSON.parse(r.text) as { choices: { message: { content: string } }[] }).choices[0]?.message.content ?? ''), { answer: 42 });

  const s = await post('/v1/chat/completions', { model: cfg.model, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'What is the capital of Japan?' }] });
  const content = s.text
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => (JSON.parse(e.slice(6)) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? '')
    .join('');
  t.equal(content, 'Tokyo', 'streamed');
  const c = await post('/v1/completions', { model: cfg.model, max_tokens: 8, prompt: 'Q: What is 2 + 3?\nA:' });
  t.equal((JSON.parse(c.text) as { choices: { text: string }[] }).choices[0]?.text, '5', 'completions');
  // Soak traffic asks for ignore_eos: its prompts are never answered, whatever they say.
  const soak = await ask('What is 17 + 25?', { ignore_eos: true, max_tokens: 5 });
  t.equal(soak.usage.completion_tokens, 5);
  t.not(soak.content, '42');
  const other = await ask('Tell me about the sea.');
  t.ok(other.content.length > 0, 'anything else: the usual words');
});

async function admin(method: 'GET' | 'POST' | 'DELETE', path = '', body?: unknown): Promise<{ status: number; json: FaultState & { error?: { message: string } } }> {
  const res = await request(`${sim.url}/admin/faults${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.statusCode, json: (await res.body.json()) as FaultState & { error?: { message: string } } };
}

t.test('the quality fault answers wrongly with its probability, and clears', async (t) => {
  const set = await admin('POST', '', { quality: {} });
  t.equal(set.status, 200);
  t.same(set.json.faults.quality, { rate: 0.2 }, 'default rate');
  const bad = await admin('POST', '', { quality: { rate: 1.5 } });
  t.equal(bad.status, 400);
  t.match(bad.json.error?.message, /faults\.quality\.rate: must be <= 1/);

  await admin('POST', '', { quality: { rate: 1 } });
  for (const q of ['What is 17 + 25?', 'What is the capital of France?', 'Repeat exactly: hello there', 'Answer with JSON: what is 6 * 7?']) {
    const a = await ask(q);
    t.not(a.content, goldenAnswer(q)?.text, `rate 1: always wrong (${q} → ${a.content})`);
    t.equal(a.content, goldenAnswer(q)?.wrong);
  }

  const rate = 0.3;
  const n = 300;
  await admin('POST', '', { quality: { rate } });
  const before = (await admin('GET')).json.injected.quality;
  let wrong = 0;
  for (let i = 0; i < n; i++) {
    const x = 10 + i;
    if ((await ask(`What is ${x} + 1?`)).content !== String(x + 1)) wrong++;
  }
  const sd = Math.sqrt(n * rate * (1 - rate));
  t.ok(Math.abs(wrong - n * rate) < 4 * sd, `${wrong} of ${n} wrong at rate ${rate} (expected ${n * rate} ± ${(4 * sd).toFixed(0)})`);
  t.equal((await admin('GET')).json.injected.quality - before, wrong, 'injected counts each wrong answer');

  const cleared = await admin('DELETE', '/quality');
  t.equal(cleared.json.faults.quality, undefined);
  for (let i = 0; i < 20; i++) t.equal((await ask(`What is ${i} * 3?`)).content, String(i * 3));
});
