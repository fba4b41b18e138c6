/**
 * Replay augmentation: rare lengths (above a quantile) repeated `factor`
 * times per lap, spread over it, deterministic under the seed; the config
 * keys; and on the wire, through a counting loopback proxy in front of the
 * built-in simulator.
 */
import t from 'tap';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '../src/traffic/random.js';
import { ReplayArrivals, loadReplay, replayPeriodSec, type ReplayEntry } from '../src/traffic/replay.js';
import { oversampleRare, quantileOf, replaySchedule } from '../src/traffic/replay-augment.js';
import type { ConfigError } from '../src/errors.js';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { defaultSimulatorConfig } from '../src/simulator/config.js';
import { startSimulator } from '../src/simulator/server.js';

const dir = mkdtempSync(join(tmpdir(), 'llmsoak-augment-'));

/** 200 requests, one every 0.05 s, lengths from a seeded lognormal (a long tail). */
function recording(seed = 3): ReplayEntry[] {
  const rng = createRng(seed);
  return Array.from({ length: 200 }, (_, i) => ({
    t: i * 0.05,
    endpoint: 'chat' as const,
    scenario: 'rec',
    stream: true,
    inputTokens: Math.round(rng.logNormal(200, 0.8)),
    outputTokens: Math.round(rng.logNormal(60, 0.7)),
  }));
}

const key = (e: ReplayEntry): string => `${e.inputTokens}/${e.outputTokens}/${e.scenario}`;

