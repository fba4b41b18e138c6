/**
 * Shared prefixes and the simulator's prefix cache (issue #10, part 2).
 *
 * Units: the prefix builder (exact token counts, the share spread evenly,
 * shared prompts the same in every run), the block hashes and the LRU.
 * The simulator over HTTP: a repeated prompt hits exactly its cached full
 * blocks and prefills faster. End to end (the MUST-SHOW): a daemon soaking
 * the simulator on loopback with share 0.6, 1 and 0; the hit ratio llmsoak
 * exports (llmsoak_server_prefix_cache_hit_ratio, from vLLM's token counters)
 * matches the share's token ratio within 10%, and TTFT p50 drops by about the
 * prefill the cache skips (share 1 against share 0).
 *
 * "Share" is a share of requests; the hit ratio is in tokens. Expected ratio
 * = share × (tokens of the prefix a hit can serve: its full blocks) / (prompt
 * tokens per request), computed below from the configured figures.
 */
import t, { type Test } from 'tap';
import { request } from 'undici';
import { countTokens } from '../src/tokenizer.js';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { resolveSimulatorConfig } from '../src/simulator/config.js';
import { startSimulator } from '../src/simulator/server.js';
import { PrefixCache, blockHashes } from '../src/simulator/prefix-cache.js';
import { chatPromptTokenIds, countChatPromptTokens } from '../src/simulator/tokens.js';
import { PromptBuilder } from '../src/traffic/prompts.js';
import { createRng } from '../src/traffic/random.js';
import { SharedPrefixes } from '../src/traffic/shared-prefix.js';
import type { RequestRecord } from '../src/types.js';

function metric(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

async function getText(url: string): Promise<string> {
  const res = await request(url, { headersTimeout: 3000, bodyTimeout: 3000 });
  return res.body.text();
}

async function postJson(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, headersTimeout: 10_000, bodyTimeout: 10_000 });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

t.test('prefix builder: exact lengths, the share spread evenly, shared prompts fixed across runs', async (t) => {
  const cfg = { enabled: true, share: 0.6, prefixes: 3, tokens: 1024 };
  const rng = createRng(7);
  const prompts = new PromptBuilder(rng);
  const sp = new SharedPrefixes(cfg, rng, prompts);
  t.equal(sp.sharedPrompts.length, 3);
  const seen = new Set<string>();
  const flags: number[] = [];
  let exact = 0;
  let unique = 0;
  let addsUp = 0;
  for (let i = 0; i < 200; i++) {
    const p = sp.next();
    flags.push(p.shared === undefined ? 0 : 1);
    if (countTokens(p.text) === p.tokens && p.tokens === cfg.tokens) exact++;
    if (p.shared === undefined) {
      unique++;
      seen.add(p.text);
    }
    // The passage after a prefix adds up exactly (what a completions prompt is).
    if (i < 20 && countTokens(p.text + prompts.text(256)) === p.tokens + 256) addsUp++;
  }
  t.equal(exact, 200, 'every prefix is exactly `tokens` long');
  t.equal(seen.size, unique, 'a unique prefix is never repeated');
  t.equal(unique, 80, 'share 0.6 of 200: 120 shared, 80 unique');
  t.equal(addsUp, 20, 'prefix + passage counts add up');
  // Spread evenly: every window of n consecutive requests holds share × n shared ones, within one.
  for (const n of [5, 10, 37, 100]) {
    for (let s = 0; s + n <= flags.length; s += 7) {
      const k = flags.slice(s, s + n).reduce((a, b) => a + b, 0);
      if (Math.abs(k - cfg.share * n) > 1) t.fail(`window ${s}+${n} has ${k} shared`);
    }
  }
  const other = new SharedPrefixes(cfg, createRng(99), new PromptBuilder(createRng(99)));
  t.same(
    other.sharedPrompts.map((p) => p.text),
    sp.sharedPrompts.map((p) => p.text),
    'another run (another seed) has the same shared prompts',
  );
  t.equal(new Set(sp.sharedPrompts.map((p) => p.text)).size, 3, 'the shared prompts differ from each other');

  const none = new SharedPrefixes({ ...cfg, share: 0 }, rng, prompts);
  t.ok(
    Array.from({ length: 50 }, () => none.next()).every((p) => p.shared === undefined),
    'share 0: all unique',
  );
  const all = new SharedPrefixes({ ...cfg, share: 1 }, rng, prompts);
  t.ok(
    Array.from({ length: 50 }, () => all.next()).every((p) => p.shared !== undefined),
    'share 1: all shared',
  );
});

