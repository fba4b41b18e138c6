/**
 * The performance model is real: latency, queueing and the server's own gauges
 * respond to load as a continuous-batching server's do, TTFT grows with the
 * prompt, and a full waiting queue answers 429.
 */
import t from 'tap';
import { request } from 'undici';
import { startSimulator, type RunningSimulator } from '../src/simulator/server.js';
import { defaultSimulatorConfig, type EngineConfig } from '../src/simulator/config.js';
import { silentLogger } from '../src/log.js';
import { CATCH_UP_LIMIT_MS } from '../src/simulator/engine.js';
import type { ServerTimings } from '../src/types.js';

async function start(engine: Partial<EngineConfig>): Promise<RunningSimulator> {
  const cfg = defaultSimulatorConfig();
  Object.assign(cfg.engine, engine);
  const sim = await startSimulator(cfg, { logger: silentLogger(), port: 0 });
  t.teardown(() => sim.close());
  return sim;
}

interface Result {
  status: number;
  latencyMs: number;
  timings?: ServerTimings;
  body: Record<string, unknown>;
}

async function chat(sim: RunningSimulator, maxTokens: number, content = 'hello'): Promise<Result> {
  const t0 = performance.now();
  const res = await request(`${sim.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim-llama-3-8b', messages: [{ role: 'user', content }], max_tokens: maxTokens, ignore_eos: true }),
  });
  const body = (await res.body.json()) as Record<string, unknown>;
  return { status: res.statusCode, latencyMs: performance.now() - t0, timings: body.timings as ServerTimings | undefined, body };
}

async function gauge(sim: RunningSimulator, name: string): Promise<number> {
  const res = await request(`${sim.url}/metrics`);
  const text = await res.body.text();
  const m = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text);
  return Number(m?.[1]);
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? ((s[(s.length - 1) >> 1] as number) + (s[s.length >> 1] as number)) / 2 : NaN;
};

t.test('latency, queue time and waiting rise with concurrency', async (tt) => {
  // 4 slots, 2 ms + 0.5 ms/seq steps: a request of 10 tokens takes ~25–40 ms of service.
  const sim = await start({ maxNumSeqs: 4, decodeStepBaseMs: 2, decodeStepPerSeqMs: 0.5, prefillTokensPerSec: 1e6 });
  const levels = [1, 8, 32];
  // Warm up (JIT, sockets) so the first level is not measured cold.
  for (let i = 0; i < 5; i++) await chat(sim, 10);
  let maxWaiting = 0;
  let maxRunning = 0;
  const round = async (c: number): Promise<Result[]> => {
    const batch = Array.from({ length: c }, () => chat(sim, 10));
    if (c > 4) {
      await new Promise((r) => setTimeout(r, 15));
      maxWaiting = Math.max(maxWaiting, await gauge(sim, 'vllm:num_requests_waiting'));
      maxRunning = Math.max(maxRunning, await gauge(sim, 'vllm:num_requests_running'));
    }
    return Promise.all(batch);
  };
  // The levels take turns, round by round (1, 1, 8, 8, 32; four times), and each level's figure is the median
  // of all its requests: a busy spell of the machine then falls on every level alike. Run one level after
  // another, a spell that covered one level alone decided the comparison: ci410 measured 138 ms at 8 (≈ 80 ms
  // in other runs) and 8 → 32 rose 1.43×; before that, with two rounds at 8, ci210 and ci251.
  const results = new Map<number, Result[]>(levels.map((c) => [c, []]));
  for (let cycle = 0; cycle < 4; cycle++) {
    for (const c of [1, 1, 8, 8, 32]) results.get(c)?.push(...(await round(c)));
  }
  const lat: number[] = [];
  const queue: number[] = [];
  for (const c of levels) {
    const rs = results.get(c) ?? [];
    tt.ok(rs.length > 0 && rs.every((r) => r.status === 200), `all ok at concurrency ${c}`);
    lat.push(median(rs.map((r) => r.latencyMs)));
    queue.push(median(rs.map((r) => r.timings?.queue_ms ?? NaN)));
  }
  tt.comment(`median latency ms by concurrency ${levels.join('/')}: ${lat.map((x) => x.toFixed(1)).join(' / ')}`);
  tt.comment(`median queue ms: ${queue.map((x) => x.toFixed(1)).join(' / ')}`);
  tt.ok((lat[1] ?? 0) > (lat[0] ?? 0) * 1.3, 'latency rises from 1 to 8');
  tt.ok((lat[2] ?? 0) > (lat[1] ?? 0) * 1.5, 'latency rises from 8 to 32');
  tt.ok((queue[0] ?? 99) < 5, 'no queueing alone');
  tt.ok((queue[2] ?? 0) > (queue[1] ?? 0) && (queue[1] ?? 0) > (queue[0] ?? 0), 'queue time rises with load');
  tt.ok(maxWaiting > 0, `vllm:num_requests_waiting seen at ${maxWaiting}`);
  tt.equal(maxRunning, 4, 'running flat at maxNumSeqs');
  tt.equal(await gauge(sim, 'vllm:num_requests_waiting'), 0, 'drained');
  tt.equal(await gauge(sim, 'vllm:kv_cache_usage_perc'), 0, 'KV freed');
});

t.test('ITL grows with the batch; TTFT grows with the prompt', async (tt) => {
  const sim = await start({ maxNumSeqs: 64, decodeStepBaseMs: 2, decodeStepPerSeqMs: 0.5, prefillTokensPerSec: 10000, timeScale: 1 });
  const alone = await chat(sim, 20);
  const crowd = await Promise.all(Array.from({ length: 24 }, () => chat(sim, 20)));
  const itlAlone = mean(alone.timings?.itl_ms ?? []);
  const itlCrowd = mean(crowd.flatMap((r) => r.timings?.itl_ms ?? []));
  tt.comment(`ITL alone ${itlAlone.toFixed(2)} ms, with 24 in the batch ${itlCrowd.toFixed(2)} ms`);
  tt.ok(itlCrowd > itlAlone + 4, 'decode step time grows with batch size');

  const short = await chat(sim, 2, 'hi');
  const long = await chat(sim, 2, ' the'.repeat(2000));
  tt.equal(long.timings?.prompt_tokens, 2000 + 3 + 1 + 3);
  const ttftShort = short.timings?.ttft_ms ?? NaN;
  const ttftLong = long.timings?.ttft_ms ?? NaN;
  tt.comment(`TTFT short ${ttftShort} ms, 2000-token prompt ${ttftLong} ms`);
  tt.ok(ttftLong > ttftShort + 150, 'prefill of 2000 tokens at 10k tok/s adds ~200 ms');
});

t.test('429 when the waiting queue is full', async (tt) => {
  const sim = await start({ maxNumSeqs: 2, maxQueue: 4, decodeStepBaseMs: 10, decodeStepPerSeqMs: 0 });
  const results = await Promise.all(Array.from({ length: 16 }, () => chat(sim, 5)));
  const codes = results.map((r) => r.status);
  const ok = codes.filter((c) => c === 200).length;
  const limited = results.filter((r) => r.status === 429);
  tt.comment(`statuses: ${codes.join(',')}`);
  tt.ok(ok >= 4 && ok <= 8, `${ok} served (2 slots + 4 queued, give or take a step)`);
  tt.ok(limited.length >= 8, `${limited.length} refused`);
  const err = limited[0]?.body.error as Record<string, unknown> | undefined;
  tt.same(Object.keys(err ?? {}).sort(), ['code', 'message', 'param', 'type'], 'OpenAI error shape');
  tt.equal(err?.code, 'rate_limit_exceeded');
  const after = await chat(sim, 2);
  tt.equal(after.status, 200, 'serves again once drained');
});

t.test('near-zero service time (timeScale 0) stays responsive', async (tt) => {
  const sim = await start({ timeScale: 0, maxNumSeqs: 256 });
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: 64 }, () => chat(sim, 64)));
  const ms = performance.now() - t0;
  tt.ok(results.every((r) => r.status === 200 && r.timings?.completion_tokens === 64));
  tt.comment(`64 × 64 tokens in ${ms.toFixed(0)} ms`);
  tt.ok(ms < 3000, 'fast');
  // While idle, the loop does not spin: a 200 ms wait costs (almost) no CPU.
  const cpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, 200));
  const cpu = process.cpuUsage(cpu0);
  tt.ok((cpu.user + cpu.system) / 1000 < 60, `idle CPU ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms in 200 ms`);
});

t.test('steps keep absolute deadlines: mean ITL = modelled step time', async (tt) => {
  const sim = await start({ decodeStepBaseMs: 5, decodeStepPerSeqMs: 0.25 });
  // Make timers late on purpose, so the claim is tested on every machine: the
  // event loop is blocked for 2 ms every 7 ms, so a step's timer fires up to
  // 2 ms after its deadline.
  const blocker = setInterval(() => {
    const until = performance.now() + 2;
    while (performance.now() < until);
  }, 7);
  const r = await chat(sim, 80).finally(() => clearInterval(blocker));
  const itl = r.timings?.itl_ms ?? [];
  tt.equal(itl.length, 79, 'one gap per token after the first');
  // Each token's lateness against the schedule of the first: o[k] = t[k] - t[0] - k × step.
  // The mean ITL over a span of SPAN tokens is step + (o[k + SPAN] - o[k]) / SPAN. Lateness
  // that accumulated grows with every step, so every span's mean is above the step; late
  // timers that do not accumulate only make single tokens late, and the catch-up after a
  // stall of the machine moves only the spans across it: the median of the spans leaves
  // them out. A gap beyond CATCH_UP_LIMIT_MS is where the engine may have re-anchored its
  // schedule (by design: no burst through a long backlog), so spans across one are left out.
  const SPAN = 20;
  const offsets = [0];
  for (const gap of itl) offsets.push((offsets.at(-1) ?? 0) + gap - 5.25);
  const spanMeans: number[] = [];
  for (let k = 0; k + SPAN < offsets.length; k++) {
    if (itl.slice(k, k + SPAN).some((gap) => gap > CATCH_UP_LIMIT_MS)) continue;
    spanMeans.push(5.25 + ((offsets[k + SPAN] as number) - (offsets[k] as number)) / SPAN);
  }
  tt.ok(spanMeans.length >= 20, `${spanMeans.length} of ${offsets.length - SPAN} spans without a re-anchoring`);
  const m = median(spanMeans);
  tt.comment(
    `median of ${spanMeans.length} ${SPAN}-token spans' mean ITL ${m.toFixed(3)} ms for a 5.25 ms step (whole-stream mean ${mean(itl).toFixed(3)}; gaps ${Math.min(...itl)}–${Math.max(...itl)} ms)`,
  );
  tt.ok(Math.abs(m - 5.25) < 0.35, 'timer lateness does not accumulate');
});

