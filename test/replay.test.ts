import t from 'tap';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadReplay, ReplayArrivals } from '../src/traffic/replay.js';
import { ConfigError } from '../src/errors.js';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { defaultSimulatorConfig } from '../src/simulator/config.js';
import { startSimulator } from '../src/simulator/server.js';
import { ROOT } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'llmsoak-replay-'));

t.test('bad lines are named with their line numbers, all at once', async (t) => {
  const f = join(dir, 'bad.jsonl');
  writeFileSync(
    f,
    '{"t": 0, "endpoint": "chat", "inputTokens": 5, "outputTokens": 5}\nnot json\n{"endpoint": "chat"}\n{"t": 1, "endpoint": "images", "inputTokens": 1, "outputTokens": 1}\n{"t": 2, "endpoint": "chat"}\n',
  );
  try {
    loadReplay(f);
    t.fail('should throw');
  } catch (err) {
    t.ok(err instanceof ConfigError);
    t.same((err as ConfigError).problems, [
      'traffic.replay.file: line 2: not JSON',
      'traffic.replay.file: line 3: needs "t" (seconds >= 0) or "timestamp" (ISO date)',
      'traffic.replay.file: line 4: endpoint must be chat, completions or embeddings',
      'traffic.replay.file: line 5: needs "body", or "inputTokens" and "outputTokens"',
    ]);
  }
});

t.test('arrivals follow the recording, scaled by speed, and loop', async (t) => {
  const entries = loadReplay(join(ROOT, 'examples/replay/recorded.jsonl'));
  t.equal(entries.length, 6);
  const a = new ReplayArrivals(entries, 2, true);
  const offsets = Array.from({ length: 8 }, () => a.next() / 1e9);
  t.same(offsets.slice(0, 6), [0, 0.2, 0.25, 0.55, 0.65, 1.0], 'recorded times / 2');
  // period = (last + mean gap) / speed = (2 + 0.4) / 2 = 1.2 s
  t.ok(Math.abs((offsets[6] as number) - 1.2) < 1e-9 && Math.abs((offsets[7] as number) - 1.4) < 1e-9, 'second lap');
  const once = new ReplayArrivals(entries, 1, false);
  for (let i = 0; i < 6; i++) once.next();
  t.equal(once.next(), Infinity, 'no loop: ends');
  const ts = join(dir, 'ts.jsonl');
  writeFileSync(
    ts,
    '{"timestamp": "2026-01-01T00:00:10Z", "endpoint": "chat", "inputTokens": 5, "outputTokens": 5}\n{"timestamp": "2026-01-01T00:00:12.5Z", "endpoint": "chat", "inputTokens": 5, "outputTokens": 5}\n',
  );
  t.same(
    loadReplay(ts).map((e) => e.t),
    [0, 2.5],
    'ISO timestamps relative to the first',
  );
});

t.test('a replayed recording is what goes on the wire', async (t) => {
  const sim = await startSimulator(defaultSimulatorConfig(), { logger: silentLogger(), host: '127.0.0.1', port: 0 });
  t.teardown(() => sim.close());
  const { config } = loadConfig({
    document: {
      target: { url: `${sim.url}/v1` },
      server: { listen: '127.0.0.1:0' },
      traffic: { replay: { file: join(ROOT, 'examples/replay/recorded.jsonl'), speed: 1, loop: false } },
      collectors: { host: { enabled: false }, gpu: { enabled: false }, server: { enabled: false } },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger() });
  await daemon.start();
  t.teardown(() => daemon.stop('teardown'));
  await new Promise((r) => setTimeout(r, 3500));
  await daemon.stop('done');
  const text = await daemon.registry.metrics();
  const count = (scenario: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith('llmsoak_requests_total{') && l.includes(`scenario="${scenario}"`))
      .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
  t.equal(count('support_bot'), 3);
  t.equal(count('doc_summary'), 1);
  t.equal(count('replay_embeddings'), 1);
  t.equal(count('replay_completions'), 1);
  t.match(text, /llmsoak_requests_total\{scenario="support_bot",endpoint="chat",model="sim-llama-3-8b",outcome="ok"\} 3/);
});