t.test('block hashes are chained; the LRU is bounded and counts leading hits only', async (t) => {
  const ids = Array.from({ length: 100 }, (_, i) => i % 13);
  const h = blockHashes(ids, 16);
  t.equal(h.length, 6, 'full blocks only (100 tokens = 6 blocks of 16 + 4)');
  t.equal(new Set(h).size, 6);
  const changedFirst = blockHashes([99, ...ids.slice(1)], 16);
  t.ok(
    changedFirst.every((x, i) => x !== h[i]),
    'a change in block 0 changes every later block hash (chained)',
  );
  t.same(blockHashes(ids.slice(0, 64), 16), h.slice(0, 4), 'a prefix of the prompt has the prefix of its hashes');

  const cache = new PrefixCache(4);
  cache.insert(['a', 'b', 'c']);
  t.equal(cache.match(['a', 'b', 'c', 'd'], 10), 3);
  t.equal(cache.match(['a', 'x', 'c'], 10), 1, 'stops at the first miss');
  t.equal(cache.match(['a', 'b', 'c'], 2), 2, 'never beyond maxBlocks');
  cache.insert(['d', 'e', 'f']);
  t.equal(cache.size, 4, 'bounded in blocks');
  // Recency: a, b were touched by the matches above after c; then d, e, f inserted: a, b, c out (LRU first).
  t.equal(cache.match(['c'], 1), 0, 'c evicted');
  t.equal(cache.match(['f'], 1), 1);
  cache.insert(['g']);
  t.equal(cache.match(['d'], 1), 1, 'd kept');
  t.equal(cache.match(['f'], 1), 1, 'f (touched) kept');
  t.equal(cache.size, 4);
  t.equal(new PrefixCache(0).match(['a'], 1), 0, 'capacity 0 holds nothing');
});

t.test('simulator: a repeated prompt hits its cached full blocks and prefills faster', async (t) => {
  const cfg = resolveSimulatorConfig({ engine: { prefillTokensPerSec: 20000, maxPrefillTokensPerStep: 8192, decodeStepBaseMs: 2 } });
  const sim = await startSimulator(cfg, { logger: silentLogger(), port: 0 });
  t.teardown(() => sim.close());
  const prompts = new PromptBuilder(createRng(3));
  const prompt = prompts.text(2000);
  const P = countTokens(prompt);
  const body = { model: cfg.model, prompt, max_tokens: 2 };
  const first = await postJson(`${sim.url}/v1/completions`, body);
  const second = await postJson(`${sim.url}/v1/completions`, body);
  t.equal(first.status, 200);
  const m = await getText(`${sim.url}/metrics`);
  const B = cfg.engine.blockSize;
  t.equal(metric(m, 'vllm:prefix_cache_queries_total'), 2 * P, 'queries: every prompt token, both requests');
  t.equal(metric(m, 'vllm:prefix_cache_hits_total'), Math.floor((P - 1) / B) * B, 'hits: the full blocks before the last token, second request');
  const ttft = (r: { json: Record<string, unknown> }) => (r.json.timings as { ttft_ms: number }).ttft_ms;
  const skippedMs = (Math.floor((P - 1) / B) * B * 1000) / cfg.engine.prefillTokensPerSec;
  t.ok(ttft(first) - ttft(second) > 0.7 * skippedMs, `server TTFT ${ttft(first)} → ${ttft(second)} ms, skipped prefill ${skippedMs} ms`);

  // Chat: the ids the cache hashes are as many as the prompt tokens counted.
  const messages = [
    { role: 'system', content: 'Be brief. ' + prompts.text(300) },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Hello' },
        { type: 'image_url', image_url: { url: 'x' } },
      ],
    },
    { role: 'user', name: 'bo', content: 'Hi' },
  ];
  t.equal(chatPromptTokenIds(messages).length, countChatPromptTokens(messages));
  await postJson(`${sim.url}/v1/chat/completions`, { model: cfg.model, messages, max_tokens: 2 });
  await postJson(`${sim.url}/v1/chat/completions`, { model: cfg.model, messages: [messages[0], { role: 'user', content: 'Another question' }], max_tokens: 2 });
  const m2 = await getText(`${sim.url}/metrics`);
  const hitsChat = (metric(m2, 'vllm:prefix_cache_hits_total') ?? 0) - (metric(m, 'vllm:prefix_cache_hits_total') ?? 0);
  t.ok(hitsChat >= Math.floor(300 / B) * B, `a chat with the same long system message hits at least its blocks (${hitsChat})`);

  const off = await startSimulator(resolveSimulatorConfig({ engine: { prefixCaching: false } }), { logger: silentLogger(), port: 0 });
  t.teardown(() => off.close());
  await postJson(`${off.url}/v1/completions`, body);
  await postJson(`${off.url}/v1/completions`, body);
  const mo = await getText(`${off.url}/metrics`);
  t.equal(metric(mo, 'vllm:prefix_cache_hits_total'), 0, 'caching off: no hits');
  t.equal(metric(mo, 'vllm:prefix_cache_queries_total'), 0, 'caching off: no lookups (as vLLM)');
});

