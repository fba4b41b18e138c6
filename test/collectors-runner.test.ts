/**
 * The loop every collector shares (base.ts), the config schema and
 * createCollectors() wiring, and the cost/energy collector.
 */
import t from 'tap';
import { Ajv } from 'ajv';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { systemClock, type Clock } from '../src/clock.js';
import { PeriodicCollector, OK, fail, type RunResult } from '../src/collectors/base.js';
import { CostCollector } from '../src/collectors/cost.js';
import { collectorsConfigSchema, createCollectors, defaultCollectorsConfig, type CollectorsConfig } from '../src/collectors/index.js';
import { ConfigError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { FakeClock } from './fake-clock.js';

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

class Scripted extends PeriodicCollector {
  running = 0;
  maxRunning = 0;
  runs = 0;
  aborted = 0;
  constructor(
    reg: Registry,
    logger: pino.Logger,
    private readonly script: (n: number, signal: AbortSignal) => Promise<RunResult>,
    intervalMs = 1000,
    timeoutMs = 1000,
    clock?: FakeClock,
  ) {
    super('scripted', { intervalMs, timeoutMs, logger, clock: clock ?? systemClock, ...(clock ? { timers: clock } : {}), registry: reg });
  }
  protected async collect(signal: AbortSignal): Promise<RunResult> {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    signal.addEventListener('abort', () => this.aborted++, { once: true });
    try {
      return await this.script(this.runs++, signal);
    } finally {
      this.running--;
    }
  }
}

t.test('one line when failing starts, one when it recovers; throws are failures', async (t) => {
  const reg = new Registry();
  const { logger, lines } = captureLogger();
  const plan: Array<RunResult | 'throw'> = [fail('boom'), 'throw', fail('boom again'), OK, OK, fail('x')];
  const c = new Scripted(reg, logger, async (n) => {
    const p = plan[n];
    if (p === 'throw') throw new Error('thrown inside collect');
    return p ?? OK;
  });
  for (let i = 0; i < plan.length; i++) await c.collectOnce();
  t.same(
    lines().map((l) => [l.level, l.msg, l.component, l.collector]),
    [
      [40, 'scripted collector failing: boom', 'collector', 'scripted'],
      [30, 'scripted collector recovered', 'collector', 'scripted'],
      [40, 'scripted collector failing: x', 'collector', 'scripted'],
    ],
  );
  t.equal(await value(reg, 'llmsoak_collector_failures_total', { collector: 'scripted' }), 4);
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'scripted' }), 0);
  t.ok(((await value(reg, 'llmsoak_collector_duration_seconds', { collector: 'scripted' })) ?? -1) >= 0);
  await c.stop();
});

/** Waits `ms` on the fake clock (the collection's own work), honouring nothing: as a hung syscall would. */
const fakeWork = (clock: FakeClock, ms: number): Promise<void> => new Promise((r) => void clock.setTimeout(r, ms));

t.test('a run past its timeout is abandoned; no run starts while it still hangs (fake clock)', async (t) => {
  const reg = new Registry();
  const { logger, lines } = captureLogger();
  const clock = new FakeClock(0);
  const c = new Scripted(
    reg,
    logger,
    async (n) => {
      if (n === 0) await fakeWork(clock, 300); // ignores its signal on purpose
      return OK;
    },
    1000,
    50,
    clock,
  );
  const first = c.collectOnce();
  await clock.advance(49);
  t.equal(c.aborted, 0, 'not abandoned before its 50 ms timeout');
  await clock.advance(1);
  await first;
  t.equal(c.aborted, 1, 'abandoned at exactly 50 ms: the signal fired');
  await c.collectOnce();
  t.equal(c.runs, 1, 'skipped while the abandoned run is still going');
  t.equal(await value(reg, 'llmsoak_collector_failures_total', { collector: 'scripted' }), 2);
  t.match(String(lines()[0]?.reason), /timed out after 50 ms/);
  await clock.advance(249);
  await c.collectOnce();
  t.equal(c.runs, 1, 'still skipped 299 ms in: the abandoned run has not settled');
  await clock.advance(1);
  await c.collectOnce();
  t.equal(c.runs, 2, 'runs again once the abandoned run settled (300 ms)');
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'scripted' }), 1);
  t.equal(lines().length, 2, 'one line failing, one recovered');
  await c.stop();
});

