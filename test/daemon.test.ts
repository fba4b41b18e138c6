/**
 * The daemon as a user runs it: `llmsoak run` with no target starts the
 * embedded simulator in a child process, serves /metrics, stops cleanly on
 * --duration and on SIGTERM.
 */
import t from 'tap';
import { request } from 'undici';
import { freePort, startCli, waitExit, waitFor } from './helpers.js';

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url, { headersTimeout: 3000, bodyTimeout: 3000 });
  return { status: res.statusCode, body: await res.body.text() };
}

function metricValue(text: string, name: string, labelPart = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{') && line.includes(labelPart)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

t.test('llmsoak run on its embedded default serves metrics and stops after --duration', async (t) => {
  const [port, simPort] = [await freePort(), await freePort()];
  const started = Date.now();
  const { child, output } = startCli(['run', '--listen', `127.0.0.1:${port}`, '--duration', '10', '--rate', '10'], {
    PATH: process.env.PATH ?? '',
    LLMSOAK_SIMULATOR__PORT: String(simPort),
  });
  t.teardown(() => child.kill('SIGKILL'));
  const base = `http://127.0.0.1:${port}`;

  const health = await waitFor(async () => ((await get(`${base}/healthz`)).status === 200 ? true : undefined), 30_000);
  t.ok(health, '/healthz answers');
  t.ok(Date.now() - started < 30_000, 'up within 30 s');
  await waitFor(async () => ((await get(`${base}/readyz`)).status === 200 ? true : undefined), 20_000);

  const metrics = await waitFor(async () => {
    const m = await get(`${base}/metrics`);
    return metricValue(m.body, 'llmsoak_requests_total') >= 5 ? m.body : undefined;
  }, 20_000);
  t.match(metrics, /llmsoak_build_info\{version="[^"]+",node="[^"]+"\} 1/);
  t.match(metrics, /# TYPE llmsoak_time_to_first_token_seconds histogram/);
  t.match(metrics, /process_resident_memory_bytes/);
  t.ok(metricValue(metrics, 'llmsoak_output_tokens_total') > 0, 'output tokens flowing');
  t.equal(metricValue(metrics, 'llmsoak_target_request_rate'), 10);

  const status = JSON.parse((await get(`${base}/api/status`)).body) as { target: { embedded: boolean; model: string } };
  t.equal(status.target.embedded, true);
  t.match(status.target.model, /^sim-/);

  const code = await waitExit(child, 30_000);
  t.equal(code, 0, 'exits 0 after --duration');
  const out = output();
  t.match(out, /metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/);
  t.match(out, /embedded simulator started/);
  t.match(out, /llmsoak stopped/);
  t.notMatch(out, /"level":50/, 'no error logged');
});

t.test('SIGTERM drains and exits 0; the simulator child goes with it', async (t) => {
  const [port, simPort] = [await freePort(), await freePort()];
  const { child, output } = startCli(['run', '--listen', `127.0.0.1:${port}`, '--rate', '5'], {
    PATH: process.env.PATH ?? '',
    LLMSOAK_SIMULATOR__PORT: String(simPort),
  });
  t.teardown(() => child.kill('SIGKILL'));
  await waitFor(async () => ((await get(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined), 30_000);
  await new Promise((r) => setTimeout(r, 1500));
  child.kill('SIGTERM');
  const code = await waitExit(child, 20_000);
  t.equal(code, 0);
  t.match(output(), /SIGTERM received: draining/);
  t.match(output(), /traffic stopped/);
  await t.rejects(get(`http://127.0.0.1:${simPort}/health`), 'simulator child is gone');
});

t.test('a port in use is one clear line, not a stack trace', async (t) => {
  const port = await freePort();
  const { createServer } = await import('node:net');
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
  t.teardown(() => blocker.close());
  // The embedded simulator on a free port of its own: its default (18000) may be taken by a daemon running beside the suite.
  const { child, output } = startCli(['run', '--listen', `127.0.0.1:${port}`], { PATH: process.env.PATH ?? '', LLMSOAK_SIMULATOR__PORT: String(await freePort()) });
  const code = await waitExit(child, 20_000);
  t.equal(code, 1);
  t.match(output(), new RegExp(`llmsoak: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
  t.notMatch(output(), /\n\s+at /, 'no stack trace');
});