t.test('close() ends open streams and frees the port promptly', async (tt) => {
  const cfg = defaultSimulatorConfig();
  Object.assign(cfg.engine, { decodeStepBaseMs: 50 });
  const sim = await startSimulator(cfg, { logger: silentLogger(), port: 0 });
  const res = await request(`${sim.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: cfg.model, messages: [{ role: 'user', content: 'x' }], max_tokens: 1000, ignore_eos: true, stream: true }),
  });
  tt.equal(res.statusCode, 200);
  const reading = (async () => {
    try {
      for await (const chunk of res.body) void chunk;
      return 'ended';
    } catch {
      return 'cut';
    }
  })();
  const queued = request(`${sim.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: cfg.model, messages: [{ role: 'user', content: 'x' }], max_tokens: 1000 }),
  }).then(
    () => 'answered',
    () => 'cut',
  );
  await new Promise((r) => setTimeout(r, 100));
  const t0 = performance.now();
  await sim.close();
  const ms = performance.now() - t0;
  tt.ok(ms < 500, `closed in ${ms.toFixed(0)} ms`);
  tt.equal(await reading, 'cut', 'the open stream is ended');
  tt.equal(await queued, 'cut', 'the waiting request is ended');
  const again = await startSimulator(cfg, { logger: silentLogger(), port: sim.port });
  tt.equal(again.port, sim.port, 'port free again');
  await again.close();
});