t.test('the loop: own interval, never overlapping, stop aborts and waits (fake clock)', async (t) => {
  const reg = new Registry();
  const clock = new FakeClock(0);
  const startedAt: number[] = [];
  // Each collection takes 15 ms (or until aborted); the interval is 5 ms, shorter than a run.
  const c = new Scripted(
    reg,
    silentLogger(),
    async (_n, signal) => {
      startedAt.push(clock.wallMs());
      await new Promise<void>((resolve) => {
        const h = clock.setTimeout(resolve, 15);
        signal.addEventListener(
          'abort',
          () => {
            clock.clearTimeout(h);
            resolve();
          },
          { once: true },
        );
      });
      return OK;
    },
    5,
    1000,
    clock,
  );
  c.start();
  c.start();
  const extra = [c.collectOnce(), c.collectOnce()];
  await clock.advance(150);
  await Promise.all(extra);
  t.equal(c.maxRunning, 1, 'runs never overlap, collectOnce joins the run in flight');
  // A run longer than the interval: the next starts as the previous ends, every 15 ms from 0.
  t.same(startedAt, [0, 15, 30, 45, 60, 75, 90, 105, 120, 135, 150], 'one run every 15 ms, back to back');
  const stopping = c.stop();
  await clock.advance(0);
  await stopping;
  const after = c.runs;
  await clock.advance(100);
  t.equal(c.runs, after, 'nothing runs after stop');
  await c.collectOnce();
  t.equal(c.runs, after, 'collectOnce after stop is a no-op');
  t.equal(clock.timersPending, 0, 'no timer left behind');
});

t.test('config schema: ajv defaults equal defaultCollectorsConfig(), unknown keys refused', async (t) => {
  const ajv = new Ajv({ useDefaults: true, allErrors: true });
  const validate = ajv.compile(collectorsConfigSchema);
  const filled: Record<string, unknown> = {};
  t.ok(validate(filled), JSON.stringify(validate.errors));
  t.same(filled, defaultCollectorsConfig());
  t.notOk(validate({ host: { bogus: 1 } }));
  t.notOk(validate({ gpu: { backend: 'rocm' } }));
  t.notOk(validate({ server: { url: 'ftp://x' } }));
  const partial: Record<string, unknown> = { intervalMs: 1000, gpu: { backend: 'dcgm', dcgmUrl: 'http://127.0.0.1:9400/metrics' } };
  t.ok(validate(partial));
  t.same((partial.gpu as Record<string, unknown>).retryMs, 300_000);
});

t.test('createCollectors: which collectors exist, config errors', async (t) => {
  const cfg: CollectorsConfig = defaultCollectorsConfig();
  cfg.gpu.libraryPath = '/nonexistent/libnvidia-ml.so.1';
  cfg.gpu.nvidiaSmiPath = '/nonexistent/nvidia-smi';
  const deps = { registry: new Registry(), logger: silentLogger(), clock: systemClock };
  const all = createCollectors(cfg, { ...deps, target: { pid: process.pid, metricsUrl: 'http://127.0.0.1:9/metrics' }, outputTokens: () => 0 });
  t.same(
    all.map((c) => c.name),
    ['host', 'process', 'gpu', 'server', 'cost'],
  );
  const bare = createCollectors(cfg, { ...deps, registry: new Registry(), target: {} });
  t.same(
    bare.map((c) => c.name),
    ['host', 'gpu'],
    'nothing to watch, nothing to scrape, no token count',
  );
  const viaServer = createCollectors(cfg, { ...deps, registry: new Registry(), target: { metricsUrl: 'http://127.0.0.1:9/metrics' } });
  t.same(
    viaServer.map((c) => c.name),
    ['host', 'gpu', 'server', 'cost'],
    'cost from the server token counter',
  );
  const off = defaultCollectorsConfig();
  off.host.enabled = false;
  off.gpu.enabled = false;
  off.cost.enabled = false;
  t.same(
    createCollectors(off, { ...deps, registry: new Registry(), target: { processName: 'vllm' } }).map((c) => c.name),
    ['process'],
  );

  const bad = defaultCollectorsConfig();
  bad.process.namePattern = '(unclosed';
  bad.host.networkDeviceExclude = '[';
  t.throws(() => createCollectors(bad, { ...deps, target: {} }), ConfigError);
  try {
    createCollectors(bad, { ...deps, target: {} });
  } catch (err) {
    t.equal((err as ConfigError).problems.length, 2);
  }
  for (const c of [...all, ...bare, ...viaServer]) await c.stop();
});

