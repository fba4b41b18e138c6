/**
 * Issue 15: the daemon's main thread never loads the tokenizer (about 66 MB of
 * RSS per thread) when its traffic runs in a worker: the worker builds the
 * prompts, and the start-up preflight counts its tokens in a short-lived
 * thread (TokenCountThread) whose counts equal the tokenizer's own. The
 * worker's own heap is exported beside the main thread's; against a target
 * that reports usage, the worker builds the default mix without the tokenizer
 * too (corpus-tokens.test.ts holds the table it builds from).
 * The simulator runs in its own process, as `npm start` runs it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { createLogger } from '../src/log.js';
import { tokenizerLoaded } from '../src/tokenizer.js';
import { TokenCountThread } from '../src/traffic/token-count-thread.js';
import { freePort, startSimulator, waitFor } from './helpers.js';

function metricSum(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

t.test('with traffic in a worker, the main thread sends, measures and preflights without loading the tokenizer, and so does the worker', async (t) => {
  const port = await freePort();
  const sim = startSimulator(['--port', String(port)], { PATH: process.env.PATH ?? '', LLMSOAK_LOG__LEVEL: 'warn' });
  t.teardown(() => sim.child.kill('SIGKILL'));
  const simUrl = `http://127.0.0.1:${port}`;
  await waitFor(async () => ((await request(`${simUrl}/health`)).statusCode === 200 ? true : undefined), 15_000);

  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-lean-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The default scenario mix (chats, long summaries, multi-turn, completions, embeddings) and the default preflight.
  const { config } = loadConfig({
    document: {
      target: { url: `${simUrl}/v1` },
      server: { listen: '127.0.0.1:0' },
      traffic: { rate: 8, seed: 3 },
      collectors: { gpu: { enabled: false } },
      analyzer: { enabled: false },
      run: { dataDir: dir, drainMs: 500 },
      report: { dir },
    },
  });
  t.equal(config.traffic.workers, 1, 'the default: one traffic worker');
  const daemon = new Daemon(config, { logger: createLogger('silent') });
  await daemon.start();
  t.teardown(() => daemon.stop('teardown'));

  const pre = daemon.preflightReport;
  const compared = pre?.checks.find((c) => c.check === 'tokenizer vs usage');
  t.equal(compared?.status, 'ok', `the preflight counted tokens (in its thread): ${compared?.detail}`);
  const probes = pre?.endpoints.filter((p) => p.tokenizerTokens !== undefined) ?? [];
  t.ok(probes.length >= 2, `${probes.length} probes counted by the tokenizer`);
  for (const p of probes) t.equal(p.tokenizerTokens, p.outputTokens, `${p.path}${p.stream ? ' (stream)' : ''}: tokenizer count = usage`);

  await waitFor(async () => (metricSum(await daemon.registry.metrics(), 'llmsoak_requests_total') >= 20 ? true : undefined), 20_000);
  const text = await daemon.registry.metrics();
  t.ok(metricSum(text, 'llmsoak_output_tokens_total') > 0, 'tokens measured');
  t.equal(tokenizerLoaded(), false, 'the main thread has not loaded the tokenizer');
  // The worker's own heap is a series too (prom-client's nodejs_heap_* are the main thread's isolate only).
  const used = metricSum(text, 'llmsoak_traffic_worker_heap_used_bytes');
  const total = metricSum(text, 'llmsoak_traffic_worker_heap_total_bytes');
  t.ok(used > 1e6 && used <= total, `worker 0 heap: ${(used / 1e6).toFixed(1)} MB used of ${(total / 1e6).toFixed(1)} MB`);
  t.match(text, /llmsoak_traffic_worker_heap_used_bytes\{worker="0"\} /, 'labelled by worker');
  // The preflight saw usage on every probe and the mix counts no text: the worker built it all from the table.
  t.match(text, /llmsoak_traffic_worker_tokenizer_loaded\{worker="0"\} 0\n/, 'the worker has not loaded the tokenizer either');
});

t.test('TokenCountThread: the same counts as the tokenizer, synchronously; unusable after close', async (t) => {
  const texts = ['', 'hello world', ' The quick brown fox jumps over the lazy dog.', 'naïve café — 日本語のテキスト 😀', 'x'.repeat(5000)];
  const thread = new TokenCountThread();
  const counted = texts.map((s) => thread.count(s));
  await thread.close();
  t.throws(() => thread.count('again'), /used after close/);
  t.equal(tokenizerLoaded(), false, 'counted in the thread, not here');
  const { countTokens } = await import('../src/tokenizer.js');
  t.same(
    counted,
    texts.map((s) => countTokens(s)),
    'each count equals the tokenizer in this thread',
  );
  t.equal(tokenizerLoaded(), true, 'and now this thread has loaded it');
});