/** The configured figures of the end-to-end runs. */
const E2E = {
  // Constant arrivals 400 ms apart against ~145 ms of service (share 0: 87 ms prefill + 8 tokens): no request waits
  // behind another unless the machine stalls for a quarter of a second, so TTFT is compared as the client saw it.
  prefixTokens: 4096,
  passageTokens: 256,
  prefixes: 2,
  rate: 2.5,
  warmupMs: 3000,
  measureMs: 14000,
  engine: { prefillTokensPerSec: 25000, maxPrefillTokensPerStep: 8192, decodeStepBaseMs: 14, decodeStepPerSeqMs: 0.1, timeScale: 0.5, blockSize: 16, maxModelLen: 16384 },
};

interface Arm {
  exported: number[];
  simRatio: number;
  ttftP50Ms: number;
  n: number;
}

/** One soak of the simulator with the given share: llmsoak's exported hit ratios and TTFTs after warm-up. */
async function soak(t: Test, share: number): Promise<Arm> {
  const simCfg = resolveSimulatorConfig({ engine: E2E.engine });
  const sim = await startSimulator(simCfg, { logger: silentLogger(), port: 0 });
  const { config } = loadConfig({
    document: {
      target: { url: `${sim.url}/v1` },
      server: { listen: '127.0.0.1:0' },
      traffic: {
        rate: E2E.rate,
        arrival: 'constant',
        seed: 11,
        scenarios: [{ name: 'rag', endpoint: 'completions', stream: true, ignoreEos: true, prompt: { dist: 'fixed', value: E2E.passageTokens }, output: { dist: 'fixed', value: 8 } }],
        sharedPrefix: { enabled: true, share, prefixes: E2E.prefixes, tokens: E2E.prefixTokens },
      },
      collectors: { intervalMs: 1500, gpu: { enabled: false }, host: { enabled: false }, process: { enabled: false } },
      analyzer: { enabled: false },
      run: { drainMs: 1000 },
    },
  });
  const records: RequestRecord[] = [];
  const daemon = new Daemon(config, { logger: silentLogger(), onRecord: (r) => records.push(r) });
  try {
    await daemon.start();
    const started = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, E2E.warmupMs));
    const simBefore = await getText(`${sim.url}/metrics`);
    const measureFrom = process.hrtime.bigint();
    const exported: number[] = [];
    const until = Date.now() + E2E.measureMs;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      const v = metric(await getText(`${daemon.listenUrl}/metrics`), 'llmsoak_server_prefix_cache_hit_ratio');
      if (v !== undefined && process.hrtime.bigint() - measureFrom > 1_600_000_000n) exported.push(v); // first interval after warm-up done
    }
    const simAfter = await getText(`${sim.url}/metrics`);
    const d = (name: string) => (metric(simAfter, name) ?? 0) - (metric(simBefore, name) ?? 0);
    // TTFT as the client measured it (first content chunk − sent).
    const ttfts = records.filter((r) => r.sentAt >= measureFrom && r.outcome === 'ok' && r.firstTokenAt !== undefined).map((r) => Number((r.firstTokenAt as bigint) - r.sentAt) / 1e6);
    t.ok(records.length > 0 && started > 0n);
    t.equal(records.filter((r) => r.outcome !== 'ok').length, 0, `share ${share}: every request ok`);
    return { exported, simRatio: d('vllm:prefix_cache_hits_total') / d('vllm:prefix_cache_queries_total'), ttftP50Ms: median(ttfts), n: ttfts.length };
  } finally {
    await daemon.stop('test');
    await sim.close();
  }
}

