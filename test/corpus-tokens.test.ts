/**
 * Issue 15: the traffic worker builds the default mix's prompts without the
 * tokenizer (about 66 MB of RSS in a thread). The corpus and template counts
 * come from a table computed ahead of time (src/traffic/corpus-tokens.ts),
 * which must equal what the tokenizer computes now; a multi-turn reply counts
 * as the record's output tokens. The tokenizer is loaded (before traffic)
 * only where requests may count text.
 */
import t from 'tap';
import { DEFAULT_SCENARIOS } from '../src/traffic/config.js';
import type { ScenarioConfig } from '../src/traffic/config.js';
import { CORPUS_TOKEN_LENGTHS, TEMPLATE_TOKENS } from '../src/traffic/corpus-tokens.js';
import { computeCorpusTokenData } from '../src/traffic/corpus-tokens-gen.js';
import { templateStrings } from '../src/traffic/prompt-templates.js';
import { PromptBuilder } from '../src/traffic/prompts.js';
import { createRng } from '../src/traffic/random.js';
import { buildWorkload, countsText, type WorkloadSpec } from '../src/traffic/workload-spec.js';
import { countTokens, tokenizerLoaded } from '../src/tokenizer.js';

/** The default mix with its defaults filled in, as the config loader gives it. */
function defaultMix(): ScenarioConfig[] {
  return DEFAULT_SCENARIOS.map((s) => ({ turns: { min: 1, max: 1 }, ignoreEos: true, ...s }) as ScenarioConfig);
}

function spec(over: Partial<{ usageReported: boolean; sharedPrefix: boolean; edge: boolean }>): WorkloadSpec {
  const scenarios = defaultMix();
  if (over.edge) scenarios.push({ ...scenarios[0], name: 'edge_unicode', edgeCase: 'unicode' } as ScenarioConfig);
  const options = over.sharedPrefix ? { sharedPrefix: { enabled: true, share: 0.5, prefixes: 2, tokens: 64 } } : {};
  return { kind: 'scenarios', scenarios, model: 'm', basePath: '/v1', options, ...(over.usageReported === undefined ? {} : { usageReported: over.usageReported }) };
}

// First in this file: nothing has loaded the tokenizer in this process yet.
t.test('the default mix is built, multi-turn sessions included, without loading the tokenizer', async (t) => {
  t.equal(tokenizerLoaded(), false, 'not loaded at the start of the test');
  const rng = createRng(7);
  const built = buildWorkload(spec({ usageReported: true }), rng, new PromptBuilder(rng));
  const w = built.workload;
  const bodies: { scenario: string; promptTokens: number; body: string; turn?: number }[] = [];
  for (let i = 0; i < 400; i++) {
    const p = w.prepare(w.pick());
    bodies.push({ scenario: p.scenario.name, promptTokens: p.request.promptTokens, body: p.request.body, ...(p.session ? { turn: p.session.turnsDone } : {}) });
    // Every multi-turn reply: 12 output tokens, as usage would say.
    if (p.session) w.complete(p.session, true, ' A reply of about a dozen tokens, as the server wrote it.', 12);
  }
  t.equal(tokenizerLoaded(), false, '400 requests of the default mix built: the tokenizer is still not loaded');
  const kinds = new Set(bodies.map((b) => b.scenario));
  t.same(
    [...kinds].sort(),
    defaultMix()
      .map((s) => s.name)
      .sort(),
    'every default scenario was built',
  );
  const continued = bodies.filter((b) => b.turn !== undefined && b.turn > 0);
  t.ok(continued.length > 0, `${continued.length} multi-turn requests continued a session`);

  // Now with the tokenizer: the counts the builder declared are exact (templates, passages, multi-turn).
  const single = bodies.filter((b) => b.scenario === 'short_qa' || b.scenario === 'long_summary').slice(0, 40);
  for (const b of single) {
    const msgs = (JSON.parse(b.body) as { messages: { content: string }[] }).messages;
    const counted = msgs.reduce((a, m) => a + countTokens(m.content), 0);
    if (counted !== b.promptTokens) t.fail(`${b.scenario}: declared ${b.promptTokens}, counted ${counted}`);
  }
  t.pass(`${single.length} single-turn chats: declared prompt tokens = the tokenizer's count of their contents`);
  const firsts = bodies.filter((b) => b.turn === 0).slice(0, 20);
  t.ok(firsts.length > 0, 'sessions were started');
  for (const b of firsts) {
    const msgs = (JSON.parse(b.body) as { messages: { content: string }[] }).messages;
    const counted = msgs.reduce((a, m) => a + countTokens(m.content), 0);
    if (counted !== b.promptTokens) t.fail(`a first turn: declared ${b.promptTokens}, counted ${counted}`);
  }
  t.pass(`${firsts.length} sessions' first turns: declared = counted (the instructions' count from the table)`);
});

t.test('the table in corpus-tokens.ts is what the tokenizer computes now (else: npm run gen:corpus-tokens)', async (t) => {
  const now = computeCorpusTokenData();
  t.equal(CORPUS_TOKEN_LENGTHS, now.lengths, `corpus token lengths (${Buffer.from(now.lengths, 'base64').length} tokens)`);
  t.same(TEMPLATE_TOKENS, now.templates, 'template counts');
  t.same(Object.keys(TEMPLATE_TOKENS).sort(), templateStrings().sort(), 'one count for every template string');
});

t.test('the tokenizer is loaded before traffic exactly where requests may count text', async (t) => {
  t.equal(countsText(spec({ usageReported: true })), false, 'usage reported, default mix: no');
  t.equal(countsText(spec({})), true, 'usage not known (no preflight): yes, the output-token fallback');
  t.equal(countsText(spec({ usageReported: false })), true, 'a target without usage: yes');
  t.equal(countsText(spec({ usageReported: true, sharedPrefix: true })), true, 'shared prefixes (unique headers are counted): yes');
  t.equal(countsText(spec({ usageReported: true, edge: true })), true, 'edge cases (odd texts are counted): yes');
  t.equal(countsText({ kind: 'replay', replay: { file: 'x.jsonl', speed: 1, loop: true }, model: 'm', basePath: '/v1', usageReported: true }), false, 'a replay with usage: no');
});