t.test('cost and energy per output token over the window', async (t) => {
  let now = 0n;
  const clock: Clock = { monoNs: () => now, wallMs: () => Number(now / 1_000_000n) };
  let tokens: number | undefined = 0;
  let energy: number | undefined = 1000;
  let gpus: number | undefined = 2;
  const reg = new Registry();
  const { logger, lines } = captureLogger();
  const c = new CostCollector({
    intervalMs: 1000,
    timeoutMs: 1000,
    logger,
    clock,
    registry: reg,
    windowMs: 60_000,
    gpuHourPrice: 4,
    inputs: { outputTokens: () => tokens, energyJoules: () => energy, gpuCount: () => gpus },
  });
  const at = async (s: number): Promise<void> => {
    now = BigInt(s) * 1_000_000_000n;
    await c.collectOnce();
  };
  await at(0);
  t.equal(await value(reg, 'llmsoak_cost_per_million_output_tokens'), undefined, 'no tokens yet: absent');
  tokens = 10_000;
  energy = 6000;
  await at(10);
  // 4 per GPU-hour × 2 GPUs × 10 s = 0.0222…; per 1e6 tokens: /0.01
  t.ok(Math.abs(((await value(reg, 'llmsoak_cost_per_million_output_tokens')) ?? 0) - (4 * 2 * 10) / 3600 / 0.01) < 1e-9);
  t.equal(await value(reg, 'llmsoak_energy_joules_per_output_token'), 0.5);
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'cost' }), 1);

  for (let s = 20; s <= 100; s += 10) {
    tokens += 1000;
    energy += 100;
    await at(s);
  }
  // window 60 s: base is the sample at 40 s → 6000 tokens, 600 J over 60 s
  t.ok(Math.abs(((await value(reg, 'llmsoak_cost_per_million_output_tokens')) ?? 0) - (4 * 2 * 60) / 3600 / 0.006) < 1e-9);
  t.ok(Math.abs(((await value(reg, 'llmsoak_energy_joules_per_output_token')) ?? 0) - 0.1) < 1e-12);
  // The inputs are series too: alerts/llmsoak-rules.yml (group llmsoak-cost) derives the same figures from them.
  t.equal(await value(reg, 'llmsoak_cost_output_tokens_total'), 19_000, 'tokens counted, as a counter');
  t.equal(await value(reg, 'llmsoak_cost_gpu_hour_price'), 4, 'the price');
  t.equal(await value(reg, 'llmsoak_cost_gpus'), 2, 'the GPUs billed');

  gpus = undefined;
  tokens += 1000;
  await at(110);
  t.equal(await value(reg, 'llmsoak_cost_per_million_output_tokens'), undefined, 'GPU count unknown: no cost');
  t.ok(((await value(reg, 'llmsoak_energy_joules_per_output_token')) ?? 0) > 0, 'energy per token still there');
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'cost' }), 0);
  t.match(String(lines()[0]?.reason), /gpuCount/);
  t.equal(await value(reg, 'llmsoak_cost_gpus'), undefined, 'GPU count unknown: no GPU series');

  gpus = 2;
  energy = undefined;
  for (let s = 120; s <= 200; s += 10) await at(s);
  t.equal(await value(reg, 'llmsoak_cost_per_million_output_tokens'), undefined, 'idle window: absent, not infinite');
  t.equal(await value(reg, 'llmsoak_energy_joules_per_output_token'), undefined);
  // The source restarted (a server counter after a redeploy): the exported counter counts on from its new zero.
  tokens = 300;
  await at(210);
  t.equal(await value(reg, 'llmsoak_cost_output_tokens_total'), 20_000 + 300, 'a source that went back adds what it counted since');
  await c.stop();
});