t.test('quantiles: nearest rank over the known (positive) lengths', async (t) => {
  t.equal(quantileOf([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), 9);
  t.equal(quantileOf([10, 1, 5], 0.5), 5);
  t.equal(quantileOf([0, 0, 7], 0.5), 7, 'unknown (0) lengths take no part');
  t.equal(quantileOf([0], 0.5), null);
});

t.test('rare requests appear factor times per lap, spread over it; the rest once', async (t) => {
  const entries = recording();
  const period = replayPeriodSec(entries);
  const factor = 4;
  const s = oversampleRare(entries, { factor, quantile: 0.9 }, createRng(11));
  const inAbove = quantileOf(
    entries.map((e) => e.inputTokens),
    0.9,
  ) as number;
  const outAbove = quantileOf(
    entries.map((e) => e.outputTokens),
    0.9,
  ) as number;
  const rare = entries.filter((e) => e.inputTokens > inAbove || e.outputTokens > outAbove);
  t.ok(rare.length >= 20 && rare.length <= 40, `rare by input or output above the 0.9 quantile: ${rare.length} of 200`);
  t.equal(s.oversampled?.rare, rare.length);
  t.equal(s.entries.length, 200 + rare.length * (factor - 1), 'the copies are added');
  t.equal(s.periodSec, period, "the lap keeps the recording's length");
  t.ok(
    s.entries.every((e, i) => e.t >= 0 && e.t < period && (i === 0 || e.t >= (s.entries[i - 1] as ReplayEntry).t)),
    'sorted, within one lap',
  );
  // Each rare request (by its lengths): factor appearances, at least half a slice (period / factor / 2) apart around the lap.
  const times = new Map<string, number[]>();
  for (const e of s.entries) times.set(key(e), [...(times.get(key(e)) ?? []), e.t]);
  let bunched = 0;
  for (const e of rare) {
    const ts = (times.get(key(e)) ?? []).sort((a, b) => a - b);
    const copiesOfSameKey = entries.filter((x) => key(x) === key(e)).length;
    if (ts.length !== factor * copiesOfSameKey) t.fail(`${key(e)}: ${ts.length} appearances`);
    if (copiesOfSameKey > 1) continue;
    const gaps = ts.map((x, i) => (i + 1 < ts.length ? (ts[i + 1] as number) - x : (ts[0] as number) + period - x));
    if (Math.min(...gaps) < period / factor / 2 - 1e-9) bunched++;
  }
  t.equal(bunched, 0, 'no two appearances of a rare request closer than half a slice');
  const common = entries.filter((e) => !rare.includes(e) && entries.filter((x) => key(x) === key(e)).length === 1);
  t.ok(
    common.every((e) => times.get(key(e))?.length === 1),
    'common requests appear once',
  );
});

t.test('deterministic under the seed; factor 1 or no augment leaves the recording as is', async (t) => {
  const entries = recording();
  const a = oversampleRare(entries, { factor: 3, quantile: 0.8 }, createRng(7));
  const b = oversampleRare(entries, { factor: 3, quantile: 0.8 }, createRng(7));
  const c = oversampleRare(entries, { factor: 3, quantile: 0.8 }, createRng(8));
  t.same(
    a.entries.map((e) => e.t),
    b.entries.map((e) => e.t),
    'same seed, same schedule',
  );
  t.not(JSON.stringify(a.entries.map((e) => e.t)), JSON.stringify(c.entries.map((e) => e.t)), 'another seed, other times');
  let called = false;
  const rngCalled = () => {
    called = true;
    return createRng(1);
  };
  const plain = replaySchedule(entries, undefined, rngCalled);
  t.equal(plain.entries, entries);
  t.equal(replaySchedule(entries, { oversample: { factor: 1, quantile: 0.9 } }, rngCalled).entries, entries);
  t.notOk(called, "no random draws unless oversampling (the run's other streams stay as they were)");
});

t.test('arrivals of an augmented schedule keep the lap and the speed', async (t) => {
  const entries: ReplayEntry[] = [0, 1, 2, 3].map((x) => ({ t: x, endpoint: 'chat', scenario: 'r', stream: true, inputTokens: x === 3 ? 5000 : 100, outputTokens: 10 }));
  const s = oversampleRare(entries, { factor: 2, quantile: 0.5 }, createRng(1));
  t.equal(s.periodSec, 4, 'last (3 s) + mean gap (1 s)');
  t.equal(s.entries.length, 5);
  const copy = s.entries.find((e, i) => e.inputTokens === 5000 && i < 4) as ReplayEntry;
  t.ok(copy.t >= 0.5 && copy.t < 1.5, `the copy sits half a lap (2 s) after 3 s, mod 4, within +-0.5 s: ${copy.t.toFixed(3)}`);
  const a = new ReplayArrivals(s.entries, 2, true, s.periodSec);
  const xs = Array.from({ length: 6 }, () => a.next() / 1e9);
  t.equal(xs[5], 2, 'the second lap starts at period / speed');
});

t.test('config: augment keys, defaults, errors naming the key', async (t) => {
  const cfg = loadConfig({ document: { traffic: { replay: { file: 'r.jsonl', augment: { oversample: {} } } } } }).config;
  t.same(cfg.traffic.replay?.augment, { oversample: { factor: 4, quantile: 0.95 } }, 'defaults: factor 4, quantile 0.95');
  const bad = (oversample: unknown): string[] => {
    try {
      loadConfig({ document: { traffic: { replay: { file: 'r.jsonl', augment: { oversample } } } } });
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };
  t.same(bad({ factor: 0 }), ['traffic.replay.augment.oversample.factor: must be >= 1']);
  t.same(bad({ factor: 2.5 }), ['traffic.replay.augment.oversample.factor: must be integer']);
  t.same(bad({ quantile: 1 }), ['traffic.replay.augment.oversample.quantile: must be < 1']);
  t.same(bad({ often: 2 }), ['traffic.replay.augment.oversample.often: unknown key']);
});

t.test('on the wire: the rare request arrives factor times per lap', async (t) => {
  // 10 requests over 1.8 s; one asks for 64 output tokens, the others 4 (max_tokens tells them apart on the wire).
  const file = join(dir, 'rec.jsonl');
  writeFileSync(file, Array.from({ length: 10 }, (_, i) => JSON.stringify({ t: i * 0.2, endpoint: 'chat', inputTokens: 20, outputTokens: i === 4 ? 64 : 4 })).join('\n'));
  t.equal(loadReplay(file).length, 10);
  const sim = await startSimulator(defaultSimulatorConfig(), { logger: silentLogger(), host: '127.0.0.1', port: 0 });
  t.teardown(() => sim.close());
  const seen: number[] = [];
  const up = new URL(sim.url);
  const proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST') seen.push((JSON.parse(body.toString()) as { max_tokens: number }).max_tokens);
      const fwd = httpRequest({ host: up.hostname, port: up.port, path: req.url, method: req.method, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      fwd.on('error', () => res.destroy());
      fwd.end(body);
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  t.teardown(
    () =>
      new Promise<void>((r) => {
        proxy.closeAllConnections();
        proxy.close(() => r());
      }),
  );
  const addr = proxy.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const { config } = loadConfig({
    document: {
      target: { url: `http://127.0.0.1:${port}/v1` },
      server: { listen: '127.0.0.1:0' },
      traffic: { seed: 5, replay: { file, speed: 2, loop: false, augment: { oversample: { factor: 3, quantile: 0.5 } } } },
      run: { drainMs: 2000 },
      analyzer: { enabled: false },
      quality: { enabled: false },
      collectors: { host: { enabled: false }, gpu: { enabled: false }, server: { enabled: false }, process: { enabled: false } },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger() });
  t.teardown(() => daemon.stop('teardown'));
  await daemon.start();
  // One lap at speed 2: 2 s / 2 = 1 s; wait for it and the answers.
  await new Promise((r) => setTimeout(r, 2500));
  await daemon.stop('done');
  t.equal(seen.filter((m) => m === 64).length, 3, 'the long-output request went out 3 times');
  t.equal(seen.filter((m) => m === 4).length, 9, 'each other request once');
});
