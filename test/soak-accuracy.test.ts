/**
 * Issue 3's acceptance: a 60 s soak at 20 requests/s against the simulator.
 * What /metrics says (requests, tokens, histogram counts) agrees with what was
 * sent and with what the simulator itself counted, and `promtool check
 * metrics` finds nothing wrong with llmsoak's exposition.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { request } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { defaultSimulatorConfig } from '../src/simulator/config.js';
import { startSimulator } from '../src/simulator/server.js';

const SOAK_SEC = Number(process.env.LLMSOAK_TEST_SOAK_SEC ?? 60);
const RATE = 20;

/** Sum of every sample of `name` whose label text contains all of `parts`. */
function sum(text: string, name: string, ...parts: string[]): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const c = line[name.length];
    if (c !== ' ' && c !== '{') continue;
    if (parts.every((p) => line.includes(p))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

function within(t: Test, actual: number, expected: number, rel: number, what: string): void {
  const ok = Math.abs(actual - expected) <= Math.max(1, expected * rel);
  t.ok(ok, `${what}: ${actual} vs ${expected} (±${(rel * 100).toFixed(0)}%)`);
}

t.test(`a ${SOAK_SEC} s soak at ${RATE} req/s: /metrics agrees with the wire`, async (t) => {
  const simCfg = defaultSimulatorConfig();
  const sim = await startSimulator(simCfg, { logger: silentLogger(), host: '127.0.0.1', port: 0 });
  t.teardown(() => sim.close());

  const { config } = loadConfig({
    document: {
      target: { url: `${sim.url}/v1` },
      server: { listen: '127.0.0.1:0' },
      traffic: {
        rate: RATE,
        arrival: 'constant',
        seed: 42,
        scenarios: [
          {
            name: 'qa',
            endpoint: 'chat',
            weight: 6,
            prompt: { dist: 'lognormal', median: 150, sigma: 0.5, min: 16, max: 1024 },
            output: { dist: 'negbin', mean: 40, dispersion: 4, min: 4, max: 200 },
          },
          { name: 'chat', endpoint: 'chat', weight: 2, turns: { min: 2, max: 4 }, prompt: { dist: 'uniform', min: 20, max: 80 }, output: { dist: 'fixed', value: 30 } },
          { name: 'batch', endpoint: 'completions', stream: false, weight: 2, prompt: { dist: 'fixed', value: 200 }, output: { dist: 'fixed', value: 20 } },
        ],
      },
      collectors: { gpu: { enabled: false } },
      // Compared with the simulator's own counts: the preflight's requests reach it without being soak records.
      preflight: { enabled: false },
      run: { drainMs: 20000 },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger() });
  await daemon.start();
  t.teardown(() => daemon.stop('teardown'));

  await new Promise((r) => setTimeout(r, SOAK_SEC * 1000));
  // A scrape over HTTP while running, for promtool.
  const live = await request(`${daemon.listenUrl}/metrics`);
  const liveText = await live.body.text();
  await daemon.stop('test done');

  const text = await daemon.registry.metrics();
  const simText = await (await request(`${sim.url}/metrics`)).body.text();
  const status = daemon.status() as { traffic: { totals: { requests: number } } };

  const sent = status.traffic.totals.requests;
  within(t, sent, RATE * SOAK_SEC, 0.02, 'requests sent vs rate × duration');
  const requests = sum(text, 'llmsoak_requests_total');
  t.equal(requests, sent, 'every request sent ended as exactly one llmsoak_requests_total');
  const ok = sum(text, 'llmsoak_requests_total', 'outcome="ok"');
  t.ok(ok >= sent * 0.99, `almost all ok against a healthy simulator (${ok}/${sent})`);

  const simDone = sum(simText, 'vllm:request_success_total');
  t.equal(ok, simDone, "ok requests = the simulator's own count (every request drained: exact)");
  t.equal(sum(text, 'llmsoak_output_tokens_total'), sum(simText, 'vllm:generation_tokens_total'), "output tokens = the simulator's generation tokens (usage reconciled: exact)");
  t.equal(sum(text, 'llmsoak_input_tokens_total'), sum(simText, 'vllm:prompt_tokens_total'), "input tokens = the simulator's prompt tokens (usage reconciled: exact)");

  t.equal(sum(text, 'llmsoak_request_duration_seconds_count'), ok, 'E2E histogram holds every ok request');
  t.equal(sum(text, 'llmsoak_schedule_lag_seconds_count'), requests, 'schedule lag observed for every request');
  t.equal(sum(text, 'llmsoak_time_to_first_token_seconds_count'), sum(text, 'llmsoak_requests_total', 'outcome="ok"', 'endpoint="chat"'), 'TTFT for every ok streamed chat');
  // The simulator counts gaps of non-streamed requests too (20 tokens: 19 gaps each); the client sees those as one body.
  const batchOk = sum(text, 'llmsoak_requests_total', 'scenario="batch"', 'outcome="ok"');
  const gapsExpected = sum(simText, 'vllm:inter_token_latency_seconds_count') - batchOk * 19;
  t.equal(sum(text, 'llmsoak_inter_token_latency_seconds_count'), gapsExpected, "ITL gaps = the simulator's inter-token count (one chunk per token: exact)");
  t.equal(sum(text, 'llmsoak_in_flight_requests'), 0, 'nothing left in flight');

  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: liveText, encoding: 'utf8' });
  t.equal(promtool.error, undefined, 'promtool runs (Debian package prometheus)');
  t.equal(promtool.status, 0, `promtool check metrics exit 0: ${promtool.stdout}${promtool.stderr}`);
  t.equal(`${promtool.stdout}${promtool.stderr}`.trim(), '', 'promtool reports nothing');
});
