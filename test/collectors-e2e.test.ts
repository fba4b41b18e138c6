/**
 * Issue 4's acceptance: the simulator as a separate process, llmsoak soaking
 * it with collectors on. /metrics carries host series, the simulator's process
 * series (found by name) and the normalised server series, whose values are
 * exactly those of the simulator's /metrics page the collector last read.
 */
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { freePort, startSimulator, waitFor } from './helpers.js';

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

t.test('collectors against a separate simulator process export exactly what it said', async (t) => {
  const simPort = await freePort();
  // A small engine so queueing and preemptions happen at a modest rate.
  const sim = startSimulator(['--port', String(simPort)], {
    PATH: process.env.PATH ?? '',
    LLMSOAK_SIMULATOR__ENGINE__MAX_NUM_SEQS: '8',
    LLMSOAK_SIMULATOR__ENGINE__KV_CACHE_TOKENS: '3000',
    LLMSOAK_LOG__LEVEL: 'warn',
  });
  t.teardown(() => sim.child.kill('SIGKILL'));
  const simUrl = `http://127.0.0.1:${simPort}`;
  await waitFor(async () => ((await request(`${simUrl}/health`)).statusCode === 200 ? true : undefined), 15_000);

  // The server collector scrapes the simulator's /metrics through this recorder: every page it was served is kept,
  // so what llmsoak exports is checked against the page it actually read, not against a poll taken at another moment.
  const served: { waiting: number; running: number; kv: number; preempt: number }[] = [];
  const recorder = createServer((req, res) => {
    void text(`${simUrl}${req.url ?? '/metrics'}`).then(
      (body) => {
        served.push({
          waiting: value(body, 'vllm:num_requests_waiting') ?? NaN,
          running: value(body, 'vllm:num_requests_running') ?? NaN,
          kv: value(body, 'vllm:kv_cache_usage_perc') ?? NaN,
          preempt: value(body, 'vllm:num_preemptions_total') ?? NaN,
        });
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body);
      },
      () => res.writeHead(502).end(),
    );
  });
  await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => recorder.close(() => r())));
  const recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/metrics`;

  const { config } = loadConfig({
    document: {
      target: { url: `${simUrl}/v1`, metricsUrl: recorderUrl, processName: `cli\\.js simulate --port ${simPort}` },
      server: { listen: '127.0.0.1:0' },
      traffic: {
        rate: 12,
        seed: 3,
        scenarios: [{ name: 'qa', endpoint: 'chat', prompt: { dist: 'uniform', min: 200, max: 800 }, output: { dist: 'uniform', min: 50, max: 200 } }],
      },
      collectors: { intervalMs: INTERVAL_MS, gpu: { enabled: false } },
      run: { drainMs: 2000 },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger() });
  await daemon.start();
  t.teardown(() => daemon.stop('teardown'));

  await new Promise((r) => setTimeout(r, 6000));
  const mismatches: string[] = [];
  for (let i = 0; i < 8; i++) {
    const m = await text(`${daemon.listenUrl}/metrics`);
    // A collection may be between being served its page and publishing it: the last two pages are candidates.
    const candidates = served.slice(-2);
    const ours = {
      waiting: value(m, 'llmsoak_server_requests_waiting'),
      running: value(m, 'llmsoak_server_requests_running'),
      kv: value(m, 'llmsoak_server_kv_cache_usage_ratio'),
      preempt: value(m, 'llmsoak_server_preemptions_total'),
    };
    for (const k of ['waiting', 'running', 'kv', 'preempt'] as const) {
      const v = ours[k];
      if (v === undefined) mismatches.push(`scrape ${i}: ${k} missing`);
      else if (!candidates.some((c) => c[k] === v)) mismatches.push(`scrape ${i}: ${k} ${v}, the server said ${candidates.map((c) => c[k]).join(' then ')}`);
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
  t.ok(served.length >= 10, `the server collector read the server's /metrics ${served.length} times`);
  t.ok(
    served.some((h) => h.waiting > 0),
    'the load made requests wait',
  );
  t.ok(
    served.some((h) => h.preempt > 0),
    'and caused preemptions',
  );
  t.same(mismatches, [], 'waiting, running, KV usage and preemptions exported exactly as the server said them, in 8 of 8 scrapes');
});
