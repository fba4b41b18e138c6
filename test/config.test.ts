import t from 'tap';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { ROOT, problemsOf, runCli } from './helpers.js';

t.test('an empty config is valid and fully defaulted', async (t) => {
  const { config } = loadConfig({});
  t.equal(config.server.listen, '0.0.0.0:9477');
  t.equal(config.server.port, 9477);
  t.equal(config.server.host, '0.0.0.0');
  t.equal(config.target.url, undefined, 'no target: the embedded simulator');
  t.equal(config.traffic.mode, 'open');
  t.ok(config.traffic.scenarios.length >= 4, 'default scenario mix');
  t.ok(
    config.traffic.scenarios.some((s) => s.turns.max > 1),
    'a multi-turn scenario by default',
  );
  t.ok(config.traffic.scenarios.some((s) => s.endpoint === 'embeddings'));
  t.equal(config.simulator.port, 18000);
  t.equal(config.target.timeouts.idleMs, 30000);
});

t.test('every example config is valid', async (t) => {
  const dir = join(ROOT, 'examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  t.ok(files.length >= 3, 'examples exist');
  for (const f of files) {
    t.doesNotThrow(() => loadConfig({ file: join(dir, f), env: { VLLM_API_KEY: 'x' } }), f);
  }
});

t.test('env overrides, ${env:} references and flags, in that order', async (t) => {
  const { config } = loadConfig({
    document: { target: { url: 'http://127.0.0.1:8000/v1', apiKey: '${env:MY_KEY}' }, traffic: { rate: 1 } },
    env: { MY_KEY: 'sk-secret', LLMSOAK_TRAFFIC__RATE: '7', LLMSOAK_TRAFFIC__MAX_IN_FLIGHT: '32', LLMSOAK_LOG__LEVEL: 'warn' },
    flags: { model: 'm1', duration: 5 },
  });
  t.equal(config.target.apiKey, 'sk-secret');
  t.equal(config.traffic.rate, 7, 'env beats file');
  t.equal(config.traffic.maxInFlight, 32, 'snake case maps to camelCase');
  t.equal(config.log.level, 'warn');
  t.equal(config.target.model, 'm1');
  t.equal(config.run.durationSec, 5);
  const flagWins = loadConfig({ env: { LLMSOAK_TRAFFIC__RATE: '7' }, flags: { rate: 3 } });
  t.equal(flagWins.config.traffic.rate, 3, 'flag beats env');
});

t.test('a missing ${env:} variable is named, its value never printed', async (t) => {
  const p = problemsOf(() => loadConfig({ document: { target: { apiKey: '${env:NOPE_KEY}' } }, env: {} }));
  t.same(p, ['target.apiKey: environment variable NOPE_KEY is not set']);
});

t.test('every problem is reported at once, as path: message', async (t) => {
  const p = problemsOf(() => loadConfig({ file: join(ROOT, 'test/fixtures/broken-config.yaml'), env: {} }));
  t.ok(p.includes('traffic.rte: unknown key'), 'unknown key named');
  t.ok(p.includes('traffic.rate: must be >= 0'), 'negative rate named');
  t.ok(p.includes('traffic.maxInFlight: must be integer'), 'wrong type named');
  t.ok(
    p.some((x) => x.startsWith('server.listen:')),
    'bad listen named',
  );
  t.ok(
    p.some((x) => x.startsWith('slo.ttftMs:')),
    'zero SLO named',
  );
  t.equal(p.length, 5, `exactly the five problems: ${p.join(' | ')}`);
});

t.test('cross-field checks', async (t) => {
  const p = problemsOf(() =>
    loadConfig({
      document: {
        traffic: {
          scenarios: [
            { name: 'a', endpoint: 'chat', prompt: { dist: 'lognormal', median: 10, sigma: 1, min: 50, max: 10 }, output: { dist: 'negbin' } },
            { name: 'a', endpoint: 'completions', turns: { min: 3, max: 2 } },
          ],
        },
      },
    }),
  );
  t.ok(p.includes('traffic.scenarios[0].prompt: min (50) is above max (10)'));
  t.ok(p.includes('traffic.scenarios[0].output.mean: is required for dist negbin'));
  t.ok(p.includes('traffic.scenarios[1].name: duplicate scenario name "a"'));
  t.ok(p.includes('traffic.scenarios[1].turns: min (3) is above max (2)'));
});

t.test('YAML syntax errors name the line', async (t) => {
  const p = problemsOf(() => loadConfig({ file: join(ROOT, 'test/fixtures/bad-syntax.yaml') }));
  t.equal(p.length, 1);
  t.match(p[0], /^\(file\): line 2 column \d+: /);
});

t.test('llmsoak check-config exits 2 listing every problem, 0 when valid', async (t) => {
  const bad = await runCli(['check-config', join(ROOT, 'test/fixtures/broken-config.yaml')]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /5 problems/);
  t.match(bad.stderr, /traffic\.rte: unknown key/);
  t.match(bad.stderr, /traffic\.rate: must be >= 0/);
  t.match(bad.stderr, /traffic\.maxInFlight: must be integer/);
  const good = await runCli(['check-config', join(ROOT, 'examples/minimal.yaml')]);
  t.equal(good.code, 0, good.stderr);
  t.match(good.stdout, /ok/);
  const missing = await runCli(['check-config', '/nonexistent.yaml']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /cannot read \/nonexistent\.yaml \(ENOENT\)/);
  const usage = await runCli(['run', '--bogus']);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /Unknown option '--bogus'/);
  const help = await runCli(['run', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /--target URL/);
});

t.test('preflight: defaults and bad values', async (t) => {
  const { config } = loadConfig({});
  t.same(config.preflight, { enabled: true, timeoutMs: 10000, onMissingEndpoint: 'skip' });
  t.same(
    problemsOf(() => loadConfig({ document: { preflight: { onMissingEndpoint: 'ignore' } } })),
    ['preflight.onMissingEndpoint: must be one of fail, skip, keep'],
  );
  t.same(
    problemsOf(() => loadConfig({ document: { preflight: { timeoutMs: 5 } } })),
    ['preflight.timeoutMs: must be >= 100'],
  );
  t.same(
    problemsOf(() => loadConfig({ document: { preflight: { extra: 1 } } })),
    ['preflight.extra: unknown key'],
  );
  t.equal(loadConfig({ env: { LLMSOAK_PREFLIGHT__ON_MISSING_ENDPOINT: 'fail' } }).config.preflight.onMissingEndpoint, 'fail', 'from the environment too');
});
