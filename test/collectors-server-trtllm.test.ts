/**
 * The trtllm dialect (TensorRT-LLM's trtllm-serve) against an exposition in
 * prometheus_client's own layout with the names of TensorRT-LLM's
 * MetricsCollector, served on 127.0.0.1: detected by its names (and not taken
 * for Triton's TensorRT-LLM backend), normalised, forced by config.
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.js';
import { silentLogger } from '../src/log.js';
import { parseExposition } from '../src/collectors/prom-text.js';
import { DIALECTS, detectDialect } from '../src/collectors/server-dialects.js';
import { ServerCollector } from '../src/collectors/server.js';
import { loadConfig } from '../src/config/load.js';

function fixture(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const f = join(dir, 'test', 'fixtures', 'collectors', 'server', name);
    if (existsSync(f)) return readFileSync(f, 'utf8');
    dir = dirname(dir);
  }
  throw new Error(`fixture ${name} not found`);
}

async function value(reg: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const m = reg.getSingleMetric(name);
  if (m === undefined) return undefined;
  const got = await m.get();
  return got.values.find((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x) && Object.keys(v.labels).every((k) => k in labels))?.value;
}

let body = '';
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
t.teardown(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;

const TEXT = fixture('trtllm-serve.txt');
const M = { dialect: 'trtllm', model: 'Qwen/Qwen3-8B' };

t.test('detected by its trtllm_ names, not as Triton', async (t) => {
  t.ok(DIALECTS.includes('trtllm'), 'registered');
  t.equal(detectDialect(parseExposition(TEXT, () => false).names), 'trtllm');
  t.equal(detectDialect(parseExposition(fixture('triton-trtllm.txt'), () => false).names), 'triton', "Triton's TensorRT-LLM backend stays triton");
});

t.test('normalised: queue, running, KV usage, tokens, server TTFT and ITL means, cache hit rate', async (t) => {
  const reg = new Registry();
  const c = new ServerCollector({ intervalMs: 1000, timeoutMs: 2000, logger: silentLogger(), clock: systemClock, registry: reg, url, maxBytes: 8 << 20, maxModels: 8, dialect: 'auto' });
  t.teardown(() => c.stop());
  body = TEXT;
  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_server_info', { dialect: 'trtllm' }), 1);
  t.equal(await value(reg, 'llmsoak_server_requests_waiting', M), 3);
  t.equal(await value(reg, 'llmsoak_server_requests_running', M), 12);
  t.equal(await value(reg, 'llmsoak_server_kv_cache_usage_ratio', M), 0.625);
  t.equal(await value(reg, 'llmsoak_server_prompt_tokens_total', M), 1_234_500, 'the first scrape mirrors the totals');
  t.equal(await value(reg, 'llmsoak_server_generation_tokens_total', M), 456_000);
  t.equal(await value(reg, 'llmsoak_server_prefix_cache_hit_ratio', M), 0.41);
  t.equal(await value(reg, 'llmsoak_server_time_to_first_token_mean_seconds', M), undefined, 'no mean before an interval');

  // 10 more requests: TTFT sum +1.0 s, TPOT sum +0.25 s; 900 more generated tokens.
  body = TEXT.replace(
    'trtllm_time_to_first_token_seconds_count{model_name="Qwen/Qwen3-8B",engine_type="trtllm"} 1500.0',
    'trtllm_time_to_first_token_seconds_count{model_name="Qwen/Qwen3-8B",engine_type="trtllm"} 1510.0',
  )
    .replace(
      'trtllm_time_to_first_token_seconds_sum{model_name="Qwen/Qwen3-8B",engine_type="trtllm"} 87.5',
      'trtllm_time_to_first_token_seconds_sum{model_name="Qwen/Qwen3-8B",engine_type="trtllm"} 88.5',
    )
    .replace(
      'trtllm_time_per_output_token_seconds_count{model_name="Qwen/Qwen3-8B",engine_type="trtllm"} 1500.0',
      'trtllm_time_per_output_token_seconds_count{model_name="Qwen/Qwen3-8B",engine_type="trtllm"} 1510.0',
    )
    .replace(
      'trtllm_time_per_output_token_seconds_sum{model_name="Qwen/Qwen3-8B",engine_type="trtllm"} 30.0',
      'trtllm_time_per_output_token_seconds_sum{model_name="Qwen/Qwen3-8B",engine_type="trtllm"} 30.25',
    )
    .replace('trtllm_generation_tokens_total{model_name="Qwen/Qwen3-8B",engine_type="trtllm"} 456000.0', 'trtllm_generation_tokens_total{model_name="Qwen/Qwen3-8B",engine_type="trtllm"} 456900.0');
  t.not(body, TEXT);
  await c.collectOnce();
  t.ok(Math.abs(((await value(reg, 'llmsoak_server_time_to_first_token_mean_seconds', M)) ?? 0) - 0.1) < 1e-9, 'TTFT mean of the interval: 1.0 s / 10');
  t.ok(Math.abs(((await value(reg, 'llmsoak_server_inter_token_latency_mean_seconds', M)) ?? 0) - 0.025) < 1e-9, 'time per output token of the interval: 0.25 s / 10');
  t.equal(await value(reg, 'llmsoak_server_generation_tokens_total', M), 456_900);
});

t.test('KV usage from the block gauges when the utilization gauge is absent', async (t) => {
  const reg = new Registry();
  const c = new ServerCollector({ intervalMs: 1000, timeoutMs: 2000, logger: silentLogger(), clock: systemClock, registry: reg, url, maxBytes: 8 << 20, maxModels: 8, dialect: 'trtllm' });
  t.teardown(() => c.stop());
  body = TEXT.split('\n')
    .filter((l) => !l.startsWith('trtllm_kv_cache_utilization'))
    .join('\n');
  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_server_kv_cache_usage_ratio', M), 2500 / 4000);
});

t.test('the config admits it (the enum comes from the registry)', async (t) => {
  const { config } = loadConfig({ document: { collectors: { server: { url: 'http://127.0.0.1:1/metrics', dialect: 'trtllm' } } }, env: {} });
  t.equal(config.collectors.server.dialect, 'trtllm');
});
