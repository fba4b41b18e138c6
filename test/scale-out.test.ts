/**
 * Scale-out without a coordinator: `traffic.replicas` (count, index or
 * `auto` from a StatefulSet pod name), each replica sending rate/N (users/N),
 * `analyzer.source: prometheus` validated and redacted; then a fleet of two
 * llmsoak replicas (in process) soaking one simulator, scraped by a real
 * Prometheus (Debian's `prometheus`): the replicas' rates add up to the
 * configured rate, only replica 0 runs the analyzer, and it reads the
 * fleet through Prometheus and finds an injected fault.
 */
import t from 'tap';
import { request } from 'undici';
import { stringify } from 'yaml';
import { loadConfig, redactConfig, replicaRate, replicaUsers } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { freePort, startSimulator, waitFor } from './helpers.js';
import { findBinary, finiteValues, installLine, promQuery, startPrometheus } from './monitoring-stack.js';

function problems(doc: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig({ document: doc, env });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

t.test('traffic.replicas and analyzer.prometheus in the config', async (t) => {
  t.same(loadConfig({}).config.traffic.replicas, { count: 1, index: 0 }, 'default: one replica');
  t.equal(loadConfig({}).config.analyzer.source, 'local', 'default: the local store');
  const auto = loadConfig({ document: { traffic: { replicas: { count: 8, index: 'auto' } } }, env: { HOSTNAME: 'llmsoak-7' } }).config;
  t.same(auto.traffic.replicas, { count: 8, index: 7 }, 'auto: the StatefulSet ordinal of HOSTNAME');
  const fromEnv = loadConfig({ env: { HOSTNAME: 'soak-web-2', LLMSOAK_TRAFFIC__REPLICAS__COUNT: '3', LLMSOAK_TRAFFIC__REPLICAS__INDEX: 'auto' } }).config;
  t.same(fromEnv.traffic.replicas, { count: 3, index: 2 }, 'from the environment');
  t.match(problems({ traffic: { replicas: { count: 2, index: 'auto' } } }, { HOSTNAME: 'laptop' }), [/^traffic\.replicas\.index: auto needs a host name ending in -<ordinal>.*"laptop"/]);
  t.match(problems({ traffic: { replicas: { count: 2, index: 2 } } }), ['traffic.replicas.index: 2 is not below count (2)']);
  t.match(problems({ traffic: { replicas: { count: 0, index: 'first' } } }), [/traffic\.replicas\.count/, /traffic\.replicas\.index/]);
  t.match(problems({ analyzer: { source: 'prometheus' } }), [/^analyzer\.prometheus: is required when analyzer\.source is prometheus/]);
  t.match(problems({ analyzer: { source: 'prometheus', prometheus: { url: 'ftp://x' } } }), [/^analyzer\.prometheus\.url: has the wrong form/]);
  t.match(problems({ analyzer: { prometheus: { url: 'http://p:9090', bearerToken: 'a', basicAuth: { username: 'u', password: 'p' } } } }), [
    'analyzer.prometheus: bearerToken and basicAuth are mutually exclusive',
  ]);
  const prom = loadConfig({ document: { analyzer: { source: 'prometheus', prometheus: { url: 'http://p:9090', bearerToken: '${env:PROM_TOKEN}' } } }, env: { PROM_TOKEN: 'tok' } }).config;
  t.match(prom.analyzer.prometheus, { url: 'http://p:9090', timeoutMs: 10000, bearerToken: 'tok', maxResponseBytes: 16777216 });
  t.equal(redactConfig(prom).analyzer.prometheus?.bearerToken, '[redacted]', 'the token is never logged');
  const basic = loadConfig({ document: { analyzer: { prometheus: { url: 'http://p:9090', basicAuth: { username: 'u', password: 'pw' } } } } }).config;
  t.equal(redactConfig(basic).analyzer.prometheus?.basicAuth?.password, '[redacted]');
});

t.test("each replica's share", async (t) => {
  t.equal(replicaRate(12, { count: 3 }), 4);
  t.same(
    [0, 1, 2].map((index) => replicaUsers(10, { count: 3, index })),
    [4, 3, 3],
    'users/N, the remainder to the first',
  );
  t.same(
    [0, 1, 2].map((index) => replicaUsers(2, { count: 3, index })),
    [1, 1, 0],
  );
});

t.test('a fleet of two replicas behind one Prometheus', async (t) => {
  const promBin = findBinary('/usr/bin/prometheus', 'prometheus');
  if (promBin === undefined) return void t.fail(installLine('prometheus'));

  const simPort = await freePort();
  const sim = startSimulator(['--port', String(simPort)], { PATH: process.env.PATH ?? '', LLMSOAK_LOG__LEVEL: 'warn' });
  t.teardown(() => void sim.child.kill('SIGKILL'));
  const simUrl = `http://127.0.0.1:${simPort}`;
  await waitFor(async () => ((await request(`${simUrl}/health`)).statusCode === 200 ? true : undefined), 15_000);

  // Prometheus first (the replicas' ports are fixed up front), scraping both every second.
  const ports = [await freePort(), await freePort()];
  const prom = await startPrometheus(
    promBin,
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [{ job_name: 'llmsoak', static_configs: [{ targets: ports.map((p) => `127.0.0.1:${p}`) }] }],
    }),
  );
  t.teardown(() => prom.stop());

  const daemons = ports.map((port, index) => {
    const { config } = loadConfig({
      document: {
        target: { url: `${simUrl}/v1` },
        server: { listen: `127.0.0.1:${port}` },
        traffic: {
          rate: 10,
          seed: 5,
          arrival: 'constant',
          replicas: { count: 2, index },
          scenarios: [{ name: 'qa', endpoint: 'chat', prompt: { dist: 'uniform', min: 50, max: 200 }, output: { dist: 'uniform', min: 10, max: 40 } }],
        },
        collectors: { intervalMs: 1000, gpu: { enabled: false } },
        analyzer: { source: 'prometheus', prometheus: { url: prom.base, timeoutMs: 3000 }, stepSec: 1, intervalSec: 2, windowSec: 12, warmupSec: 4, baselineSec: 10, leakWindowSec: 3600 },
        run: { drainMs: 1000 },
        log: { level: 'silent' },
      },
    });
    return new Daemon(config, { logger: silentLogger() });
  });
  for (const d of daemons) {
    await d.start();
    t.teardown(() => d.stop('teardown'));
  }

  const rates = await waitFor(
    async () => {
      const a = await promQuery(prom.base, 'llmsoak_target_request_rate{job="llmsoak"}');
      const v = finiteValues(a);
      return v.length === 2 ? v : undefined;
    },
    15_000,
    250,
  );
  t.same(rates, [5, 5], 'each replica asks for rate/2');
  t.same(finiteValues(await promQuery(prom.base, 'sum(llmsoak_target_request_rate)')), [10], 'Prometheus adds them up to the configured rate');

  t.ok(daemons[0]?.hintAnalyzer, 'replica 0 runs the analyzer');
  t.equal(daemons[1]?.hintAnalyzer, undefined, 'replica 1 does not');

  // Sent requests add up to 10/s across the fleet: constant arrivals, so the only slack is rate()'s extrapolation
  // over 1 s scrapes and a request's duration between sending and being counted (5 %).
  await new Promise((r) => setTimeout(r, 12_000));
  const sent = finiteValues(await promQuery(prom.base, 'sum(rate(llmsoak_requests_total{job="llmsoak"}[10s]))'))[0] ?? 0;
  t.ok(sent >= 9.5 && sent <= 10.5, `fleet sends ${sent.toFixed(2)} requests/s (10 ± 5 %)`);
  const per = finiteValues(await promQuery(prom.base, 'sum by (instance) (rate(llmsoak_requests_total{job="llmsoak"}[10s]))'));
  t.equal(per.length, 2, 'both replicas send');

  const res = await request(`${simUrl}/admin/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errors: { rate: 0.5, status: 500 } }) });
  await res.body.dump();
  const hint = await waitFor(
    async () => {
      const s = daemons[0]?.hintAnalyzer?.snapshot();
      return s?.topCause === 'server_errors' ? s.hints.find((h) => h.state === 'firing') : undefined;
    },
    25_000,
    250,
  ).catch(() => undefined);
  t.equal(hint?.rule, 'error_storm', "replica 0's analyzer finds the fault in the fleet's series");
  // The window's requests are the fleet's: about 10/s over 12 s, not one replica's 5/s.
  t.ok(Number(hint?.evidence.requests) > 80, `evidence counts the whole fleet's requests (${String(hint?.evidence.requests)} in ${String(hint?.evidence.window_s)} s)`);
});
