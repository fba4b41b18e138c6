/**
 * Issue 4's acceptance: the simulator as a separate process, llmsoak soaking
 * it with collectors on. /metrics carries host series, the simulator's process
 * series (found by name) and the normalised server series, whose values track
 * the simulator's own /metrics within one collector interval.
 */
import t from 'tap';
import { request } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { freePort, startCli, waitFor } from './helpers.js';

const INTERVAL_MS = 500;

function value(text: string, name: string, labelPart = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{') && line.includes(labelPart)) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

async function text(url: string): Promise<string> {
  const res = await request(url, { headersTimeout: 2000, bodyTimeout: 2000 });
  return res.body.text();
}

t.test('collectors against a separate simulator process track its own figures', async (t) => {
  const simPort = await freePort();
  // A small engine so queueing and preemptions happen at a modest rate.
  const sim = startCli(['simulate', '--port', String(simPort)], {
    PATH: process.env.PATH ?? '',
    LLMSOAK_SIMULATOR__ENGINE__MAX_NUM_SEQS: '8',
    LLMSOAK_SIMULATOR__ENGINE__KV_CACHE_TOKENS: '3000',
    LLMSOAK_LOG__LEVEL: 'warn',
  });
  t.teardown(() => sim.child.kill('SIGKILL'));
  const simUrl = `http://127.0.0.1:${simPort}`;
  await waitFor(async () => ((await request(`${simUrl}/health`)).statusCode === 200 ? true : undefined), 15_000);

  const { config } = loadConfig({
    document: {
      target: { url: `${simUrl}/v1`, processName: `cli\\.js simulate --port ${simPort}` },
      server: { listen: '127.0.0.1:0' },
      traffic: {
        rate: 12, seed: 3,
        scenarios: [{ name: 'qa', endpoint: 'chat', prompt: { dist: 'uniform', min: 200, max: 800 }, output: { dist: 'uniform', min: 50, max: 200 } }],
      },
      collectors: { intervalMs: INTERVAL_MS, gpu: { enabled: false } },
      run: { drainMs: 2000 },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger() });
  await daemon.start();
  t.teardown(() => daemon.stop('teardown'));

  // Record the simulator's own figures every 50 ms.
  const history: { at: number; waiting: number; running: number; kv: number; preempt: number }[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const s = await text(`${simUrl}/metrics`);
      history.push({
        at: Date.now(),
        waiting: value(s, 'vllm:num_requests_waiting') ?? NaN,
        running: value(s, 'vllm:num_requests_running') ?? NaN,
        kv: value(s, 'vllm:kv_cache_usage_perc') ?? NaN,
        preempt: value(s, 'vllm:num_preemptions_total') ?? NaN,
      });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  t.teardown(async () => {
    polling = false;
    await poller;
  });

  await new Promise((r) => setTimeout(r, 6000));
  const checks = { waiting: 0, running: 0, kv: 0, preempt: 0 };
  for (let i = 0; i < 8; i++) {
    const at = Date.now();
    const m = await text(`${daemon.listenUrl}/metrics`);
    const ours = {
      waiting: value(m, 'llmsoak_server_requests_waiting'),
      running: value(m, 'llmsoak_server_requests_running'),
      kv: value(m, 'llmsoak_server_kv_cache_usage_ratio'),
      preempt: value(m, 'llmsoak_server_preemptions_total'),
    };
    // What the simulator said during the last interval (plus scrape slack).
    const recent = history.filter((h) => h.at >= at - INTERVAL_MS * 2 - 300 && h.at <= at);
    for (const k of ['waiting', 'running', 'kv', 'preempt'] as const) {
      const v = ours[k];
      if (v === undefined) continue;
      // Within the range the simulator itself showed over that interval (gauges move every
      // engine step, faster than we poll them: a little slack for values between polls).
      const seen = recent.map((h) => h[k]);
      const slack = k === 'kv' ? 0.05 : k === 'waiting' ? 1 : 0;
      if (seen.length && v >= Math.min(...seen) - slack && v <= Math.max(...seen) + slack) checks[k]++;
    }
    if (i === 0) {
      t.ok(value(m, 'llmsoak_host_memory_total_bytes')! > 0, 'host memory total');
      t.ok(value(m, 'llmsoak_host_memory_available_bytes')! > 0, 'host memory available');
      t.ok(value(m, 'llmsoak_host_load1') !== undefined, 'host load');
      t.ok(value(m, 'llmsoak_target_process_resident_memory_bytes')! > 10e6, 'simulator RSS found by name');
      t.ok(value(m, 'llmsoak_target_process_cpu_seconds_total')! > 0, 'simulator CPU');
      t.ok(value(m, 'llmsoak_target_process_threads')! >= 1, 'simulator threads');
      t.ok(value(m, 'llmsoak_target_process_open_fds')! >= 3, 'simulator fds');
      t.equal(value(m, 'llmsoak_collector_last_success', 'collector="server"'), 1, 'server collector healthy');
      t.equal(value(m, 'llmsoak_collector_last_success', 'collector="process"'), 1, 'process collector healthy');
      t.match(m, /llmsoak_server_info\{[^}]*dialect="vllm"/, 'dialect detected: vllm');
    }
    await new Promise((r) => setTimeout(r, 700));
  }
  t.ok(history.some((h) => h.waiting > 0), 'the load made requests wait');
  t.ok(history.some((h) => h.preempt > 0), 'and caused preemptions');
  for (const [k, n] of Object.entries(checks)) t.ok(n >= 7, `${k}: llmsoak matched the simulator within one interval in ${n}/8 scrapes`);
});