t.test('MUST-SHOW: exported hit ratio matches the share (tokens) within 10%, and TTFT p50 drops by the skipped prefill', async (t) => {
  const shared = await soak(t, 0.6);
  const all = await soak(t, 1);
  const none = await soak(t, 0);
  const B = E2E.engine.blockSize;
  const promptTokens = E2E.prefixTokens + E2E.passageTokens; // completions: the server counts the same tokens
  const servedByCache = Math.floor(E2E.prefixTokens / B) * B; // the prefix's full blocks
  const expectedAt = (share: number) => (share * servedByCache) / promptTokens;
  const expected = expectedAt(0.6);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const exported = mean(shared.exported);
  const skippedMs = (servedByCache * 1000 * E2E.engine.timeScale) / E2E.engine.prefillTokensPerSec;
  // The drop is judged between share 1 and share 0: each arm's p50 is then its one mode (every request a hit,
  // or none). Share 0.6's p50 is the 18th of ~35 values of which ~21 are hits, the hits' ~86th percentile: one
  // stall of the machine lengthening 3 or 4 of them moved it halfway to the misses (ci361: drop 56 of 82 ms).
  const drop = none.ttftP50Ms - all.ttftP50Ms;
  t.comment(
    `share 0.6: expected token hit ratio ${expected.toFixed(4)}, llmsoak exported mean ${exported.toFixed(4)} over ${shared.exported.length} samples ` +
      `(range ${Math.min(...shared.exported).toFixed(3)}–${Math.max(...shared.exported).toFixed(3)}), simulator's own counters ${shared.simRatio.toFixed(4)}`,
  );
  t.comment(
    `TTFT p50: share 0 ${none.ttftP50Ms.toFixed(1)} ms (n=${none.n}), share 0.6 ${shared.ttftP50Ms.toFixed(1)} ms (n=${shared.n}), share 1 ${all.ttftP50Ms.toFixed(1)} ms (n=${all.n}); ` +
      `drop ${drop.toFixed(1)} ms, skipped prefill ${skippedMs.toFixed(1)} ms`,
  );
  t.ok(shared.exported.length >= 10, 'the exported gauge was read throughout');
  t.ok(Math.abs(exported - expected) <= 0.1 * expected, `exported ratio ${exported.toFixed(4)} within 10% of ${expected.toFixed(4)}`);
  t.ok(Math.abs(shared.simRatio - expected) <= 0.1 * expected, "and so are the simulator's own counters");
  const exportedAll = mean(all.exported);
  t.ok(all.exported.length >= 10 && Math.abs(exportedAll - expectedAt(1)) <= 0.1 * expectedAt(1), `share 1: exported ratio ${exportedAll.toFixed(4)} within 10% of ${expectedAt(1).toFixed(4)}`);
  const exportedNone = mean(none.exported);
  t.ok(none.exported.length >= 10 && exportedNone < 0.01, `share 0: exported ratio ${exportedNone.toFixed(4)} ≈ 0`);
  t.ok(shared.n >= 30 && all.n >= 30 && none.n >= 30, 'enough requests measured');
  t.ok(drop > 0.7 * skippedMs && drop < 1.3 * skippedMs, `TTFT p50 drop ${drop.toFixed(1)} ms (share 0 → 1) within 30% of the skipped prefill ${skippedMs.toFixed(1)} ms`);
  t.ok(shared.ttftP50Ms < none.ttftP50Ms, `share 0.6, most requests hits: its p50 below share 0's too (${shared.ttftP50Ms.toFixed(1)} < ${none.ttftP50Ms.toFixed(1)} ms)`);
});
