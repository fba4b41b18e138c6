/**
 * Target-server collector against realistic expositions of vLLM (v1 with two
 * engines, and v0), SGLang, TGI, llama.cpp and Triton/TRT-LLM, served by a
 * tiny HTTP server on 127.0.0.1.
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.js';
import { parseExposition } from '../src/collectors/prom-text.js';
import { detectDialect } from '../src/collectors/server-dialects.js';
import { ServerCollector, type ServerCollectorOptions } from '../src/collectors/server.js';

function fixturesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const f = join(dir, 'test', 'fixtures', 'collectors');
    if (existsSync(f)) return f;
    dir = dirname(dir);
  }
  throw new Error('test/fixtures/collectors not found');
}
const fixture = (name: string): string => readFileSync(join(fixturesDir(), 'server', name), 'utf8');

function captureLogger(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(l);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

async function value(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = reg.getSingleMetric(name);
  if (m === undefined) return undefined;
  const got = await m.get();
  const hit = got.values.find((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x) && Object.keys(v.labels).every((k) => k in labels));
  return hit?.value;
}

async function count(reg: Registry, name: string): Promise<number> {
  const m = reg.getSingleMetric(name);
  return m === undefined ? 0 : (await m.get()).values.length;
}

/** A /metrics endpoint whose body, status and delay the test controls. */
const state: { body: string; status: number; hang: boolean } = { body: '', status: 200, hang: false };
const hung: ServerResponse[] = [];
const server = createServer((req, res) => {
  if (state.hang) {
    hung.push(res);
    return;
  }
  if (req.url !== '/metrics') {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(state.status, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(state.body);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
t.teardown(() => {
  for (const r of hung) r.destroy();
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});

function collector(reg: Registry, logger: pino.Logger, over: Partial<ServerCollectorOptions> = {}): ServerCollector {
  return new ServerCollector({
    intervalMs: 1000,
    timeoutMs: 2000,
    logger,
    clock: systemClock,
    registry: reg,
    url,
    maxBytes: 8 << 20,
    maxModels: 8,
    dialect: 'auto',
    ...over,
  });
}

async function scrape(c: ServerCollector, body: string): Promise<void> {
  state.body = body;
  state.status = 200;
  await c.collectOnce();
}

const VM = { dialect: 'vllm', model: 'meta-llama/Llama-3.1-8B-Instruct' };

t.test('dialect detection and the parser work-around', async (t) => {
  t.equal(detectDialect(parseExposition(fixture('vllm-v1-a.txt'), () => false).names), 'vllm');
  t.equal(detectDialect(parseExposition(fixture('vllm-v0.txt'), () => false).names), 'vllm');
  t.equal(detectDialect(parseExposition(fixture('sglang.txt'), () => false).names), 'sglang');
  t.equal(detectDialect(parseExposition(fixture('tgi.txt'), () => false).names), 'tgi');
  t.equal(detectDialect(parseExposition(fixture('llamacpp.txt'), () => false).names), 'llamacpp');
  t.equal(detectDialect(parseExposition(fixture('triton-trtllm.txt'), () => false).names), 'triton');
  t.equal(detectDialect(parseExposition(fixture('not-llm.txt'), () => false).names), undefined);
  // labelled histogram: _sum/_count per label set survive (the parser alone would lose them)
  const p = parseExposition(fixture('vllm-v1-a.txt'), (n) => n.startsWith('vllm:time_to_first_token_seconds_'));
  t.same(
    p.samples.get('vllm:time_to_first_token_seconds_sum')?.map((s) => [s.labels.engine, s.value]),
    [
      ['0', 150],
      ['1', 96],
    ],
  );
  t.same(
    p.samples.get('vllm:time_to_first_token_seconds_count')?.map((s) => s.value),
    [1000, 600],
  );
  t.equal(p.samples.has('vllm:time_to_first_token_seconds_bucket'), true, 'bucket lines kept only when asked for');
  // no trailing newline: the last line is still read
  t.same(parseExposition('a 1\nb{x="y"} 2', () => true).samples.get('b'), [{ labels: { x: 'y' }, value: 2 }]);
  t.same(parseExposition('c +Inf\n', () => true).samples.get('c')?.[0]?.value, Number.POSITIVE_INFINITY);
});

t.test('vLLM v1, two engines: sums, max, counters, interval means, restart', async (t) => {
  const reg = new Registry();
  const { logger, lines } = captureLogger();
  const c = collector(reg, logger);
  t.teardown(() => c.stop());

  await scrape(c, fixture('vllm-v1-a.txt'));
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'server' }), 1);
  t.equal(c.detectedDialect, 'vllm');
  t.equal(await value(reg, 'llmsoak_server_info', { dialect: 'vllm' }), 1);
  t.equal(await value(reg, 'llmsoak_server_requests_waiting', VM), 4, 'summed over engines');
  t.equal(await value(reg, 'llmsoak_server_requests_running', VM), 22);
  t.equal(await value(reg, 'llmsoak_server_kv_cache_usage_ratio', VM), 0.6125, 'the fullest engine');
  t.equal(await value(reg, 'llmsoak_server_preemptions_total', VM), 9, 'first scrape mirrors the server total');
  t.equal(await value(reg, 'llmsoak_server_prompt_tokens_total', VM), 4_000_000);
  t.equal(await value(reg, 'llmsoak_server_generation_tokens_total', VM), 1_500_000);
  t.equal(await count(reg, 'llmsoak_server_time_to_first_token_mean_seconds'), 0, 'no interval yet: absent');
  t.equal(await count(reg, 'llmsoak_server_prefix_cache_hit_ratio'), 0);

  await scrape(c, fixture('vllm-v1-b.txt'));
  t.equal(await value(reg, 'llmsoak_server_requests_waiting', VM), 7);
  t.equal(await value(reg, 'llmsoak_server_kv_cache_usage_ratio', VM), 0.9);
  t.equal(await value(reg, 'llmsoak_server_preemptions_total', VM), 12);
  t.equal(await value(reg, 'llmsoak_server_prompt_tokens_total', VM), 4_060_000);
  t.equal(await value(reg, 'llmsoak_server_generation_tokens_total', VM), 1_515_000);
  t.equal(c.generationTokensTotal(), 1_515_000);
  t.ok(Math.abs(((await value(reg, 'llmsoak_server_time_to_first_token_mean_seconds', VM)) ?? 0) - 7 / 30) < 1e-12, 'Δsum/Δcount over both engines');
  t.ok(Math.abs(((await value(reg, 'llmsoak_server_inter_token_latency_mean_seconds', VM)) ?? 0) - 0.03) < 1e-12);
  t.ok(Math.abs(((await value(reg, 'llmsoak_server_prefix_cache_hit_ratio', VM)) ?? 0) - 0.4) < 1e-12);

  await scrape(c, fixture('vllm-v1-restart.txt'));
  t.equal(await value(reg, 'llmsoak_server_preemptions_total', VM), 13, 'server restarted: ours keeps growing');
  t.equal(await value(reg, 'llmsoak_server_prompt_tokens_total', VM), 4_067_000);
  t.equal(await value(reg, 'llmsoak_server_generation_tokens_total', VM), 1_517_000);
  t.ok(Math.abs(((await value(reg, 'llmsoak_server_time_to_first_token_mean_seconds', VM)) ?? 0) - 0.1) < 1e-12, 'mean of what was counted since the restart');
  t.ok(Math.abs(((await value(reg, 'llmsoak_server_inter_token_latency_mean_seconds', VM)) ?? 0) - 50 / 1992) < 1e-12);
  t.ok(Math.abs(((await value(reg, 'llmsoak_server_prefix_cache_hit_ratio', VM)) ?? 0) - 100 / 1500) < 1e-12);

  await scrape(c, fixture('vllm-v1-restart.txt'));
  t.equal(await count(reg, 'llmsoak_server_time_to_first_token_mean_seconds'), 0, 'no request in the interval: absent, not stale');
  t.equal(await count(reg, 'llmsoak_server_prefix_cache_hit_ratio'), 0);
  t.equal(await value(reg, 'llmsoak_server_preemptions_total', VM), 13);
  t.same(lines(), [], 'nothing logged at info or above');
});

t.test('vLLM v0 names', async (t) => {
  const reg = new Registry();
  const c = collector(reg, captureLogger().logger);
  t.teardown(() => c.stop());
  const M = { dialect: 'vllm', model: 'mistralai/Mistral-7B-Instruct-v0.3' };
  const text = fixture('vllm-v0.txt');
  await scrape(c, text);
  t.equal(await value(reg, 'llmsoak_server_requests_waiting', M), 4);
  t.equal(await value(reg, 'llmsoak_server_requests_running', M), 7);
  t.equal(await value(reg, 'llmsoak_server_kv_cache_usage_ratio', M), 0.8731, 'gpu_cache_usage_perc');
  t.equal(await value(reg, 'llmsoak_server_prefix_cache_hit_ratio', M), 0.265, 'the v0 hit-rate gauge');
  t.equal(await value(reg, 'llmsoak_server_preemptions_total', M), 31);
  await scrape(
    c,
    text
      .replace(
        'vllm:time_per_output_token_seconds_count{model_name="mistralai/Mistral-7B-Instruct-v0.3"} 300834.0',
        'vllm:time_per_output_token_seconds_count{model_name="mistralai/Mistral-7B-Instruct-v0.3"} 301834.0',
      )
      .replace(
        'vllm:time_per_output_token_seconds_sum{model_name="mistralai/Mistral-7B-Instruct-v0.3"} 9025.02',
        'vllm:time_per_output_token_seconds_sum{model_name="mistralai/Mistral-7B-Instruct-v0.3"} 9055.02',
      ),
  );
  t.ok(Math.abs(((await value(reg, 'llmsoak_server_inter_token_latency_mean_seconds', M)) ?? 0) - 0.03) < 1e-9, 'time_per_output_token as ITL');
});

t.test('SGLang', async (t) => {
  const reg = new Registry();
  const c = collector(reg, captureLogger().logger);
  t.teardown(() => c.stop());
  const M = { dialect: 'sglang', model: 'Qwen/Qwen2.5-7B-Instruct' };
  await scrape(c, fixture('sglang.txt'));
  t.equal(await value(reg, 'llmsoak_server_info', { dialect: 'sglang' }), 1);
  t.equal(await value(reg, 'llmsoak_server_requests_waiting', M), 5);
  t.equal(await value(reg, 'llmsoak_server_requests_running', M), 24);
  t.equal(await value(reg, 'llmsoak_server_kv_cache_usage_ratio', M), 0.62);
  t.equal(await value(reg, 'llmsoak_server_prefix_cache_hit_ratio', M), 0.37);
  t.equal(await value(reg, 'llmsoak_server_preemptions_total', M), 12, 'retracted requests');
  t.equal(await value(reg, 'llmsoak_server_prompt_tokens_total', M), 3_400_000);
  t.equal(await value(reg, 'llmsoak_server_generation_tokens_total', M), 1_250_000);
});

t.test('TGI', async (t) => {
  const reg = new Registry();
  const c = collector(reg, captureLogger().logger);
  t.teardown(() => c.stop());
  const M = { dialect: 'tgi' };
  const text = fixture('tgi.txt');
  await scrape(c, text);
  t.equal(await value(reg, 'llmsoak_server_requests_waiting', M), 4);
  t.equal(await value(reg, 'llmsoak_server_requests_running', M), 16);
  t.equal(await count(reg, 'llmsoak_server_kv_cache_usage_ratio'), 0, 'TGI has no KV gauge');
  t.equal(await count(reg, 'llmsoak_server_preemptions_total'), 0);
  t.equal(await value(reg, 'llmsoak_server_prompt_tokens_total', M), 1_200_000, 'from the input-length histogram sum');
  t.equal(await value(reg, 'llmsoak_server_generation_tokens_total', M), 560_000);
  await scrape(
    c,
    text
      .replace('tgi_request_mean_time_per_token_duration_sum 57.25', 'tgi_request_mean_time_per_token_duration_sum 59.25')
      .replace('tgi_request_mean_time_per_token_duration_count 2290', 'tgi_request_mean_time_per_token_duration_count 2390')
      .replace('tgi_request_generated_tokens_sum 560000', 'tgi_request_generated_tokens_sum 561000'),
  );
  t.ok(Math.abs(((await value(reg, 'llmsoak_server_inter_token_latency_mean_seconds', M)) ?? 0) - 0.02) < 1e-9);
  t.equal(await value(reg, 'llmsoak_server_generation_tokens_total', M), 561_000);
});

t.test('llama.cpp', async (t) => {
  const reg = new Registry();
  const c = collector(reg, captureLogger().logger);
  t.teardown(() => c.stop());
  const M = { dialect: 'llamacpp' };
  const text = fixture('llamacpp.txt');
  await scrape(c, text);
  t.equal(await value(reg, 'llmsoak_server_requests_waiting', M), 1, 'requests_deferred');
  t.equal(await value(reg, 'llmsoak_server_requests_running', M), 2, 'requests_processing');
  t.equal(await value(reg, 'llmsoak_server_kv_cache_usage_ratio', M), 0.25);
  t.equal(await value(reg, 'llmsoak_server_prompt_tokens_total', M), 46931);
  t.equal(await value(reg, 'llmsoak_server_generation_tokens_total', M), 39080);
  await scrape(
    c,
    text
      .replace('llamacpp:tokens_predicted_total 39080', 'llamacpp:tokens_predicted_total 39180')
      .replace('llamacpp:tokens_predicted_seconds_total 1235.5', 'llamacpp:tokens_predicted_seconds_total 1237.5'),
  );
  t.ok(Math.abs(((await value(reg, 'llmsoak_server_inter_token_latency_mean_seconds', M)) ?? 0) - 0.02) < 1e-9, 'decode seconds per token');
  t.equal(await count(reg, 'llmsoak_server_time_to_first_token_mean_seconds'), 0);
});

t.test('Triton with the TensorRT-LLM backend', async (t) => {
  const reg = new Registry();
  const c = collector(reg, captureLogger().logger);
  t.teardown(() => c.stop());
  const M = { dialect: 'triton', model: 'tensorrt_llm' };
  await scrape(c, fixture('triton-trtllm.txt'));
  t.equal(await value(reg, 'llmsoak_server_info', { dialect: 'triton' }), 1);
  t.equal(await value(reg, 'llmsoak_server_requests_waiting', M), 5, 'request_type=waiting, not the ensemble pending counts');
  t.equal(await value(reg, 'llmsoak_server_requests_running', M), 11, 'request_type=active');
  t.equal(await value(reg, 'llmsoak_server_kv_cache_usage_ratio', M), 0.5, 'used / max blocks');
  t.equal(await count(reg, 'llmsoak_server_requests_waiting'), 1);
});

t.test('unknown dialect, dialect change, HTTP errors, size limit, timeout', async (t) => {
  const reg = new Registry();
  const { logger, lines } = captureLogger();
  const c = collector(reg, logger, { timeoutMs: 300, maxBytes: 64 * 1024 });
  t.teardown(() => c.stop());

  for (let i = 0; i < 3; i++) await scrape(c, fixture('not-llm.txt'));
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'server' }), 0);
  t.equal(await count(reg, 'llmsoak_server_info'), 0);
  t.equal(await count(reg, 'llmsoak_server_requests_waiting'), 0);
  t.equal(lines().length, 1, 'one line for three failed scrapes');
  t.match(String(lines()[0]?.msg), /server collector failing: no known LLM server metrics/);

  await scrape(c, fixture('vllm-v1-a.txt'));
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'server' }), 1);
  t.equal(lines().length, 2);
  t.match(String(lines()[1]?.msg), /recovered/);

  await scrape(c, fixture('sglang.txt'));
  t.equal(await value(reg, 'llmsoak_server_info', { dialect: 'sglang' }), 1);
  t.equal(await count(reg, 'llmsoak_server_info'), 1, 'the vllm info series is gone');
  t.equal(await value(reg, 'llmsoak_server_requests_waiting', VM), undefined, 'vllm gauges removed');
  t.equal(await value(reg, 'llmsoak_server_preemptions_total', VM), 9, 'counters stay');

  state.status = 503;
  state.body = 'overloaded';
  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'server' }), 0);
  t.match(String(lines().at(-1)?.reason), /HTTP 503/);
  t.equal(await count(reg, 'llmsoak_server_requests_waiting'), 0, 'no stale gauges while the scrape fails');
  t.equal(await count(reg, 'llmsoak_server_info'), 0);
  t.equal(await value(reg, 'llmsoak_server_preemptions_total', { dialect: 'sglang', model: 'Qwen/Qwen2.5-7B-Instruct' }), 12, 'counters stay');

  state.status = 200;
  state.body = fixture('vllm-v1-a.txt') + '#'.repeat(70 * 1024);
  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'server' }), 0, 'body over maxBytes');

  state.hang = true;
  const t0 = Date.now();
  await c.collectOnce();
  t.ok(Date.now() - t0 < 2000, 'a hung server costs at most the timeout');
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'server' }), 0);
  state.hang = false;
  t.equal(lines().filter((l) => String(l.msg).includes('failing')).length, 2, 'still one line per failing episode');
  t.equal(await value(reg, 'llmsoak_collector_failures_total', { collector: 'server' }), 6);
});
