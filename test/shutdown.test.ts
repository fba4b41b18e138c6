/**
 * `llmsoak run` as a process: SIGTERM with requests hanging in flight ends
 * within the grace deadline (each of them recorded as cancelled), writes the
 * final checkpoint and the final soak report (its totals the final ones) and
 * flushes the log; kill -9 mid-soak, and the next start
 * resumes the same soak from the last periodic checkpoint.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort, startCli, waitExit, waitFor } from './helpers.js';
import { startHostileServer } from './hostile-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ready(port: number): Promise<void> {
  await waitFor(async () => {
    const res = await request(`http://127.0.0.1:${port}/readyz`, { headersTimeout: 2000, bodyTimeout: 2000 });
    await res.body.text();
    return res.statusCode === 200 ? true : undefined;
  }, 30_000);
}

t.test('SIGTERM: in-flight requests cancelled within the grace deadline, final checkpoint, log flushed; kill -9 then resume', async (t) => {
  // Hanging requests: no headers, or headers then silence, far longer than the drain deadline.
  const target = await startHostileServer({ mix: { ok: 3, no_headers: 1, stall: 1 }, seed: 5 });
  t.teardown(() => target.close());
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-shutdown-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const drainMs = 1500;
  const config = join(dir, 'llmsoak.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      target: { url: `${target.url}/v1`, model: 'hostile', timeouts: { headersMs: 60000, idleMs: 60000, totalMs: 120000 } },
      traffic: { rate: 20, seed: 1, scenarios: [{ name: 'probe', endpoint: 'chat', prompt: { dist: 'fixed', value: 8 }, output: { dist: 'fixed', value: 8 } }] },
      run: { drainMs, dataDir: join(dir, 'data'), checkpointIntervalSec: 1 },
      report: { dir: join(dir, 'reports') },
      collectors: { gpu: { enabled: false } },
      analyzer: { stepSec: 1, intervalSec: 2, windowSec: 10, warmupSec: 2, baselineSec: 4, rawRetentionSec: 600 },
    }),
  );
  const env = { PATH: process.env.PATH ?? '' };

  const port = await freePort();
  const first = startCli(['run', '--config', config, '--listen', `127.0.0.1:${port}`], env);
  t.teardown(() => first.child.kill('SIGKILL'));
  await ready(port);
  await sleep(3000);
  const t0 = Date.now();
  first.child.kill('SIGTERM');
  const code = await waitExit(first.child, drainMs + 15_000);
  const tookMs = Date.now() - t0;
  t.equal(code, 0, 'exit 0');
  t.ok(tookMs < drainMs + 6000, `stopped in ${tookMs} ms (grace deadline ${drainMs} ms for requests, then checkpoint and flush)`);
  const out = first.output();
  const stopped = /"drained":(\d+),"cancelled":(\d+)[^\n]*traffic stopped/.exec(out);
  t.ok(stopped && Number(stopped[2]) > 0, `requests hanging at SIGTERM were cancelled (${stopped?.[2] ?? '?'}), not left behind`);
  const totals = /"totals":\{"requests":(\d+)[^\n]*"cancelled":(\d+)/.exec(out);
  t.ok(totals, 'final totals logged with the cancelled ones counted');
  t.match(out, /final checkpoint written/);
  // The final soak report: written after the drain, so its totals are the final ones logged.
  const finalLine = out.split('\n').find((l) => l.includes('"msg":"final totals"'));
  const logged = finalLine
    ? (JSON.parse(finalLine) as { totals: { requests: number; ok: number; good: number; dropped: number; inputTokens: number; outputTokens: number; errors: Record<string, number> } }).totals
    : undefined;
  const soakFiles = readdirSync(join(dir, 'reports')).filter((f) => f.startsWith('soak-') && f.endsWith('.json'));
  t.equal(soakFiles.length, 1, `one final soak report (${soakFiles.join(', ')})`);
  const report = JSON.parse(readFileSync(join(dir, 'reports', soakFiles[0] ?? 'none'), 'utf8')) as {
    totals: { requests: number; ok: number; good: number; dropped: number; inputTokens: number; outputTokens: number; errors: Record<string, number> };
  };
  const nonZero = (e: Record<string, number> = {}) => Object.fromEntries(Object.entries(e).filter(([, n]) => n > 0));
  const pick = (x: typeof report.totals | undefined) =>
    x && { requests: x.requests, ok: x.ok, good: x.good, dropped: x.dropped, inputTokens: x.inputTokens, outputTokens: x.outputTokens, errors: nonZero(x.errors) };
  t.same(pick(report.totals), pick(logged), `the final report's totals are the final totals logged (${report.totals.requests} requests, ${report.totals.errors.cancelled ?? 0} cancelled)`);
  t.match(out, /final soak report \S+soak-\S+\.html/, 'its path logged');
  const lines = out.trim().split('\n');
  t.match(lines[lines.length - 1], /llmsoak stopped/, 'the last line made it out: the log was flushed');

  // A crash: kill -9 after a periodic checkpoint; the next start resumes the same soak.
  const port2 = await freePort();
  const second = startCli(['run', '--config', config, '--listen', `127.0.0.1:${port2}`], env);
  t.teardown(() => second.child.kill('SIGKILL'));
  await ready(port2);
  t.match(second.output(), /resuming soak [0-9a-f]+ started .* restart #1/, 'the second start resumes');
  const status = async (p: number) => {
    const res = await request(`http://127.0.0.1:${p}/api/status`);
    return (await res.body.json()) as { state: { runId: string; restarts: number }; traffic: { totals: { requests: number } } };
  };
  const before = await status(port2);
  await sleep(2500);
  second.child.kill('SIGKILL');
  await waitExit(second.child, 5000);

  const port3 = await freePort();
  const third = startCli(['run', '--config', config, '--listen', `127.0.0.1:${port3}`], env);
  t.teardown(() => third.child.kill('SIGKILL'));
  await ready(port3);
  const after = await status(port3);
  t.equal(after.state.runId, before.state.runId, 'same soak after kill -9');
  t.equal(after.state.restarts, 2);
  t.ok(after.traffic.totals.requests >= before.traffic.totals.requests, `run totals carried over the crash (${before.traffic.totals.requests} → ${after.traffic.totals.requests})`);
  t.notMatch(third.output(), /unusable/, 'the checkpoint left by kill -9 was whole');
  third.child.kill('SIGTERM');
  t.equal(await waitExit(third.child, 20_000), 0);
});