t.test('chunked prefill: a long prompt takes several steps and stalls others one chunk at a time', async (tt) => {
  const sim = await start({ maxPrefillTokensPerStep: 1000, prefillTokensPerSec: 10000, decodeStepBaseMs: 2, decodeStepPerSeqMs: 0 });
  const running = chat(sim, 400); // ~0.8 s of 2 ms steps: still streaming when the long prompt's chunks run
  await new Promise((r) => setTimeout(r, 60));
  const long = await chat(sim, 2, ' the'.repeat(3993)); // 3993 + 7 framing = 4000 prompt tokens: 4 chunks
  const first = await running;
  const ttft = long.timings?.ttft_ms ?? NaN;
  // The other stream's gaps of a chunk step or more: one per chunk (~100 ms each), not one the length of the
  // whole prompt (400 ms). Judged by their count and their median, not by the longest gap: a stall of the
  // machine adds to one gap, and the longest then measured the machine.
  const chunkGaps = (first.timings?.itl_ms ?? []).filter((gap) => gap >= 90);
  tt.comment(`long-prompt TTFT ${ttft} ms; the other stream's gaps ≥ 90 ms: ${chunkGaps.join(', ')}`);
  tt.ok(ttft >= 4 * 100, '4 chunks of 1000 tokens at 10k tok/s');
  tt.ok(chunkGaps.length >= 3 && median(chunkGaps) < 150, 'the other stream stalls by one chunk per step, not by the whole prompt');
});
