import t from 'tap';
import { countTokens } from '../src/tokenizer.js';
import { PromptBuilder } from '../src/traffic/prompts.js';
import { CORPUS } from '../src/traffic/corpus.js';
import { createRng } from '../src/traffic/random.js';

t.test('corpus: original plain ASCII prose of 3,000-5,000 words', async (t) => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: tab, LF and CR are the allowed control characters
  t.notOk(/[^\x09\x0a\x0d\x20-\x7e]/.test(CORPUS), 'printable ASCII only');
  const words = CORPUS.split(/\s+/).filter(Boolean).length;
  t.ok(words >= 3000 && words <= 5000, `${words} words`);
  t.notOk(CORPUS.includes('<|'), 'no special-token look-alikes');
});

t.test('text(n) has n tokens', async (t) => {
  const pb = new PromptBuilder(createRng(1));
  for (const n of [1, 5, 50, 500, 4000, 12000]) {
    for (let k = 0; k < 5; k++) {
      const txt = pb.text(n);
      const c = countTokens(txt);
      const tol = Math.max(1, Math.floor(n * 0.005));
      t.ok(Math.abs(c - n) <= tol, `target ${n}: got ${c}`);
    }
  }
  t.equal(pb.text(0), '', '0 tokens: empty');
  // The design makes the count exact (aligned windows); check that over many random targets and offsets.
  const r = createRng(99);
  let exact = 0;
  const total = 300;
  for (let i = 0; i < total; i++) {
    const n = i % 3 === 0 ? r.int(1, 30) : i % 3 === 1 ? r.int(30, 3000) : r.int(3000, 16000);
    if (countTokens(pb.text(n)) === n) exact++;
  }
  t.equal(exact, total, `exact for ${exact}/${total} random targets (including wrap-around)`);
});

t.test('different offsets give different text; same seed gives the same text', async (t) => {
  const pb = new PromptBuilder(createRng(2));
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) seen.add(pb.text(200));
  t.ok(seen.size >= 48, `${seen.size}/50 distinct 200-token prompts`);
  const a = new PromptBuilder(createRng(5));
  const b = new PromptBuilder(createRng(5));
  t.same([a.text(300), a.text(10)], [b.text(300), b.text(10)], 'reproducible per seed');
  t.ok(pb.text(12000).length > CORPUS.length, 'longer than the corpus: tiled');
});

t.test('chatMessages: content tokens add up to the target', async (t) => {
  const pb = new PromptBuilder(createRng(3));
  for (const kind of ['qa', 'summary'] as const) {
    for (const n of [100, 500, 2000, 8000]) {
      const msgs = pb.chatMessages(kind, n);
      t.same(
        msgs.map((m) => m.role),
        ['system', 'user'],
        `${kind}: system + user`,
      );
      const c = msgs.reduce((a, m) => a + countTokens(m.content), 0);
      t.ok(Math.abs(c - n) <= 1, `${kind} ${n}: ${c} content tokens`);
    }
  }
  const qa = pb.chatMessages('qa', 300);
  t.match(qa[1]?.content ?? '', /^Question: .+\n[\s\S]*Passage:\n /, 'qa: question first, passage last');
  t.equal(pb.countTokens('hello world'), 2, 'countTokens delegates to gpt-tokenizer');
});

t.test('speed (printed; loose bound)', async (t) => {
  const pb = new PromptBuilder(createRng(4));
  pb.text(10); // build the corpus index outside the timing
  const n = 20_000;
  let chars = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) chars += pb.text(2000).length;
  const us = ((performance.now() - t0) * 1000) / n;
  t.comment(`text(2000): ${us.toFixed(2)} us per call (${(chars / n).toFixed(0)} chars)`);
  t.ok(us < 1000, 'well under 1 ms amortised');
});
